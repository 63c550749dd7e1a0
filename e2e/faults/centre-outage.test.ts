// The centre unreachable from the edge while the edge keeps changing: first the central API server is down (the
// cluster-manager answers 500, the edge retries with capped backoff), then the cluster-manager process crashes and
// comes back later. Each time, once the centre is back, its EdgeCluster status equals the edge's latest host list.
// The outage is a few seconds against a 1 s backoff cap: a longer outage at the default 2 min cap behaves the same.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startControlPlane, type ControlPlane } from "../harness/control-plane.js";
import { eventually } from "../harness/eventually.js";
import { EdgeClusterType, type EdgeCluster } from "../../operators/api/edgecluster.js";
import { credentialsSecretName, decodeCredentials, type SecretObject } from "../../operators/cluster-manager/credentials.js";
import { ConfigDbClient, PresetUrl, StaticToken } from "../../operators/edge-sync/configdb-client.js";
import { EdgeSync } from "../../operators/edge-sync/edge-sync.js";
import { hostList, SPECIALISED_TAINT, type NodeObject } from "../../operators/edge-sync/hosts.js";
import { sameJson } from "../../operators/edge-sync/status-diff.js";
import { createNode } from "../support/edge-sync/edge-objects.js";
import { Core } from "../../operators/runtime/kube.js";
import { silentLogger } from "../../operators/runtime/logger.js";
import { KubeClient } from "../../operators/runtime/rest.js";
import { applyEdgeClusters, waitProvisioned } from "../bench/edge-clusters.js";
import { startManagerProcess, type ManagerProcess } from "../bench/manager-process.js";

const NS = "outage";
let central: ControlPlane;
let edge: ControlPlane;
let centralClient: KubeClient;
let edgeClient: KubeClient;
let manager: ManagerProcess;
let sync: EdgeSync;
let work: string;

const startManager = (port?: number) => startManagerProcess({
  kubeconfigPath: central.kubeconfigPath, namespace: NS, dataDir: join(work, "data"), logFile: join(work, "manager.log"), logLevel: "warn", port,
});

before(async () => {
  [central, edge] = await Promise.all([startControlPlane({ name: "outage-central" }), startControlPlane({ name: "outage-edge" })]);
  await central.installCrds();
  centralClient = new KubeClient(central.kubeConfig);
  edgeClient = new KubeClient(edge.kubeConfig);
  await centralClient.create(Core.namespaces, { metadata: { name: NS } });
  work = mkdtempSync(join(tmpdir(), "graft-faults-outage-"));
  manager = await startManager();
  await applyEdgeClusters(centralClient, NS, ["plant"]);
  const ec = (await waitProvisioned(centralClient, NS, ["plant"])).get("plant")!;
  const creds = decodeCredentials(await centralClient.get<SecretObject>(Core.secrets, credentialsSecretName(ec.status!.uuid!), NS));
  for (const name of ["n1", "n2", "n3"]) await createNode(edgeClient, name);
  sync = new EdgeSync({
    kubeConfig: edge.kubeConfig, clusterUuid: ec.status!.uuid!,
    configDb: new ConfigDbClient({ service: new PresetUrl(manager.url), auth: new StaticToken({ token: creds.syncToken }), timeoutMs: 3_000 }),
    sealedSecrets: { namespace: "sealed-secrets", controller: "sealed-secrets" },
    debounceMs: 300, minRetryMs: 200, maxRetryMs: 1_000, resyncIntervalMs: 0, log: silentLogger,
  });
  await sync.start();
});

after(async () => {
  await sync?.stop();
  await manager?.stop();
  await Promise.all([central?.stop(), edge?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

const pushErrors = async () => (await sync.metrics.pushErrors.get()).values[0]?.value ?? 0;

async function centreMatchesEdge(message: string) {
  await eventually(async () => {
    const [ec, nodes] = await Promise.all([
      centralClient.get<EdgeCluster>(EdgeClusterType, "plant", NS), edgeClient.list<NodeObject>(Core.nodes),
    ]);
    return sameJson(ec.status?.hosts, hostList(nodes.items));
  }, { timeoutMs: 30_000, message });
}

/** Changes on the edge, one every 300 ms: new Nodes, a deleted one, and one Node's taint value changed repeatedly. */
async function changeTheEdge(round: string) {
  await createNode(edgeClient, `${round}-new-1`);
  await edgeClient.delete(Core.nodes, "n3").catch(() => undefined);
  for (let i = 0; i < 8; i++) {
    await edgeClient.patch(Core.nodes, "n1", undefined, { spec: { taints: [{ key: SPECIALISED_TAINT, value: `${round}-${i}`, effect: "NoSchedule" }] } });
    await new Promise((r) => setTimeout(r, 300));
  }
  await createNode(edgeClient, `${round}-new-2`, { labels: { "node-role.kubernetes.io/control-plane": "" } });
}

test("central API server down: the edge keeps retrying, and the centre ends with the edge's latest state", async () => {
  await centreMatchesEdge("settled before the outage");
  await central.stopApiServer();
  const errors = await pushErrors();
  try {
    await changeTheEdge("api");
    await eventually(async () => (await pushErrors()) >= errors + 3, { message: "several writes failed while the API server was down" });
  } finally {
    await central.startApiServer();
  }
  await centreMatchesEdge("after the API server is back the central status equals the edge");
  const n1 = (await centralClient.get<EdgeCluster>(EdgeClusterType, "plant", NS)).status?.hosts?.find((h) => h.hostname === "n1");
  assert.equal(n1?.specialised, "api-7", "the latest value, not an intermediate one");
});

test("cluster-manager crashed: after it restarts on the same address the centre ends with the edge's latest state", async () => {
  await centreMatchesEdge("settled before the crash");
  const port = manager.port;
  await manager.proc.kill();
  const errors = await pushErrors();
  await changeTheEdge("crash");
  await eventually(async () => (await pushErrors()) >= errors + 3, { message: "several writes failed while the manager was down" });
  manager = await startManager(port);
  await centreMatchesEdge("after the restart the central status equals the edge");
  const ec = await centralClient.get<EdgeCluster>(EdgeClusterType, "plant", NS);
  assert.equal(ec.status?.hosts?.find((h) => h.hostname === "n1")?.specialised, "crash-7");
  assert.equal(ec.status?.hosts?.find((h) => h.hostname === "crash-new-2")?.control_plane, true);
});
