// edge-sync's keytab login (ACS mode, as ACS gives op1sync a Random keytab) against a real MIT KDC, the ACS stand-in
// accepting Negotiate with its own service keytab and enforcing ACS's grants, and a real edge API server: configured
// from the environment as the chart's Pod is, edge-sync finds the ConfigDB in the Directory and logs in at both with
// Negotiate, writes its status under the edge-sync role's grants and nothing outside them, follows the cluster's Edge
// deployments over notify/v2 logged in the same way; after a krbkeys-style
// rotation, once the running process's tickets end, a login from the stale mounted keytab is refused by the KDC and
// the same process reads the file again when the kubelet has replaced it.
import { after, afterEach, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Writable } from "node:stream";
import { startAcsStandin, type AcsStandin } from "../../e2e/acs-standin/standin.js";
import { startControlPlane, type ControlPlane } from "../../e2e/harness/control-plane.js";
import { eventually } from "../../e2e/harness/eventually.js";
import { installFluxCrds } from "../../e2e/harness/flux.js";
import { startKdc, type Kdc } from "../../e2e/harness/kdc.js";
import { startProcess } from "../../e2e/harness/process.js";
import { SecretVolume } from "../../e2e/harness/secret-volume.js";
import { addKeytabEdgeSyncAccount } from "../../e2e/support/edge-sync/acs-centre.js";
import { edgeAgentChart, k8sTemplates } from "../../e2e/support/edge-sync/acs-templates.js";
import { createNode, deleteAllNodes } from "../../e2e/support/edge-sync/edge-objects.js";
import { App, Class } from "../api/constants.js";
import { Core, type ResourceType } from "../runtime/kube.js";
import { createLogger } from "../runtime/logger.js";
import { KubeClient } from "../runtime/rest.js";
import { resolveEdgeSyncConfig } from "./config.js";
import { EdgeSync } from "./edge-sync.js";
import { hostList, type NodeObject } from "./hosts.js";
import { configDbClientFor } from "./main.js";
import { edgeDeploymentsFor } from "./deployments/wiring.js";

const CLUSTER = "0c9d3f4e-5a6b-4c7d-8e9f-a0b1c2d3e4f5";
const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const EDGE_NS = "fplus-edge";
const HR: ResourceType = { group: "helm.toolkit.fluxcd.io", version: "v2", plural: "helmreleases", kind: "HelmRelease", namespaced: true };

let kdc: Kdc;
let standin: AcsStandin;
let cp: ControlPlane;
let client: KubeClient;
let dir: string;
const stops: Array<() => Promise<void>> = [];

