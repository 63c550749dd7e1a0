// The cluster-manager in ACS mode against the ACS stand-in and a real API server: the ConfigDB ↔ EdgeCluster mirror
// in both directions, the ACS setup (entries, accounts, identities, grant, repository on the ACS Git server), the
// conflict rule, edge status flowing back, a dropped notify connection, and the guard against an empty listing.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { destination, pino } from "pino";
import { parseAllDocuments } from "yaml";
import { App, Class, K8sResource, Perm } from "../operators/api/constants.js";
import { EdgeClusterType, type EdgeCluster } from "../operators/api/edgecluster.js";
import { silentLogger } from "../operators/runtime/logger.js";
import type { KubeClient } from "../operators/runtime/rest.js";
import { Core } from "../operators/runtime/kube.js";
import { ClusterManager } from "../operators/cluster-manager/cluster-manager.js";
import { defaultConfig } from "../operators/cluster-manager/config.js";
import { requestBootstrapCommand } from "../operators/cluster-manager/bootstrap-command.js";
import { DEFAULT_FLUX_INSTALL } from "../operators/cluster-manager/bootstrap-script.js";
import { fluxVersionOf } from "../operators/bootstrap/script-builder.js";
import { runKubeseal } from "../operators/seal/kubeseal-cli.js";
import { helmReleaseTemplate } from "./support/edge-sync/acs-templates.js";
import { edgeClusterYaml, gitClient, withCredentials } from "./support/cluster-manager/fixtures.js";
import { ORIGIN_LABEL, REGISTERED_ANNOTATION } from "../operators/cluster-manager/acs/names.js";
import { acsTraces, createClusterInConfigDb, KUBECTL_DIRECTION_DUMP, startAcsWorld, type AcsWorld } from "./support/cluster-manager/acs-world.js";
import { createClusterAsAdminUi } from "./acs-standin/admin-ui.js";
import { makeCertificate } from "./support/edge-sync/openssl.js";
import type { ControlPlane } from "./harness/control-plane.js";
import { eventually } from "./harness/eventually.js";
import { freePort } from "./harness/ports.js";
import { startApiServer } from "./support/api-server.js";

const NS = "acs-clusters";
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const WAIT = { timeoutMs: 60_000, intervalMs: 200 };
let cp: ControlPlane;
let world: AcsWorld;
let client: KubeClient;
let manager: ClusterManager;
let dataDir: string;
/** Where the running manager serves its public HTTP (bootstrap scripts, the Clusters API). */
let managerUrl: string;

async function startManager(emptyListConfirmMs = Infinity): Promise<ClusterManager> {
  const port = await freePort();
  managerUrl = `http://127.0.0.1:${port}`;
  const m = new ClusterManager({
    kubeConfig: cp.kubeConfig,
    config: defaultConfig({
      dataDir, externalUrl: `http://127.0.0.1:${port}`, organisationPrefix: "acme",
      mode: "acs", acs: world.settings(NS, { emptyListConfirmMs }),
    }),
    log: testLogger(),
    listen: { host: "127.0.0.1", port },
    concurrency: 4,
  });
  await m.start();
  return m;
}

/** Silent unless GRAFT_TEST_LOG names a file to write the manager's debug log to. */
function testLogger() {
  const file = process.env.GRAFT_TEST_LOG;
  return file ? pino({ level: "debug" }, destination({ dest: file, append: true, sync: true })) : silentLogger;
}

before(async () => {
  [{ cp, client }, world] = await Promise.all([startApiServer({ name: "acs", namespace: NS, crds: true }), startAcsWorld()]);
  // What ACS mode's install adds (config/acs), and Flux's CRDs and the edge namespace to check repository manifests with.
  await cp.installCrds([join(ROOT, "config/flux/crds.yaml")]);
  const policy = await cp.kubectl(["apply", "--server-side", "-f", join(ROOT, "config/acs/chart-template-policy.yaml")]);
  assert.equal(policy.code, 0, policy.stderr);
  await client.create(Core.namespaces, { metadata: { name: "fplus-edge" } });
  dataDir = mkdtempSync(join(tmpdir(), "graft-acs-mode-"));
  manager = await startManager();
});

