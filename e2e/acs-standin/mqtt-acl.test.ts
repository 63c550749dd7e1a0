// The stand-in's MQTT permissions (mqtt-acl.ts) enforced by a real Mosquitto: MQTT 5 clients logged in as ACS
// principals get PUBACK "not authorised" (0x87) wherever ACS's grants, memberships and Sparkplug addresses do not let
// them publish, and are delivered only what they may read; a change of the stand-in's data (a Sparkplug address, a
// group membership) reaches the broker without a restart.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";
import mqtt, { type MqttClient } from "mqtt";
import { App } from "../../operators/api/constants.js";
import { eventually } from "../harness/eventually.js";
import { atFileEnd } from "../support/api-server.js";
import { acsBrokerForFile, NOT_AUTHORISED, pubackReason } from "../support/edge-monitor/acs-broker.js";
import { EDGE_DUMPS, EdgeClass, EdgeRole } from "./edge-roles.js";
import { renderMqttAcl } from "./mqtt-acl.js";
import { startAcsStandin } from "./standin.js";

const standin = await startAcsStandin({ dumps: EDGE_DUMPS });
atFileEnd(() => standin.stop());
const { broker, acl } = await acsBrokerForFile(standin);

/** An account as krbkeys makes it: in a role group, with a Sparkplug address and a Kerberos name. */
function account(name: string, role: string, address?: { group_id: string; node_id: string }): { uuid: string; upn: string } {
  const uuid = randomUUID();
  const upn = `${name}/site@${standin.realm}`;
  standin.configdb.register(uuid, EdgeClass.EdgeService);
  assert.equal(standin.configdb.addMember(role, uuid), 204);
  if (address) assert.ok(standin.configdb.put(App.SparkplugAddress, uuid, address) < 300);
  assert.equal(standin.auth.setKerberos(uuid, upn), 204);
  return { uuid, upn };
}

async function client(username?: string, password = "x"): Promise<MqttClient> {
  const c = await mqtt.connectAsync(broker.url, { protocolVersion: 5, reconnectPeriod: 0, ...(username ? { username, password } : {}) });
  atFileEnd(() => c.endAsync(true));
  return c;
}

/**
 * Which of `topics` a client subscribed to everything is delivered, when the root principal publishes each of them
 * and then `sentinel` (a topic the client may read) on one connection: messages arrive in order, so once the sentinel
 * is in, anything not delivered before it never will be. Mosquitto accepts any SUBSCRIBE and filters what it delivers.
 */
async function delivered(c: MqttClient, topics: string[], sentinel: string): Promise<string[]> {
  const got: string[] = [];
  const onMessage = (topic: string) => got.push(topic);
  c.on("message", onMessage);
  try {
    await c.subscribeAsync(["spBv1.0/#", "STATE/#"], { qos: 1 });
    const root = await client(standin.adminUser.upn, standin.adminUser.password);
    for (const topic of [...topics, sentinel]) await root.publishAsync(topic, "x", { qos: 1 });
    await eventually(() => got.includes(sentinel), { timeoutMs: 15_000, message: `the client receives ${sentinel}` });
    return topics.filter((t) => got.includes(t));
  } finally {
    c.off("message", onMessage);
    await c.unsubscribeAsync(["spBv1.0/#", "STATE/#"]);
  }
}

test("a node account publishes only under its own Sparkplug address, and reads what its role may", async () => {
  await acl.settled();
  const agent = account("op1agent", EdgeRole.Agent, { group_id: "G1", node_id: "Agent" });
  await acl.settled();
  const c = await client(agent.upn);
  assert.equal(await pubackReason(c, "spBv1.0/G1/NBIRTH/Agent"), 0, "Participate as Node: its own NBIRTH");
  assert.equal(await pubackReason(c, "spBv1.0/G1/DDATA/Agent/dev1"), 0, "Represent Devices: its devices' data");
  assert.equal(await pubackReason(c, "spBv1.0/G1/NBIRTH/Other"), NOT_AUTHORISED, "another node's NBIRTH");
  assert.equal(await pubackReason(c, "spBv1.0/G2/NBIRTH/Agent"), NOT_AUTHORISED, "its node id in another group");
  assert.deepEqual(await delivered(c, ["spBv1.0/G1/NBIRTH/Other", "spBv1.0/G1/NCMD/Other", "STATE/host"], "spBv1.0/G1/NCMD/Agent"),
    ["STATE/host"], "its own NCMD and every STATE (Read all STATEs), nothing of other nodes: an edge agent is no Sparkplug reader");
});

test("the edge-monitor role reads the whole namespace; without a Sparkplug address it may publish nothing", async () => {
  const monitor = account("op1monitor", EdgeRole.Monitor);
  await acl.settled();
  const c = await client(monitor.upn);
  assert.deepEqual(await delivered(c, ["spBv1.0/G9/NBIRTH/Other", "spBv1.0/G9/DDATA/Other/d"], "spBv1.0/G1/NDATA/Else"),
    ["spBv1.0/G9/NBIRTH/Other", "spBv1.0/G9/DDATA/Other/d"], "Read whole Sparkplug namespace");
  assert.equal(await pubackReason(c, "spBv1.0/G1/NBIRTH/Monitor"), NOT_AUTHORISED, "no address: Participate as Node expands to nothing");

  assert.ok(standin.configdb.put(App.SparkplugAddress, monitor.uuid, { group_id: "G1", node_id: "Monitor" }) < 300);
  await acl.settled();
  await eventually(async () => await pubackReason(c, "spBv1.0/G1/NBIRTH/Monitor") === 0,
    { timeoutMs: 15_000, message: "the address reaches the running broker (SIGHUP), the open connection may publish" });
  assert.equal(await pubackReason(c, "spBv1.0/G1/NBIRTH/Other"), NOT_AUTHORISED);
});

test("an account in a role without MQTT grants (edge-sync), an unknown user and an anonymous client may do nothing", async () => {
  const loner = account("op1loner", EdgeRole.Sync, { group_id: "G1", node_id: "Loner" });
  await acl.settled();
  for (const c of [await client(loner.upn), await client(`nobody/site@${standin.realm}`), await client()]) {
    assert.equal(await pubackReason(c, "spBv1.0/G1/NBIRTH/Loner"), NOT_AUTHORISED);
    assert.equal(await pubackReason(c, "STATE/Loner"), NOT_AUTHORISED);
  }
  const rendered = renderMqttAcl(standin);
  assert.match(rendered, new RegExp(`^user ${loner.upn.replace(/[/.]/g, "\\$&")}\\n\\n`, "m"), "the loner's section is empty");
});

test("leaving the role group takes the rights away from an open connection", async () => {
  const agent = account("op1agent2", EdgeRole.Agent, { group_id: "G1", node_id: "Agent2" });
  await acl.settled();
  const c = await client(agent.upn);
  assert.equal(await pubackReason(c, "spBv1.0/G1/NDATA/Agent2"), 0);
  assert.equal(standin.configdb.removeMember(EdgeRole.Agent, agent.uuid), 204);
  await acl.settled();
  await eventually(async () => await pubackReason(c, "spBv1.0/G1/NDATA/Agent2") === NOT_AUTHORISED,
    { timeoutMs: 15_000, message: "the broker reloads the ACL without the grant" });
  assert.match(broker.log(), /Reloading config/, "the broker was told to reload");
});
