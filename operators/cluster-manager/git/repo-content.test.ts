import { test } from "node:test";
import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import {
  FLUX_COMPONENTS_FILE, HELM_CHARTS_FILE, HELM_RELEASE_FILE, SELF_LINK_FILE,
  generateClusterRepo, mergeValues, repoFluxVersion, selfLinkManifest, type ClusterRepoInput,
} from "./repo-content.js";

const UUID = "0b6a1c9e-3f1d-4c53-9a51-2b0f5e7d8c11";
const FLUX = {
  version: "v2.9.5",
  installYaml: "# Install manifest of Flux v2.9.5 (source-controller v1.9.5), laid out as `flux install --export` does.\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: flux-system\n",
};

function input(overrides: Partial<ClusterRepoInput> = {}): ClusterRepoInput {
  return {
    uuid: UUID,
    name: "line-4",
    namespace: "fplus-edge",
    selfUrl: `https://git.example.org/uuid/${UUID}`,
    helmChartsUrl: "https://git.example.org/shared/helm-charts",
    chart: {
      name: "edge-cluster",
      values: {
        cluster: { name: "{{name}}", uuid: "{{uuid}}", domain: "factory.example" },
        krb5: { realm: "FACTORY.EXAMPLE" },
        image: { tag: "v1", pullPolicy: "IfNotPresent" },
      },
    },
    flux: FLUX,
    ...overrides,
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed YAML, checked field by field below
type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace: string }; spec: Record<string, any> };

function docs(text: string | undefined): Manifest[] {
  assert.ok(text !== undefined, "file missing");
  return parseAllDocuments(text).map((d) => {
    assert.deepEqual(d.errors, []);
    return d.toJS() as Manifest;
  });
}

test("the repository holds the README, three manifest files under edo/cluster and Flux under flux-system", () => {
  const files = generateClusterRepo(input());
  assert.deepEqual([...files.keys()],
    ["README.md", "edo/cluster/edge-cluster.yaml", "edo/cluster/helm-charts.yaml", "edo/cluster/self-link.yaml",
      "flux-system/gotk-components.yaml"]);
});

test("flux-system carries the release's install manifest unchanged and names its version", () => {
  const files = generateClusterRepo(input());
  assert.equal(files.get(FLUX_COMPONENTS_FILE), FLUX.installYaml);
  assert.equal(repoFluxVersion(files), "v2.9.5");
  const other = generateClusterRepo(input({ flux: { version: "v2.7.5", installYaml: FLUX.installYaml.replace("v2.9.5", "v2.7.5") } }));
  assert.equal(repoFluxVersion(other), "v2.7.5");
  assert.equal(repoFluxVersion(new Map()), undefined);
});

test("the HelmRelease installs edge-cluster from helm-charts with rendered and merged values", () => {
  const files = generateClusterRepo(input({ values: { image: { tag: "v2" }, extra: [1, 2], krb5: null } }));
  const [release, ...rest] = docs(files.get(HELM_RELEASE_FILE));
  assert.equal(rest.length, 0);
  assert.ok(release);
  assert.equal(release.apiVersion, "helm.toolkit.fluxcd.io/v2");
  assert.equal(release.kind, "HelmRelease");
  assert.equal(release.metadata.name, `edge-cluster-${UUID}`);
  assert.equal(release.metadata.namespace, "fplus-edge");
  assert.deepEqual(release.spec.chart.spec.sourceRef, { kind: "GitRepository", name: "helm-charts" });
  assert.equal(release.spec.chart.spec.chart, "edge-cluster");
  assert.deepEqual(release.spec.values, {
    cluster: { domain: "factory.example", name: "line-4", uuid: UUID },
    extra: [1, 2],
    image: { pullPolicy: "IfNotPresent", tag: "v2" },
  });
});

test("GitRepository helm-charts points at the shared charts", () => {
  const files = generateClusterRepo(input());
  const [source] = docs(files.get(HELM_CHARTS_FILE));
  assert.deepEqual(source, {
    apiVersion: "source.toolkit.fluxcd.io/v1",
    kind: "GitRepository",
    metadata: { name: "helm-charts", namespace: "fplus-edge" },
    spec: { interval: "3m", ref: { branch: "main" }, secretRef: { name: "flux-secrets" },
      url: "https://git.example.org/shared/helm-charts" },
  });
});

