import { test } from "node:test";
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { generateClusterRepo } from "../git/repo-content.js";
import { acsRepoFiles, BUILT_IN_FLUX_TEMPLATE, type AcsRepoInput } from "./repo-templates.js";

const UUID = "0b6a1c9e-3f1d-4c53-9a51-2b0f5e7d8c11";
const CHART = "6f3c2a10-6c1e-4d8a-9f4b-1c2d3e4f5a6b";

function input(over: Partial<AcsRepoInput> = {}): AcsRepoInput {
  return {
    uuid: UUID, name: "Edge_Cluster_1", namespace: "fplus-edge",
    selfUrl: `https://git.example.org/uuid/${UUID}`, helmChartsUrl: "https://git.example.org/uuid/helm",
    chart: { uuid: CHART, entry: { chart: "edge-cluster", values: { cluster: { name: "{{name}}", uuid: "{{uuid}}" }, note: "cost $& more" } } },
    graftValues: { mode: "kerberos" },
    ...over,
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed YAML, checked field by field
const docs = (text: string | undefined): any[] => {
  assert.ok(text !== undefined, "file missing");
  return parseAllDocuments(text).map((d) => d.toJS());
};

test("without templates in the ConfigDB the repository holds the files of acs-contract §4 (HelmRelease, helm-charts and self-link as graft's own generator makes them)", () => {
  const repo = acsRepoFiles(input());
  assert.deepEqual(repo.fromConfigDb, { helmRelease: false, flux: false });
  assert.deepEqual([...repo.files.keys()],
    ["README.md", "edo/cluster/edge-cluster.yaml", "edo/cluster/flux-system.yaml", "edo/cluster/helm-charts.yaml", "edo/cluster/self-link.yaml"]);
  const builtIn = generateClusterRepo({
    uuid: UUID, name: "Edge_Cluster_1", namespace: "fplus-edge", selfUrl: input().selfUrl, helmChartsUrl: input().helmChartsUrl,
    chart: { name: "edge-cluster", values: { cluster: { name: "{{name}}", uuid: "{{uuid}}" }, note: "cost $& more", mode: "kerberos" } },
  });
  for (const path of ["edo/cluster/edge-cluster.yaml", "edo/cluster/helm-charts.yaml", "edo/cluster/self-link.yaml"]) {
    assert.deepEqual(docs(repo.files.get(path)), docs(builtIn.get(path)), path);
  }
  // ACS's Flux template keeps Flux up to date from helm-charts' ./flux-system (graft's embedded mode commits Flux itself).
  assert.deepEqual(docs(repo.files.get("edo/cluster/flux-system.yaml")), [{
    apiVersion: "kustomize.toolkit.fluxcd.io/v1", kind: "Kustomization", metadata: { name: "flux-system", namespace: "fplus-edge" },
    spec: { interval: "3h0m0s", path: "./flux-system", prune: true, sourceRef: { kind: "GitRepository", name: "helm-charts" } },
  }]);
  assert.equal(repo.selfLink, repo.files.get("edo/cluster/self-link.yaml"));
});

test("the HelmRelease comes from the K8s resource template with everything the installation put there", () => {
  const template = {
    resources: [{ apiVersion: "helm.toolkit.fluxcd.io/v2", kind: "HelmRelease" }],
    template: {
      apiVersion: "helm.toolkit.fluxcd.io/v2", kind: "HelmRelease",
      metadata: { name: "{{name}}", labels: { "factoryplus.app.amrc.co.uk/uuid": "{{uuid}}" }, annotations: { chart: "{{chart}}" } },
      spec: {
        chart: { spec: { chart: "{{chart}}", sourceRef: { kind: "GitRepository", name: "{{source}}" } } },
        driftDetection: { mode: "enabled", ignore: [{ paths: ["/spec/replicas"] }] },
        interval: "5m", values: "{{values}}",
      },
    },
  };
  const repo = acsRepoFiles(input({ helmReleaseTemplate: template, values: { replicas: 3, note: null } }));
  assert.deepEqual(repo.fromConfigDb, { helmRelease: true, flux: false });
  const [release] = docs(repo.files.get("edo/cluster/edge-cluster.yaml"));
  assert.deepEqual(release.metadata, {
    name: `edge-cluster-${UUID}`, namespace: "fplus-edge",
    labels: { "factoryplus.app.amrc.co.uk/uuid": UUID }, annotations: { chart: "edge-cluster" },
  });
  assert.deepEqual(release.spec.driftDetection, { mode: "enabled", ignore: [{ paths: ["/spec/replicas"] }] });
  assert.equal(release.spec.interval, "5m");
  assert.deepEqual(release.spec.chart.spec.sourceRef, { kind: "GitRepository", name: "helm-charts" });
  assert.deepEqual(release.spec.values, {
    cluster: { name: "Edge_Cluster_1", uuid: UUID }, mode: "kerberos", replicas: 3,
    note: null, // a null from the cluster is kept, as ACS's merge keeps it: Helm then drops the chart's default
  });
});

test("the Flux template decides the files; bare clusters get no flux-system.yaml; placeholders are substituted literally", () => {
  const flux = {
    ...BUILT_IN_FLUX_TEMPLATE,
    "extra.yaml": [{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x", namespace: "{{namespace}}" }, data: { self: "repo {{url.self}}" } }],
  };
  const repo = acsRepoFiles(input({ fluxTemplate: flux, bare: true, chart: { uuid: CHART, entry: { chart: "edge-cluster", values: { note: "{{name}} costs $' and $&" } } } }));
  assert.deepEqual([...repo.files.keys()], [
    "README.md", "edo/cluster/edge-cluster.yaml", "edo/cluster/extra.yaml", "edo/cluster/helm-charts.yaml", "edo/cluster/self-link.yaml",
  ]);
  assert.deepEqual(docs(repo.files.get("edo/cluster/extra.yaml"))[0].data, { self: `repo ${input().selfUrl}` });
  assert.equal(docs(repo.files.get("edo/cluster/edge-cluster.yaml"))[0].spec.values.note, "Edge_Cluster_1 costs $' and $&");
});

test("a template that cannot make the repository says which one and why", () => {
  const { "self-link.yaml": _selfLink, ...noSelfLink } = BUILT_IN_FLUX_TEMPLATE;
  const cases: Array<[Partial<AcsRepoInput>, RegExp]> = [
    [{ fluxTemplate: noSelfLink }, /the 'Flux template' has no "self-link.yaml"/],
    [{ fluxTemplate: { ...BUILT_IN_FLUX_TEMPLATE, "../escape.yaml": [] } }, /"\.\.\/escape\.yaml" is not a plain file name/],
    [{ fluxTemplate: { ...BUILT_IN_FLUX_TEMPLATE, "x.yaml": "{{helm}}" } }, /"x\.yaml" is not a list of manifests/],
    [{ fluxTemplate: { ...BUILT_IN_FLUX_TEMPLATE, "x.yaml": ["{{nothing}}", { kind: "ConfigMap" }] } }, /manifest 1 of "x\.yaml" has no apiVersion and kind/],
    [{ helmReleaseTemplate: { template: { apiVersion: "v1", kind: "ConfigMap" } } }, /the 'K8s resource template' for HelmRelease does not make a HelmRelease/],
    [{ helmReleaseTemplate: { template: { apiVersion: "helm.toolkit.fluxcd.io/v2", kind: "HelmRelease", metadata: { name: "Edge_{{uuid}}" } } } },
      /the HelmRelease name "Edge_0b6a.*" is not a valid Kubernetes object name/],
    [{ chart: { uuid: CHART, entry: { values: {} } } }, new RegExp(`'Helm chart template' ${CHART} has no chart`)],
  ];
  for (const [over, message] of cases) assert.throws(() => acsRepoFiles(input(over)), message);
});
