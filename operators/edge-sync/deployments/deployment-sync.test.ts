// Edge deployments against a real edge API server with the Flux CRDs and the ACS stand-in's ConfigDB (notify/v2
// SEARCH with filters): an entry becomes a HelmRelease (and a GitRepository for a chart with a source) with ACS's
// names and values; a change reaches the HelmRelease; a removed entry is pruned; an unreachable ConfigDB or an
// unreadable template deletes nothing (Held); an object made by ACS's field manager is adopted; drift is repaired;
// the state of each deployment reaches the Edge cluster status entry.
import { after, afterEach, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { startControlPlane, type ControlPlane } from "../../../e2e/harness/control-plane.js";
import { eventually } from "../../../e2e/harness/eventually.js";
import { installFluxCrds } from "../../../e2e/harness/flux.js";
import { startAcsStandin, type AcsStandin } from "../../../e2e/acs-standin/standin.js";
import { addEdgeSyncAccount, type EdgeSyncAccount } from "../../../e2e/support/edge-sync/acs-centre.js";
import { edgeAgentChart, k8sTemplates } from "../../../e2e/support/edge-sync/acs-templates.js";
import { NotifyClient } from "../../acs/notify.js";
import { ServiceClient } from "../../acs/service-client.js";
import { App, Class } from "../../api/constants.js";
import { Core, type KubeObject, type ResourceType } from "../../runtime/kube.js";
import { silentLogger } from "../../runtime/logger.js";
import { KubeClient } from "../../runtime/rest.js";
import { ConfigDbClient, PasswordLogin, PresetUrl } from "../configdb-client.js";
import { DeploymentSync } from "./deployment-sync.js";
import { EDGE_SYNC_MANAGER } from "./manifests.js";
import { CentralReport, type DeploymentReport } from "./report.js";

const NS = "fplus-edge";
const HR: ResourceType = { group: "helm.toolkit.fluxcd.io", version: "v2", plural: "helmreleases", kind: "HelmRelease", namespaced: true };
const GIT: ResourceType = { group: "source.toolkit.fluxcd.io", version: "v1", plural: "gitrepositories", kind: "GitRepository", namespaced: true };
const BASE = { cluster: "Line_3", realm: "GRAFT.TEST", directory_url: "http://directory.example" };

let cp: ControlPlane;
let client: KubeClient;
let standin: AcsStandin;
let edgeSync: EdgeSyncAccount;
const stops: Array<() => Promise<void>> = [];

before(async () => {
  cp = await startControlPlane({ name: "edge-deploy" });
  await installFluxCrds(cp);
  client = new KubeClient(cp.kubeConfig);
  await client.create(Core.namespaces, { metadata: { name: NS } });
  standin = await startAcsStandin();
  // edge-sync works as its own account, with the grants ACS gives its edge-sync role (not as the stand-in's root).
  edgeSync = addEdgeSyncAccount(standin, "op1sync/site-a");
});
after(async () => {
  await standin?.stop();
  await cp?.stop();
});
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
  for (const t of [HR, GIT]) {
    for (const o of (await client.list<KubeObject>(t, NS)).items) await client.delete(t, o.metadata.name, NS);
  }
});

function register(uuid: string = randomUUID()): string {
  standin.configdb.register(uuid, Class.EdgeCluster);
  return uuid;
}

/** A cluster with ACS's K8s templates and one chart template; returns the UUIDs to write entries for. */
function world() {
  const cluster = register();
  for (const [uuid, tmpl] of Object.entries(k8sTemplates)) {
    register(uuid);
    standin.configdb.put(App.K8sResourceTemplate, uuid, tmpl);
  }
  const chart = register();
  standin.configdb.put(App.HelmChartTemplate, chart, edgeAgentChart);
  return { cluster, chart };
}

