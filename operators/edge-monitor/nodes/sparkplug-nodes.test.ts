// SparkplugNode monitoring with a real Mosquitto, a real API server and the ACS stand-in (ConfigDB for the node's
// Sparkplug address, Command Escalation recording requests), watched by the independent Sparkplug decoder: a
// monitored node gets a device (DBIRTH with ACS's schema and instance UUIDs); a silent node gets rebirth requests,
// then the Offline alert (DDATA) after 3 × interval; it clears when the node speaks; the status says so; deleting the
// resource ends the device (DDEATH). The broker enforces ACS's MQTT permissions (the stand-in's ACL): the monitor
// connects as its own account, whose Sparkplug address each test sets to its group; the test's nodes publish as root.
import { after, before, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { startControlPlane, type ControlPlane } from "../../../e2e/harness/control-plane.js";
import { eventually } from "../../../e2e/harness/eventually.js";
import type { Mosquitto } from "../../../e2e/harness/mosquitto.js";
import { startAcsBroker } from "../../../e2e/support/edge-monitor/acs-broker.js";
import { startAcsStandin, type AcsStandin } from "../../../e2e/acs-standin/standin.js";
import { EDGE_DUMPS, EdgeClass, EdgeRole } from "../../../e2e/acs-standin/edge-roles.js";
import type { SparkplugSubscriber } from "../../../e2e/support/edge-monitor/sparkplug-subscriber.js";
import { metricsByName } from "../../../e2e/support/edge-monitor/sparkplug-wire.js";
import { ConfigDbClient } from "../../acs/configdb.js";
import { ServiceClient } from "../../acs/service-client.js";
import { App, Class } from "../../api/constants.js";
import { SparkplugNodeType, type SparkplugNode } from "../../api/sparkplugnode.js";
import { Core } from "../../runtime/kube.js";
import { KubeClient } from "../../runtime/rest.js";
import { MemoryBdSeqStore } from "../bdseq-store.js";
import { resolveMonitorConfig } from "../config.js";
import { EdgeMonitor } from "../edge-monitor.js";
import { encodePayload } from "../payloads.js";
import { CommandEscalation } from "./command-escalation.js";
import { addressDeviceUuid, DEVICE_MONITOR_RELATION_UUID, EDGE_MONITOR_DEVICE_SCHEMA_UUID, monitorDeviceUuid, OFFLINE_ALERT_TYPE_UUID } from "./device-metrics.js";
import { SparkplugNodes } from "./sparkplug-nodes.js";
import { agentConfigFromConfigDb } from "./wiring.js";
import { SealedSecretType, type SealedSecret } from "./sealed-secrets.js";
import { NotifyClient } from "../../acs/notify.js";
import { silentLogger } from "../../runtime/logger.js";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const NS = "fplus-edge";
const CLUSTER = "6f1c2e9a-3b4d-4e5f-8a9b-0c1d2e3f4a5b";
let cp: ControlPlane;
let client: KubeClient;
let broker: Mosquitto;
let acsBroker: Awaited<ReturnType<typeof startAcsBroker>>;
let monitorAccountUuid: string;
let standin: AcsStandin;
let sub: SparkplugSubscriber;
let crdDir: string;
const SEALED_SECRETS_CHART = fileURLToPath(new URL("../../../config/edge-cluster/charts/sealed-secrets-2.19.3.tgz", import.meta.url));

before(async () => {
  [cp, standin] = await Promise.all([startControlPlane({ name: "spnodes" }), startAcsStandin({ dumps: EDGE_DUMPS })]);
  crdDir = mkdtempSync(join(tmpdir(), "graft-spnodes-"));
  acsBroker = await startAcsBroker(standin, crdDir);
  ({ broker, sub } = acsBroker);
  // The monitor works as its own account in ACS's edge-monitor role (dumps/edge-*.yaml), not as the stand-in's root.
  const account = randomUUID();
  monitorAccountUuid = account;
  standin.configdb.register(account, EdgeClass.EdgeService);
  standin.configdb.addMember(EdgeRole.Monitor, account);
  const { upn } = standin.addUser("op1monitor/site-a", monitorAccount.password);
  standin.auth.setKerberos(account, upn);
  monitorAccount.username = upn;
  await cp.installCrds();
  // The SealedSecret CRD of the Sealed Secrets chart the edge chart vendors (edge agents name SealedSecrets).
  execFileSync("tar", ["-xzf", SEALED_SECRETS_CHART, "-C", crdDir, "sealed-secrets/crds/bitnami.com_sealedsecrets.yaml"]);
  await cp.installCrds([join(crdDir, "sealed-secrets/crds/bitnami.com_sealedsecrets.yaml")]);
  client = new KubeClient(cp.kubeConfig);
  await client.create(Core.namespaces, { metadata: { name: NS } });
});
after(async () => {
  await acsBroker?.stop();
  await standin?.stop();
  await cp?.stop();
  if (crdDir) rmSync(crdDir, { recursive: true, force: true });
});

const monitorAccount = { username: "", password: randomBytes(12).toString("hex") };

function acsClient(service: "configdb" | "cmdesc"): ServiceClient {
  const { username, password } = monitorAccount;
  return new ServiceClient({ service, baseUrl: standin.urls[service], credentials: { username, password } });
}

/** A monitor for a fresh Sparkplug group, watching SparkplugNodes through the stand-in; stopped after the test. */
async function monitorFor(t: TestContext, nodeId: string, retry: { minRetryMs?: number; maxRetryMs?: number } = {}, reloadThrottleMs?: number) {
  const group = `acs-edge-${randomBytes(3).toString("hex")}`;
  // What krbkeys writes for op1monitor: the monitor may publish as <group>/Monitor only.
  standin.configdb.put(App.SparkplugAddress, monitorAccountUuid, { group_id: group, node_id: "Monitor" });
  await acsBroker.acl.settled();
  const nodeUuid = randomUUID();
  standin.configdb.register(nodeUuid, Class.EdgeAccount);
  standin.configdb.put(App.SparkplugAddress, nodeUuid, { group_id: group, node_id: nodeId });
  const config = resolveMonitorConfig({
    clusterUuid: CLUSTER, sparkplugGroup: group, mqttUrl: broker.url, mqttUsername: monitorAccount.username, bdseqStore: "memory", minRetryDelay: "50ms", maxRetryDelay: "250ms",
  }, {});
  const monitor = new EdgeMonitor({ config, bdSeqStore: new MemoryBdSeqStore() });
  const cdb = new ConfigDbClient(acsClient("configdb"));
  const nodes = new SparkplugNodes({
    client, namespace: NS, monitor, own: { group, node: "Monitor" },
    addressOf: async (uuid) => {
      const entry = await cdb.getEntry<{ group_id: string; node_id: string }>(App.SparkplugAddress, uuid);
      if (!entry) throw new Error(`no Sparkplug address for ${uuid}`);
      return { group: entry.value.group_id, node: entry.value.node_id };
    },
    commands: new CommandEscalation(acsClient("cmdesc")),
    ...(reloadThrottleMs !== undefined
      ? { agentConfig: { ...agentConfigFromConfigDb(cdb, new NotifyClient({ http: acsClient("configdb"), reconnect: { minMs: 50, maxMs: 300 } }), silentLogger), throttleMs: reloadThrottleMs } }
      : {}),
    ...retry,
  });
  t.after(async () => {
    await nodes.stop();
    await monitor.stop();
  });
  return { group, nodeUuid, monitor, nodes };
}

test("a silent node is asked to rebirth, goes Offline after 3 intervals, and is cleared when it speaks", async (t) => {
  const { group, nodeUuid, monitor, nodes } = await monitorFor(t, "Agent1", { minRetryMs: 100, maxRetryMs: 500 });
  const start = sub.mark();
  await monitor.start();
  nodes.start();
  await sub.waitFor("NBIRTH", (m) => m.topic === `spBv1.0/${group}/NBIRTH/Monitor`, { after: start });

  await client.create(SparkplugNodeType, { metadata: { name: "agent1", namespace: NS }, spec: { uuid: nodeUuid, interval: "1s" } } as SparkplugNode);
  const deviceTopic = (type: string) => `spBv1.0/${group}/${type}/Monitor/Agent1`;
  const birth = await sub.waitFor("DBIRTH", (m) => m.topic === deviceTopic("DBIRTH"), { after: start, timeoutMs: 15_000 });
  const metrics = metricsByName(birth.payload!);
  const device = monitorDeviceUuid(nodeUuid);
  assert.equal(metrics["Schema_UUID"]?.value, EDGE_MONITOR_DEVICE_SCHEMA_UUID);
  assert.equal(metrics["Instance_UUID"]?.value, device);
  assert.equal(metrics["Links/Node/Target"]?.value, nodeUuid);
  assert.equal(metrics["Links/Node/Relation"]?.value, DEVICE_MONITOR_RELATION_UUID);
  assert.equal(metrics["Alerts/Offline/Type"]?.value, OFFLINE_ALERT_TYPE_UUID);
  assert.equal(metrics["Alerts/Offline/Active"]?.value, false);
  assert.equal(metrics["Device Control/Rebirth"]?.value, false);

  // A host application asks for the device's rebirth: a new DBIRTH.
  const beforeDcmd = sub.mark();
  await sub.publishRaw(deviceTopic("DCMD"), encodePayload({ timestamp: Date.now(), metrics: [{ name: "Device Control/Rebirth", type: "Boolean", value: true }] }));
  await sub.waitFor("DBIRTH after DCMD", (m) => m.topic === deviceTopic("DBIRTH"), { after: beforeDcmd, timeoutMs: 10_000 });

  // Silent: rebirth requests at the Command Escalation service, repeated, then the Offline alert.
  await eventually(() => standin.commands.requests.filter((r) => r.group === group && r.node === "Agent1").length >= 2,
    { timeoutMs: 15_000, message: "two rebirth requests for the silent node" });
  const request = standin.commands.requests.find((r) => r.group === group)!;
  assert.deepEqual(request.command, { name: "Node Control/Rebirth", type: "Boolean", value: true });
  const raised = await sub.waitFor("DDATA offline", (m) => m.topic === deviceTopic("DDATA") && metricsByName(m.payload!)["Alerts/Offline/Active"]?.value === true,
    { after: start, timeoutMs: 15_000 });
  const raisedAt = Number(raised.payload!.timestamp);
  assert.ok(raisedAt > 0);
  const offlineStatus = await eventually(async () => {
    const st = (await client.get<SparkplugNode>(SparkplugNodeType, "agent1", NS)).status;
    return st?.offline === true ? st : undefined;
  }, { timeoutMs: 10_000, message: "status says offline" });
  const notReady = offlineStatus.conditions?.find((c) => c.type === "Ready");
  assert.equal(notReady?.status, "False");
  assert.equal(notReady?.reason, "Offline");
  assert.equal(offlineStatus.lastSeen, undefined, "nothing was ever seen");

  // The node speaks: the alert clears at once.
  const beforeSpeak = sub.mark();
  await sub.publishRaw(`spBv1.0/${group}/NDATA/Agent1`, encodePayload({ timestamp: Date.now(), seq: 1, metrics: [{ name: "x", type: "Int32", value: 1 }] }));
  await sub.waitFor("DDATA cleared", (m) => m.topic === deviceTopic("DDATA") && metricsByName(m.payload!)["Alerts/Offline/Active"]?.value === false,
    { after: beforeSpeak, timeoutMs: 10_000 });
  const status = await eventually(async () => {
    const s = (await client.get<SparkplugNode>(SparkplugNodeType, "agent1", NS)).status;
    return s?.offline === false ? s : undefined;
  }, { timeoutMs: 10_000, message: "status says online" });
  assert.equal(status.address, `${group}/Agent1`);
  assert.ok(status.rebirthRequests! >= 2);
  assert.ok(Date.parse(status.lastSeen!) >= raisedAt - 5_000);
  assert.equal(status.conditions?.find((c) => c.type === "Ready")?.reason, "Online");

  // A node whose UUID has no Sparkplug address says so in its status.
  await client.create(SparkplugNodeType, { metadata: { name: "unknown", namespace: NS }, spec: { uuid: randomUUID() } } as SparkplugNode);
  const failed = await eventually(async () => (await client.get<SparkplugNode>(SparkplugNodeType, "unknown", NS)).status?.conditions
    ?.find((c) => c.type === "MonitorFailed"), { timeoutMs: 10_000, message: "MonitorFailed for an unknown address" });
  assert.equal(failed.reason, "AddressUnknown");
  assert.match(failed.message, /no Sparkplug address/);

  // The resource goes: the device dies.
  const beforeDelete = sub.mark();
  await client.delete(SparkplugNodeType, "agent1", NS);
  await sub.waitFor("DDEATH", (m) => m.topic === deviceTopic("DDEATH"), { after: beforeDelete, timeoutMs: 10_000 });
});

test("an edge agent gets one rebirth request as soon as monitoring starts", async (t) => {
  const { group, nodeUuid, monitor, nodes } = await monitorFor(t, "Agent2");
  t.after(() => client.delete(SparkplugNodeType, "agent2", NS));
  await monitor.start();
  nodes.start();
  // An hour's interval: a request now can only be the start-up rebirth.
  await client.create(SparkplugNodeType, { metadata: { name: "agent2", namespace: NS }, spec: { uuid: nodeUuid, edgeAgent: true, interval: "1h" } } as SparkplugNode);
  await eventually(() => standin.commands.requests.some((r) => r.group === group && r.node === "Agent2"),
    { timeoutMs: 15_000, message: "start-up rebirth request" });
  assert.equal(standin.commands.requests.filter((r) => r.group === group).length, 1);
});

test("a node given only by its address gets a device with the Offline alert (no node links); a second node with the same node id waits for the device id", async (t) => {
  const { group, monitor, nodes } = await monitorFor(t, "Unused");
  const other = `acs-other-${randomBytes(3).toString("hex")}`;
  t.after(async () => {
    for (const name of ["by-address", "same-id"]) await client.delete(SparkplugNodeType, name, NS).catch(() => undefined);
  });
  const start = sub.mark();
  await monitor.start();
  nodes.start();
  await sub.waitFor("NBIRTH", (m) => m.topic === `spBv1.0/${group}/NBIRTH/Monitor`, { after: start });

  await client.create(SparkplugNodeType, { metadata: { name: "by-address", namespace: NS }, spec: { address: `${group}/Bridge1`, interval: "1s" } } as SparkplugNode);
  const deviceTopic = (type: string) => `spBv1.0/${group}/${type}/Monitor/Bridge1`;
  const birth = await sub.waitFor("DBIRTH", (m) => m.topic === deviceTopic("DBIRTH"), { after: start, timeoutMs: 15_000 });
  const metrics = metricsByName(birth.payload!);
  assert.equal(metrics["Schema_UUID"]?.value, EDGE_MONITOR_DEVICE_SCHEMA_UUID);
  assert.equal(metrics["Instance_UUID"]?.value, addressDeviceUuid(group, "Bridge1"));
  assert.equal(metrics["Alerts/Offline/Type"]?.value, OFFLINE_ALERT_TYPE_UUID);
  assert.equal(metrics["Alerts/Offline/Active"]?.value, false);
  assert.equal(metrics["Links/Node/Target"], undefined, "no node object to link to");
  await sub.waitFor("DDATA offline", (m) => m.topic === deviceTopic("DDATA") && metricsByName(m.payload!)["Alerts/Offline/Active"]?.value === true,
    { after: birth.index, timeoutMs: 15_000 });

  // Same node id in another group: monitored, but the device id is taken, and the status says so.
  await client.create(SparkplugNodeType, { metadata: { name: "same-id", namespace: NS }, spec: { address: `${other}/Bridge1`, interval: "1h" } } as SparkplugNode);
  const waiting = await eventually(async () => (await client.get<SparkplugNode>(SparkplugNodeType, "same-id", NS)).status?.conditions
    ?.find((c) => c.type === "Ready" && /already has device "Bridge1"/.test(c.message)), { timeoutMs: 10_000, message: "same-id says its device id is taken" });
  assert.equal(waiting.status, "True", "still monitored");

  // The first goes: the second gets the device id, born as its own device.
  const beforeDelete = sub.mark();
  await client.delete(SparkplugNodeType, "by-address", NS);
  await sub.waitFor("DDEATH", (m) => m.topic === deviceTopic("DDEATH"), { after: beforeDelete, timeoutMs: 10_000 });
  const second = await sub.waitFor("DBIRTH of same-id", (m) => m.topic === deviceTopic("DBIRTH"), { after: beforeDelete, timeoutMs: 10_000 });
  assert.equal(metricsByName(second.payload!)["Instance_UUID"]?.value, addressDeviceUuid(other, "Bridge1"));
});

test("an edge agent is asked to reload its config when it runs another revision than the ConfigDB's, and when its SealedSecret changes", async (t) => {
  const { group, nodeUuid, monitor, nodes } = await monitorFor(t, "Agent3", {}, 300);
  t.after(async () => {
    await client.delete(SparkplugNodeType, "agent3", NS).catch(() => undefined);
    await client.delete(SealedSecretType, "agent3-secrets", NS).catch(() => undefined);
  });
  standin.configdb.put(App.EdgeAgentConfig, nodeUuid, { deviceConnections: [] });
  const first = standin.configdb.get(App.EdgeAgentConfig, nodeUuid)!.etag;
  const reloads = () => standin.commands.requests.filter((r) => r.group === group && r.node === "Agent3" && r.command.name === "Node Control/Reload Edge Agent Config");
  const birth = (revision: string, seq = 0) => sub.publishRaw(`spBv1.0/${group}/NBIRTH/Agent3`, encodePayload({
    timestamp: Date.now(), seq, metrics: [{ name: "bdSeq", type: "UInt64", value: 0 }, { name: "Config_Revision", type: "UUID", value: revision, alias: 7 }],
  }));
  await monitor.start();
  nodes.start();
  await client.create(SparkplugNodeType, {
    metadata: { name: "agent3", namespace: NS }, spec: { uuid: nodeUuid, edgeAgent: true, interval: "1h", secrets: ["agent3-secrets"] },
  } as SparkplugNode);
  // The start-up rebirth, then the agent is born running the ConfigDB's revision: nothing to reload.
  await eventually(() => standin.commands.requests.some((r) => r.group === group && r.command.name === "Node Control/Rebirth"), { timeoutMs: 15_000, message: "start-up rebirth" });
  await birth(first);

  // The configuration changes centrally: one reload request.
  standin.configdb.put(App.EdgeAgentConfig, nodeUuid, { deviceConnections: [{ name: "PLC1" }] });
  const second = standin.configdb.get(App.EdgeAgentConfig, nodeUuid)!.etag;
  assert.notEqual(second, first);
  await eventually(() => reloads().length === 1, { timeoutMs: 15_000, message: "a reload request after the config changed" });
  assert.deepEqual(reloads()[0]!.command, { name: "Node Control/Reload Edge Agent Config", type: "Boolean", value: true });
  // The agent reloads and is born again with the new revision; an NDATA naming it by alias only agrees.
  await birth(second);
  await sub.publishRaw(`spBv1.0/${group}/NDATA/Agent3`, encodePayload({ timestamp: Date.now(), seq: 1, metrics: [{ alias: 7, type: "UUID", value: second }] }));

  // A SealedSecret the agent names is created and unsealed: one more reload request.
  const sealed = await client.create<SealedSecret>(SealedSecretType, {
    apiVersion: "bitnami.com/v1alpha1", kind: "SealedSecret", metadata: { name: "agent3-secrets", namespace: NS }, spec: { encryptedData: { password: "AgBy" } },
  } as SealedSecret);
  assert.equal(reloads().length, 1, "not before the controller has unsealed it");
  await client.patch(SealedSecretType, "agent3-secrets", NS, {
    status: { observedGeneration: sealed.metadata.generation, conditions: [{ type: "Synced", status: "True" }] },
  }, { subresource: "status" });
  await eventually(() => reloads().length === 2, { timeoutMs: 15_000, message: "a reload request after the SealedSecret was unsealed" });
  const status = await eventually(async () => {
    const st = (await client.get<SparkplugNode>(SparkplugNodeType, "agent3", NS)).status;
    return st?.configReloadRequests === 2 ? st : undefined;
  }, { timeoutMs: 10_000, message: "the status counts the reload requests" });
  assert.ok(status.lastConfigReloadRequest);
  assert.equal(reloads().length, 2, "the matching births asked for nothing");
});
