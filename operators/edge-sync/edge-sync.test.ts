// edge-sync against a real edge API server, reporting to the ACS stand-in's ConfigDB: Node changes are reflected,
// heartbeats cause no writes, bursts are coalesced, a new Sealed Secrets key arrives within seconds, an outage of
// the centre loses nothing and sends nothing stale, without read access to the key Secrets the controller's endpoint is used, the periodic resync repairs a lost entry, ACS
// mode finds the ConfigDB through the Directory, the command runs as a process that stops cleanly, and liveness
// tells a stuck watch or write from a centre that merely refuses.
import { after, afterEach, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { startControlPlane, type ControlPlane } from "../../e2e/harness/control-plane.js";
import { eventually } from "../../e2e/harness/eventually.js";
import { freePort } from "../../e2e/harness/ports.js";
import { startProcess } from "../../e2e/harness/process.js";
import { startTcpProxy, type TcpProxy } from "../../e2e/harness/tcp-proxy.js";
import { App } from "../api/constants.js";
import { Informer } from "../runtime/informer.js";
import { Core } from "../runtime/kube.js";
import { silentLogger } from "../runtime/logger.js";
import { KubeClient } from "../runtime/rest.js";
import { resolveEdgeSyncConfig } from "./config.js";
import { ConfigDbClient, PresetUrl, StaticToken } from "./configdb-client.js";
import { EdgeSync, type EdgeSyncOptions } from "./edge-sync.js";
import { hostList, type NodeObject } from "./hosts.js";
import { configDbClientFor } from "./main.js";
import { createKeySecret, createNode, deleteAllNodes, heartbeat } from "../../e2e/support/edge-sync/edge-objects.js";
import { makeCertificate } from "../../e2e/support/edge-sync/openssl.js";
import { startEdgeSyncCentre, type EdgeSyncCentre } from "../../e2e/support/edge-sync/acs-centre.js";

const CLUSTER = "5f0c3a52-7d3e-4f57-9b1e-0c2a8d6e4b11";
const SS_NS = "sealed-secrets";
/** Heartbeat phase length; the acceptance run uses 60 (EDGE_SYNC_HEARTBEAT_SECONDS=60). */
const HEARTBEAT_SECONDS = Number(process.env.EDGE_SYNC_HEARTBEAT_SECONDS ?? 20);

let cp: ControlPlane;
let client: KubeClient;
const stops: Array<() => Promise<void>> = [];

before(async () => {
  cp = await startControlPlane({ name: "edge", users: { "edge-sync-restricted": [] } });
  client = new KubeClient(cp.kubeConfig);
  await client.create(Core.namespaces, { metadata: { name: SS_NS } });
});
after(async () => cp?.stop());
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
  await deleteAllNodes(client);
  const secrets = await client.list(Core.secrets, SS_NS);
  for (const s of secrets.items) await client.delete(Core.secrets, s.metadata.name, SS_NS);
});

/** The centre, and a token its ConfigDB issued to the edge-sync account (what a sync token file would hold). */
type Centre = EdgeSyncCentre & { token: string; url: string };

async function startCentre(): Promise<Centre> {
  const c = await startEdgeSyncCentre(CLUSTER);
  stops.push(() => c.stop());
  return Object.assign(c, { token: await c.issueToken(), url: c.standin.urls.configdb });
}

async function startSync(centre: Centre, opts: Partial<EdgeSyncOptions> = {}): Promise<EdgeSync> {
  const sync = new EdgeSync({
    kubeConfig: cp.kubeConfig, clusterUuid: CLUSTER,
    configDb: new ConfigDbClient({ service: new PresetUrl(centre.url), auth: new StaticToken({ token: centre.token }), timeoutMs: 2_000 }),
    sealedSecrets: { namespace: SS_NS, controller: "sealed-secrets", pollIntervalMs: 1_000 },
    debounceMs: 300, minRetryMs: 200, maxRetryMs: 1_000, log: silentLogger,
    ...opts,
  });
  stops.push(() => sync.stop());
  await sync.start();
  return sync;
}

const entry = (c: Centre) => c.entry();
const patches = (c: Centre) => c.writes().map((w) => ({ method: w.method, body: w.body as Record<string, unknown> }));
const edgeHosts = async () => hostList((await client.list<NodeObject>(Core.nodes)).items);

