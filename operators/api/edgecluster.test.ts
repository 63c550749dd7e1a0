// The generated EdgeCluster CRD against a real API server: it installs, and bad objects are refused with messages
// a person understands.
import { test } from "node:test";
import assert from "node:assert/strict";
import { apiServerForFile } from "../../e2e/support/api-server.js";
import { edgeClusterSpec } from "./edgecluster.js";

const api = await apiServerForFile({ name: "crd", crds: true });

const ec = (name: string, spec: Record<string, unknown>) => JSON.stringify({
  apiVersion: "factoryplus.app.amrc.co.uk/v1alpha1", kind: "EdgeCluster", metadata: { name, namespace: "default" }, spec,
});

test("the CRD is Established with its short name, category and printer columns", async () => {
  const r = await api.cp.kubectl(["get", "crd", "edgeclusters.factoryplus.app.amrc.co.uk", "-o", "json"]);
  assert.equal(r.code, 0, r.stderr);
  const crd = JSON.parse(r.stdout);
  assert.ok(crd.status.conditions.some((c: { type: string; status: string }) => c.type === "Established" && c.status === "True"));
  assert.deepEqual(crd.spec.names.shortNames, ["ec"]);
  assert.deepEqual(crd.spec.names.categories, ["graft"]);
  const cols = crd.spec.versions[0].additionalPrinterColumns.map((c: { name: string }) => c.name);
  for (const c of ["Ready", "Group", "Hosts", "Age"]) assert.ok(cols.includes(c), `printer column ${c}`);
  const get = await api.cp.kubectl(["get", "ec"]);
  assert.equal(get.code, 0, get.stderr);
});

test("a valid EdgeCluster is accepted and defaulted", async () => {
  const r = await api.cp.kubectl(["apply", "-f", "-"], { input: ec("site-a", { uuid: "0b6e6b1a-5d7e-4a0a-9c1e-1f2a3b4c5d6e" }) });
  assert.equal(r.code, 0, r.stderr);
  const got = JSON.parse((await api.cp.kubectl(["get", "ec", "site-a", "-o", "json"])).stdout);
  assert.equal(got.spec.namespace, "fplus-edge");
  assert.equal(got.spec.bare, false);
});

test("ACS cluster names are accepted: mixed case, '_' and '-' (acs-contract §9)", async () => {
  for (const [object, name] of [["edge-cluster-1", "Edge_Cluster_1"], ["site-b", "Site_A"], ["dash", "line-3"]]) {
    const r = await api.cp.kubectl(["apply", "-f", "-"], { input: ec(object!, { name }) });
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
  }
});

test("a bad name is refused with the allowed characters in the message", async () => {
  for (const name of ["edge.cluster.1", "a/b", "x@y", "sp ace", "x".repeat(64)]) {
    const r = await api.cp.kubectl(["apply", "-f", "-"], { input: ec("bad-name", { name }) });
    assert.notEqual(r.code, 0, name);
    assert.match(r.stderr, /spec\.name must consist of letters \(either case\), digits, '_' and '-'|spec\.name: Too long/, name);
  }
  assert.equal((await api.cp.kubectl(["get", "ec", "bad-name"])).code, 1, "nothing was stored");
});

test("metadata.name obeys the cluster-name rule when it is the cluster name, and is never long enough to break derived names", async () => {
  const dotted = await api.cp.kubectl(["apply", "-f", "-"], { input: ec("edge.cluster.1", {}) });
  assert.notEqual(dotted.code, 0);
  // Named by its field, as the API server names every other refused field (not "<nil>: Invalid value").
  assert.match(dotted.stderr, /is invalid: metadata\.name: Invalid value: .*without spec\.name the cluster name is metadata\.name/);
  assert.equal((await api.cp.kubectl(["apply", "-f", "-"], { input: ec("edge.cluster.2", { name: "edge_cluster_2" }) })).code, 0, "fine with spec.name");
  const long = await api.cp.kubectl(["apply", "-f", "-"], { input: ec("a".repeat(253), { name: "long" }) });
  assert.notEqual(long.code, 0);
  assert.match(long.stderr, /is invalid: metadata\.name: Invalid value: .*metadata\.name must be at most 63 characters/);
  assert.equal((await api.cp.kubectl(["apply", "-f", "-"], { input: ec("b".repeat(63), {}) })).code, 0, "63 characters are fine");
});

