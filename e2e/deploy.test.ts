// graft is deployable: the edge-cluster Helm chart (helm built from its Go module) lints, passes its helm-unittest
// template tests (config/edge-cluster/tests), renders in each mode and applies (a strict server-side dry run: the
// schema check) to a real edge API server with the CRDs it needs; the central kustomization applies to a real central one; the
// RBAC grants each component what it needs and nothing more (asked of the API server with `kubectl auth can-i`, and
// edge-sync's certificate request made with its ServiceAccount's token); the chart brings its CRDs and the vendored
// Sealed Secrets chart and prints NOTES; every container is hardened and no Secret reaches an environment variable; the Dockerfile passes dockerfile-utils and graft's image rules (deploy/dockerfile-lint.ts); a site's image setting moves the edge's images (edge chart, enrolment Pod) with the manager's.
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { parse as parseYaml, stringify } from "yaml";
import * as k8s from "@kubernetes/client-node";
import { edgeChartCrds } from "../operators/api/crds.js";
import { clusterConfigManifest } from "../operators/bootstrap/manifests.js";
import { CLUSTER_CONFIG_KEYS, CLUSTER_CONFIG_NAME, KRB5_CONFIGMAP_NAME, SYNC_TOKEN_KEY, SYNC_TOKEN_SECRET_NAME } from "../operators/bootstrap/names.js";
import { defaultConfig, urlsFor } from "../operators/cluster-manager/config.js";
import { chartImage } from "../operators/cluster-manager/edge-image.js";
import { generateClusterRepo, HELM_RELEASE_FILE } from "../operators/cluster-manager/git/repo-content.js";
import { ACTIVE_KEY_SELECTOR, fetchControllerCertificate } from "../operators/edge-sync/certificate.js";
import { renderEdgeKrb5Conf } from "../operators/kerberos/krb5-conf.js";
import { Core } from "../operators/runtime/kube.js";
import { ApiError, KubeClient } from "../operators/runtime/rest.js";
import { contextFiles, dockerignoreFilter } from "./deploy/docker-context.js";
import { lintDockerfile, readDockerfile } from "./deploy/dockerfile-lint.js";
import { helm, helmBinary, helmUnittest, helmUnittestBinary } from "./deploy/helm.js";
import { containerProblems, parseManifests, podSpecOf, secretEnvProblems, wildcardRules, type Manifest } from "./deploy/manifests.js";
import { startControlPlane, startEtcd, type ControlPlane, type Etcd } from "./harness/control-plane.js";
import { eventually } from "./harness/eventually.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const chartDir = join(root, "config/edge-cluster");
const EDGE_NS = "fplus-edge";
const CENTRAL_NS = "graft-system";

const EMBEDDED = { uuid: "3f7c1c2e-9a53-4c0e-8d0f-6c1d2b3a4e5f", name: "line-a" };
const KERBEROS = { uuid: "8a0b6c7d-1e2f-4a3b-9c4d-5e6f7a8b9c0d", name: "line-b" };

let etcd: Etcd | undefined;
let edge: ControlPlane;
let central: ControlPlane;
let stateDir: string;

before(async () => {
  helmBinary();
  helmUnittestBinary();
  stateDir = mkdtempSync(join(tmpdir(), "graft-deploy-"));
  etcd = await startEtcd();
  [edge, central] = await Promise.all([startControlPlane({ name: "edge", etcd }), startControlPlane({ name: "central", etcd })]);
  const fluxCrds = join(root, "config/flux/crds.yaml");
  assert.ok(existsSync(fluxCrds), `the Flux CRDs are missing at ${fluxCrds}: run config/flux/regenerate.sh`);
  const generated = readdirSync(join(root, "crds")).filter((f) => f.endsWith(".yaml")).map((f) => join(root, "crds", f));
  await edge.installCrds([...generated, fluxCrds]);
  // A server-side dry run does not create namespaces, so the ones the objects go to must exist.
  // flux-system exists wherever the chart is installed: helm-controller, which installs it, runs there.
  for (const ns of [EDGE_NS, "sealed-secrets", "flux-system"]) await must(edge.kubectl(["create", "namespace", ns]), `creating namespace ${ns}`);
  await must(central.kubectl(["create", "namespace", CENTRAL_NS]), `creating namespace ${CENTRAL_NS}`);
});