function startSync(cluster: string, opts: { resyncIntervalMs?: number } = {}) {
  const { upn: username, password } = edgeSync;
  const http = new ServiceClient({ service: "configdb", baseUrl: standin.urls.configdb, credentials: { username, password } });
  const notify = new NotifyClient({ http, reconnect: { minMs: 50, maxMs: 300 } });
  const configDb = new ConfigDbClient({ service: new PresetUrl(standin.urls.configdb), auth: new PasswordLogin({ service: new PresetUrl(standin.urls.configdb), username, password }) });
  const sync = new DeploymentSync({
    client, notify, clusterUuid: cluster, namespace: NS, baseValues: BASE,
    gitBaseUrl: async () => standin.urls.git,
    report: new CentralReport({ configDb, clusterUuid: cluster, log: silentLogger, minRetryMs: 100, maxRetryMs: 500 }),
    log: silentLogger, minRetryMs: 100, maxRetryMs: 500, debounceMs: 100, resyncIntervalMs: opts.resyncIntervalMs ?? 0,
  });
  stops.push(async () => {
    await sync.stop();
    await notify.close();
  });
  sync.start();
  return sync;
}

const hr = (name: string) => client.getOrNull<KubeObject & { spec: { values: Record<string, unknown> } }>(HR, name, NS);
const reported = (cluster: string) => (standin.configdb.get(App.EdgeClusterStatus, cluster)?.value as { deployments?: DeploymentReport } | undefined)?.deployments;

test("an entry for this cluster becomes a HelmRelease with ACS's name and values; a change follows; removal prunes", async () => {
  const { cluster, chart } = world();
  const dep = register();
  standin.configdb.put(App.EdgeDeployment, dep, { cluster, name: "Agent_One", hostname: "node-1", chart, values: { debug: true } });
  const foreign = register();
  standin.configdb.put(App.EdgeDeployment, foreign, { cluster: randomUUID(), name: "Elsewhere", chart });
  startSync(cluster);

  const made = await eventually(() => hr("edge-agent-agent-one"), { timeoutMs: 20_000, message: "HelmRelease applied" });
  assert.equal(made.metadata.labels?.["app.kubernetes.io/managed-by"], EDGE_SYNC_MANAGER);
  assert.equal(made.metadata.labels?.["factoryplus.app.amrc.co.uk/uuid"], dep);
  assert.deepEqual(made.spec.values, { ...BASE, name: "Agent_One", uuid: dep, hostname: "node-1", authGroup: edgeAgentChart.values.authGroup, debug: true });
  assert.ok((made.metadata.managedFields as Array<{ manager: string }>).some((f) => f.manager === EDGE_SYNC_MANAGER));
  assert.equal(await hr("edge-agent-elsewhere"), null, "another cluster's deployment is not applied");
  await eventually(() => reported(cluster)?.[dep]?.state === "Applied", { timeoutMs: 10_000, message: "state reported centrally" });
  assert.deepEqual(reported(cluster)![dep]!.helmReleases, ["edge-agent-agent-one"]);

  standin.configdb.patch(App.EdgeDeployment, dep, { values: { debug: false } });
  await eventually(async () => (await hr("edge-agent-agent-one"))?.spec.values.debug === false, { timeoutMs: 20_000, message: "changed values applied" });

  standin.configdb.delete(App.EdgeDeployment, dep);
  await eventually(async () => (await hr("edge-agent-agent-one")) === null, { timeoutMs: 20_000, message: "pruned" });
  await eventually(() => reported(cluster) !== undefined && !(dep in reported(cluster)!), { timeoutMs: 10_000, message: "report entry removed" });
});

test("a chart template with a source adds a GitRepository at the Git server's URL", async () => {
  const { cluster } = world();
  const source = randomUUID();
  const chart = register();
  standin.configdb.put(App.HelmChartTemplate, chart, { chart: "charts/uns-bridge", prefix: "uns", source, values: { name: "{{name}}" } });
  const dep = register();
  standin.configdb.put(App.EdgeDeployment, dep, { cluster, name: "Bridge", chart });
  startSync(cluster);
  const git = await eventually(() => client.getOrNull<KubeObject & { spec: { url: string } }>(GIT, `helm-${source}`, NS), { timeoutMs: 20_000 });
  assert.equal(git.spec.url, `${standin.urls.git}/uuid/${source}`);
  const release = await eventually(() => hr("uns-bridge"), { timeoutMs: 20_000 });
  assert.equal((release.spec as unknown as { chart: { spec: { sourceRef: { name: string } } } }).chart.spec.sourceRef.name, `helm-${source}`);
});