test("kubectl explain describes the kind, its spec and its status", async () => {
  const kind = await api.cp.kubectl(["explain", "ec"]);
  assert.equal(kind.code, 0, kind.stderr);
  const described = (text: string, field: string) => {
    const block = new RegExp(`^  ${field}\\t<Object>.*\\n((?: {4}.*\\n)+)`, "m").exec(text);
    return block?.[1]?.trim();
  };
  assert.match(kind.stdout, /DESCRIPTION:\n {4}An edge Kubernetes cluster graft provisions/, kind.stdout);
  assert.match(described(kind.stdout, "spec") ?? "", /^The edge cluster wanted/, kind.stdout);
  assert.match(described(kind.stdout, "status") ?? "", /^What graft has done/, kind.stdout);
  assert.doesNotMatch(kind.stdout, /<empty>|<no description>/);
  for (const field of ["ec.spec", "ec.status"]) {
    const r = await api.cp.kubectl(["explain", field]);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /<empty>|<no description>/, r.stdout);
  }
});

test("a bad uuid is refused", async () => {
  const r = await api.cp.kubectl(["apply", "-f", "-"], { input: ec("bad-uuid", { uuid: "not-a-uuid" }) });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /spec\.uuid must be a lowercase UUID/);
});

test("an unknown field is refused", async () => {
  const r = await api.cp.kubectl(["apply", "-f", "-"], { input: ec("unknown-field", { colour: "blue" }) });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /unknown field "spec\.colour"/);
});

test("spec.name and spec.uuid cannot change, and spec.name cannot be added later", async () => {
  assert.equal((await api.cp.kubectl(["apply", "-f", "-"], { input: ec("immutable", { name: "plant-1", uuid: "11111111-2222-4333-8444-555555555555" }) })).code, 0);
  const rename = await api.cp.kubectl(["apply", "-f", "-"], { input: ec("immutable", { name: "plant-2", uuid: "11111111-2222-4333-8444-555555555555" }) });
  assert.notEqual(rename.code, 0);
  assert.match(rename.stderr, /spec\.name is immutable/);
  const reuuid = await api.cp.kubectl(["apply", "-f", "-"], { input: ec("immutable", { name: "plant-1", uuid: "21111111-2222-4333-8444-555555555555" }) });
  assert.notEqual(reuuid.code, 0);
  assert.match(reuuid.stderr, /spec\.uuid is immutable once set/);
  assert.equal((await api.cp.kubectl(["apply", "-f", "-"], { input: ec("no-name", {}) })).code, 0);
  const add = await api.cp.kubectl(["apply", "-f", "-"], { input: ec("no-name", { name: "other" }) });
  assert.notEqual(add.code, 0);
  assert.match(add.stderr, /spec\.name cannot be added after creation/);
  const values = await api.cp.kubectl(["apply", "-f", "-"], { input: ec("immutable", { name: "plant-1", uuid: "11111111-2222-4333-8444-555555555555", values: { a: { b: 1 } } }) });
  assert.equal(values.code, 0, `values may change: ${values.stderr}`);
});

test("the zod schema gives the same verdicts at run time", () => {
  assert.equal(edgeClusterSpec.safeParse({ name: "Site_A" }).success, true);
  assert.equal(edgeClusterSpec.safeParse({ name: "edge.cluster.1" }).success, false);
  assert.equal(edgeClusterSpec.safeParse({ colour: "blue" }).success, false);
  const ok = edgeClusterSpec.parse({ name: "site-a" });
  assert.equal(ok.namespace, "fplus-edge");
});