after(async () => {
  await edge?.stop();
  await central?.stop();
  await etcd?.stop();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

async function must(p: Promise<{ stdout: string; stderr: string; code: number }>, what: string): Promise<string> {
  const r = await p;
  assert.equal(r.code, 0, `${what} failed:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function renderChart(release: string, values: Record<string, unknown> | string): Promise<string> {
  const file = typeof values === "string" ? join(chartDir, values) : join(stateDir, `${release}-values.yaml`);
  if (typeof values !== "string") writeFileSync(file, stringify(values));
  return must(helm(["template", release, chartDir, "--namespace", EDGE_NS, "-f", file], { stateDir }), `helm template ${release}`);
}

const dryRun = (cp: ControlPlane, yaml: string) =>
  must(cp.kubectl(["apply", "--dry-run=server", "--validate=strict", "-f", "-"], { input: yaml }), `dry-run apply to ${cp.name}`);
/** Renders the chart and dry-runs it on the edge API server (strict schema validation, CRDs included); the YAML. */
const dryRunChart = async (release: string, values: Record<string, unknown> | string) => {
  const yaml = await renderChart(release, values);
  await dryRun(edge, yaml);
  return yaml;
};

async function canI(cp: ControlPlane, serviceAccount: string, args: string[]): Promise<boolean> {
  const r = await cp.kubectl(["auth", "can-i", ...args, `--as=system:serviceaccount:${serviceAccount}`]);
  if (r.code !== 0 && r.stdout.trim() !== "no") throw new Error(`kubectl auth can-i ${args.join(" ")}: ${r.stderr}`);
  return r.stdout.trim() === "yes";
}

/** The API server of cp, as the holder of a bearer token. */
function kubeConfigWithToken(cp: ControlPlane, token: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  const cluster = kc.getCurrentCluster()!;
  kc.loadFromOptions({
    clusters: [cluster], users: [{ name: "token", token }],
    contexts: [{ name: "token", cluster: cluster.name, user: "token" }], currentContext: "token",
  });
  return kc;
}

/** The value at a path of keys (array indices as strings) inside a parsed manifest. */
const at = (value: unknown, ...path: string[]): unknown =>
  path.reduce<unknown>((o, key) => (o && typeof o === "object" ? (o as Record<string, unknown>)[key] : undefined), value);
const find = (ms: Manifest[], kind: string, name: string) => ms.find((m) => m.kind === kind && m.metadata.name === name);
const names = (ms: Manifest[], kind: string) => ms.filter((m) => m.kind === kind).map((m) => m.metadata.name).sort();
const dataOf = (m: Manifest | undefined) => (m?.data ?? {}) as Record<string, string>;
type Env = { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } };
/** The chart's objects of a component (label app.kubernetes.io/name), e.g. its Deployment. */
const ofComponent = (ms: Manifest[], kind: string, component: string) =>
  ms.find((m) => m.kind === kind && at(m, "metadata", "labels", "app.kubernetes.io/name") === component && at(m, "metadata", "labels", "app.kubernetes.io/part-of") === "graft");
const components = (ms: Manifest[]) => ms.filter((m) => m.kind === "Deployment" && at(m, "metadata", "labels", "app.kubernetes.io/part-of") === "graft").map((m) => String(at(m, "metadata", "labels", "app.kubernetes.io/name"))).sort();
const envOf = (ms: Manifest[], component: string): Env[] => {
  const pod = podSpecOf(ofComponent(ms, "Deployment", component)!)!;
  return ((pod.containers as { env?: Env[] }[])[0]!.env ?? []);
};
/** Where a Deployment's container finds a file given by an environment variable: the Secret and key mounted there. */
function secretFileOf(ms: Manifest[], component: string, variable: string): { secretName: string; key: string } | undefined {
  const pod = podSpecOf(ofComponent(ms, "Deployment", component)!)!;
  const container = (pod.containers as { env?: Env[]; volumeMounts?: { name: string; mountPath: string }[] }[])[0]!;
  const path = container.env?.find((e) => e.name === variable)?.value;
  const mount = container.volumeMounts?.find((m) => path?.startsWith(`${m.mountPath}/`));
  const volume = (pod.volumes as { name: string; secret?: { secretName: string; items?: { key: string; path: string }[] } }[] | undefined)
    ?.find((v) => v.name === mount?.name);
  const item = volume?.secret?.items?.find((i) => `${mount!.mountPath}/${i.path}` === path);
  return volume?.secret && item ? { secretName: volume.secret.secretName, key: item.key } : undefined;
}

/** The values of the HelmRelease the cluster-manager commits for an EdgeCluster (chart values as its controller sets them). */
function clusterManagerValues(spec: { values?: Record<string, unknown> }): { release: string; values: Record<string, unknown> } {
  const config = defaultConfig({ externalUrl: "https://graft.example.com" });
  const urls = urlsFor(config, EMBEDDED.uuid);
  const files = generateClusterRepo({
    uuid: EMBEDDED.uuid, name: EMBEDDED.name, namespace: EDGE_NS, selfUrl: urls.git, helmChartsUrl: urls.helmCharts,
    chart: { name: "edge-cluster", values: {
      cluster: { name: "{{name}}", uuid: "{{uuid}}", sparkplugGroup: `graft-${EMBEDDED.name}`, namespace: EDGE_NS },
      central: { url: urls.central },
      mode: "embedded",
    } },
    ...(spec.values ? { values: spec.values } : {}),
  });
  const release = parseYaml(files.get(HELM_RELEASE_FILE)!.replace(/^---\n/, "")) as Manifest & { spec: { values: Record<string, unknown> } };
  return { release: release.metadata.name, values: release.spec.values };
}

describe("edge-cluster Helm chart", () => {
  test("helm lint --strict is clean with the defaults and with each mode's values", async () => {
    for (const args of [[], ["-f", "ci/embedded-values.yaml"], ["-f", "ci/kerberos-values.yaml"]]) {
      const out = await must(helm(["lint", "--strict", chartDir, "--namespace", EDGE_NS, ...args.map((a) => a.startsWith("ci/") ? join(chartDir, a) : a)], { stateDir }), `helm lint ${args.join(" ")}`);
      assert.match(out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
      assert.doesNotMatch(out, /\[(WARNING|ERROR)\]/);
    }
  });

  test("what the cluster-manager commits renders, applies to the edge API server and matches the bootstrap's cluster-config", async () => {
    const sample = parseYaml(readFileSync(join(root, "config/samples/factoryplus.app.amrc.co.uk_v1alpha1_edgecluster.yaml"), "utf8")) as { spec: { values?: Record<string, unknown> } };
    const { release, values } = clusterManagerValues(sample.spec);
    const yaml = await dryRunChart(release, values);
    const ms = parseManifests(yaml);

    assert.deepEqual(components(ms), ["edge-monitor", "edge-sync"]);
    assert.deepEqual(names(ms, "Deployment"), [`${release}-edge-monitor`, `${release}-edge-sync`, "sealed-secrets"], "names from the release");
    assert.deepEqual(names(ms, "KerberosKey"), []);
    assert.equal(find(ms, "ConfigMap", KRB5_CONFIGMAP_NAME), undefined);
    // The chart takes over the ConfigMap the bootstrap script wrote: same keys, same values.
    const urls = urlsFor(defaultConfig({ externalUrl: "https://graft.example.com" }), EMBEDDED.uuid);
    const bootstrap = parseManifests(clusterConfigManifest({ ...EMBEDDED, namespace: EDGE_NS, sparkplugGroup: `graft-${EMBEDDED.name}` }, urls))[0];
    assert.deepEqual(dataOf(find(ms, "ConfigMap", CLUSTER_CONFIG_NAME)), dataOf(bootstrap));
    assert.ok(!Object.keys(dataOf(bootstrap)).includes(CLUSTER_CONFIG_KEYS.realm));

    const sync = envOf(ms, "edge-sync");
    assert.deepEqual(secretFileOf(ms, "edge-sync", "SYNC_TOKEN_FILE"), { secretName: SYNC_TOKEN_SECRET_NAME, key: SYNC_TOKEN_KEY });
    assert.equal(sync.find((e) => e.name === "STATUS_URL")?.value, urls.status);
  });

  test("without a broker or sealed secrets, and embedded mode with broker credentials and a CA, apply to the edge API server", async () => {
    const { release, values } = clusterManagerValues({ values: { sealedSecrets: { enabled: false } } });
    assert.deepEqual(components(parseManifests(await dryRunChart(release, values))), ["edge-sync"]);
    await dryRunChart(`edge-cluster-${EMBEDDED.uuid}`, "ci/embedded-values.yaml");
  });

  test("kerberos mode applies; its krb5.conf and cluster-config are graft's own, its RBAC what each operator needs and no more", async () => {
    const yaml = await dryRunChart(`edge-cluster-${KERBEROS.uuid}`, "ci/kerberos-values.yaml");
    const ms = parseManifests(yaml);
    assert.deepEqual(components(ms), ["edge-monitor", "edge-sync", "krbkeys"]);
    assert.equal(dataOf(find(ms, "ConfigMap", KRB5_CONFIGMAP_NAME))["krb5.conf"],
      renderEdgeKrb5Conf({ realm: "FACTORY.EXAMPLE.COM", domain: "factory.example.com" }));
    const centralUrl = "https://directory.factory.example.com";
    const bootstrap = parseManifests(clusterConfigManifest({ ...KERBEROS, namespace: EDGE_NS, sparkplugGroup: "graft-line-b" },
      { central: centralUrl, git: `${centralUrl}/uuid/${KERBEROS.uuid}`, status: centralUrl }, "FACTORY.EXAMPLE.COM"))[0];
    assert.deepEqual(dataOf(find(ms, "ConfigMap", CLUSTER_CONFIG_NAME)), dataOf(bootstrap));
    assert.deepEqual(Object.keys(dataOf(bootstrap)).sort(), Object.values(CLUSTER_CONFIG_KEYS).sort());

    await must(edge.kubectl(["apply", "--server-side", "--field-manager=deploy-test", "-f", "-"], { input: yaml }), "applying the kerberos-mode chart");
    const sa = (component: string) => `${EDGE_NS}:${ofComponent(ms, "ServiceAccount", component)!.metadata.name}`;
    const expectations: [string, string[], boolean][] = [
      [sa("edge-sync"), ["list", "nodes"], true],
      // The GitOps report: read graft's Flux kinds here and the Flux controllers' Deployments, nothing more.
      [sa("edge-sync"), ["watch", "kustomizations.kustomize.toolkit.fluxcd.io", "-n", EDGE_NS], true],
      [sa("edge-sync"), ["patch", "kustomizations.kustomize.toolkit.fluxcd.io", "-n", EDGE_NS], false],
      [sa("edge-sync"), ["watch", "deployments.apps", "-n", "flux-system"], true],
      [sa("edge-sync"), ["patch", "deployments.apps", "-n", "flux-system"], false],
      [sa("edge-sync"), ["get", "secrets", "-n", "flux-system"], false],
      [sa("edge-sync"), ["list", "deployments.apps", "-n", EDGE_NS], false],
      [sa("edge-sync"), ["get", "services/http:sealed-secrets:http", "--subresource=proxy", "-n", "sealed-secrets"], true],
      [sa("edge-sync"), ["get", "secrets", "-n", "sealed-secrets"], false],
      [sa("edge-sync"), ["list", "secrets", "-n", "sealed-secrets"], false],
      [sa("edge-sync"), ["get", "secrets", "-n", EDGE_NS], false],
      [sa("edge-sync"), ["get", "services/sealed-secrets", "--subresource=proxy", "-n", "sealed-secrets"], false],
      [sa("edge-sync"), ["create", "services/http:sealed-secrets:http", "--subresource=proxy", "-n", "sealed-secrets"], false],
      [sa("edge-sync"), ["get", "services/other", "--subresource=proxy", "-n", "sealed-secrets"], false],
      // ACS mode: the Edge deployments' Flux objects, in its own namespace only (acs-contract §10).
      [sa("edge-sync"), ["create", "helmreleases.helm.toolkit.fluxcd.io", "-n", EDGE_NS], true],
      [sa("edge-sync"), ["delete", "gitrepositories.source.toolkit.fluxcd.io", "-n", EDGE_NS], true],
      [sa("edge-sync"), ["create", "helmreleases.helm.toolkit.fluxcd.io", "-n", "default"], false],
      [sa("edge-monitor"), ["create", "configmaps", "-n", EDGE_NS], true],
      [sa("edge-monitor"), ["update", "configmaps/edge-monitor-bdseq", "-n", EDGE_NS], true],
      [sa("edge-monitor"), ["update", "configmaps/cluster-config", "-n", EDGE_NS], false],
      [sa("edge-monitor"), ["get", "secrets", "-n", EDGE_NS], false],
      [sa("edge-monitor"), ["list", "nodes"], false],
      [sa("krbkeys"), ["create", "secrets", "-n", EDGE_NS], true],
      [sa("krbkeys"), ["watch", "kerberos-keys.factoryplus.app.amrc.co.uk", "-n", EDGE_NS], true],
      [sa("krbkeys"), ["patch", "kerberos-keys.factoryplus.app.amrc.co.uk", "--subresource=status", "-n", EDGE_NS], true],
      [sa("krbkeys"), ["create", "kerberos-keys.factoryplus.app.amrc.co.uk", "-n", EDGE_NS], false],
      [sa("krbkeys"), ["get", "secrets", "-n", "sealed-secrets"], false],
      [sa("krbkeys"), ["list", "nodes"], false],
    ];
    for (const [who, args, expected] of expectations) {
      assert.equal(await canI(edge, who, args), expected, `${who} ${args.join(" ")} should be ${expected ? "allowed" : "denied"}`);
    }

    // The requests edge-sync's code really makes, as its ServiceAccount (a token from the TokenRequest API): the API
    // server authorises the service proxy by exactly the name in the path. No controller Pod runs here (no kubelet,
    // no endpoints controller), so an authorised request passes RBAC and is then answered 404 for want of endpoints.
    const token = (await must(edge.kubectl(["create", "token", ofComponent(ms, "ServiceAccount", "edge-sync")!.metadata.name, "-n", EDGE_NS]), "a token for edge-sync")).trim();
    const asSync = new KubeClient(kubeConfigWithToken(edge, token));
    const status = (p: Promise<unknown>) => p.then(() => 200, (err: unknown) => (err instanceof ApiError ? err.status : -1));
    assert.equal(await status(fetchControllerCertificate(asSync, "sealed-secrets", "sealed-secrets", "http")), 404, "allowed; no endpoint to answer");
    assert.equal(await status(fetchControllerCertificate(asSync, "sealed-secrets", "sealed-secrets")), 404, "without a port: the Service is unreadable, the chart's port name is used");
    assert.equal(await status(fetchControllerCertificate(asSync, "sealed-secrets", "sealed-secrets", "8080")), 403, "only the named port");
    assert.equal(await status(fetchControllerCertificate(asSync, "sealed-secrets", "other", "http")), 403, "only the controller");
    assert.equal(await status(asSync.list(Core.secrets, "sealed-secrets", { labelSelector: ACTIVE_KEY_SELECTOR })), 403, "no Secret access: edge-sync uses the controller");
    assert.equal(await status(asSync.list(Core.nodes)), 200);
  });

  test("the chart's template tests pass (helm-unittest: config/edge-cluster/tests)", async () => {
    const r = await helmUnittest([chartDir], { stateDir });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Test Suites: +\d+ passed, \d+ total/);
    assert.doesNotMatch(r.stdout, /failed|errored/);
  });
});

describe("edge-cluster Helm chart for real sites", () => {
  test("crds/ holds the generated edge CRDs unchanged; the vendored Sealed Secrets chart brings its CRD; all install", async () => {
    const chartCrds = readdirSync(join(chartDir, "crds")).sort();
    assert.deepEqual(chartCrds, edgeChartCrds.map((c) => `${c.type.group}_${c.type.plural}.yaml`).sort());
    for (const f of chartCrds) {
      assert.equal(readFileSync(join(chartDir, "crds", f), "utf8"), readFileSync(join(root, "crds", f), "utf8"),
        `config/edge-cluster/crds/${f} differs from crds/${f}: run npm run gen`);
    }
    const yaml = await must(helm(["template", "t", chartDir, "--namespace", EDGE_NS, "--include-crds", "-f", join(chartDir, "ci/kerberos-values.yaml")], { stateDir }), "helm template --include-crds");
    const crds = parseManifests(yaml).filter((m) => m.kind === "CustomResourceDefinition").map((m) => m.metadata.name).sort();
    assert.deepEqual(crds, [...edgeChartCrds.map((c) => `${c.type.plural}.${c.type.group}`), "sealedsecrets.bitnami.com"].sort());
    const deps = await must(helm(["dependency", "list", chartDir], { stateDir }), "helm dependency list");
    assert.match(deps, /^sealed-secrets\s+2\.19\.3\s+\S*\s+ok\s*$/m, "the vendored archive is the declared dependency");
  });

  test("NOTES.txt tells the user how to check the install", async () => {
    // Against the central API server, which holds none of the chart's objects (helm refuses to adopt existing ones).
    const out = await must(helm(["install", "edge-cluster-notes", chartDir, "--namespace", EDGE_NS, "--dry-run=client", "--kubeconfig", central.kubeconfigPath,
      "-f", join(chartDir, "ci/embedded-values.yaml")], { stateDir }), "helm install --dry-run=client");
    const notes = out.slice(out.indexOf("NOTES:"));
    assert.match(notes, /graft edge operators for cluster "line-a" \(3f7c1c2e-9a53-4c0e-8d0f-6c1d2b3a4e5f\), embedded mode/);
    assert.match(notes, /kubectl -n fplus-edge logs deployment\/edge-cluster-notes-edge-sync/);
    assert.match(notes, /kubectl -n sealed-secrets get deployment sealed-secrets/);
  });
});

describe("central install (kustomize)", () => {
  test("config/crd holds the generated CRDs unchanged", () => {
    const bases = readdirSync(join(root, "config/crd/bases"));
    assert.ok(bases.length > 0);
    for (const f of bases) {
      assert.equal(readFileSync(join(root, "config/crd/bases", f), "utf8"), readFileSync(join(root, "crds", f), "utf8"),
        `config/crd/bases/${f} differs from crds/${f}: copy it again after npm run gen`);
    }
  });

  test("config/default applies to the central API server with least-privilege RBAC; the sample EdgeCluster validates", async () => {
    const yaml = await must(central.kubectl(["kustomize", join(root, "config/default")]), "kubectl kustomize config/default");
    await dryRun(central, yaml);
    const ms = parseManifests(yaml);
    const deployment = find(ms, "Deployment", "graft-cluster-manager");
    assert.equal(at(deployment, "spec", "replicas"), 2);
    assert.deepEqual(at(podSpecOf(deployment!), "containers", "0", "args"), ["cluster-manager", "--enable-leader-election"]);
    assert.deepEqual(at(find(ms, "PersistentVolumeClaim", "graft-repos"), "spec", "accessModes"), ["ReadWriteMany"]);
    // Per namespace, except the seal endpoint's TokenReview and SubjectAccessReview (cluster-scoped, nothing more).
    assert.deepEqual(names(ms, "ClusterRoleBinding"), ["graft-cluster-manager-auth-delegator"]);
    assert.equal(at(find(ms, "ClusterRoleBinding", "graft-cluster-manager-auth-delegator"), "roleRef", "name"), "system:auth-delegator");
    assert.deepEqual(names(ms, "Service"), ["graft-cluster-manager"]);

    await must(central.kubectl(["apply", "--server-side", "--field-manager=deploy-test", "-f", "-"], { input: yaml }), "applying config/default");
    await must(central.kubectl(["wait", "--for=condition=Established", "--timeout=60s", "crd/edgeclusters.factoryplus.app.amrc.co.uk"]), "waiting for the EdgeCluster CRD");
    await must(central.kubectl(["apply", "--dry-run=server", "--validate=strict", "-k", join(root, "config/samples")]), "dry-run apply of config/samples");
    // An EdgeCluster where no cluster-manager reconciles (a manifest with no namespace lands in `default`) is refused,
    // saying where to create it, instead of sitting there unprovisioned with no status.
    const elsewhere = JSON.stringify({ apiVersion: "factoryplus.app.amrc.co.uk/v1alpha1", kind: "EdgeCluster", metadata: { name: "line-b" }, spec: {} });
    const refused = await eventually(async () => {
      const r = await central.kubectl(["create", "--dry-run=server", "-n", "default", "-f", "-"], { input: elsewhere });
      return r.code !== 0 && r;
    }, { message: "the namespace policy refuses EdgeClusters in namespace default" });
    assert.match(refused.stderr, /no graft cluster-manager reconciles EdgeClusters in namespace "default", so nothing would provision this one: create it in the cluster-manager's namespace \(graft-system/);
    await must(central.kubectl(["create", "--dry-run=server", "-n", CENTRAL_NS, "-f", "-"], { input: elsewhere }), "the same EdgeCluster in graft's namespace");

    const manager = `${CENTRAL_NS}:graft-cluster-manager`;
    const expectations: [string[], boolean][] = [
      [["watch", "edgeclusters.factoryplus.app.amrc.co.uk", "-n", CENTRAL_NS], true],
      [["patch", "edgeclusters.factoryplus.app.amrc.co.uk", "--subresource=status", "-n", CENTRAL_NS], true],
      [["update", "edgeclusters.factoryplus.app.amrc.co.uk", "--subresource=finalizers", "-n", CENTRAL_NS], true],
      [["delete", "secrets", "-n", CENTRAL_NS], true],
      [["create", "events.events.k8s.io", "-n", CENTRAL_NS], true],
      [["create", "leases.coordination.k8s.io", "-n", CENTRAL_NS], true],
      [["update", "leases.coordination.k8s.io/cluster-manager-leader-election", "-n", CENTRAL_NS], true],
      [["update", "leases.coordination.k8s.io/other", "-n", CENTRAL_NS], false],
      [["create", "secrets", "-n", "default"], false],
      [["list", "edgeclusters.factoryplus.app.amrc.co.uk", "-n", "default"], false],
      [["create", "edgeclusters.factoryplus.app.amrc.co.uk", "-n", CENTRAL_NS], false],
      [["delete", "edgeclusters.factoryplus.app.amrc.co.uk", "-n", CENTRAL_NS], false],
      [["create", "tokenreviews.authentication.k8s.io"], true],
      [["create", "subjectaccessreviews.authorization.k8s.io"], true],
      [["list", "nodes"], false],
    ];
    for (const [args, expected] of expectations) {
      assert.equal(await canI(central, manager, args), expected, `cluster-manager ${args.join(" ")} should be ${expected ? "allowed" : "denied"}`);
    }
  });

  test("config/acs adds ACS mode's rights (create and delete EdgeClusters for the ConfigDB mirror, Events on its namespace) and nothing else", async () => {
    const yaml = await must(central.kubectl(["kustomize", join(root, "config/acs")]), "kubectl kustomize config/acs");
    const ms = parseManifests(yaml);
    const settings = ms.find((m) => m.kind === "ConfigMap" && m.metadata.name.startsWith("graft-cluster-manager-settings"));
    assert.equal(at(settings, "data", "MODE"), "acs");
    const base = parseManifests(await must(central.kubectl(["kustomize", join(root, "config/default")]), "kubectl kustomize config/default"));
    const rules = (m: Manifest[]) => at(find(m, "ClusterRole", "graft-cluster-manager"), "rules") as unknown[];
    assert.deepEqual(rules(ms), [...rules(base), { apiGroups: ["factoryplus.app.amrc.co.uk"], resources: ["edgeclusters"], verbs: ["create", "delete"] },
      { apiGroups: [""], resources: ["namespaces"], verbs: ["get"] }]);
    await must(central.kubectl(["apply", "--server-side", "--field-manager=deploy-test", "-f", "-"], { input: yaml }), "applying config/acs");
    const manager = `${CENTRAL_NS}:graft-cluster-manager`;
    for (const verb of ["create", "delete"]) {
      assert.equal(await canI(central, manager, [verb, "edgeclusters.factoryplus.app.amrc.co.uk", "-n", CENTRAL_NS]), true, `ACS mode may ${verb} EdgeClusters`);
      assert.equal(await canI(central, manager, [verb, "edgeclusters.factoryplus.app.amrc.co.uk", "-n", "default"]), false, `only in ${CENTRAL_NS}`);
    }
    // An entry it cannot mirror is an Event about the mirror namespace, which the API server keeps in `default`.
    const getNamespace = async (name: string) => (await central.kubectl(["get", "namespace", name, `--as=system:serviceaccount:${manager}`])).code === 0;
    assert.equal(await getNamespace(CENTRAL_NS), true, "ACS mode reads its own namespace");
    assert.equal(await getNamespace("kube-system"), false, "and no other");
    assert.equal(await canI(central, manager, ["create", "events.events.k8s.io", "-n", "default"]), true, "Events about a namespace");
    assert.equal(await canI(central, manager, ["get", "events.events.k8s.io", "-n", "default"]), false, "nothing else there");
  });

  test("an install made with plain `kubectl apply -k` takes `kubectl apply --server-side -k` of the same base without conflicts", async () => {
    // The README's first command is a client-side apply, the recommended one (and ACS-MODE.md's) server-side: a
    // field the API server completes inside an object it replaces whole would be a conflict between the two.
    await Promise.all(["config/default", "config/acs"].map(async (base) => {
      const cp = await startControlPlane({ name: `csa-${base.split("/")[1]!}`, etcd: etcd! });
      try {
        await must(cp.kubectl(["apply", "-k", join(root, base)]), `kubectl apply -k ${base} on a fresh API server`);
        await must(cp.kubectl(["apply", "--server-side", "-k", join(root, base)]), `then kubectl apply --server-side -k ${base}`);
      } finally {
        await cp.stop();
      }
    }));
  });

  test("a site's image setting moves the edge's images with the manager's: kustomize edit set image in config/default, an overlay's images:", async () => {
    /** The manager container's image and the ENROL_IMAGE and EDGE_IMAGE its Pods get (from the settings ConfigMap, nothing overriding them). */
    const imagesOf = async (dir: string) => {
      const ms = parseManifests(await must(central.kubectl(["kustomize", dir]), `kubectl kustomize ${dir}`));
      const container = (podSpecOf(find(ms, "Deployment", "graft-cluster-manager")!)!.containers as
        { name: string; image: string; env?: Env[]; envFrom?: { configMapRef?: { name: string } }[] }[]).find((c) => c.name === "manager")!;
      assert.deepEqual(container.env?.filter((e) => /^(ENROL|EDGE)_IMAGE$/.test(e.name)) ?? [], [], "no env entry hides the settings");
      const settingsName = (container.envFrom ?? []).map((e) => e.configMapRef?.name ?? "").find((n) => n.startsWith("graft-cluster-manager-settings"));
      assert.ok(settingsName, "the Pods take the settings ConfigMap");
      const settings = dataOf(find(ms, "ConfigMap", settingsName));
      return { manager: container.image, enrol: settings.ENROL_IMAGE, edge: settings.EDGE_IMAGE };
    };
    const all = (image: string) => ({ manager: image, enrol: image, edge: image });
    assert.deepEqual(await imagesOf(join(root, "config/acs")), all("ghcr.io/graft-operators/graft:0.1.0"), "the released image by default");

    // `kustomize edit set image ghcr.io/graft-operators/graft=registry.site.test/platform/graft:1.2.3` in a copy of
    // config/default rewrites its images: entry so; config/acs is built on it.
    const copy = join(stateDir, "site-config");
    cpSync(join(root, "config"), copy, { recursive: true });
    const defaults = join(copy, "default/kustomization.yaml");
    const edited = parseYaml(readFileSync(defaults, "utf8")) as { images: { name: string; newName?: string; newTag?: string }[] };
    edited.images = [{ name: "ghcr.io/graft-operators/graft", newName: "registry.site.test/platform/graft", newTag: "1.2.3" }];
    writeFileSync(defaults, stringify(edited));
    for (const base of ["default", "acs"]) {
      assert.deepEqual(await imagesOf(join(copy, base)), all("registry.site.test/platform/graft:1.2.3"), `config/${base} after set image`);
    }
    // The edge chart, given the image values the manager makes of EDGE_IMAGE, runs that image.
    const values = parseYaml(readFileSync(join(chartDir, "ci/embedded-values.yaml"), "utf8")) as Record<string, unknown>;
    const edge = parseManifests(await renderChart("edge-image", { ...values, image: chartImage((await imagesOf(join(copy, "default"))).edge!) }));
    assert.deepEqual(components(edge).map((c) => (podSpecOf(ofComponent(edge, "Deployment", c)!)!.containers as { image: string }[])[0]!.image),
      components(edge).map(() => "registry.site.test/platform/graft:1.2.3"));

    // A site's overlay over config/acs pinning its registry's digest.
    const digest = `sha256:${"4e".repeat(32)}`;
    const overlay = join(stateDir, "site-overlay");
    mkdirSync(overlay);
    const overlayFile = (extra: Record<string, unknown>) => writeFileSync(join(overlay, "kustomization.yaml"), stringify({
      apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization", resources: [relative(overlay, join(root, "config/acs"))],
      images: [{ name: "ghcr.io/graft-operators/graft", newName: "registry.site.test/graft", digest }], ...extra,
    }));
    overlayFile({});
    assert.deepEqual(await imagesOf(overlay), all(`registry.site.test/graft@${digest}`));
    // A site that wants another image at the edge still sets it in its settings.
    overlayFile({ configMapGenerator: [{ name: "graft-cluster-manager-settings", namespace: CENTRAL_NS, behavior: "merge", literals: ["ENROL_IMAGE=registry.site.test/enrol:7"] }] });
    assert.deepEqual(await imagesOf(overlay), { ...all(`registry.site.test/graft@${digest}`), enrol: "registry.site.test/enrol:7" });
  });
});

describe("hardening", () => {
  test("every container of the chart (both modes) and of the central install has probes, limits and the restricted security context", async () => {
    const rendered = [
      await renderChart(`edge-cluster-${EMBEDDED.uuid}`, "ci/embedded-values.yaml"),
      await renderChart(`edge-cluster-${KERBEROS.uuid}`, "ci/kerberos-values.yaml"),
      await must(central.kubectl(["kustomize", join(root, "config/default")]), "kubectl kustomize config/default"),
      await must(central.kubectl(["kustomize", join(root, "config/acs")]), "kubectl kustomize config/acs"),
    ].flatMap(parseManifests);
    const containers = rendered.flatMap((m) => (podSpecOf(m)?.containers as unknown[] | undefined) ?? []);
    assert.equal(containers.length, 9, "edge-sync, edge-monitor and the Sealed Secrets controller twice, krbkeys, the cluster-manager in both modes");
    assert.deepEqual(containerProblems(rendered), []);
    assert.deepEqual(secretEnvProblems(rendered), [], "credentials reach long-running Pods as files, never as environment variables");
    assert.deepEqual(wildcardRules(rendered), []);
  });

  test("the check names what a container lacks", () => {
    const [bare] = parseManifests(`
apiVersion: apps/v1
kind: Deployment
metadata: { name: loose }
spec:
  template:
    spec:
      securityContext: { runAsNonRoot: true }
      containers:
        - name: app
          image: x:1
          readinessProbe: { httpGet: { path: /readyz, port: 8081 } }
          resources: { requests: { cpu: 10m, memory: 1Mi }, limits: { memory: 1Mi } }
          securityContext: { runAsNonRoot: false, readOnlyRootFilesystem: true, capabilities: { drop: [NET_RAW] } }
`);
    assert.deepEqual(containerProblems([bare!]), [
      'Deployment "loose" container "app": no livenessProbe',
      'Deployment "loose" container "app": no resources.limits.cpu',
      'Deployment "loose" container "app": runAsNonRoot is not true',
      'Deployment "loose" container "app": allowPrivilegeEscalation is not false',
      'Deployment "loose" container "app": capabilities.drop does not include ALL',
      'Deployment "loose" container "app": seccompProfile.type is not RuntimeDefault',
    ]);
    const [leaky] = parseManifests(`
apiVersion: apps/v1
kind: Deployment
metadata: { name: leaky }
spec:
  template:
    spec:
      containers:
        - name: app
          env: [{ name: PASSWORD, valueFrom: { secretKeyRef: { name: creds, key: password } } }, { name: PLAIN, value: x }]
          envFrom: [{ secretRef: { name: all-creds } }, { configMapRef: { name: settings } }]
`);
    assert.deepEqual(secretEnvProblems([leaky!]), [
      'Deployment "leaky" container "app": env PASSWORD from a Secret',
      'Deployment "leaky" container "app": envFrom Secret "all-creds"',
    ]);
  });
});

/** Every module reachable from `entry` through relative imports (type-only ones too: tsc reads them) → its importer. */
function importClosure(entry: string): Map<string, string> {
  const found = new Map<string, string>([[entry, "(entry)"]]);
  const queue = [entry];
  for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
    if (!existsSync(join(root, f))) continue;
    const text = readFileSync(join(root, f), "utf8");
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)) {
      const target = join(f, "..", m[1]!).replace(/\.js$/, ".ts");
      if (!found.has(target)) {
        found.set(target, f);
        queue.push(target);
      }
    }
  }
  return found;
}

describe("container image", () => {
  const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");

  test("the Dockerfile passes dockerfile-utils and graft's image rules", () => {
    assert.deepEqual(lintDockerfile(dockerfile), []);
  });

  test("one multi-stage image: the final stage has git and MIT Kerberos, a numeric non-root user and graft as entrypoint", () => {
    const file = readDockerfile(dockerfile);
    assert.ok(file.stages >= 2);
    const final = file.instructions.filter((i) => i.stage === file.stages - 1);
    const run = final.filter((i) => i.keyword === "RUN").map((i) => i.args).join("\n");
    assert.match(run, /apt-get install [^&]*\bgit\b/);
    assert.match(run, /apt-get install [^&]*\bkrb5-user\b/);
    assert.match(final.findLast((i) => i.keyword === "USER")!.args, /^[1-9]\d*:[1-9]\d*$/);
    assert.equal(final.findLast((i) => i.keyword === "ENTRYPOINT")!.args, '["graft"]');
    const build = file.instructions.filter((i) => i.stage < file.stages - 1 && i.keyword === "RUN").map((i) => i.args).join("\n");
    assert.match(build, /"files": \["operators\/cli\/main\.ts"\]/, "the build compiles the CLI entry point (the context check below relies on it)");
  });

  test("what the Dockerfile copies, and every module the compiled code imports, is in the build context", () => {
    const admitted = dockerignoreFilter(readFileSync(join(root, ".dockerignore"), "utf8"));
    const context = new Set(contextFiles(root, admitted));
    for (const ins of readDockerfile(dockerfile).instructions.filter((i) => i.keyword === "COPY" && i.flags.from === undefined)) {
      const sources = ins.args.split(" ").slice(0, -1);
      for (const source of sources) {
        const path = source.replace(/\/$/, "");
        assert.ok(existsSync(join(root, path)), `Dockerfile line ${ins.line}: "${source}" does not exist`);
        assert.ok([...context].some((f) => f === path || f.startsWith(`${path}/`)), `Dockerfile line ${ins.line}: "${source}" is excluded by .dockerignore`);
      }
    }
    // The image compiles operators/cli/main.ts and what it imports (Dockerfile, build stage): all of it must be there.
    const reachable = importClosure("operators/cli/main.ts");
    assert.ok(reachable.size > 20);
    for (const [module, importer] of reachable) {
      assert.ok(context.has(module), `${importer} imports "${module}", which .dockerignore leaves out of the build context`);
    }
    assert.ok(![...context].some((f) => f.endsWith(".test.ts")), "tests stay out of the build context");
  });
});