test("an unreachable ConfigDB or an unreadable chart template deletes nothing", async () => {
  const { cluster, chart } = world();
  const dep = register();
  standin.configdb.put(App.EdgeDeployment, dep, { cluster, name: "Keep", chart });
  const sync = startSync(cluster, { resyncIntervalMs: 300 });
  await eventually(() => hr("edge-agent-keep"), { timeoutMs: 20_000 });

  standin.dropNotifyConnections({ refuseNew: true });
  const passes = sync.passes;
  await eventually(() => sync.passes >= passes + 3, { timeoutMs: 20_000, message: "resync passes while the ConfigDB is away" });
  assert.ok(await hr("edge-agent-keep"), "still there while the ConfigDB is unreachable");
  standin.allowNotifyConnections();

  standin.configdb.delete(App.HelmChartTemplate, chart);
  await eventually(() => sync.status()[dep]?.state === "Held", { timeoutMs: 20_000, message: "held" });
  assert.match(sync.status()[dep]!.message!, /holding the last applied state: Helm chart template ".*" does not exist/);
  const afterHold = sync.passes;
  await eventually(() => sync.passes >= afterHold + 2, { timeoutMs: 20_000 });
  assert.ok(await hr("edge-agent-keep"), "still there with its chart template unreadable");
  await eventually(() => reported(cluster)?.[dep]?.state === "Held", { timeoutMs: 10_000, message: "held reported centrally" });

  standin.configdb.put(App.HelmChartTemplate, chart, edgeAgentChart);
  await eventually(() => sync.status()[dep]?.state === "Applied", { timeoutMs: 20_000, message: "applied again" });
});

test("a HelmRelease made by ACS's edge-sync is adopted, and drift is repaired", async () => {
  const { cluster, chart } = world();
  const dep = register();
  // What ACS's edge-sync left behind: same name, same field manager and label, older values.
  await client.apply(HR, {
    metadata: { name: "edge-agent-legacy", namespace: NS, labels: { "app.kubernetes.io/managed-by": EDGE_SYNC_MANAGER } },
    spec: { interval: "2m0s", chart: { spec: { chart: "edge-agent", sourceRef: { kind: "GitRepository", name: "helm-charts" } } }, values: { old: true } },
  }, EDGE_SYNC_MANAGER);
  const uid = (await hr("edge-agent-legacy"))!.metadata.uid;
  standin.configdb.put(App.EdgeDeployment, dep, { cluster, name: "Legacy", chart });

  // Started while the ConfigDB cannot be reached: it knows nothing yet, so it touches nothing.
  standin.dropNotifyConnections({ refuseNew: true });
  const sync = startSync(cluster, { resyncIntervalMs: 300 });
  await eventually(() => sync.passes >= 3, { timeoutMs: 20_000, message: "resync passes before the first snapshot" });
  assert.equal((await hr("edge-agent-legacy"))?.spec.values.old, true, "untouched before the ConfigDB answered");
  standin.allowNotifyConnections();

  const adopted = await eventually(async () => {
    const o = await hr("edge-agent-legacy");
    return o?.spec.values.uuid === dep ? o : undefined;
  }, { timeoutMs: 20_000, message: "adopted with the new values" });
  assert.equal(adopted.metadata.uid, uid, "the same object, not a new one");
  assert.equal(adopted.spec.values.old, undefined, "fields only the old apply set are gone");
  assert.equal((await client.list(HR, NS)).items.length, 1, "no duplicate");

  await client.patch(HR, "edge-agent-legacy", NS, { spec: { values: { name: "tampered" } } }, { type: "merge", fieldManager: "kubectl-edit" });
  await eventually(async () => (await hr("edge-agent-legacy"))?.spec.values.name === "Legacy", { timeoutMs: 20_000, message: "drift repaired by the resync" });
  await client.delete(HR, "edge-agent-legacy", NS);
  await eventually(() => hr("edge-agent-legacy"), { timeoutMs: 20_000, message: "recreated after deletion" });
  assert.equal(sync.status()[dep]?.state, "Applied");
});