before(async () => {
  [kdc, cp] = await Promise.all([startKdc(), startControlPlane({ name: "edge" })]);
  // With the KDC itself the stand-in holds a keytab for HTTP/127.0.0.1 and accepts Negotiate logins.
  standin = await startAcsStandin({ kdc });
  standin.configdb.register(CLUSTER, Class.EdgeCluster);
  client = new KubeClient(cp.kubeConfig);
  await installFluxCrds(cp);
  for (const name of ["sealed-secrets", EDGE_NS]) await client.create(Core.namespaces, { metadata: { name } });
  dir = mkdtempSync(join(tmpdir(), "graft-edge-sync-keytab-"));
});
after(async () => {
  await standin?.stop();
  await Promise.all([cp?.stop(), kdc?.stop()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
  await deleteAllNodes(client);
});

/** The variables the chart gives edge-sync's Pod in Kerberos mode, with the keytab Secret mounted at `keytabFile`. */
const podEnv = (username: string, keytabFile: string) => ({
  CLUSTER_UUID: CLUSTER, DIRECTORY_URL: standin.urls.directory, REALM: kdc.realm, SERVICE_USERNAME: username,
  SERVICE_KEYTAB_FILE: keytabFile, KRB5_CONFIG: kdc.krb5ConfPath, EDGE_DEPLOYMENTS: "false", GITOPS_REPORT: "false",
});

const entryHosts = () => (standin.configdb.get(App.EdgeClusterStatus, CLUSTER)?.value as { hosts?: Array<{ hostname: string }> } | undefined)?.hosts;
const reported = (hostname: string) => entryHosts()?.some((h) => h.hostname === hostname) ?? false;
const tokenRequests = (upn: string) => standin.requests.filter((r) => r.path === "/token" && r.upn === upn);

/** A log destination that keeps the lines, to see what edge-sync said. */
function logLines(): { lines: string[]; stream: Writable } {
  const lines: string[] = [];
  return { lines, stream: new Writable({ write(chunk, _enc, done) { lines.push(String(chunk)); done(); } }) };
}

test("with a keytab edge-sync logs in with Negotiate at the Directory and the ConfigDB and writes its status under the edge-sync role's grants", async () => {
  const account = await addKeytabEdgeSyncAccount(standin, kdc, "op1sync/site-k", dir);
  const volume = new SecretVolume(join(dir, "sync-keytab"));
  volume.write({ client: account.keytab });
  const config = resolveEdgeSyncConfig({}, podEnv("op1sync/site-k", volume.file("client")));
  assert.equal(config.auth.kind, "keytab");
  const sync = new EdgeSync({
    kubeConfig: cp.kubeConfig, clusterUuid: CLUSTER, configDb: configDbClientFor(config),
    sealedSecrets: { namespace: "sealed-secrets", controller: "sealed-secrets", pollIntervalMs: 60_000 },
    debounceMs: 200, minRetryMs: 200, maxRetryMs: 1_000, log: createLogger("edge-sync", { level: "silent" }),
  });
  stops.push(() => sync.stop());
  await sync.start();
  await createNode(client, "keytab-1");
  await eventually(async () => JSON.stringify(entryHosts()) === JSON.stringify(hostList((await client.list<NodeObject>(Core.nodes)).items)),
    { timeoutMs: 20_000, message: "edge-sync reported the Node" });

  // The principal has no password at the KDC or the stand-in: each token was issued to a Negotiate login.
  const logins = tokenRequests(account.upn);
  assert.deepEqual([...new Set(logins.map((r) => `${r.service} ${r.status}`))].sort(), ["configdb 200", "directory 200"]);
  const writes = standin.requests.filter((r) => r.service === "configdb" && r.method === "PATCH" && r.upn === account.upn);
  assert.ok(writes.length > 0 && writes.every((w) => w.status === 204 || w.status === 200), JSON.stringify(writes));
});

test("a keytab account outside the edge-sync role logs in, but ACS refuses its status writes (403) and nothing is written", async () => {
  const account = await addKeytabEdgeSyncAccount(standin, kdc, "op1sync/site-norole", dir, { grants: false });
  const volume = new SecretVolume(join(dir, "norole-keytab"));
  volume.write({ client: account.keytab });
  const before = standin.configdbWrites.length;
  const { lines, stream } = logLines();
  const sync = new EdgeSync({
    kubeConfig: cp.kubeConfig, clusterUuid: CLUSTER, configDb: configDbClientFor(resolveEdgeSyncConfig({}, podEnv("op1sync/site-norole", volume.file("client")))),
    sealedSecrets: { namespace: "sealed-secrets", controller: "sealed-secrets", pollIntervalMs: 60_000 },
    debounceMs: 200, minRetryMs: 200, maxRetryMs: 1_000, log: createLogger("edge-sync", { level: "info", destination: stream }),
  });
  stops.push(() => sync.stop());
  await sync.start();
  await createNode(client, "norole-1");
  await eventually(() => standin.requests.some((r) => r.method === "PATCH" && r.upn === account.upn && r.status === 403),
    { timeoutMs: 20_000, message: "the ConfigDB refused the write" });
  assert.ok(tokenRequests(account.upn).some((r) => r.service === "configdb" && r.status === 200), "the Negotiate login itself succeeded");
  assert.equal(standin.configdbWrites.length, before, "nothing written");
  await eventually(() => lines.some((l) => /"level":"error"/.test(l) && /HTTP 403/.test(l) && /sending the status failed/.test(l)), { message: "the refusal logged as an error" });
});

test("Edge deployments with the keytab: notify/v2 logs in with Negotiate too, and the cluster's deployment becomes a HelmRelease reported centrally", async () => {
  const account = await addKeytabEdgeSyncAccount(standin, kdc, "op1sync/site-dep", dir);
  const volume = new SecretVolume(join(dir, "dep-keytab"));
  volume.write({ client: account.keytab });
  for (const [uuid, template] of Object.entries(k8sTemplates)) {
    standin.configdb.register(uuid, Class.EdgeCluster);
    standin.configdb.put(App.K8sResourceTemplate, uuid, template);
  }
  const chart = randomUUID();
  standin.configdb.register(chart, Class.EdgeCluster);
  standin.configdb.put(App.HelmChartTemplate, chart, edgeAgentChart);
  const deployment = randomUUID();
  standin.configdb.register(deployment, Class.EdgeCluster);
  standin.configdb.put(App.EdgeDeployment, deployment, { cluster: CLUSTER, name: "Agent_K", chart });

  const config = resolveEdgeSyncConfig({}, { ...podEnv("op1sync/site-dep", volume.file("client")), EDGE_DEPLOYMENTS: "true", POD_NAMESPACE: EDGE_NS });
  const log = createLogger("edge-sync", { level: "silent" });
  const deployments = edgeDeploymentsFor(config, { kubeConfig: cp.kubeConfig, configDb: configDbClientFor(config), log });
  assert.ok(deployments, "Edge deployments are on with a keytab login");
  stops.push(async () => {
    await deployments.sync.stop();
    await deployments.notify.close();
  });
  deployments.sync.start();
  const release = await eventually(() => client.getOrNull(HR, "edge-agent-agent-k", EDGE_NS), { timeoutMs: 30_000, message: "HelmRelease applied" });
  assert.equal(release.metadata.labels?.["factoryplus.app.amrc.co.uk/uuid"], deployment);
  await eventually(() => (standin.configdb.get(App.EdgeClusterStatus, CLUSTER)?.value as { deployments?: Record<string, { state?: string }> } | undefined)
    ?.deployments?.[deployment]?.state === "Applied", { timeoutMs: 20_000, message: "the deployment's state reported centrally" });
  assert.ok(tokenRequests(account.upn).some((r) => r.service === "configdb" && r.status === 200), "ConfigDB tokens from Negotiate logins");
  standin.configdb.delete(App.EdgeDeployment, deployment);
  await eventually(async () => (await client.getOrNull(HR, "edge-agent-agent-k", EDGE_NS)) === null, { timeoutMs: 20_000, message: "pruned" });
});

test("a rotated keytab: once its tickets end the running edge-sync's login from the stale file is refused by the KDC, and the same process reads the file the kubelet replaced", { timeout: 180_000 }, async () => {
  // Tickets of 15 s, so the running process needs a new one from its keytab within the test (ACS sites: hours).
  const account = await addKeytabEdgeSyncAccount(standin, kdc, "op1sync/site-rot", dir, { maxLife: "15 seconds" });
  const volume = new SecretVolume(join(dir, "rot-keytab"));
  volume.write({ client: account.keytab });
  const log = join(dir, "edge-sync-rot.log");
  const proc = startProcess(process.execPath, ["--import", "tsx", join(repoRoot, "e2e/support/edge-sync/run-edge-sync.ts")], {
    logFile: log, cwd: repoRoot,
    env: {
      PATH: process.env.PATH, KUBECONFIG: cp.kubeconfigPath, HEALTH_ADDR: "127.0.0.1:0", LOG_LEVEL: "info",
      SYNC_DEBOUNCE: "200ms", MIN_RETRY_DELAY: "200ms", MAX_RETRY_DELAY: "1s", RESYNC_INTERVAL: "1s",
      ...podEnv("op1sync/site-rot", volume.file("client")),
    },
  });
  stops.push(() => proc.stop());
  const tail = () => readFileSync(log, "utf8").split("\n").slice(-15).join("\n");
  await createNode(client, "rot-1");
  await eventually(() => reported("rot-1"), { timeoutMs: 30_000, message: () => `reported with the first keytab (log: ${tail()})` });

  // krbkeys rotates: a new key at the KDC at once, the mounted file still the old one (the kubelet lags). The tickets
  // edge-sync holds stay valid until they end; each resync's login (tokens revoked) then needs a new one, which the
  // KDC refuses for the stale keytab.
  const kvno = await kdc.kvno(account.upn);
  const rotated = await account.rotate();
  assert.equal(await kdc.kvno(account.upn), (kvno ?? 0) + 1);
  await eventually(() => {
    standin.revokeTokens("configdb");
    return readFileSync(log, "utf8").split("\n").some((l) => /"level":"error"/.test(l) && /no Kerberos ticket for HTTP@127\.0\.0\.1 as \\"op1sync\/site-rot@/.test(l));
  }, { timeoutMs: 90_000, intervalMs: 500, message: () => `the stale keytab refused once the tickets ended, logged as an error (log: ${tail()})` });
  const refusedAt = standin.requests.length;
  await createNode(client, "rot-2");
  volume.write({ client: rotated });
  await eventually(() => reported("rot-2"), { timeoutMs: 30_000, message: () => `reporting again with the replaced keytab (log: ${tail()})` });
  assert.ok(standin.requests.slice(refusedAt).some((r) => r.service === "configdb" && r.path === "/token" && r.upn === account.upn && r.status === 200),
    "a Negotiate login with the new keytab");
  assert.equal(proc.child.exitCode, null, "the same edge-sync process, never restarted");
});
