import { test } from "node:test";
import assert from "node:assert/strict";
import type { EdgeCluster } from "../../api/edgecluster.js";
import { entryFromSpec, parseClusterEntry, sameEntry, setupStatusSchema, specPatchFromEntry } from "./entries.js";
import { dnsLabelFor, dnsLabelWithSuffix, principalFor } from "./names.js";

const UUID = "0b6e6b1a-1234-4abc-8def-0123456789ab";
const CHART = "7f1c2a3b-0000-4000-8000-00000000beef";

test("an entry maps to the spec and back, with bare:false and absent values left out as ACS writes them", () => {
  const spec = { namespace: "fplus-edge", bare: false, chart: CHART, values: { a: 1 } };
  assert.deepEqual(entryFromSpec(spec, "line-a"), { name: "line-a", namespace: "fplus-edge", chart: CHART, values: { a: 1 } });
  assert.deepEqual(entryFromSpec({ namespace: "x", bare: true }, "n"), { name: "n", namespace: "x", bare: true });
  assert.ok(sameEntry({ name: "n", namespace: "x", bare: false }, { name: "n", namespace: "x" }), "bare:false equals no bare");
  assert.ok(!sameEntry({ name: "n", namespace: "x", values: { a: 1 } }, { name: "n", namespace: "x", values: { a: 2 } }));
});

test("entries that cannot become an EdgeCluster are refused with the field named", () => {
  assert.ok("entry" in parseClusterEntry({ name: "line-a", namespace: "fplus-edge", chart: CHART }));
  const cases: Array<[unknown, RegExp]> = [
    [{ name: "line-a" }, /"namespace"/],
    [{ name: "line-a", namespace: "ns", extra: 1 }, /extra|Unrecognized/i],
    [{ name: "Line A", namespace: "ns" }, /"name" "Line A" cannot be an EdgeCluster spec\.name/],
    [{ name: "a", namespace: "Not_DNS" }, /"namespace" "Not_DNS" is not a DNS label/],
    [{ name: "a", namespace: "ns", chart: "edge-cluster" }, /"chart"/],
  ];
  for (const [value, problem] of cases) {
    const parsed = parseClusterEntry(value);
    assert.ok("problem" in parsed, JSON.stringify(value));
    assert.match(parsed.problem, problem);
  }
});

test("the spec patch replaces what differs and removes what the entry lacks", () => {
  const ec = { metadata: { name: "a", resourceVersion: "7" }, spec: { name: "a", uuid: UUID, namespace: "fplus-edge", bare: true, chart: CHART, values: { a: 1, b: 2 } } } as EdgeCluster;
  assert.deepEqual(specPatchFromEntry(ec, { name: "a", namespace: "fplus-edge", values: { a: 1 } }), [
    { op: "remove", path: "/spec/chart" },
    { op: "add", path: "/spec/bare", value: false },
    { op: "add", path: "/spec/values", value: { a: 1 } },
  ]);
  assert.deepEqual(specPatchFromEntry(ec, { name: "a", namespace: "fplus-edge", bare: true, chart: CHART, values: { b: 2, a: 1 } }), []);
});

test("ACS names become DNS labels; a taken one gets the UUID's first digits", () => {
  assert.equal(dnsLabelFor("line-a", UUID), "line-a");
  assert.equal(dnsLabelFor("Line A / Building 2", UUID), "line-a-building-2");
  assert.equal(dnsLabelFor("***", UUID), "cluster-0b6e6b1a");
  assert.equal(dnsLabelFor("x".repeat(80), UUID).length, 63);
  assert.equal(dnsLabelWithSuffix("line-a", UUID), "line-a-0b6e6b1a");
  assert.equal(dnsLabelWithSuffix("y".repeat(80), UUID).length, 63);
  assert.equal(principalFor("flux", "line-a", "EXAMPLE.COM"), "op1flux/line-a@EXAMPLE.COM");
});

test("setup status written by ACS's own cluster manager is read, including the older bare-UUID form", () => {
  assert.deepEqual(setupStatusSchema.parse({ ready: true, flux: { uuid: UUID, done: true }, krbkeys: UUID, spec: { name: "a" } }),
    { ready: true, flux: { uuid: UUID, done: true }, krbkeys: { uuid: UUID }, spec: { name: "a" } });
  assert.equal(setupStatusSchema.safeParse({ flux: "not-a-uuid" }).success, false);
});
