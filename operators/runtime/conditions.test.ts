import { test } from "node:test";
import assert from "node:assert/strict";
import { setCondition, removeCondition, isTrue } from "./conditions.js";

test("lastTransitionTime moves only when the status changes", () => {
  const t1 = new Date("2026-01-01T00:00:00Z");
  const t2 = new Date("2026-01-02T00:00:00Z");
  let c = setCondition([], { type: "Ready", status: "False", reason: "Progressing", message: "working" }, 1, t1);
  c = setCondition(c, { type: "Ready", status: "False", reason: "Waiting", message: "still working" }, 2, t2);
  assert.equal(c[0]!.lastTransitionTime, "2026-01-01T00:00:00Z");
  assert.equal(c[0]!.reason, "Waiting");
  assert.equal(c[0]!.observedGeneration, 2);
  c = setCondition(c, { type: "Ready", status: "True", reason: "Succeeded", message: "done" }, 2, t2);
  assert.equal(c[0]!.lastTransitionTime, "2026-01-02T00:00:00Z");
  assert.ok(isTrue(c, "Ready"));
  assert.deepEqual(removeCondition(c, "Ready"), []);
});

test("setting an identical condition returns the same list", () => {
  const c = setCondition([], { type: "A", status: "True", reason: "R", message: "m" }, 1);
  assert.equal(setCondition(c, { type: "A", status: "True", reason: "R", message: "m" }, 1), c);
});
