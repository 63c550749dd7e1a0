// The generated SparkplugNode CRD against a real API server: ACS's names and rules (exactly one of uuid and
// address, edgeAgent needs uuid, secrets need edgeAgent), the default, and a status that kubectl shows.
import { test } from "node:test";
import assert from "node:assert/strict";
import { apiServerForFile } from "../../e2e/support/api-server.js";

const api = await apiServerForFile({ name: "spnode-crd", crds: true });

const node = (name: string, spec: Record<string, unknown>) => JSON.stringify({
  apiVersion: "factoryplus.app.amrc.co.uk/v1", kind: "SparkplugNode", metadata: { name, namespace: "default" }, spec,
});
const UUID = "7b1d2c3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e";

test("the CRD has ACS's names and the printer columns", async () => {
  const r = await api.cp.kubectl(["get", "crd", "sparkplugnodes.factoryplus.app.amrc.co.uk", "-o", "json"]);
  assert.equal(r.code, 0, r.stderr);
  const crd = JSON.parse(r.stdout);
  assert.equal(crd.spec.names.kind, "SparkplugNode");
  assert.deepEqual(crd.spec.names.shortNames, ["spnode", "spnodes"]);
  assert.ok(crd.spec.names.categories.includes("all"));
  assert.equal(crd.spec.scope, "Namespaced");
  assert.deepEqual(crd.spec.versions[0].subresources, { status: {} });
  const cols = crd.spec.versions[0].additionalPrinterColumns.map((c: { name: string }) => c.name);
  for (const c of ["UUID", "Offline", "Last Seen", "Ready"]) assert.ok(cols.includes(c), `printer column ${c}`);
});

test("valid nodes are accepted, edgeAgent defaults to false", async () => {
  for (const [name, spec] of [["by-uuid", { uuid: UUID, interval: "30s" }], ["by-address", { address: "Site_A/Agent1" }],
    ["agent", { uuid: UUID, edgeAgent: true, secrets: ["agent-secrets"] }]] as const) {
    const r = await api.cp.kubectl(["apply", "-f", "-"], { input: node(name, spec) });
    assert.equal(r.code, 0, `${name}: ${r.stderr}`);
  }
  const got = JSON.parse((await api.cp.kubectl(["get", "spnode", "by-address", "-o", "json"])).stdout);
  assert.equal(got.spec.edgeAgent, false);
});

test("ACS's rules refuse bad nodes with a message saying what is wrong", async () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{}, /exactly one of uuid and address/],
    [{ uuid: UUID, address: "G/N" }, /exactly one of uuid and address/],
    [{ address: "G/N", edgeAgent: true }, /spec.edgeAgent needs spec.uuid/],
    [{ uuid: UUID, secrets: ["s"] }, /spec.secrets needs spec.edgeAgent/],
  ];
  for (const [spec, message] of cases) {
    const r = await api.cp.kubectl(["apply", "-f", "-"], { input: node("bad", spec) });
    assert.notEqual(r.code, 0, JSON.stringify(spec));
    assert.match(r.stderr, message);
  }
});