after(async () => {
  await manager?.stop();
  await world?.stop();
  await cp?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const uuidOf = (ec: EdgeCluster) => ec.status?.uuid ?? ec.spec.uuid;
const condition = (ec: EdgeCluster, type: string) => ec.status?.conditions?.find((c) => c.type === type);

async function clustersWith(uuid: string): Promise<EdgeCluster[]> {
  return (await client.list<EdgeCluster>(EdgeClusterType, NS)).items.filter((ec) => uuidOf(ec) === uuid);
}

/** The one EdgeCluster with this UUID, Ready and ConfigDBSynced at its current generation. */
function provisioned(uuid: string, extra: (ec: EdgeCluster) => boolean = () => true): Promise<EdgeCluster> {
  return eventually(async () => {
    const ecs = await clustersWith(uuid);
    assert.ok(ecs.length <= 1, `one EdgeCluster per ConfigDB cluster, found ${ecs.length}`);
    const ec = ecs[0];
    return ec && condition(ec, "Ready")?.status === "True" && condition(ec, "ConfigDBSynced")?.status === "True"
      && ec.status?.observedGeneration === ec.metadata.generation && extra(ec) && ec;
  }, { ...WAIT, message: `EdgeCluster of ConfigDB cluster ${uuid} provisioned` });
}

async function cloneAs(ec: EdgeCluster, username: string, password: string, extra: string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), "graft-acs-clone-"));
  try {
    await gitClient(["clone", "-q", withCredentials(ec.status!.repository!, username, password), join(dir, "repo")]);
    const files = new Map<string, string>();
    for (const p of ["edge-cluster", "helm-charts", "self-link", "flux-system", ...extra].map((f) => `edo/cluster/${f}.yaml`)) {
      if (existsSync(join(dir, "repo", p))) files.set(p, readFileSync(join(dir, "repo", p), "utf8"));
    }
    const docs = (p: string) => parseAllDocuments(files.get(p) ?? "").map((d) => d.toJS());
    return { docs, exists: (p: string) => files.has(p), text: (p: string) => files.get(p), files: () => [...files.keys()] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Everything graft made for the cluster is gone. The cluster object of a cluster made in ACS (by the administrator)
 * is not the manager's to delete (no DeleteObject on it): it stays; one graft created (kubectl) is deleted.
 */
function assertAllGone(uuid: string, name: string, accounts: string[], madeIn: "acs" | "kubectl" = "acs") {
  const t = acsTraces(world, uuid, name);
  if (madeIn === "kubectl") assert.equal(t.object, undefined, "the cluster's ConfigDB object is deleted");
  else assert.equal(t.object, Class.EdgeCluster, "the administrator's cluster object stays");
  for (const [what, value] of Object.entries({ config: t.config, setup: t.setup, sparkplug: t.sparkplug, repoConfig: t.repoConfig })) {
    assert.equal(value, undefined, `the ${what} entry is deleted`);
  }
  assert.equal(t.inRepoGroup, false);
  assert.deepEqual(t.accounts, { flux: [], krbkeys: [] }, "no account named for the cluster is left");
  assert.deepEqual(t.principals, { flux: undefined, krbkeys: undefined }, "no Kerberos identity is left");
  assert.deepEqual(t.grantsOn, [], "no grant on the cluster is left");
  for (const account of accounts) {
    assert.equal(world.standin.configdb.hasObject(account), false, `account ${account} is deleted`);
    assert.deepEqual(world.standin.auth.listGrants().filter((g) => g.principal === account), [], `account ${account} holds no grant`);
  }
}

const state: { lineA?: string; plantB?: string; lineD?: string; edge1?: string } = {};

test("an entry created in the ConfigDB becomes a provisioned EdgeCluster with every ACS entry written", async () => {
  const uuid = await createClusterInConfigDb(world, { name: "line-a", namespace: "fplus-edge", values: { replicas: 3 } });
  state.lineA = uuid;
  const ec = await provisioned(uuid);
  assert.equal(ec.metadata.name, "line-a");
  assert.equal(ec.metadata.labels?.[ORIGIN_LABEL], "configdb");
  assert.equal(ec.metadata.annotations?.[REGISTERED_ANNOTATION], uuid);
  assert.deepEqual([ec.spec.name, ec.spec.uuid, ec.spec.namespace, ec.spec.values], ["line-a", uuid, "fplus-edge", { replicas: 3 }]);
  assert.equal(ec.status!.sparkplugGroup, "acme-line-a");
  assert.equal(ec.status!.repository, `${world.standin.urls.git}/uuid/${uuid}`);

  const t = acsTraces(world, uuid, "line-a");
  assert.equal(t.object, Class.EdgeCluster);
  assert.deepEqual(t.sparkplug, { group_id: "acme-line-a" });
  assert.deepEqual(t.repoConfig, { path: "cluster/line-a" });
  assert.equal(t.inRepoGroup, true);
  assert.equal(t.setup?.ready, true);
  const flux = t.setup!.flux!.uuid;
  const krbkeys = t.setup!.krbkeys!.uuid;
  assert.deepEqual(t.accounts, { flux: [flux], krbkeys: [krbkeys] }, "one account per role, with its General information name");
  const model = world.standin.configdb;
  assert.equal(model.classOf(flux), Class.EdgeAccount);
  assert.equal(model.classOf(krbkeys), Class.EdgeAccount);
  assert.ok(model.isMember(world.groups.flux, flux) && model.isMember(world.groups.krbkeys, krbkeys), "accounts are in their role groups");
  assert.deepEqual(t.principals, { flux, krbkeys }, "Kerberos identities op1flux/line-a@REALM and op1krbkeys/line-a@REALM");
  assert.deepEqual(t.grantsOn.map(({ principal, permission, plural }) => ({ principal, permission, plural })),
    [{ principal: flux, permission: Perm.GitPull, plural: false }], "flux alone may pull the cluster's repository");

  // The flux account (as the edge enrols it) clones the repository the manager pushed to the ACS Git server.
  world.standin.addUser("op1flux/line-a", "flux-password");
  const repo = await cloneAs(ec, "op1flux/line-a", "flux-password");
  const [release] = repo.docs("edo/cluster/edge-cluster.yaml");
  assert.equal(release.kind, "HelmRelease");
  assert.equal(release.metadata.name, `edge-cluster-${uuid}`);
  assert.equal(release.spec.chart.spec.chart, "edge-cluster");
  assert.deepEqual(release.spec.values.site, { name: "line-a", id: uuid }, "chart template values rendered with {{name}} and {{uuid}}");
  assert.equal(release.spec.values.note, "cost $& more");
  assert.equal(release.spec.values.replicas, 3, "the cluster's values win over the template's");
  assert.equal(release.spec.values.mode, "kerberos");
  assert.equal(release.spec.values.kerberos.realm, world.standin.realm);
  const [charts] = repo.docs("edo/cluster/helm-charts.yaml");
  assert.equal(charts.spec.url, `${world.standin.urls.git}/uuid/${world.helmChartsRepo}`);
  const selfLink = repo.docs("edo/cluster/self-link.yaml");
  assert.equal(selfLink[0].spec.url, ec.status!.repository);
  assert.ok(repo.exists("edo/cluster/flux-system.yaml"));

  world.standin.addUser("op1krbkeys/line-a", "krbkeys-password");
  await assert.rejects(cloneAs(ec, "op1krbkeys/line-a", "krbkeys-password"), "the krbkeys account has no Git Pull grant");
});

test("the bootstrap command of an ACS cluster serves a Kerberos-enrolment script with no credentials in it", async () => {
  const { command } = await requestBootstrapCommand(client, NS, "line-a", 30_000);
  const url = /'(http[^']+)'/.exec(command)![1]!;
  const res = await fetch(url);
  assert.equal(res.status, 200);
  const script = await res.text();
  assert.match(script, /graft_mode='kerberos'/);
  assert.match(script, new RegExp(`krb_realm='${world.standin.realm}'`));
  assert.match(script, /op1krbkeys|enrol/);
  assert.ok(script.includes(`${world.standin.urls.git}/uuid/${state.lineA}`), "the script links the repository on the ACS Git server");
  assert.match(script, /enrol-pod\.yaml/);
  assert.equal(script.includes("kind: Secret"), false, "no credentials: enrolment creates them on the edge");
});