test("self-link.yaml links the cluster to its own repository and is exported on its own", () => {
  const files = generateClusterRepo(input({ namespace: "edge-a" }));
  const text = files.get(SELF_LINK_FILE);
  assert.equal(text, selfLinkManifest({ namespace: "edge-a", selfUrl: `https://git.example.org/uuid/${UUID}` }));
  const [source, kustomization, ...rest] = docs(text);
  assert.equal(rest.length, 0);
  assert.ok(source && kustomization);
  assert.equal(source.kind, "GitRepository");
  assert.equal(source.metadata.name, "self-link");
  assert.equal(source.metadata.namespace, "edge-a");
  assert.equal(source.spec.url, `https://git.example.org/uuid/${UUID}`);
  assert.deepEqual(source.spec.secretRef, { name: "flux-secrets" });
  assert.equal(source.spec.interval, "1m", "a commit reaches the edge within a minute with nobody asking Flux");
  assert.equal(kustomization.kind, "Kustomization");
  assert.equal(kustomization.metadata.name, "self-link");
  assert.equal(kustomization.metadata.namespace, "edge-a");
  assert.equal(kustomization.spec.path, "./");
  assert.equal(kustomization.spec.prune, true);
  assert.deepEqual(kustomization.spec.sourceRef, { kind: "GitRepository", name: "self-link" });
});

test("a bare cluster's repository carries no Flux install", () => {
  const files = generateClusterRepo(input({ bare: true }));
  assert.deepEqual([...files.keys()].filter((p) => p.startsWith("flux-system/")), []);
  assert.ok(files.has(HELM_RELEASE_FILE) && files.has(HELM_CHARTS_FILE) && files.has(SELF_LINK_FILE));
  const all = [...files].filter(([path]) => path.endsWith(".yaml") && path.startsWith("edo/")).flatMap(([, text]) => docs(text));
  assert.deepEqual(all.map((m) => `${m.kind}/${m.metadata.name}`).sort(),
    ["GitRepository/helm-charts", "GitRepository/self-link", `HelmRelease/edge-cluster-${UUID}`, "Kustomization/self-link"]);
});

test("the same input in a different key order gives identical bytes", () => {
  const a = generateClusterRepo(input({ values: { z: 1, a: { y: 2, b: 3 } } }));
  const reordered = input({ values: { a: { b: 3, y: 2 }, z: 1 } });
  reordered.chart = { name: "edge-cluster", values: {
    image: { pullPolicy: "IfNotPresent", tag: "v1" },
    krb5: { realm: "FACTORY.EXAMPLE" },
    cluster: { domain: "factory.example", uuid: "{{uuid}}", name: "{{name}}" },
  } };
  const b = generateClusterRepo(reordered);
  assert.deepEqual([...a.entries()], [...b.entries()]);
  const c = generateClusterRepo(input({ values: { z: 2, a: { y: 2, b: 3 } } }));
  assert.notEqual(a.get(HELM_RELEASE_FILE), c.get(HELM_RELEASE_FILE));
});

test("values with YAML-special text survive a round trip", () => {
  const tricky = { a: "a$&b: #x", b: "0123", c: "{{not-a-template}}", d: "line\nbreak", e: "yes" };
  const files = generateClusterRepo(input({ values: tricky }));
  const [release] = docs(files.get(HELM_RELEASE_FILE));
  assert.ok(release);
  for (const [key, value] of Object.entries(tricky)) assert.equal(release.spec.values[key], value);
});

test("the input is not modified", () => {
  const i = input({ values: { image: { tag: "v2" } } });
  const before = structuredClone(i);
  generateClusterRepo(i);
  assert.deepEqual(i, before);
});

test("bad input is refused with a clear message", () => {
  assert.throws(() => generateClusterRepo(input({ uuid: "../../etc" })), /invalid cluster uuid "..\/..\/etc"/);
  assert.throws(() => generateClusterRepo(input({ namespace: "Edge_NS" })), /invalid namespace "Edge_NS"/);
  assert.throws(() => generateClusterRepo(input({ selfUrl: "not a url" })), /invalid selfUrl: not a URL/);
  assert.throws(() => generateClusterRepo(input({ helmChartsUrl: "https://u:secret@h/x" })),
    (err: unknown) => err instanceof Error && /credentials belong in Secret/.test(err.message)
      && !err.message.includes("secret@"));
  assert.throws(() => generateClusterRepo(input({ chart: { name: "edge-cluster", values: { r: "{{realm}}" } } })),
    /"\{\{realm\}\}" has no value/);
});

test("mergeValues follows JSON merge patch", () => {
  assert.deepEqual(mergeValues({ a: { b: 1, c: 2 }, l: [1] }, { a: { c: null, d: 4 }, l: [2, 3] }),
    { a: { b: 1, d: 4 }, l: [2, 3] });
  assert.deepEqual(mergeValues({ a: 1 }, { a: { b: 2 } }), { a: { b: 2 } });
  assert.deepEqual(mergeValues({ a: 1 }, {}), { a: 1 });
});
