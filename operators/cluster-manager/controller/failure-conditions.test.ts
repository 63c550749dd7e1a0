// A failing step shows in the conditions with its own reason and a message saying what could not be done; the
// reconciler retries with backoff and ends Provisioned once the cause is gone.
import { test } from "node:test";
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { eventually } from "../../../e2e/harness/eventually.js";
import { EdgeClusterType, type EdgeCluster } from "../../api/edgecluster.js";
import type { Condition } from "../../runtime/conditions.js";
import { edgeClusterYaml, managerForFile, waitForCondition } from "../../../e2e/support/cluster-manager/fixtures.js";

const NS = "failing";
const f = await managerForFile("failures", NS);

const get = (name: string) => f.manager.client.get<EdgeCluster>(EdgeClusterType, name, NS);
const cond = (ec: EdgeCluster, type: string): Condition | undefined => ec.status?.conditions?.find((c) => c.type === type);
const errors = async () => (await f.manager.metrics.reconcileErrors.get()).values.reduce((sum, v) => sum + v.value, 0);

test("a repository that cannot be created → Provisioned=False RepositoryFailed, then recovery", async () => {
  // A file where the repositories directory should be: git cannot create anything below it.
  writeFileSync(join(f.dataDir, "repos"), "not a directory");
  assert.equal((await f.cp.kubectl(["apply", "-f", "-"], { input: edgeClusterYaml("blocked", NS) })).code, 0);
  const failing = await waitForCondition(f, "blocked", NS, (c) => c.type === "Provisioned" && c.reason === "RepositoryFailed", "RepositoryFailed reported");
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

test("a new generation that fails: Provisioned and Ready False for it, kubectl wait fails, and retries leave status alone", async () => {
  assert.equal((await f.cp.kubectl(["apply", "-f", "-"], { input: edgeClusterYaml("steady", NS) })).code, 0);
  assert.equal((await f.cp.kubectl(["wait", "-n", NS, "ec/steady", "--for=condition=Ready", "--timeout=60s"])).code, 0);
  const good = await get("steady");
  // A stale lock on the branch: git cannot move it, so the new generation cannot be committed.
  const lock = join(f.dataDir, "repos", `${good.status!.uuid}.git`, "refs", "heads", "main.lock");
  writeFileSync(lock, "");
  try {
    const errorsBefore = await errors();
    const patched = await f.cp.kubectl(["patch", "ec", "-n", NS, "steady", "--type=merge", "-p", JSON.stringify({ spec: { values: { podAnnotations: { greeting: "new" } } } })]);
    assert.equal(patched.code, 0, patched.stderr);
    const generation = good.metadata.generation! + 1;
    // A pass records its failure in status before the error reaches the work queue.
    await eventually(async () => (await errors()) > errorsBefore, { message: "the new generation failed" });
    const failing = await get("steady");
    assert.equal(cond(failing, "Provisioned")?.status, "False", "Provisioned does not stay True for a generation that failed");
    assert.equal(cond(failing, "Ready")?.status, "False");
    assert.match(cond(failing, "RepositoryFailed")!.message, /^cannot commit to the cluster's Git repository: /);
    assert.equal(cond(failing, "Provisioned")?.observedGeneration, generation);
    assert.equal(cond(failing, "Ready")?.reason, "RepositoryFailed");
    assert.equal(cond(failing, "Reconciling")?.status, "True");
    assert.equal(failing.status!.observedGeneration, good.metadata.generation, "the failed generation is not observed");
    assert.equal(failing.status!.commit, good.status!.commit);
    const wait = await f.cp.kubectl(["wait", "-n", NS, "ec/steady", "--for=condition=Ready", "--timeout=1s"]);
    assert.notEqual(wait.code, 0, "kubectl wait --for=condition=Ready must not pass for an uncommitted spec");

    // Retries with backoff fail the same way: they write no status and record no further Event.
    const seen = await errors();
    await eventually(async () => (await errors()) >= seen + 2, { timeoutMs: 60_000, message: "two more failed attempts" });
    const still = await get("steady");
    assert.equal(still.metadata.resourceVersion, failing.metadata.resourceVersion, "status is not rewritten by retries that fail alike");
    const warnings = JSON.parse((await f.cp.kubectl(["get", "events.events.k8s.io", "-n", NS, "-o", "json"])).stdout).items
      .filter((e: { regarding: { name: string }; reason: string }) => e.regarding.name === "steady" && e.reason === "RepositoryFailed");
    assert.equal(warnings.length, 1, "one Warning for the failure, not one per retry");
  } finally {
    rmSync(lock, { force: true });
  }
  const w = await f.cp.kubectl(["wait", "-n", NS, "ec/steady", "--for=condition=Ready", "--timeout=90s"]);
  assert.equal(w.code, 0, w.stderr);
  const fixed = await get("steady");
  assert.equal(fixed.status!.observedGeneration, fixed.metadata.generation);
  assert.notEqual(fixed.status!.commit, good.status!.commit);
  assert.equal(cond(fixed, "RepositoryFailed"), undefined, "the step removes its condition on success");
  assert.equal(cond(fixed, "Reconciling"), undefined);
});