/** Waits until the centre's hosts equal what the edge API server says now. */
async function centreMatchesEdge(r: Centre, message: string) {
  await eventually(async () => JSON.stringify(entry(r)?.hosts) === JSON.stringify(await edgeHosts()), { timeoutMs: 15_000, message });
}

const hostNamed = (r: Centre, name: string) =>
  (entry(r)?.hosts as Array<Record<string, unknown>> | undefined)?.find((h) => h.hostname === name);

test("Nodes created, relabelled, tainted and deleted are reflected; a burst becomes one write", async () => {
  const r = await startCentre();
  await startSync(r, { debounceMs: 2_000 });
  await eventually(() => JSON.stringify(entry(r)) === '{"hosts":[]}', { message: "an empty cluster reports an empty host list" });
  const afterEmpty = patches(r).length;

  await Promise.all([
    createNode(client, "cp-1", { labels: { "node-role.kubernetes.io/control-plane": "" } }),
    createNode(client, "worker-b", { architecture: "arm64" }),
    createNode(client, "worker-a"),
  ]);
  await centreMatchesEdge(r, "three new Nodes reported");
  assert.deepEqual((entry(r)!.hosts as Array<{ hostname: string }>).map((h) => h.hostname), ["cp-1", "worker-a", "worker-b"]);
  assert.deepEqual(hostNamed(r, "cp-1"), {
    hostname: "cp-1", control_plane: true, k8s_version: "v1.36.3", arch: "amd64", os_version: "Debian GNU/Linux 12 (bookworm)", ready: true,
  });
  assert.equal(hostNamed(r, "worker-b")?.arch, "arm64");
  // Six host-changing API writes within the 2 s window: one PATCH normally; two at most if the machine is so loaded
  // that the writes straddle a window (without coalescing there would be up to six).
  const burstPatches = patches(r).length - afterEmpty;
  assert.ok(burstPatches >= 1 && burstPatches <= 2, `the burst of six API writes (three creates, three status updates) was coalesced into ${burstPatches} PATCH(es)`);

  await client.patch(Core.nodes, "worker-a", undefined, { metadata: { labels: { "node-role.kubernetes.io/control-plane": "" } } });
  await eventually(() => hostNamed(r, "worker-a")?.control_plane === true, { message: "relabelled control-plane (empty value) reported" });

  await client.patch(Core.nodes, "worker-b", undefined, { spec: { taints: [{ key: "factoryplus.app.amrc.co.uk/specialised", value: "gpu", effect: "NoSchedule" }] } });
  await eventually(() => hostNamed(r, "worker-b")?.specialised === "gpu", { message: "specialised taint reported" });

  await client.patch(Core.nodes, "worker-b", undefined, { spec: { taints: null } });
  await eventually(() => { const h = hostNamed(r, "worker-b"); return h && !("specialised" in h); }, { message: "removed taint reported" });

  await client.delete(Core.nodes, "cp-1");
  await eventually(() => !hostNamed(r, "cp-1"), { message: "deleted Node removed" });
  await centreMatchesEdge(r, "final host list equals the edge");
  assert.ok(patches(r).every((p) => Object.keys(p.body).join() === "hosts"), "with no certificate only hosts were ever sent");
});

test(`${HEARTBEAT_SECONDS} s of kubelet heartbeats cause no write; a real change after them still does`, { timeout: (HEARTBEAT_SECONDS + 60) * 1000 }, async () => {
  const r = await startCentre();
  await Promise.all(["hb-1", "hb-2", "hb-3"].map((n) => createNode(client, n)));
  const sync = await startSync(r);
  await centreMatchesEdge(r, "initial report");
  const settled = patches(r).length;

  // A second informer proves the heartbeats really reach watchers as updates.
  let updatesSeen = 0;
  const watcher = new Informer<NodeObject>(client, Core.nodes, silentLogger).on((ev) => { if (ev === "update") updatesSeen++; });
  watcher.start();
  stops.push(() => watcher.stop());
  await watcher.waitForSync();

  const until = Date.now() + HEARTBEAT_SECONDS * 1000;
  let beats = 0;
  while (Date.now() < until) {
    const changed = await Promise.all(["hb-1", "hb-2", "hb-3"].map((n) => heartbeat(client, n)));
    beats += changed.filter(Boolean).length;
    await new Promise((res) => setTimeout(res, 500));
  }
  assert.ok(beats >= HEARTBEAT_SECONDS * 3 / 2, `the heartbeats changed the Nodes (${beats} updates)`);
  await eventually(() => updatesSeen >= beats, { message: `watchers saw the ${beats} heartbeats` });
  assert.equal(patches(r).length, settled, `no PATCH during ${beats} heartbeats`);
  assert.equal(await sync.metrics.pushes.get().then((m) => m.values[0]?.value), settled);

  await client.patch(Core.nodes, "hb-2", undefined, { metadata: { labels: { "node-role.kubernetes.io/master": "" } } });
  await eventually(() => hostNamed(r, "hb-2")?.control_plane === true, { message: "a real change after the heartbeats" });
  assert.equal(patches(r).length, settled + 1);
});

