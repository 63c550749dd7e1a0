// The stand-in's Command Escalation checks permissions as ACS's does, with the edge roles' grants from the dumps: the
// edge monitor may ask any node for a rebirth and any edge agent for a config reload; edge-sync may do neither; a
// Rebirth grant on one node's object covers that node only.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { startAcsStandin, type AcsStandin } from "./standin.js";
import { EDGE_DUMPS, EdgeClass, EdgeRole } from "./edge-roles.js";
import { CommandPerm } from "./cmdesc-acl.js";
import { App } from "../../operators/api/constants.js";

let standin: AcsStandin;
before(async () => {
  standin = await startAcsStandin({ dumps: EDGE_DUMPS });
});
after(async () => standin?.stop());

function account(name: string, role?: string) {
  const password = randomBytes(9).toString("hex");
  const { upn } = standin.addUser(name, password);
  const uuid = randomUUID();
  standin.configdb.register(uuid, EdgeClass.EdgeService);
  if (role) standin.configdb.addMember(role, uuid);
  standin.auth.setKerberos(uuid, upn);
  return { uuid, basic: `Basic ${Buffer.from(`${upn}:${password}`).toString("base64")}` };
}

const send = (who: { basic: string }, path: string, name: string) => fetch(`${standin.urls.cmdesc}/v1/address/${path}`, {
  method: "POST", headers: { authorization: who.basic, "content-type": "application/json" },
  body: JSON.stringify({ name, type: "Boolean", value: true }),
}).then((r) => r.status);

test("rebirth and reload requests are allowed by the edge monitor's grants, refused to edge-sync and to a role-less account", async () => {
  const monitor = account("op1monitor/acl", EdgeRole.Monitor);
  const sync = account("op1sync/acl", EdgeRole.Sync);
  const nobody = account("nobody/acl");
  assert.equal(await send(monitor, "G1/Agent1", "Node Control/Rebirth"), 200);
  assert.equal(await send(monitor, "G1/Agent1", "Node Control/Reload Edge Agent Config"), 200);
  assert.equal(await send(monitor, "G1/Agent1", "Node Control/Next Server"), 403, "a command no permission defines");
  for (const who of [sync, nobody]) {
    assert.equal(await send(who, "G1/Agent1", "Node Control/Rebirth"), 403);
    assert.equal(await send(who, "G1/Agent1", "Node Control/Reload Edge Agent Config"), 403);
  }
  assert.equal(standin.commands.requests.length, 2, "only permitted requests are recorded");
  assert.equal(standin.commands.refused.length, 5);
});

test("a grant on one node's object covers that node's address only", async () => {
  const operator = account("operator/acl");
  const node = randomUUID();
  standin.configdb.register(node, EdgeClass.EdgeAgent);
  standin.configdb.put(App.SparkplugAddress, node, { group_id: "G2", node_id: "Agent2" });
  standin.auth.addGrant({ principal: operator.uuid, permission: CommandPerm.Rebirth, target: node, plural: false });
  assert.equal(await send(operator, "G2/Agent2", "Node Control/Rebirth"), 200);
  assert.equal(await send(operator, "G2/Agent3", "Node Control/Rebirth"), 403);
});
