// The rules of §10 one by one: template expansion, names, values merge, the GitRepository for a chart with a source,
// the deprecated charts list, and a specific problem (never an exception) for each kind of bad input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { edgeAgentChart, k8sTemplates } from "../../../e2e/support/edge-sync/acs-templates.js";
import { expandTemplate } from "./chart-template.js";
import { k8sname } from "./k8sname.js";
import { buildPlan, EDGE_SYNC_MANAGER, type EntryRead, type PlanInputs } from "./manifests.js";
import { mergeValues } from "./merge-values.js";

const DEP = "6f4d0c1e-2b8a-4f5e-9d3c-7a1b2c3d4e5f";
const CHART = "a1b2c3d4-0000-4000-8000-000000000001";
const SOURCE = "d25f2afc-0000-4000-8000-0000000000aa";
const ok = (body: unknown): EntryRead => ({ status: 200, body });

function inputs(over: Partial<PlanInputs> = {}): PlanInputs {
  return {
    namespace: "fplus-edge",
    baseValues: { cluster: "Line_3", realm: "EXAMPLE.COM", directory_url: "http://directory.example" },
    gitUrl: (s) => `http://git.example/uuid/${s}`,
    deployments: new Map([[DEP, ok({ cluster: "c", name: "Agent_One", hostname: "node-1", chart: CHART, values: { extra: 1 } })]]),
    charts: new Map([[CHART, ok(edgeAgentChart)]]),
    k8sTemplates: new Map(Object.entries(k8sTemplates).map(([k, v]) => [k, ok(v)])),
    ...over,
  };
}

test("k8sname joins, lower-cases, replaces runs of other characters and trims one dash each end", () => {
  assert.equal(k8sname("edge-agent", "Agent_One"), "edge-agent-agent-one");
  assert.equal(k8sname("helm", "charts"), "helm-charts");
  assert.equal(k8sname("-a", "B  c-"), "a-b-c");
  assert.equal(k8sname("x/y", "Z"), "x-y-z");
});

test("templates: whole placeholders keep their type, missing ones drop the key; embedded ones become text or empty", () => {
  const out = expandTemplate({ a: "{{obj}}", b: "{{missing}}", c: "x-{{n}}-{{missing}}", d: "{{missing:def}}", e: "{{deep.k}}", f: ["{{missing}}", "{{n}}"], g: "$&{{s}}" },
    { obj: { k: [1] }, n: 5, deep: { k: true }, s: "$'" });
  assert.deepEqual(out, { a: { k: [1] }, c: "x-5-", d: "def", e: true, f: [5], g: "$&$'" });
});

test("values: base, then chart, then deployment, merged key by key; null kept for Helm", () => {
  assert.deepEqual(mergeValues({ a: 1, o: { x: 1, y: 1 } }, { o: { y: 2 }, l: [1] }, { o: { x: null }, l: [2] }),
    { a: 1, o: { x: null, y: 2 }, l: [2] });
});

test("a deployment becomes a HelmRelease with ACS's name, labels and values", () => {
  const plan = buildPlan(inputs());
  assert.deepEqual(plan.kinds.map((k) => k.kind).sort(), ["GitRepository", "HelmRelease"]);
  const [dep] = plan.deployments;
  assert.equal(dep!.problem, undefined);
  assert.equal(dep!.objects!.length, 1, "no GitRepository without a source");
  const hr = dep!.objects![0]!;
  assert.equal(hr.metadata.name, "edge-agent-agent-one");
  assert.equal(hr.metadata.namespace, "fplus-edge");
  assert.deepEqual(hr.metadata.labels, { "factoryplus.app.amrc.co.uk/uuid": DEP, "app.kubernetes.io/managed-by": EDGE_SYNC_MANAGER });
  const spec = hr.spec as { chart: { spec: { chart: string; sourceRef: { name: string } } }; values: unknown };
  assert.equal(spec.chart.spec.chart, "edge-agent");
  assert.equal(spec.chart.spec.sourceRef.name, "helm-charts");
  assert.deepEqual(spec.values, {
    cluster: "Line_3", realm: "EXAMPLE.COM", directory_url: "http://directory.example",
    name: "Agent_One", uuid: DEP, hostname: "node-1", authGroup: edgeAgentChart.values.authGroup, extra: 1,
  });
});