test("a new active sealed-secrets key reaches the centre within seconds; only the certificate is sent", async () => {
  const r = await startCentre();
  await createNode(client, "n-1");
  await startSync(r);
  await centreMatchesEdge(r, "hosts first");

  const first = await makeCertificate("first");
  const s1 = await createKeySecret(client, SS_NS, "sealed-secrets-keyzzzzz", first.certPem, first.keyPem);
  await eventually(() => entry(r)?.kubeseal_cert === first.certPem, { timeoutMs: 10_000, message: "first certificate reported" });
  assert.deepEqual(Object.keys(patches(r).at(-1)!.body), ["kubeseal_cert"]);
  assert.equal((entry(r)!.hosts as unknown[]).length, 1, "hosts untouched");

  // Rotation: a newer key (created in a later second, with a name that sorts first) becomes the one sealed with.
  const createdAt = Date.parse(s1.metadata.creationTimestamp!);
  await eventually(() => Date.now() >= createdAt + 1_100, { intervalMs: 50 });
  const second = await makeCertificate("second");
  await createKeySecret(client, SS_NS, "sealed-secrets-keyaaaaa", second.certPem, second.keyPem);
  await eventually(() => entry(r)?.kubeseal_cert === second.certPem, { timeoutMs: 10_000, message: "rotated certificate reported" });

  // A key that is no longer active is not published; the newest remaining active key is.
  await client.patch(Core.secrets, "sealed-secrets-keyaaaaa", SS_NS, { metadata: { labels: { "sealedsecrets.bitnami.com/sealed-secrets-key": "compromised" } } });
  await eventually(() => entry(r)?.kubeseal_cert === first.certPem, { timeoutMs: 10_000, message: "back to the remaining active key" });
});

test("with the centre down, Node changes are kept; after recovery the centre equals the edge and saw no stale state", async () => {
  const r = await startCentre();
  await Promise.all(["o-1", "o-2", "o-3"].map((n) => createNode(client, n)));
  const cert = await makeCertificate("outage");
  await createKeySecret(client, SS_NS, "sealed-secrets-keyooooo", cert.certPem, cert.keyPem);
  const sync = await startSync(r);
  await eventually(() => entry(r)?.kubeseal_cert === cert.certPem, { message: "initial certificate" });
  await centreMatchesEdge(r, "initial hosts");

  await r.standin.outage("configdb");
  const errorsBefore = (await sync.metrics.pushErrors.get()).values[0]?.value ?? 0;
  await createNode(client, "o-4", { labels: { "node-role.kubernetes.io/control-plane": "" } });
  await eventually(async () => ((await sync.metrics.pushErrors.get()).values[0]?.value ?? 0) > errorsBefore, { message: "a write failed while the centre was down" });
  await client.delete(Core.nodes, "o-2");
  await client.patch(Core.nodes, "o-1", undefined, { spec: { taints: [{ key: "factoryplus.app.amrc.co.uk/specialised", value: "plc", effect: "NoSchedule" }] } });
  await client.patch(Core.nodes, "o-3", undefined, { metadata: { labels: { "kubernetes.io/hostname": "o-3.site" } } });
  await eventually(async () => ((await sync.metrics.pushErrors.get()).values[0]?.value ?? 0) > errorsBefore + 2, { message: "retries continue with backoff" });
  const patchesBefore = patches(r).length;

  await r.standin.restore("configdb");
  await centreMatchesEdge(r, "after recovery the centre equals the edge");
  assert.equal(entry(r)?.kubeseal_cert, cert.certPem, "the certificate survived (never re-sent, never erased)");
  const sent = patches(r).slice(patchesBefore);
  assert.equal(sent.length, 1, "one write carried the latest state");
  assert.deepEqual(sent[0]!.body, { hosts: await edgeHosts() });
});

