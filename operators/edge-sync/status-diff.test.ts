import { test } from "node:test";
import assert from "node:assert/strict";
import type { Host } from "../api/edgecluster.js";
import { afterPatch, canonicalJson, sameJson, statusPatch } from "./status-diff.js";

const h = (hostname: string, extra: Partial<Host> = {}): Host => ({ hostname, control_plane: false, k8s_version: "v1", arch: "amd64", ...extra });

test("nothing to send when the centre acknowledged the same state, whatever the key order", () => {
  const acked = { hosts: [{ arch: "amd64", k8s_version: "v1", control_plane: false, hostname: "a" }], kubeseal_cert: "PEM" };
  assert.equal(statusPatch({ hosts: [h("a")], kubeseal_cert: "PEM" }, acked), undefined);
});

test("only the changed field is sent", () => {
  const acked = { hosts: [h("a")], kubeseal_cert: "OLD" };
  assert.deepEqual(statusPatch({ hosts: [h("a")], kubeseal_cert: "NEW" }, acked), { kubeseal_cert: "NEW" });
  assert.deepEqual(statusPatch({ hosts: [h("a"), h("b")], kubeseal_cert: "OLD" }, acked), { hosts: [h("a"), h("b")] });
  assert.deepEqual(statusPatch({ hosts: [h("a", { specialised: "gpu" })], kubeseal_cert: "OLD" }, acked), { hosts: [h("a", { specialised: "gpu" })] });
});

test("an unknown field is never sent (it would erase the centre's value); an empty host list is", () => {
  assert.deepEqual(statusPatch({ hosts: [h("a")] }, {}), { hosts: [h("a")] });
  assert.equal(statusPatch({ hosts: [h("a")] }, { hosts: [h("a")], kubeseal_cert: "PEM" }), undefined);
  assert.deepEqual(statusPatch({ hosts: [] }, { hosts: [h("a")] }), { hosts: [] });
});

test("everything is sent to a centre that acknowledged nothing yet", () => {
  assert.deepEqual(statusPatch({ hosts: [h("a")], kubeseal_cert: "PEM" }, {}), { hosts: [h("a")], kubeseal_cert: "PEM" });
});

test("afterPatch keeps the fields the patch did not touch", () => {
  assert.deepEqual(afterPatch({ hosts: [h("a")], kubeseal_cert: "OLD" }, { kubeseal_cert: "NEW" }), { hosts: [h("a")], kubeseal_cert: "NEW" });
});

test("canonical JSON sorts keys at every depth but keeps array order", () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [2, 1], c: 0 } }), '{"a":{"c":0,"d":[2,1]},"b":1}');
  assert.equal(sameJson([1, 2], [2, 1]), false);
  assert.equal(sameJson(undefined, undefined), true);
  assert.equal(sameJson(undefined, null), false);
});