test("a chart with a source and a prefix gets its own GitRepository; without hostname the value disappears", () => {
  const plan = buildPlan(inputs({
    deployments: new Map([[DEP, ok({ cluster: "c", name: "Bridge", chart: CHART })]]),
    charts: new Map([[CHART, ok({ chart: "charts/uns-bridge", prefix: "uns", source: SOURCE, values: { host: "{{hostname}}" } })]]),
  }));
  const [hr, git] = plan.deployments[0]!.objects!;
  assert.equal(hr!.metadata.name, "uns-bridge");
  assert.equal((hr!.spec as { chart: { spec: { sourceRef: { name: string } } } }).chart.spec.sourceRef.name, `helm-${SOURCE}`);
  assert.ok(!("host" in ((hr!.spec as { values: object }).values)));
  assert.equal(git!.kind, "GitRepository");
  assert.equal(git!.metadata.name, `helm-${SOURCE}`);
  assert.equal(git!.metadata.labels["factoryplus.app.amrc.co.uk/uuid"], SOURCE);
  assert.equal((git!.spec as { url: string }).url, `http://git.example/uuid/${SOURCE}`);
});

test("the deprecated charts list makes one release per chart", () => {
  const second = "a1b2c3d4-0000-4000-8000-000000000002";
  const plan = buildPlan(inputs({
    deployments: new Map([[DEP, ok({ cluster: "c", name: "Pair", charts: [CHART, second] })]]),
    charts: new Map([[CHART, ok(edgeAgentChart)], [second, ok({ chart: "mqtt-broker", values: {} })]]),
  }));
  assert.deepEqual(plan.deployments[0]!.objects!.map((o) => o.metadata.name), ["edge-agent-pair", "mqtt-broker-pair"]);
});

test("each kind of bad input is a specific problem for that deployment only", () => {
  const other = "7f4d0c1e-2b8a-4f5e-9d3c-7a1b2c3d4e5f";
  const cases: Array<[Partial<PlanInputs>, RegExp]> = [
    [{ charts: new Map() }, /Helm chart template ".*" does not exist/],
    [{ charts: new Map([[CHART, { status: 403 }]]) }, /cannot be read: HTTP 403/],
    [{ charts: new Map([[CHART, ok({ values: {} })]]) }, /has no chart/],
    [{ k8sTemplates: new Map() }, /K8s resource template for HelmRelease/],
    [{ deployments: new Map([[DEP, ok({ cluster: "c", chart: CHART })]]) }, /has no name/],
    [{ deployments: new Map([[DEP, ok({ cluster: "c", name: "n" })]]) }, /names no chart/],
    [{ deployments: new Map([[DEP, { status: 500 }]]) }, /entry cannot be read: HTTP 500/],
    [{ deployments: new Map([[DEP, ok({ cluster: "c", name: "n", chart: CHART })], [other, ok({ cluster: "c", name: "N", chart: CHART })]]) },
      /already made by deployment/],
    [{ charts: new Map([[CHART, ok({ chart: "c", source: SOURCE, values: {} })]]), gitUrl: () => { throw new Error("Directory unreachable"); } },
      /no URL for Git source .*Directory unreachable/],
  ];
  for (const [over, expected] of cases) {
    const plan = buildPlan(inputs(over));
    const problems = plan.deployments.map((d) => d.problem).filter(Boolean);
    assert.equal(problems.length, 1, `one problem for ${expected}`);
    assert.match(problems[0]!, expected);
  }
});