test("without read access to the key Secrets, the certificate is asked of the controller through the service proxy", async () => {
  // The restricted identity may watch Nodes and reach the controller's Service, but not read Secrets.
  const roles = [
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: "edge-sync-nodes" }, rules: [{ apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch"] }] },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: { name: "edge-sync-nodes" }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "edge-sync-nodes" }, subjects: [{ kind: "User", name: "edge-sync-restricted" }] },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "edge-sync-cert", namespace: SS_NS }, rules: [{ apiGroups: [""], resources: ["services", "services/proxy"], verbs: ["get"] }] },
    { apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name: "edge-sync-cert", namespace: SS_NS }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "edge-sync-cert" }, subjects: [{ kind: "User", name: "edge-sync-restricted" }] },
  ];
  const applied = await cp.kubectl(["apply", "-f", "-"], { input: roles.map((o) => JSON.stringify(o)).join("\n") });
  assert.equal(applied.code, 0, applied.stderr);
  stops.push(async () => { await cp.kubectl(["delete", "--ignore-not-found", "-f", "-"], { input: roles.map((o) => JSON.stringify(o)).join("\n") }); });

  const r = await startCentre();
  await createNode(client, "f-1");
  const cert = await makeCertificate("unreadable");
  await createKeySecret(client, SS_NS, "sealed-secrets-keyfffff", cert.certPem, cert.keyPem);
  const restricted = new k8s.KubeConfig();
  restricted.loadFromFile(cp.userKubeconfig("edge-sync-restricted"));
  const sync = await startSync(r, { kubeConfig: restricted });
  await centreMatchesEdge(r, "hosts are reported with the restricted identity");
  await eventually(() => sync.certificateMode === "controller", { message: "switched to the controller endpoint on 403" });
  // No controller runs here (no kubelet), so the proxy cannot answer: nothing is published, nothing erased.
  assert.equal(entry(r)?.kubeseal_cert, undefined);
});

test("the edge-sync command runs as a process: reports, serves /readyz and /metrics, exits 0 on SIGTERM", async () => {
  const r = await startCentre();
  await createNode(client, "proc-1", { labels: { "node-role.kubernetes.io/control-plane": "" } });
  const dir = mkdtempSync(join(tmpdir(), "graft-edge-sync-proc-"));
  stops.push(async () => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "token"), `${r.token}\n`);
  const healthPort = await freePort();
  const proc = startProcess(process.execPath, ["--import", "tsx", fileURLToPath(new URL("../../e2e/support/edge-sync/run-edge-sync.ts", import.meta.url)), "--debounce", "200ms"], {
    logFile: join(dir, "edge-sync.log"), cwd: fileURLToPath(new URL("../..", import.meta.url)),
    env: {
      PATH: process.env.PATH, CLUSTER_UUID: CLUSTER, CLUSTER_NAME: "proc", STATUS_URL: r.url, SYNC_TOKEN_FILE: join(dir, "token"),
      KUBECONFIG: cp.kubeconfigPath, HEALTH_ADDR: `127.0.0.1:${healthPort}`, SYNC_DEBOUNCE: "9s",
    },
  });
  stops.push(() => proc.stop());
  await centreMatchesEdge(r, "the process reported the hosts");
  assert.equal(hostNamed(r, "proc-1")?.control_plane, true);
  const ready = await eventually(async () => (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status === 200, { message: "/readyz" });
  assert.ok(ready);
  const metrics = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
  assert.match(metrics, /^graft_edge_sync_pushes_total 1$/m);
  assert.match(metrics, /^graft_edge_sync_hosts 1$/m);
  await proc.stop(10_000);
  assert.equal(proc.child.exitCode, 0, readFileSync(join(dir, "edge-sync.log"), "utf8"));
  const log = readFileSync(join(dir, "edge-sync.log"), "utf8");
  assert.doesNotMatch(log, new RegExp(r.token), "the token is never logged");
  assert.match(log, /"msg":"status sent"/);
});

test("the periodic resync sends the whole status again, repairing a centre that lost the entry", async () => {
  const r = await startCentre();
  await createNode(client, "rs-1");
  const cert = await makeCertificate("resync");
  await createKeySecret(client, SS_NS, "sealed-secrets-keyrrrrr", cert.certPem, cert.keyPem);
  await startSync(r, { resyncIntervalMs: 1_000 });
  await eventually(() => entry(r)?.kubeseal_cert === cert.certPem, { message: "initial report" });
  r.standin.configdb.delete(App.EdgeClusterStatus, CLUSTER);
  await eventually(() => entry(r)?.kubeseal_cert === cert.certPem && (entry(r)?.hosts as unknown[] | undefined)?.length === 1,
    { message: "the lost entry is back, both fields" });
  assert.deepEqual(Object.keys(patches(r).at(-1)!.body).sort(), ["hosts", "kubeseal_cert"]);
});

