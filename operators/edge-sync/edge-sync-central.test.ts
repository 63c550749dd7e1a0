// Two real API servers: the central one with cluster-manager, the edge one with edge-sync. What happens to Nodes
// and the Sealed Secrets key on the edge shows up in `kubectl get edgecluster -o yaml` centrally; heartbeats cause
// no report (counted at the endpoint); an outage of the centre loses nothing; wrong tokens and malformed bodies are
// refused and change nothing.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { startControlPlane, type ControlPlane } from "../../e2e/harness/control-plane.js";
import { eventually } from "../../e2e/harness/eventually.js";
import { App } from "../api/constants.js";
import { EdgeClusterType, type EdgeCluster } from "../api/edgecluster.js";
import { ClusterManager } from "../cluster-manager/cluster-manager.js";
import { defaultConfig } from "../cluster-manager/config.js";
import { credentialsSecretName, decodeCredentials, type SecretObject } from "../cluster-manager/credentials.js";
import { edgeClusterYaml, startManagerFixture, type ManagerFixture } from "../../e2e/support/cluster-manager/fixtures.js";
import { Core } from "../runtime/kube.js";
import { silentLogger } from "../runtime/logger.js";
import { KubeClient } from "../runtime/rest.js";
import { ConfigDbClient, PresetUrl, StaticToken } from "./configdb-client.js";
import { EdgeSync } from "./edge-sync.js";
import { hostList, type NodeObject } from "./hosts.js";
import { sameJson } from "./status-diff.js";
import { createKeySecret, createNode, heartbeat } from "../../e2e/support/edge-sync/edge-objects.js";
import { makeCertificate } from "../../e2e/support/edge-sync/openssl.js";

const NS = "edges";
const HEARTBEAT_SECONDS = Number(process.env.EDGE_SYNC_HEARTBEAT_SECONDS ?? 60);

let central: ManagerFixture;
let manager: ClusterManager;
let edge: ControlPlane;
let edgeClient: KubeClient;
let sync: EdgeSync;
let uuid: string;
let otherToken: string;
let tokenDir: string;

async function provision(name: string) {
  assert.equal((await central.cp.kubectl(["apply", "-f", "-"], { input: edgeClusterYaml(name, NS) })).code, 0);
  const w = await central.cp.kubectl(["wait", "-n", NS, `ec/${name}`, "--for=condition=Provisioned", "--timeout=90s"]);
  assert.equal(w.code, 0, w.stderr);
  const ec = await central.manager.client.get<EdgeCluster>(EdgeClusterType, name, NS);
  const secret = await central.manager.client.get<SecretObject>(Core.secrets, credentialsSecretName(ec.status!.uuid!), NS);
  return { uuid: ec.status!.uuid!, token: decodeCredentials(secret).syncToken };
}

before(async () => {
  [central, edge] = await Promise.all([startManagerFixture("central"), startControlPlane({ name: "edge" })]);
  manager = central.manager;
  edgeClient = new KubeClient(edge.kubeConfig);
  await central.cp.kubectl(["create", "namespace", NS]);
  await edgeClient.create(Core.namespaces, { metadata: { name: "sealed-secrets" } });
  const site = await provision("site-a");
  uuid = site.uuid;
  otherToken = (await provision("site-b")).token;
  // As on an edge cluster: the token arrives in a Secret, mounted as a file.
  tokenDir = mkdtempSync(join(tmpdir(), "graft-edge-sync-central-"));
  writeFileSync(join(tokenDir, "token"), `${site.token}\n`);
  sync = new EdgeSync({
    kubeConfig: edge.kubeConfig, clusterUuid: uuid,
    configDb: new ConfigDbClient({ service: new PresetUrl(central.externalUrl), auth: new StaticToken({ file: join(tokenDir, "token") }), timeoutMs: 5_000 }),
    sealedSecrets: { namespace: "sealed-secrets", controller: "sealed-secrets" },
    debounceMs: 500, minRetryMs: 200, maxRetryMs: 2_000, log: silentLogger,
  });
  await sync.start();
});

after(async () => {
  await sync?.stop();
  await manager?.stop();
  await Promise.all([central?.stop(), edge?.stop()]);
  if (tokenDir) rmSync(tokenDir, { recursive: true, force: true });
});

/** The EdgeCluster as `kubectl get edgecluster -o yaml` shows it on the central API server. */
async function centralStatus(): Promise<NonNullable<EdgeCluster["status"]>> {
  const r = await central.cp.kubectl(["get", "edgecluster", "-n", NS, "site-a", "-o", "yaml"]);
  assert.equal(r.code, 0, r.stderr);
  return (parse(r.stdout) as EdgeCluster).status ?? {};
}

const edgeHosts = async () => hostList((await edgeClient.list<NodeObject>(Core.nodes)).items);
const reports = async () => (await manager.reports.get()).values.reduce((n, v) => n + v.value, 0);

async function centreMatchesEdge(message: string) {
  await eventually(async () => {
    const [status, hosts] = await Promise.all([centralStatus(), edgeHosts()]);
    return sameJson(status.hosts, hosts) && status.hostCount === hosts.length;
  }, { timeoutMs: 20_000, message });
}

const centralHost = async (name: string) => (await centralStatus()).hosts?.find((h) => h.hostname === name);

