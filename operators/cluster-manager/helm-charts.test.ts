// Only the leader writes the shared helm-charts repository: a replica that starts while another leads leaves it
// alone, and publishes it once it takes over. (Each replica has its own data directory here, so who wrote is visible.)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startControlPlane, type ControlPlane } from "../../e2e/harness/control-plane.js";
import { eventually } from "../../e2e/harness/eventually.js";
import { freePort } from "../../e2e/harness/ports.js";
import { Core } from "../runtime/kube.js";
import { silentLogger } from "../runtime/logger.js";
import { KubeClient } from "../runtime/rest.js";
import { ClusterManager } from "./cluster-manager.js";
import { defaultConfig } from "./config.js";

const NS = "charts";
let cp: ControlPlane;
const dirs: string[] = [];
before(async () => {
  cp = await startControlPlane({ name: "helm-charts" });
  await cp.installCrds();
  await new KubeClient(cp.kubeConfig).create(Core.namespaces, { metadata: { name: NS } });
});
after(async () => {
  await cp?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function replica(id: string) {
  const dataDir = mkdtempSync(join(tmpdir(), `graft-charts-${id}-`));
  dirs.push(dataDir);
  const port = await freePort();
  const manager = new ClusterManager({
    kubeConfig: cp.kubeConfig, log: silentLogger, listen: { host: "127.0.0.1", port },
    config: defaultConfig({ dataDir, externalUrl: `http://127.0.0.1:${port}`, watchNamespace: NS }),
    leaderElection: { namespace: NS, identity: id, leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 300 },
  });
  await manager.start();
  return { manager, charts: join(dataDir, "shared", "helm-charts.git") };
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