test("a cluster made in the ACS admin UI (\"Edge Cluster 1\") is mirrored and set up under ACS's grants with its name verbatim", async () => {
  const { uuid, name } = await createClusterAsAdminUi(world.cdb, { typed: "Edge Cluster 1", chart: world.chart });
  assert.equal(name, "Edge_Cluster_1");
  state.edge1 = uuid;
  const ec = await provisioned(uuid);
  assert.equal(ec.metadata.name, "edge-cluster-1");
  assert.equal(ec.spec.name, "Edge_Cluster_1");
  assert.equal(ec.status!.sparkplugGroup, "acme-Edge_Cluster_1");
  const t = acsTraces(world, uuid, "Edge_Cluster_1");
  assert.deepEqual(t.repoConfig, { path: "cluster/Edge_Cluster_1" });
  assert.deepEqual(t.principals, { flux: t.setup!.flux!.uuid, krbkeys: t.setup!.krbkeys!.uuid },
    "principals op1flux/Edge_Cluster_1@REALM and op1krbkeys/Edge_Cluster_1@REALM");
  const refused = world.standin.requests.filter((r) => r.upn?.startsWith(`${world.service.username}@`) && r.status === 403);
  assert.deepEqual(refused, [], "no request of the manager was refused");
});

test("the same name typed twice in the admin UI: the younger cluster is not set up, and its setup status (the Clusters API's status) says why and what to do in ACS", async () => {
  const { uuid, name } = await createClusterAsAdminUi(world.cdb, { typed: "Edge Cluster 1", chart: world.chart });
  assert.equal(name, "Edge_Cluster_1");
  const setupStatus = () => world.standin.configdb.get(App.EdgeClusterSetupStatus, uuid)?.value as { ready?: boolean; nameConflict?: string } | undefined;
  try {
    const ec = await eventually(async () => {
      const [found] = await clustersWith(uuid);
      return found && condition(found, "Stalled")?.status === "True" && found;
    }, { ...WAIT, message: "the younger Edge_Cluster_1 stalls" });
    const stalled = condition(ec, "Stalled")!;
    assert.equal(stalled.reason, "NameConflict");
    assert.match(stalled.message, new RegExp(`cluster name "Edge_Cluster_1" .* is already used by ConfigDB cluster ${state.edge1} \\(EdgeCluster "${NS}/edge-cluster-1"\\), which is older: .*delete this cluster in the ACS admin UI and create it again with another name`));
    const report = await eventually(async () => setupStatus()?.nameConflict && setupStatus(), { ...WAIT, message: "the setup status says why" });
    assert.equal(report!.ready, false);
    assert.equal(report!.nameConflict, stalled.message);
    const admin = `Basic ${Buffer.from(`${world.standin.adminUser.username}:${world.standin.adminUser.password}`).toString("base64")}`;
    const res = await fetch(`${managerUrl}/v1/cluster/${uuid}/status`, { headers: { authorization: admin } });
    assert.equal(res.status, 200, "the cluster is known to the Clusters API");
    assert.deepEqual(await res.json(), report);
  } finally {
    await world.cdb.deleteEntry(App.EdgeClusterConfiguration, uuid);
  }
  await eventually(async () => (await clustersWith(uuid)).length === 0, { ...WAIT, message: "the younger cluster deleted with its entry" });
  await eventually(async () => setupStatus() === undefined, { ...WAIT, message: "its report removed with it" });
  await provisioned(state.edge1!);
});

