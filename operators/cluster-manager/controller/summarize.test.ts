// Table tests of the one Ready derivation, the end-of-pass summary and the event filter: conditions compared by
// type, status and reason.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { EdgeCluster, EdgeClusterStatus } from "../../api/edgecluster.js";
import { setCondition, type ConditionInput } from "../../runtime/conditions.js";
import { GenericError, StallingError, errorOutcome } from "../../runtime/errors.js";
import { derivedValueSetBy } from "./common-steps.js";
import { needsReconcile } from "./edgecluster-controller.js";
import { readyCondition, summarizePass } from "./summarize.js";

const withConditions = (observedGeneration: number | undefined, ...cs: Array<Omit<ConditionInput, "message"> & { message?: string }>): EdgeClusterStatus => ({
  observedGeneration,
  conditions: cs.reduce((list, c) => setCondition(list, { message: "", ...c }), [] as EdgeClusterStatus["conditions"] & object),
});
const ok = (type: string) => ({ type, status: "True" as const, reason: type });
const ec = (generation: number, extra: Partial<EdgeCluster["metadata"]> = {}, status?: EdgeClusterStatus) =>
  ({ metadata: { name: "e", namespace: "n", generation, ...extra }, spec: { namespace: "fplus-edge" }, status }) as unknown as EdgeCluster;
const brief = (s: EdgeClusterStatus, type: string) => {
  const c = s.conditions?.find((x) => x.type === type);
  return c && `${c.status}/${c.reason}`;
};

test("Ready: the first failing owned condition wins, and never True for a generation not handled", () => {
  const cases: Array<[string, EdgeClusterStatus, number, string]> = [
    ["provisioned, observed", withConditions(2, ok("Provisioned")), 2, "True/Succeeded"],
    ["observed generation behind", withConditions(1, ok("Provisioned")), 2, "False/Progressing"],
    ["Reconciling beats Provisioned", withConditions(2, ok("Provisioned"), { type: "Reconciling", status: "True", reason: "Progressing" }), 2, "False/Progressing"],
    ["ConfigDBSynced False (ACS)", withConditions(2, ok("Provisioned"), { type: "ConfigDBSynced", status: "False", reason: "EntryMissing" }), 2, "False/EntryMissing"],
    ["a step failing beats Reconciling", withConditions(2, { type: "Reconciling", status: "True", reason: "Progressing" }, { type: "RepositoryFailed", status: "True", reason: "RepositoryFailed" }), 2, "False/RepositoryFailed"],
    ["Stalled beats all", withConditions(2, { type: "RepositoryFailed", status: "True", reason: "RepositoryFailed" }, { type: "Stalled", status: "True", reason: "NameConflict" }), 2, "False/NameConflict"],
    ["Reporting False", withConditions(2, ok("Provisioned"), ok("Bootstrapped"), { type: "Reporting", status: "False", reason: "ReportsStopped" }), 2, "False/ReportsStopped"],
    ["not provisioned yet", withConditions(undefined), 1, "False/Progressing"],
  ];
  for (const [name, status, generation, want] of cases) {
    const r = readyCondition(status, generation);
    assert.equal(`${r.status}/${r.reason}`, want, name);
  }
});

test("summary: a failing new generation is not Provisioned, keeps Reconciling with one stable message, is not observed", () => {
  const read = withConditions(1, ok("Provisioned"), ok("Ready"));
  const object = ec(2, {}, read);
  const outcome = { kind: "error" as const, error: errorOutcome(new GenericError("RepositoryFailed", "cannot commit: disk full")) };
  const first = structuredClone(read);
  summarizePass(object, read, first, outcome);
  assert.equal(brief(first, "Provisioned"), "False/RepositoryFailed");
  assert.equal(brief(first, "Reconciling"), "True/Progressing");
  assert.equal(brief(first, "Ready"), "False/Progressing");
  assert.equal(first.observedGeneration, 1);
  // The retry starts from what the first pass wrote and ends with the same status: nothing to write, no flip.
  const second = structuredClone(first);
  summarizePass(object, first, second, outcome);
  assert.deepEqual(second, first);
});

test("summary: a stall removes Reconciling, observes the generation and takes Provisioned with it", () => {
  const read = withConditions(1, ok("Provisioned"), { type: "Reconciling", status: "True", reason: "Progressing" });
  const draft = structuredClone(read);
  summarizePass(ec(2, { annotations: { "reconcile.factoryplus.app.amrc.co.uk/requestedAt": "x" } }, read), read, draft,
    { kind: "error", error: errorOutcome(new StallingError("ReservedValue", "spec.values sets \"mode\"")) });
  assert.equal(brief(draft, "Stalled"), "True/ReservedValue");
  assert.equal(brief(draft, "Reconciling"), undefined);
  assert.equal(brief(draft, "Provisioned"), "False/ReservedValue");
  assert.equal(brief(draft, "Ready"), "False/ReservedValue");
  assert.equal(draft.observedGeneration, 2);
  assert.equal(draft.lastHandledReconcileAt, "x");
});

test("errorOutcome: Stalling waits long, Waiting a fixed delay, anything else backs off", () => {
  assert.deepEqual(errorOutcome(new StallingError("R", "m"), { stallRetryMs: 5 }).requeue, 5);
  assert.equal(errorOutcome(new Error("boom")).requeue, "backoff");
  assert.equal(errorOutcome(new Error("boom")).reason, "ReconcileFailed");
});

test("event filter: status-only updates do not reconcile; generation, requests, deletion, lost finalizer and first reports do", () => {
  const base = ec(1, { finalizers: ["factoryplus.app.amrc.co.uk/edgecluster-teardown"], resourceVersion: "1" }, withConditions(1, ok("Provisioned")));
  const changed = (f: (o: EdgeCluster) => void) => {
    const o = structuredClone(base);
    f(o);
    return needsReconcile(o, base);
  };
  assert.equal(changed((o) => { o.status!.hosts = []; o.status!.lastReportTime = "now"; }), false, "a report");
  assert.equal(changed((o) => { o.status!.observedGeneration = 1; o.metadata.resourceVersion = "2"; }), false, "own status write");
  assert.equal(changed((o) => { o.metadata.finalizers = [...o.metadata.finalizers!, "other"]; }), false, "another finalizer added");
  assert.equal(changed((o) => { o.metadata.generation = 2; }), true, "new generation");
  assert.equal(changed((o) => { o.metadata.annotations = { "reconcile.factoryplus.app.amrc.co.uk/requestedAt": "1" }; }), true);
  assert.equal(changed((o) => { o.metadata.annotations = { "factoryplus.app.amrc.co.uk/bootstrap-request": "1" }; }), true);
  assert.equal(changed((o) => { o.metadata.deletionTimestamp = "2026-01-01T00:00:00Z"; }), true);
  assert.equal(changed((o) => { o.metadata.finalizers = []; }), true, "our finalizer removed");
  assert.equal(changed((o) => { o.status!.conditions = setCondition(o.status!.conditions, { ...ok("Bootstrapped"), message: "" }); }), true, "first report");
});

test("spec.values keys graft derives are named", () => {
  assert.equal(derivedValueSetBy({ greeting: 1, cluster: { extra: 1 } }), undefined);
  assert.equal(derivedValueSetBy({ cluster: { uuid: "x" } }), "cluster.uuid");
  assert.equal(derivedValueSetBy({ cluster: null }), "cluster");
  assert.equal(derivedValueSetBy({ central: { url: null } }), "central.url");
  assert.equal(derivedValueSetBy({ mode: "acs" }), "mode");
});
