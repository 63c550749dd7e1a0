// Only the leader writes the shared helm-charts repository: a replica that starts while another leads leaves it
// alone, and publishes it once it takes over. (Each replica has its own data directory here, so who wrote is visible.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { eventually } from "../../e2e/harness/eventually.js";
import { apiServerForFile } from "../../e2e/support/api-server.js";
import { replicasForFile } from "../../e2e/support/cluster-manager/fixtures.js";

const NS = "charts";
const api = await apiServerForFile({ name: "helm-charts", namespace: NS, crds: true });
const startReplica = replicasForFile(() => api.cp.kubeConfig, NS);

async function replica(id: string) {
  const r = await startReplica(id);
  return { manager: r.manager, charts: join(r.dataDir, "shared", "helm-charts.git") };
}

test("only the leader publishes the helm-charts repository", async () => {
  const a = await replica("a");
  let b: Awaited<ReturnType<typeof replica>> | undefined;
  try {
    await eventually(() => a.manager.isLeader && existsSync(join(a.charts, "refs", "heads", "main")), { message: "the leader published" });
    b = await replica("b");
    assert.equal(b.manager.isLeader, false);
    assert.equal(existsSync(b.charts), false, "a replica that is not leading did not write the repository");
    await a.manager.stop();
    await eventually(() => b!.manager.isLeader && existsSync(join(b!.charts, "refs", "heads", "main")), { timeoutMs: 20_000, message: "the new leader published" });
  } finally {
    await a.manager.stop();
    await b?.manager.stop();
  }
});
