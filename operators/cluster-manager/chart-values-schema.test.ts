// The manager's check of chart values is the chart's own: values that real helm renders pass it, values helm refuses
// with a schema error fail it (a change of the schema, its draft or of helm's validator shows here).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { helm } from "../../e2e/deploy/helm.js";
import { edgeClusterYaml, startManagerFixture, waitForCondition } from "../../e2e/support/cluster-manager/fixtures.js";
import { chartValuesSchema } from "./chart-values-schema.js";
import { DEFAULT_CHART_DIR } from "./helm-charts.js";

const UUID = "0b6e6b1a-1111-4222-8333-444455556666";
const derived = { mode: "embedded", cluster: { name: "line-a", uuid: UUID, sparkplugGroup: "acme-line-a", namespace: "fplus-edge" }, central: { url: "http://central.example:8080" } };
let stateDir: string;

before(() => { stateDir = mkdtempSync(join(tmpdir(), "graft-values-schema-")); });
after(() => rmSync(stateDir, { recursive: true, force: true }));

const ciValues = (file: string) => parse(readFileSync(join(DEFAULT_CHART_DIR, "ci", file), "utf8")) as Record<string, unknown>;

const cases: { what: string; values: Record<string, unknown>; accepted: boolean; says?: RegExp }[] = [
  { what: "the derived values alone", values: derived, accepted: true },
  { what: "ci/embedded-values.yaml", values: ciValues("embedded-values.yaml"), accepted: true },
  { what: "ci/kerberos-values.yaml", values: ciValues("kerberos-values.yaml"), accepted: true },
  { what: "a valid logLevel and pod labels", values: { ...derived, logLevel: "debug", podLabels: { site: "line-a" } }, accepted: true },
  { what: "mqtt as a string", values: { ...derived, mqtt: "x" }, accepted: false, says: /^spec\.values\.mqtt: must be object$/ },
  { what: "an unknown top-level key", values: { ...derived, bogus: 1 }, accepted: false, says: /^spec\.values\.bogus: is not a value of the chart \(it takes mode, cluster, /m },
  { what: "a logLevel outside the enum", values: { ...derived, logLevel: "loud" }, accepted: false, says: /^spec\.values\.logLevel: must be one of "debug", "info", "warn", "error"$/ },
  { what: "a pod label that is a number", values: { ...derived, podLabels: { line: 1 } }, accepted: false, says: /^spec\.values\.podLabels\.line: must be string$/ },
  { what: "a cluster name that is no DNS label", values: { ...derived, cluster: { ...derived.cluster, name: "Line_A" } }, accepted: false, says: /^spec\.values\.cluster\.name: must match pattern/ },
];

for (const c of cases) {
  test(`values schema agrees with helm template: ${c.what} → ${c.accepted ? "accepted" : "refused"}`, async () => {
    const file = join(stateDir, "values.json");
    writeFileSync(file, JSON.stringify(c.values));
    const r = await helm(["template", "t", DEFAULT_CHART_DIR, "--namespace", "fplus-edge", "-f", file], { stateDir });
    assert.equal(r.code === 0, c.accepted, `helm template: ${r.stderr}`);
    if (!c.accepted) assert.match(r.stderr, /values don't meet the specifications of the schema/, "helm refuses them for the schema");
    const problems = chartValuesSchema(DEFAULT_CHART_DIR)!.problems(c.values, c.values);
    assert.equal(problems.length === 0, c.accepted, problems.join("; "));
    if (c.says) assert.ok(problems.some((p) => c.says!.test(p)), problems.join("; "));
  });
}

test("one compiled schema per chart version", () => {
  const schema = chartValuesSchema(DEFAULT_CHART_DIR)!;
  assert.equal(chartValuesSchema(DEFAULT_CHART_DIR), schema);
  assert.match(schema.chart, /^edge-cluster@\d+\.\d+\.\d+/);
});

test("a key only the chart's defaults or the manager set is not blamed on spec.values; a null in spec.values is", () => {
  const schema = chartValuesSchema(DEFAULT_CHART_DIR)!;
  const problems = schema.problems({ ...derived, cluster: { ...derived.cluster, name: "Line_A" } }, {});
  assert.equal(problems.length, 1, problems.join("; "));
  assert.match(problems[0]!, /^values\.cluster\.name \(from the chart's defaults or the cluster-manager\): must match pattern/);
  assert.deepEqual(schema.problems({ ...derived, image: null }, { image: null }), ["spec.values.image: is required"]);
});

test("chart values from the manager's settings that the schema refuses: Stalled InvalidSpec blaming the settings, not spec.values", async () => {
  const f = await startManagerFixture("values-schema", { chartValues: { "edge-cluster": { logLevel: "loud" } } });
  try {
    assert.equal((await f.cp.kubectl(["create", "namespace", "sites"])).code, 0);
    assert.equal((await f.cp.kubectl(["apply", "-f", "-"], { input: edgeClusterYaml("line-s", "sites", { values: { podLabels: { line: "s" } } }) })).code, 0);
    const ec = await waitForCondition(f, "line-s", "sites", (c) => c.type === "Stalled" && c.status === "True", "line-s stalls");
    const stalled = ec.status!.conditions!.find((c) => c.type === "Stalled")!;
    assert.equal(stalled.reason, "InvalidSpec");
    assert.match(stalled.message, /: values\.logLevel \(from the chart's defaults or the cluster-manager\): must be one of "debug", "info", "warn", "error"\. /);
    assert.match(stalled.message, /Nothing was committed \(the edge keeps its last values\): fix the cluster-manager's chart values \(--chart-values-file, --edge-image\)$/);
  } finally {
    await f.stop();
  }
});
