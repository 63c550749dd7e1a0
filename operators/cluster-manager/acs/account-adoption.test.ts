// Finding an account a crash left, as the cluster manager's own account against the stand-in (which enforces ACS's
// grants): refused to look under ACS's Cluster Manager grants alone; with config/acs/cluster-manager-adopt.yaml it
// finds exactly the unnamed account it owns that no setup status mentions, never an account someone else owns, a
// named one or a recorded one.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { AuthClient } from "../../acs/auth.js";
import { ConfigDbClient } from "../../acs/configdb.js";
import { AcsConnection } from "../../acs/discovery.js";
import { App, Class } from "../../api/constants.js";
import { startAcsWorld, type AcsWorld } from "../../../e2e/support/cluster-manager/acs-world.js";
import { AccountAdoption } from "./account-adoption.js";

const ADOPT_DUMP = fileURLToPath(new URL("../../../config/acs/cluster-manager-adopt.yaml", import.meta.url));
let world: AcsWorld;
let cdb: ConfigDbClient;
let adoption: AccountAdoption;

before(async () => {
  world = await startAcsWorld();
  const manager = new AcsConnection({ credentials: world.settings("x").credentials, urls: { directory: world.standin.urls.directory } });
  cdb = new ConfigDbClient(manager.service("configdb"));
  adoption = new AccountAdoption(cdb, new AuthClient(manager.service("auth")));
});

after(async () => {
  await world?.stop();
});

test("under ACS's Cluster Manager grants alone the manager may not look, and is told which right it lacks", async () => {
  await cdb.createObject(Class.EdgeAccount);
  assert.deepEqual(await adoption.adoption(() => adoption.findOrphan()),
    { kind: "cannot-look", missing: `ReadMembers on class EdgeService (${Class.EdgeAccount})` });
});

test("with the adoption dump it finds the one unnamed, unrecorded account it owns", async () => {
  world.standin.loadDump(ADOPT_DUMP);
  const model = world.standin.configdb;
  for (const uuid of model.membersOf(Class.EdgeAccount) ?? []) model.put(App.GeneralInfo, uuid, { name: "earlier" });
  assert.deepEqual(await adoption.adoption(() => adoption.findOrphan()), { kind: "none" }, "every account it owns is named");

  const named = (await cdb.createObject(Class.EdgeAccount)).uuid;
  await cdb.putEntry(App.GeneralInfo, named, { name: "Edge flux: line-1" });
  const recorded = (await cdb.createObject(Class.EdgeAccount)).uuid;
  const cluster = (await world.cdb.createObject(Class.EdgeCluster)).uuid;
  await cdb.putEntry(App.EdgeClusterSetupStatus, cluster, { ready: false, krbkeys: { uuid: recorded } });
  const othersAccount = (await world.cdb.createObject(Class.EdgeAccount)).uuid;
  assert.notEqual(model.ownerOf(othersAccount), model.ownerOf(named), "the admin's account has another owner");
  assert.deepEqual(await adoption.adoption(() => adoption.findOrphan()), { kind: "none" }, "named, recorded and others' accounts are not taken");

  const left = (await cdb.createObject(Class.EdgeAccount)).uuid;
  assert.deepEqual(await adoption.adoption(() => adoption.findOrphan()), { kind: "found", uuid: left });
});

test("an adoption waits for creations in flight, and holds new ones back until it is done", async () => {
  const order: string[] = [];
  let finishCreation!: () => void;
  const creation = adoption.creation(async () => {
    order.push("creation started");
    await new Promise<void>((resolve) => { finishCreation = resolve; });
    order.push("creation done");
  });
  const adopting = adoption.adoption(async () => { order.push("adoption"); });
  const later = adoption.creation(async () => { order.push("later creation"); });
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, ["creation started"]);
  finishCreation();
  await Promise.all([creation, adopting, later]);
  assert.deepEqual(order, ["creation started", "creation done", "adoption", "later creation"]);
});