test("an entry that cannot be mirrored is visible: a Warning Event on the mirror namespace, a metric, and its setup status (the Clusters API's status) says why until it is fixed or deleted", async () => {
  const uuid = await createClusterInConfigDb(world, { name: "bad.name", namespace: "fplus-edge" });
  const other = await createClusterInConfigDb(world, { name: "also/bad", namespace: "fplus-edge" });
  const model = world.standin.configdb;
  const setupStatus = (u: string) => model.get(App.EdgeClusterSetupStatus, u)?.value as { ready?: boolean; notMirrored?: string; spec?: unknown } | undefined;
  let fixed = false;
  try {
    const event = await eventually(async () => {
      const r = await cp.kubectl(["get", "events.events.k8s.io", "-n", "default", "-o", "json"]);
      const items = (JSON.parse(r.stdout) as { items: Array<{ reason: string; type: string; note: string; regarding: { kind: string; name: string } }> }).items;
      return items.find((e) => e.reason === "EntryNotMirrored" && e.note.includes(uuid));
    }, { ...WAIT, message: "EntryNotMirrored Event" });
    assert.equal(event.type, "Warning");
    assert.deepEqual([event.regarding.kind, event.regarding.name], ["Namespace", NS]);
    assert.match(event.note, /"bad\.name" cannot be an EdgeCluster spec\.name/);
    const metric = await eventually(async () => {
      const m = await manager.metrics.registry.getSingleMetricAsString("graft_acs_unmirrored_entries");
      return /graft_acs_unmirrored_entries 2\b/.test(m) && m;
    }, { ...WAIT, message: "both entries counted" });
    assert.ok(metric);
    assert.equal((await clustersWith(uuid)).length, 0);

    // ACS's side: the cluster's setup status is not ready and says why, as the admin UI's status call shows it.
    const report = await eventually(async () => setupStatus(uuid)?.notMirrored && setupStatus(uuid), { ...WAIT, message: "setup status report" });
    assert.equal(report!.ready, false);
    assert.match(report!.notMirrored!, /"bad\.name" cannot be an EdgeCluster spec\.name: .*; fix the entry in the ConfigDB$/);
    const admin = `Basic ${Buffer.from(`${world.standin.adminUser.username}:${world.standin.adminUser.password}`).toString("base64")}`;
    const res = await fetch(`${managerUrl}/v1/cluster/${uuid}/status`, { headers: { authorization: admin } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), report);

    // Deleting a bad entry takes its report with it; fixing one mirrors it and the report goes.
    await eventually(async () => setupStatus(other)?.notMirrored, { ...WAIT, message: "report on the second entry" });
    await world.cdb.deleteEntry(App.EdgeClusterConfiguration, other);
    await eventually(async () => setupStatus(other) === undefined, { ...WAIT, message: "the report of a deleted entry removed" });
    await world.cdb.putEntry(App.EdgeClusterConfiguration, uuid, { name: "fixed_name", namespace: "fplus-edge" });
    fixed = true;
    await provisioned(uuid);
    const after = setupStatus(uuid)!;
    assert.equal(after.ready, true);
    assert.equal("notMirrored" in after, false, "the report is gone once the entry is mirrored");
    assert.match(await manager.metrics.registry.getSingleMetricAsString("graft_acs_unmirrored_entries"), /graft_acs_unmirrored_entries 0\b/);
  } finally {
    await world.cdb.deleteEntry(App.EdgeClusterConfiguration, uuid);
    await world.cdb.deleteEntry(App.EdgeClusterConfiguration, other).catch(() => false);
    if (fixed) await eventually(async () => (await clustersWith(uuid)).length === 0, { ...WAIT, message: "fixed_name deleted after its entry went" });
  }
});

test("the Clusters service API as the admin UI calls it: bootstrap-url (Manage clusters) → a script served once, status, ping, Directory", async () => {
  const uuid = state.edge1!;
  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
  const admin = basic(world.standin.adminUser.username, world.standin.adminUser.password);
  const call = (path: string, init: RequestInit = {}) => fetch(`${managerUrl}${path}`, init);

  const anonymous = await call(`/v1/cluster/${uuid}/bootstrap-url`, { method: "POST" });
  assert.equal(anonymous.status, 401);
  assert.equal(anonymous.headers.get("www-authenticate"), 'Basic realm="Factory+"');
  assert.equal((await call("/ping", { headers: { authorization: basic(world.standin.adminUser.username, "wrong") } })).status, 401);

  // A user the Auth service knows but who holds no Manage clusters.
  world.standin.addUser("nobody", "nobody-password");
  const nobodyPrincipal = crypto.randomUUID();
  world.standin.configdb.register(nobodyPrincipal, Class.EdgeAccount);
  world.standin.auth.setKerberos(nobodyPrincipal, `nobody@${world.standin.realm}`);
  assert.equal((await call(`/v1/cluster/${uuid}/bootstrap-url`, { method: "POST", headers: { authorization: basic("nobody", "nobody-password") } })).status, 403);

  const answer = await call(`/v1/cluster/${uuid}/bootstrap-url`, { method: "POST", headers: { authorization: admin } });
  assert.equal(answer.status, 200);
  const url = (await answer.json()) as string;
  assert.equal(typeof url, "string", "a JSON string, as the admin UI expects");
  assert.ok(url.startsWith(`${managerUrl}/v1/bootstrap/`), url);
  // The manager's credential index learns the new token from its Secret watch; until then the URL is unknown (404).
  const first = await eventually(async () => {
    const r = await fetch(url);
    return r.status !== 404 && r;
  }, { ...WAIT, message: "the bootstrap URL becomes known" });
  assert.equal(first.status, 200);
  assert.match(await first.text(), /graft_mode='kerberos'/);
  // The admin UI copies `curl <url> | sh -` (acs-contract §8): run again, it must say why it refuses, not feed the
  // refusal's text to sh as commands.
  const again = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = execFile("sh", ["-c", 'curl -s "$1" | sh -', "sh", url], (_err, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }));
  });
  assert.equal(again.code, 1, `the used link's command fails: ${again.stdout}${again.stderr}`);
  assert.match(again.stderr, /^graft bootstrap: this bootstrap link was already used at \S+ and works only once/);
  assert.doesNotMatch(again.stderr, /not found/);

  assert.equal((await call(`/v1/cluster/${crypto.randomUUID()}/bootstrap-url`, { method: "POST", headers: { authorization: admin } })).status, 404, "unknown cluster");
  const status = await call(`/v1/cluster/${uuid}/status`, { headers: { authorization: admin } });
  assert.equal(status.status, 200);
  assert.equal(((await status.json()) as { ready?: boolean }).ready, true);
  assert.equal((await call(`/v1/cluster/${crypto.randomUUID()}/status`, { headers: { authorization: admin } })).status, 404);

  const token = await call("/token", { method: "POST", headers: { authorization: admin } });
  const { token: bearer } = (await token.json()) as { token: string };
  const ping = await call("/ping", { headers: { authorization: `Bearer ${bearer}` } });
  assert.equal(ping.status, 200);
  assert.equal(((await ping.json()) as { service: string }).service, "2706aa43-a826-441e-9cec-cd3d4ce623c2");

  const directory = await fetch(`${world.standin.urls.directory}/v1/service/2706aa43-a826-441e-9cec-cd3d4ce623c2`, { headers: { authorization: admin } });
  assert.deepEqual(((await directory.json()) as Array<{ url: string }>).map((d) => d.url), [managerUrl], "advertised in the Directory");
});