test("Nodes created, relabelled (kubeadm's empty control-plane label), tainted and deleted on the edge appear centrally", async () => {
  await Promise.all([createNode(edgeClient, "edge-cp"), createNode(edgeClient, "edge-w1"), createNode(edgeClient, "edge-w2", { architecture: "arm64" })]);
  await centreMatchesEdge("new Nodes reported");
  const status = await centralStatus();
  assert.equal(status.conditions?.find((c) => c.type === "Bootstrapped")?.status, "True");

  await edgeClient.patch(Core.nodes, "edge-cp", undefined, { metadata: { labels: { "node-role.kubernetes.io/control-plane": "" } } });
  await eventually(async () => (await centralHost("edge-cp"))?.control_plane === true, { message: "control-plane label with empty value" });

  await edgeClient.patch(Core.nodes, "edge-w2", undefined, { spec: { taints: [{ key: "factoryplus.app.amrc.co.uk/specialised", value: "vision", effect: "NoSchedule" }] } });
  await eventually(async () => (await centralHost("edge-w2"))?.specialised === "vision", { message: "specialised taint" });

  await edgeClient.delete(Core.nodes, "edge-w1");
  await eventually(async () => !(await centralHost("edge-w1")), { message: "deleted Node gone" });
  await centreMatchesEdge("central hosts equal the edge Nodes");
});

test(`${HEARTBEAT_SECONDS} s of heartbeat-only Node updates: zero reports at the endpoint`, { timeout: (HEARTBEAT_SECONDS + 60) * 1000 }, async () => {
  await centreMatchesEdge("settled before the heartbeats");
  const before = await reports();
  const names = (await edgeClient.list<NodeObject>(Core.nodes)).items.map((n) => n.metadata.name);
  let changed = 0;
  const until = Date.now() + HEARTBEAT_SECONDS * 1000;
  while (Date.now() < until) {
    changed += (await Promise.all(names.map((n) => heartbeat(edgeClient, n)))).filter(Boolean).length;
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.ok(changed >= HEARTBEAT_SECONDS, `the heartbeats changed the Nodes (${changed} updates)`);
  // Give a (wrongly) triggered write time to arrive: one debounce window and a round trip.
  await new Promise((r) => setTimeout(r, 2_000));
  assert.equal(await reports(), before, `no report during ${changed} heartbeat updates`);
});

test("a new active sealed-secrets key reaches the central status within seconds", async () => {
  const before = await centralStatus();
  const { certPem, keyPem } = await makeCertificate("site-a");
  await createKeySecret(edgeClient, "sealed-secrets", "sealed-secrets-key7x2kq", certPem, keyPem);
  const status = await eventually(async () => {
    const s = await centralStatus();
    return s.kubesealCertificate?.pem === certPem && s;
  }, { timeoutMs: 10_000, message: "certificate in the central status" });
  assert.match(status.kubesealCertificate!.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.deepEqual(status.hosts, before.hosts, "the hosts were not touched");
});

test("central endpoint down while Nodes change: after recovery the central status equals the edge", async () => {
  await centreMatchesEdge("settled before the outage");
  const cert = (await centralStatus()).kubesealCertificate?.pem;
  const port = manager.port;
  await manager.stop();
  const errorsBefore = (await sync.metrics.pushErrors.get()).values[0]?.value ?? 0;

  await createNode(edgeClient, "edge-late", { labels: { "node-role.kubernetes.io/master": "" } });
  await eventually(async () => ((await sync.metrics.pushErrors.get()).values[0]?.value ?? 0) > errorsBefore, { message: "writes fail while the centre is down" });
  await edgeClient.delete(Core.nodes, "edge-w2");
  await edgeClient.patch(Core.nodes, "edge-cp", undefined, { spec: { taints: [{ key: "factoryplus.app.amrc.co.uk/specialised", value: "", effect: "NoExecute" }] } });

  manager = new ClusterManager({
    kubeConfig: central.cp.kubeConfig,
    config: defaultConfig({ dataDir: central.dataDir, externalUrl: central.externalUrl, organisationPrefix: "acme" }),
    log: silentLogger, listen: { host: "127.0.0.1", port }, concurrency: 2,
  });
  await manager.start();
  await centreMatchesEdge("after recovery the central status equals the edge");
  assert.equal((await centralHost("edge-late"))?.control_plane, true);
  assert.equal((await centralHost("edge-cp"))?.specialised, "");
  assert.equal((await centralStatus()).kubesealCertificate?.pem, cert, "the certificate is still there");
});

test("wrong and foreign tokens are refused, malformed bodies get 422, and none of them changes the status", async () => {
  const before = JSON.stringify((await centralStatus()).hosts);
  const url = `${central.externalUrl}/v2/app/${App.EdgeClusterStatus}/object/${uuid}`;
  const send = (token: string, body: string) =>
    fetch(url, { method: "PATCH", headers: { authorization: `Bearer ${token}`, "content-type": "application/merge-patch+json" }, body });
  const empty = JSON.stringify({ hosts: [] });
  assert.equal((await send("wrong-token", empty)).status, 401);
  assert.equal((await send(otherToken, empty)).status, 403);

  const wrongClient = new ConfigDbClient({ service: new PresetUrl(central.externalUrl), auth: new StaticToken({ token: otherToken }) });
  await assert.rejects(wrongClient.patchEntry(App.EdgeClusterStatus, uuid, { hosts: [] }), /HTTP 403/);

  const token = readFileSync(join(tokenDir, "token"), "utf8").trim();
  for (const body of ["{not json", JSON.stringify({ hosts: [{ hostname: "no-other-fields" }] }), JSON.stringify({ kubeseal_cert: "not a certificate" })]) {
    assert.equal((await send(token, body)).status, 422, body);
  }
  assert.equal(JSON.stringify((await centralStatus()).hosts), before);
});