test("ACS mode as configured from the environment: ConfigDB found in the Directory, password logins at each", async () => {
  const r = await startCentre();
  await createNode(client, "acs-1");
  const config = resolveEdgeSyncConfig({}, {
    CLUSTER_UUID: CLUSTER, DIRECTORY_URL: r.standin.urls.directory, SERVICE_USERNAME: r.account.username, SERVICE_PASSWORD: r.account.password, REALM: r.standin.realm,
  });
  await startSync(r, { configDb: configDbClientFor(config) });
  await centreMatchesEdge(r, "reported through the Directory-found ConfigDB");
  assert.deepEqual([r.standin.logins("directory"), r.standin.logins("configdb") - 1], [1, 1],
    "one login at the Directory, one at the ConfigDB (besides the test's own token request)");
});

/** A kubeconfig for the edge API server that goes through a TCP proxy the test can freeze. */
async function throughProxy(target: string): Promise<{ proxy: TcpProxy; url: string }> {
  const u = new URL(target);
  const proxy = await startTcpProxy({ host: u.hostname, port: Number(u.port) });
  stops.push(() => proxy.close());
  return { proxy, url: `${u.protocol}//${u.hostname}:${proxy.port}` };
}

function kubeConfigVia(server: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(cp.kubeconfigPath);
  kc.loadFromOptions({ clusters: kc.clusters.map((c) => ({ ...c, server })), users: kc.users, contexts: kc.contexts, currentContext: kc.currentContext });
  return kc;
}

test("liveness: a Node watch that keeps resuming is progress; one whose connection silently dies is stuck", async () => {
  const r = await startCentre();
  await createNode(client, "live-1");
  const { proxy, url } = await throughProxy(cp.server);
  const stallAfterMs = 4_000;
  const sync = await startSync(r, { kubeConfig: kubeConfigVia(url), watchTimeoutSeconds: 1, stallAfterMs });
  const startedAt = Date.now();
  await centreMatchesEdge(r, "reported through the proxy");
  // Healthy even at a moment past the window measured from the start: the watch ended and was resumed since.
  await eventually(() => sync.stuckReasons(startedAt + stallAfterMs + 1_500).length === 0,
    { timeoutMs: 20_000, message: "the watch resumes after its server-side timeout" });
  proxy.freeze();
  const reasons = await eventually(() => {
    const now = sync.stuckReasons();
    return now.length > 0 ? now : undefined;
  }, { timeoutMs: 30_000, message: "the frozen watch is reported as stuck" });
  assert.match(reasons.join("; "), /the Node watch made no progress for \d+ s/);
  // Cut the frozen connection so the sync's stop does not wait for a request that never ends.
  await proxy.close();
});

test("liveness: a status write that never returns is stuck; a centre that refuses writes is not", async () => {
  const r = await startCentre();
  await createNode(client, "live-2");
  const stallAfterMs = 3_000;
  const refused = await startSync({ ...r, token: "a-token-the-centre-never-issued" }, { watchTimeoutSeconds: 1, stallAfterMs });
  await eventually(() => r.unauthorised() > 2, { message: "the refused writes are retried" });
  assert.deepEqual(refused.stuckReasons(Date.now() + stallAfterMs / 2), [], "retrying against a refusing centre is progress");
  await refused.stop();

  const centre = await startCentre();
  const { proxy, url } = await throughProxy(centre.url);
  const hung = await startSync(centre, {
    configDb: new ConfigDbClient({ service: new PresetUrl(url), auth: new StaticToken({ token: centre.token }), timeoutMs: 120_000 }),
    watchTimeoutSeconds: 1, stallAfterMs, debounceMs: 100,
  });
  await centreMatchesEdge(centre, "first report");
  proxy.freeze();
  await createNode(client, "live-3");
  const reasons = await eventually(() => {
    const now = hung.stuckReasons();
    return now.length > 0 ? now : undefined;
  }, { timeoutMs: 30_000, message: "the hanging write is reported as stuck" });
  assert.match(reasons.join("; "), /a status write has been running for \d+ s/);
  assert.doesNotMatch(reasons.join("; "), /Node watch/, "the watch still makes progress");
  await proxy.close();
});