test("the Clusters API's secret route (Manage secrets): a value sealed with the cluster's reported certificate is committed where ACS keeps it", async () => {
  const uuid = state.edge1!;
  const admin = `Basic ${Buffer.from(`${world.standin.adminUser.username}:${world.standin.adminUser.password}`).toString("base64")}`;
  const secret = (method: string, key: string, body?: string, query = "") => fetch(`${managerUrl}/v1/cluster/${uuid}/secret/fplus-edge/agent-creds/${key}${query}`,
    { method, headers: { authorization: admin, "content-type": "application/octet-stream" }, body });
  assert.equal((await secret("PUT", "password", "x")).status, 403, "Manage clusters is not Manage secrets");
  // As ACS's Administrator group holds it: on every cluster (the Null UUID).
  world.standin.auth.addGrant({ principal: world.standin.adminUser.principal, permission: Perm.ManageSecrets, target: "00000000-0000-0000-0000-000000000000", plural: false });
  assert.equal((await secret("PUT", "password", "x")).status, 404, "no 'Edge cluster status' entry yet: not bootstrapped");
  await world.cdb.patchEntry(App.EdgeClusterStatus, uuid, { hosts: [] });
  assert.equal((await secret("PUT", "password", "x")).status, 503, "no certificate reported yet");

  const dir = mkdtempSync(join(tmpdir(), "graft-acs-secret-"));
  try {
    const { certPem, keyPem } = await makeCertificate("sealed-secret");
    writeFileSync(join(dir, "key.pem"), keyPem);
    await world.cdb.patchEntry(App.EdgeClusterStatus, uuid, { kubeseal_cert: certPem });
    assert.equal((await secret("PUT", "password", "s3cret $& value")).status, 204);
    assert.equal((await secret("PUT", "username", "agent", "?dryrun")).status, 204, "a dry run answers as ACS does");
    assert.equal((await secret("PUT", "bad key!", "x")).status, 400);

    const ec = (await clustersWith(uuid))[0]!;
    world.standin.addUser("op1flux/Edge_Cluster_1", "flux-password");
    const clone = async () => {
      const repo = join(dir, `repo-${Date.now()}`);
      await gitClient(["clone", "-q", withCredentials(ec.status!.repository!, "op1flux/Edge_Cluster_1", "flux-password"), repo]);
      const file = join(repo, "edo/secrets/fplus-edge/agent-creds.yaml");
      return existsSync(file) ? readFileSync(file, "utf8") : undefined;
    };
    const sealed = (await clone())!;
    const manifest = parseAllDocuments(sealed)[0]!.toJS() as { kind: string; metadata: { name: string; namespace: string }; spec: { encryptedData: Record<string, string> } };
    assert.equal(manifest.kind, "SealedSecret");
    assert.deepEqual(manifest.metadata, { name: "agent-creds", namespace: "fplus-edge" });
    assert.deepEqual(Object.keys(manifest.spec.encryptedData), ["password"], "the dry run committed nothing");
    writeFileSync(join(dir, "in.yaml"), sealed);
    const unsealed = await runKubeseal(["--recovery-unseal", "--recovery-private-key", join(dir, "key.pem"), "-o", "json", "-f", join(dir, "in.yaml")]);
    assert.equal(unsealed.code, 0, unsealed.stderr);
    const data = (JSON.parse(unsealed.stdout.toString("utf8")) as { data: Record<string, string> }).data;
    assert.equal(Buffer.from(data.password!, "base64").toString(), "s3cret $& value", "kubeseal decrypts it with the cluster's key");

    assert.equal((await secret("DELETE", "password")).status, 204);
    assert.equal(await clone(), undefined, "the last key removed: the file goes");
    assert.equal((await secret("DELETE", "password")).status, 204, "deleting an absent key answers as ACS does");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("without the extra grants an EdgeCluster applied with kubectl is ConfigDBSynced=False naming the permission, and not retried hot; with them it is mirrored", async () => {
  const applied = await cp.kubectl(["apply", "-f", "-"], { input: edgeClusterYaml("plant-b", NS, { bare: true, values: { x: 1 } }) });
  assert.equal(applied.code, 0, applied.stderr);
  const held = await eventually(async () => {
    const e = await client.get<EdgeCluster>(EdgeClusterType, "plant-b", NS);
    return condition(e, "ConfigDBSynced")?.status === "False" && e;
  }, { ...WAIT, message: "ConfigDBSynced=False" });
  const synced = condition(held, "ConfigDBSynced")!;
  assert.equal(synced.reason, "PermissionDenied");
  assert.match(synced.message, /CreateSpecificObject on class Edge cluster/);
  assert.match(synced.message, /config\/acs\/cluster-manager-kubectl\.yaml/);
  assert.equal(condition(held, "Ready")?.status, "False");

  // What the stand-in sees of this cluster over a while: a handful of requests, not a storm.
  const uuid = held.status!.uuid!;
  const from = world.standin.requests.length;
  await new Promise((r) => setTimeout(r, 15_000));
  const about = world.standin.requests.slice(from).filter((r) => r.path.includes(uuid));
  assert.ok(about.length <= 2, `at most a couple of ConfigDB requests in 15 s for the refused cluster, saw ${about.length}`);

  // An administrator loads the extra grants; a reconcile request (or the periodic resync) picks the cluster up.
  world.standin.loadDump(KUBECTL_DIRECTION_DUMP);
  const asked = await cp.kubectl(["annotate", "--overwrite", "ec", "-n", NS, "plant-b", `reconcile.factoryplus.app.amrc.co.uk/requestedAt=${Date.now()}`]);
  assert.equal(asked.code, 0, asked.stderr);
  state.plantB = uuid;
});

test("an EdgeCluster applied with kubectl becomes a ConfigDB object and entry, and gets the same ACS setup", async () => {
  const uuid = state.plantB!;
  const ec = await provisioned(uuid);
  assert.equal(ec.metadata.name, "plant-b");
  assert.equal(ec.metadata.labels?.[ORIGIN_LABEL], undefined);
  assert.equal(ec.metadata.annotations?.[REGISTERED_ANNOTATION], uuid);
  const t = acsTraces(world, uuid, "plant-b");
  assert.equal(t.object, Class.EdgeCluster, "the ConfigDB object has class Edge cluster");
  assert.deepEqual(t.config, { name: "plant-b", namespace: "fplus-edge", bare: true, values: { x: 1 } });
  assert.equal(t.setup?.ready, true);
  assert.equal(t.accounts.flux.length, 1);
  assert.equal(t.accounts.krbkeys.length, 1);
  assert.deepEqual(t.sparkplug, { group_id: "acme-plant-b" });
  assert.equal((await clustersWith(uuid)).length, 1, "the mirror did not add a second EdgeCluster for the new entry");
});

test("conflict rule: the ConfigDB owns mirrored clusters' spec, an EdgeCluster applied with kubectl owns its entry", async () => {
  const lineA = state.lineA!;
  const plantB = state.plantB!;
  const entryOf = (uuid: string) => world.standin.configdb.get(App.EdgeClusterConfiguration, uuid)?.value as { values?: unknown };

  // A kubectl edit of a mirrored cluster is reverted to the entry.
  const edited = await cp.kubectl(["patch", "ec", "-n", NS, "line-a", "--type=merge", "-p", JSON.stringify({ spec: { values: { replicas: 9 } } })]);
  assert.equal(edited.code, 0, edited.stderr);
  await provisioned(lineA, (ec) => (ec.spec.values as { replicas?: number }).replicas === 3);
  assert.deepEqual(entryOf(lineA).values, { replicas: 3 });

  // An edit in the ConfigDB flows into the mirrored EdgeCluster and a new commit.
  const before = (await clustersWith(lineA))[0]!.status!.commit;
  await world.cdb.putEntry(App.EdgeClusterConfiguration, lineA, { name: "line-a", namespace: "fplus-edge", values: { replicas: 5 } });
  const ec = await provisioned(lineA, (e) => (e.spec.values as { replicas?: number }).replicas === 5 && e.status?.commit !== before);
  world.standin.addUser("op1flux/line-a", "flux-password");
  const [release] = (await cloneAs(ec, "op1flux/line-a", "flux-password")).docs("edo/cluster/edge-cluster.yaml");
  assert.equal(release.spec.values.replicas, 5);

  // An edit in the ConfigDB of a kubectl cluster's entry is overwritten from spec.
  await world.cdb.putEntry(App.EdgeClusterConfiguration, plantB, { name: "plant-b", namespace: "fplus-edge", values: { x: 2 } });
  await eventually(() => JSON.stringify(entryOf(plantB)) === JSON.stringify({ name: "plant-b", namespace: "fplus-edge", bare: true, values: { x: 1 } }),
    { ...WAIT, message: "the EdgeCluster's spec restored in the entry" });
  assert.deepEqual((await clustersWith(plantB))[0]!.spec.values, { x: 1 });

  // A kubectl edit of that cluster reaches the entry.
  const patched = await cp.kubectl(["patch", "ec", "-n", NS, "plant-b", "--type=merge", "-p", JSON.stringify({ spec: { values: { x: 3 } } })]);
  assert.equal(patched.code, 0, patched.stderr);
  await eventually(() => JSON.stringify(entryOf(plantB)?.values) === JSON.stringify({ x: 3 }), { ...WAIT, message: "spec edit in the entry" });
});

test("an 'Edge cluster status' entry written as edge-sync does flows into EdgeCluster status", async () => {
  const uuid = state.lineA!;
  const { certPem } = await makeCertificate("line-a");
  const hosts = [
    { hostname: "node-1", control_plane: true, k8s_version: "v1.30.2", arch: "amd64", os_version: "Debian 12", ready: true },
    { hostname: "node-2", control_plane: false, k8s_version: "v1.30.2", arch: "arm64", specialised: "gpu" },
  ];
  await world.cdb.patchEntry(App.EdgeClusterStatus, uuid, { hosts, kubeseal_cert: certPem });
  const ec = await eventually(async () => {
    const e = (await clustersWith(uuid))[0];
    return e?.status?.hostCount === 2 && e.status.kubesealCertificate && condition(e, "Reporting")?.status === "True" && e;
  }, { ...WAIT, message: "hosts and certificate in status" });
  assert.deepEqual(ec.status!.hosts, hosts);
  assert.equal(ec.status!.kubesealCertificate!.fingerprint, new X509Certificate(certPem).fingerprint256);
  assert.equal(ec.status!.kubesealCertificate!.pem, certPem);
  assert.equal(condition(ec, "Bootstrapped")?.status, "True");

  await world.cdb.patchEntry(App.EdgeClusterStatus, uuid, { hosts: [hosts[0]] });
  await eventually(async () => (await clustersWith(uuid))[0]?.status?.hostCount === 1, { ...WAIT, message: "a host change is picked up" });

  // ACS defines no ConfigSchema for the application: edge-sync's GitOps report and Edge deployments' state sit beside
  // hosts; the mirror takes the report and leaves the members it does not read.
  const commit = (await clustersWith(uuid))[0]!.status!.commit!;
  const failing = { kind: "HelmRelease", namespace: "fplus-edge", name: "edge-cluster-x", ready: "False", reason: "UpgradeFailed", message: "values refused" };
  await world.cdb.patchEntry(App.EdgeClusterStatus, uuid, {
    gitops: { fluxVersion: "v2.9.5", objects: [{ kind: "Kustomization", namespace: "fplus-edge", name: "self-link", ready: "True", revision: `main@sha1:${commit}` }, failing] },
    deployments: { "0f6a4c3e-0000-4000-8000-000000000001": { name: "agent", state: "Applied", helmReleases: ["agent"], ready: "True" } },
  });
  const reported = await eventually(async () => {
    const e = (await clustersWith(uuid))[0];
    return e?.status?.gitops && condition(e, "Synced") && e;
  }, { ...WAIT, message: "the GitOps report mirrored into status" });
  assert.equal(reported.status!.gitops!.appliedRevision, `main@sha1:${commit}`);
  assert.equal(condition(reported, "Synced")?.reason, "FluxObjectNotReady");
  assert.match(condition(reported, "Synced")!.message, /values refused/);
  assert.equal(reported.status!.hostCount, 1, "the hosts stayed");
});

test("notify/v2 dropped mid-run: entries created, changed and deleted meanwhile are picked up after reconnect", async () => {
  const lineC = await createClusterInConfigDb(world, { name: "line-c", namespace: "fplus-edge" });
  await provisioned(lineC);
  const lineCAccounts = Object.values(acsTraces(world, lineC, "line-c").accounts).flat();

  assert.ok(world.standin.dropNotifyConnections({ refuseNew: true }) > 0, "the manager had notify connections");
  try {
    state.lineD = await createClusterInConfigDb(world, { name: "line-d", namespace: "edge-d" });
    await world.cdb.deleteEntry(App.EdgeClusterConfiguration, lineC);
    await world.cdb.putEntry(App.EdgeClusterConfiguration, state.lineA!, { name: "line-a", namespace: "fplus-edge", values: { replicas: 7 } });
  } finally {
    world.standin.allowNotifyConnections();
  }

  const lineD = await provisioned(state.lineD);
  assert.equal(lineD.spec.namespace, "edge-d");
  await provisioned(state.lineA!, (ec) => (ec.spec.values as { replicas?: number }).replicas === 7);
  await eventually(async () => (await clustersWith(lineC)).length === 0, { ...WAIT, message: "line-c deleted after its entry went" });
  assertAllGone(lineC, "line-c", lineCAccounts);
});

test("in ACS mode spec.chart must be a 'Helm chart template' UUID: the API server refuses a chart name at admission", async () => {
  const apply = (chart: string) => cp.kubectl(["apply", "--dry-run=server", "-f", "-"],
    { input: edgeClusterYaml("chart-check", NS, { chart }) });
  const refused = await apply("edge-cluster");
  assert.notEqual(refused.code, 0, "a chart name is refused");
  assert.match(refused.stderr, /graft-acs-edgecluster-chart/);
  assert.match(refused.stderr, /spec\.chart "edge-cluster" is not a 'Helm chart template' UUID/);
  const accepted = await apply(world.chart);
  assert.equal(accepted.code, 0, accepted.stderr);
});

test("the installation's ConfigDB templates make the repository: K8s resource template (driftDetection), Flux template, fluxVersion in the setup status", async () => {
  const model = world.standin.configdb;
  const helmRelease = structuredClone(helmReleaseTemplate) as typeof helmReleaseTemplate & { template: { spec: Record<string, unknown> } };
  helmRelease.template.spec.driftDetection = { mode: "enabled" };
  helmRelease.template.spec.timeout = "10m";
  const flux = {
    "edge-cluster.yaml": ["{{ helm }}"],
    "helm-charts.yaml": [{
      apiVersion: "source.toolkit.fluxcd.io/v1", kind: "GitRepository", metadata: { name: "helm-charts", namespace: "{{ namespace }}" },
      spec: { interval: "10m", ref: { branch: "main" }, secretRef: { name: "flux-secrets" }, url: "{{ url.helm }}" },
    }],
    "site-notes.yaml": [{ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "site-notes", namespace: "{{ namespace }}" }, data: { repo: "{{ url.self }}" } }],
    "self-link.yaml": [
      { apiVersion: "source.toolkit.fluxcd.io/v1", kind: "GitRepository", metadata: { name: "self-link", namespace: "{{ namespace }}" },
        spec: { interval: "3m", ref: { branch: "main" }, secretRef: { name: "flux-secrets" }, url: "{{ url.self }}" } },
      { apiVersion: "kustomize.toolkit.fluxcd.io/v1", kind: "Kustomization", metadata: { name: "self-link", namespace: "{{ namespace }}" },
        spec: { interval: "3m", path: "./", prune: true, sourceRef: { kind: "GitRepository", name: "self-link" } } },
    ],
  };
  // As ACS's installer writes them (acs-service-setup dumps clusters.yaml, helm.yaml).
  assert.equal(model.put(App.K8sResourceTemplate, K8sResource.HelmRelease, helmRelease), 201);
  assert.equal(model.put(App.FluxTemplate, App.FluxTemplate, flux), 201);
  const uuid = await createClusterInConfigDb(world, { name: "line-t", namespace: "fplus-edge", values: { replicas: 2 } });
  try {
    const ec = await provisioned(uuid);
    world.standin.addUser("op1flux/line-t", "flux-password");
    const repo = await cloneAs(ec, "op1flux/line-t", "flux-password", ["site-notes"]);
    const [release] = repo.docs("edo/cluster/edge-cluster.yaml");
    assert.deepEqual(release.metadata, { name: `edge-cluster-${uuid}`, namespace: "fplus-edge", labels: { "factoryplus.app.amrc.co.uk/uuid": uuid } });
    assert.deepEqual(release.spec.driftDetection, { mode: "enabled" }, "what the installation put in the template reaches the HelmRelease");
    assert.equal(release.spec.timeout, "10m");
    assert.deepEqual(release.spec.chart.spec.sourceRef, { kind: "GitRepository", name: "helm-charts" });
    assert.equal(release.spec.chart.spec.chart, "edge-cluster");
    assert.deepEqual(release.spec.values.site, { name: "line-t", id: uuid });
    assert.equal(release.spec.values.replicas, 2);
    assert.equal(release.spec.values.mode, "kerberos");
    assert.equal(repo.docs("edo/cluster/helm-charts.yaml")[0].spec.interval, "10m", "the Flux template's own choices are kept");
    assert.deepEqual(repo.docs("edo/cluster/site-notes.yaml")[0].data, { repo: ec.status!.repository });
    assert.equal(repo.exists("edo/cluster/flux-system.yaml"), false, "the Flux template has no flux-system.yaml: none is written");

    const setup = model.get(App.EdgeClusterSetupStatus, uuid)?.value as { fluxVersion?: string; self_link?: string };
    assert.equal(setup.fluxVersion, fluxVersionOf(readFileSync(DEFAULT_FLUX_INSTALL, "utf8")), "the Flux release the bootstrap installs");
    assert.match(setup.fluxVersion!, /^v2\.\d+\.\d+$/);
    assert.equal(setup.self_link, repo.text("edo/cluster/self-link.yaml"));

    // Every manifest is one the real API server accepts under Flux's CRDs (and the HelmRelease's driftDetection with it).
    for (const file of repo.files()) {
      const r = await cp.kubectl(["apply", "--dry-run=server", "--validate=strict", "-f", "-"], { input: repo.text(file) });
      assert.equal(r.code, 0, `${file}: ${r.stderr}`);
    }

    // A change of a template alone (no change of the cluster) reaches the repository: the ConfigDB sync watches them.
    const changed = structuredClone(helmRelease);
    changed.template.spec.driftDetection = { mode: "warn" };
    model.put(App.K8sResourceTemplate, K8sResource.HelmRelease, changed);
    await eventually(async () => {
      const again = await cloneAs(ec, "op1flux/line-t", "flux-password");
      return (again.docs("edo/cluster/edge-cluster.yaml")[0] as { spec: { driftDetection?: { mode?: string } } }).spec.driftDetection?.mode === "warn";
    }, { ...WAIT, message: "the changed K8s resource template in the repository" });
  } finally {
    model.delete(App.K8sResourceTemplate, K8sResource.HelmRelease);
    model.delete(App.FluxTemplate, App.FluxTemplate);
    await world.cdb.deleteEntry(App.EdgeClusterConfiguration, uuid);
    await eventually(async () => (await clustersWith(uuid)).length === 0, { ...WAIT, message: "line-t deleted after its entry went" });
  }
});

test("deleting either side removes both, and every account, grant and entry", async () => {
  const lineA = state.lineA!;
  const plantB = state.plantB!;
  const accountsA = Object.values(acsTraces(world, lineA, "line-a").accounts).flat();
  const accountsB = Object.values(acsTraces(world, plantB, "plant-b").accounts).flat();
  assert.equal(accountsA.length + accountsB.length, 4);

  await world.cdb.deleteEntry(App.EdgeClusterConfiguration, lineA);
  const deleted = await cp.kubectl(["delete", "ec", "-n", NS, "plant-b", "--wait=false"]);
  assert.equal(deleted.code, 0, deleted.stderr);

  await eventually(async () => (await clustersWith(lineA)).length === 0 && (await clustersWith(plantB)).length === 0,
    { ...WAIT, message: "both EdgeClusters gone" });
  assertAllGone(lineA, "line-a", accountsA);
  assertAllGone(plantB, "plant-b", accountsB, "kubectl");
});

test("a listing that suddenly names no clusters deletes nothing until the emptiness persists and is confirmed", async () => {
  const lineE = await createClusterInConfigDb(world, { name: "line-e", namespace: "fplus-edge" });
  await provisioned(lineE);
  const held = [state.lineD!, lineE, state.edge1!];
  const names = ["line-d", "line-e", "Edge_Cluster_1"];
  const uids = new Map<string, string>();
  for (const uuid of held) uids.set(uuid, (await clustersWith(uuid))[0]!.metadata.uid!);
  const model = world.standin.configdb;
  const saved = new Map(held.map((uuid) => [uuid, model.get(App.EdgeClusterConfiguration, uuid)!.value]));

  // The ConfigDB loses every entry while the manager is not listening; it reconnects to an empty snapshot.
  world.standin.dropNotifyConnections({ refuseNew: true });
  for (const uuid of held) model.delete(App.EdgeClusterConfiguration, uuid);
  world.standin.allowNotifyConnections();
  for (const uuid of held) {
    const ec = await eventually(async () => {
      const e = (await clustersWith(uuid))[0];
      return e && condition(e, "ConfigDBSynced")?.reason === "SuspiciousEmptyList" && e;
    }, { ...WAIT, message: "ConfigDBSynced=False/SuspiciousEmptyList" });
    assert.equal(condition(ec, "ConfigDBSynced")?.status, "False");
    assert.equal(ec.metadata.deletionTimestamp, undefined, "not deleted");
  }
  const events = JSON.parse((await cp.kubectl(["get", "events.events.k8s.io", "-n", NS, "-o", "json"])).stdout) as { items: Array<{ reason: string; type: string }> };
  assert.ok(events.items.some((e) => e.reason === "SuspiciousEmptyList" && e.type === "Warning"), "a Warning event says why");

  // The entries come back: the same EdgeClusters are in sync again.
  for (const [uuid, value] of saved) model.put(App.EdgeClusterConfiguration, uuid, value);
  for (const uuid of held) {
    const ec = await provisioned(uuid);
    assert.equal(ec.metadata.uid, uids.get(uuid), "the very same EdgeCluster");
  }

  // Emptiness that persists past the confirmation period (and a fresh listing agrees) does delete.
  const accounts = held.map((uuid, i) => Object.values(acsTraces(world, uuid, names[i]!).accounts).flat());
  await manager.stop();
  for (const uuid of held) model.delete(App.EdgeClusterConfiguration, uuid);
  manager = await startManager(1000);
  await eventually(async () => (await client.list<EdgeCluster>(EdgeClusterType, NS)).items.length === 0,
    { ...WAIT, message: "EdgeClusters deleted after the confirmed empty listing" });
  held.forEach((uuid, i) => assertAllGone(uuid, names[i]!, accounts[i]!));
});
