// A failing step shows in the conditions with its own reason and a message saying what could not be done; the
// reconciler retries with backoff and ends Provisioned once the cause is gone.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually } from "../../../e2e/harness/eventually.js";
import { EdgeClusterType, type EdgeCluster } from "../../api/edgecluster.js";
import { edgeClusterYaml, startManagerFixture, type ManagerFixture } from "../../../e2e/support/cluster-manager/fixtures.js";

const NS = "failing";
let f: ManagerFixture;
before(async () => {
  f = await startManagerFixture("failures");
  await f.cp.kubectl(["create", "namespace", NS]);
});
after(async () => f?.stop());

test("a repository that cannot be created → Provisioned=False RepositoryFailed, then recovery", async () => {
  // A file where the repositories directory should be: git cannot create anything below it.
  writeFileSync(join(f.dataDir, "repos"), "not a directory");
  assert.equal((await f.cp.kubectl(["apply", "-f", "-"], { input: edgeClusterYaml("blocked", NS) })).code, 0);
  const failing = await eventually(async () => {
    const ec = await f.manager.client.get<EdgeCluster>(EdgeClusterType, "blocked", NS);
    return ec.status?.conditions?.find((c) => c.type === "Provisioned" && c.reason === "RepositoryFailed") && ec;
  }, { message: "RepositoryFailed reported" });
  const provisioned = failing.status!.conditions!.find((c) => c.type === "Provisioned")!;
  assert.equal(provisioned.status, "False");
  assert.match(provisioned.message, /^cannot create the cluster's Git repository: /);
  assert.equal(failing.status!.conditions!.find((c) => c.type === "Ready")?.status, "False");
  const events = JSON.parse((await f.cp.kubectl(["get", "events.events.k8s.io", "-n", NS, "-o", "json"])).stdout).items;
  assert.ok(events.some((e: { reason: string; type: string }) => e.reason === "RepositoryFailed" && e.type === "Warning"));

  rmSync(join(f.dataDir, "repos"));
  const w = await f.cp.kubectl(["wait", "-n", NS, "ec/blocked", "--for=condition=Provisioned", "--timeout=90s"]);
  assert.equal(w.code, 0, w.stderr);
});
