// The stand-in's permission model under the grants ACS gives its Cluster Manager role (dumps/cluster-manager.yaml,
// acs-contract.md §7), exercised over HTTP as graft's clients speak it: what the role may do, what it may not, and that
// grants are data (dumps loaded at start or later; a group's grants follow its members).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { AuthClient } from "../../operators/acs/auth.js";
import { ConfigDbClient } from "../../operators/acs/configdb.js";
import { AcsConnection } from "../../operators/acs/discovery.js";
import { AcsHttpError } from "../../operators/acs/errors.js";
import { App, Class, Perm } from "../../operators/api/constants.js";
import { AcsGroup, AcsPerm } from "./acs-uuids.js";
import { createClusterAsAdminUi, sparkplugSafeName } from "./admin-ui.js";
import { Meta } from "./configdb-model.js";
import { parseDump } from "./dumps.js";
import { startAcsStandin, type AcsStandin } from "./standin.js";
import WebSocket from "ws";
import { eventually } from "../harness/eventually.js";

let standin: AcsStandin;
let dir: string;
let admin: { cdb: ConfigDbClient; auth: AuthClient };
let cm: { cdb: ConfigDbClient; auth: AuthClient; principal: string; basic: string };
let fluxGroup: string;

function connect(username: string, password: string) {
  const acs = new AcsConnection({ credentials: { username, password }, urls: { configdb: standin.urls.configdb, auth: standin.urls.auth } });
  return { cdb: new ConfigDbClient(acs.service("configdb")), auth: new AuthClient(acs.service("auth")) };
}

/** A service account in the Cluster Manager role, as ACS's installer makes one. */
function roleMember(): { cdb: ConfigDbClient; auth: AuthClient; principal: string; basic: string } {
  const username = `sv1cm${randomBytes(3).toString("hex")}`;
  const password = randomBytes(12).toString("hex");
  const { upn } = standin.addUser(username, password);
  const principal = randomUUID();
  standin.configdb.register(principal, Class.EdgeAccount);
  standin.configdb.addMember(AcsGroup.ClusterManager, principal);
  standin.auth.setKerberos(principal, upn);
  return { ...connect(username, password), principal, basic: `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}` };
}

const status = (p: Promise<unknown>) => p.then(() => 200, (err: unknown) => (err instanceof AcsHttpError ? err.status : Promise.reject(err)));

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "graft-acl-"));
  standin = await startAcsStandin();
  admin = connect(standin.adminUser.username, standin.adminUser.password);
  cm = roleMember();
  fluxGroup = randomUUID();
  standin.configdb.register(fluxGroup, Meta.ClassClass);
  standin.configdb.addMember(AcsGroup.ClustersManaged, fluxGroup);
});
after(async () => {
  await standin?.stop();
  await rm(dir, { recursive: true, force: true });
});

test("objects: CreateObject on the EdgeService class only, never with a chosen UUID; no deletion, no Registration write", async () => {
  const created = await cm.cdb.createObject(Class.EdgeAccount);
  assert.equal(created.created, true);
  assert.equal(created.registration.owner, cm.principal, "the creator owns the object");
  assert.equal(await status(cm.cdb.createObject(Class.EdgeAccount, randomUUID())), 403, "CreateSpecificObject is not granted");
  assert.equal(await status(cm.cdb.createObject(Class.EdgeCluster)), 403, "no CreateObject on class Edge cluster");
  assert.equal(await status(cm.cdb.deleteObject(created.uuid)), 403, "no DeleteObject, not even on its own objects");
  assert.equal(await status(cm.cdb.patchEntry(App.Registration, created.uuid, { deleted: true })), 403, "no WriteConfig on Registration");
  assert.equal(await status(admin.cdb.patchEntry(App.Registration, created.uuid, { deleted: true })), 200, "the administrator may mark it deleted");
});

test("entries: ReadConfig and WriteConfig per application, exactly as listed", async () => {
  const { uuid } = await createClusterAsAdminUi(admin.cdb, { typed: "Edge Cluster 1" });
  assert.deepEqual((await cm.cdb.getEntry(App.EdgeClusterConfiguration, uuid))?.value, { name: "Edge_Cluster_1", namespace: "fplus-edge" });
  assert.ok((await cm.cdb.listObjects(App.EdgeClusterConfiguration)).includes(uuid));
  assert.equal(await status(cm.cdb.putEntry(App.EdgeClusterConfiguration, uuid, { name: "x", namespace: "y" })), 403);
  assert.equal(await status(cm.cdb.deleteEntry(App.EdgeClusterConfiguration, uuid)), 403);
  assert.equal(await status(cm.cdb.patchEntry(App.EdgeClusterStatus, uuid, { hosts: [] })), 403, "Edge cluster status is edge-sync's");
  for (const app of [App.GeneralInfo, App.EdgeClusterSetupStatus, App.GitRepoConfig, App.SparkplugAddress]) {
    assert.equal(await status(cm.cdb.putEntry(app, uuid, app === App.GitRepoConfig ? { path: "cluster/Edge_Cluster_1" } : { name: "n", ready: false, group_id: "g" })), 200, app);
  }
  assert.equal(await status(cm.cdb.getEntry(App.GitRepoConfig, uuid)), 403, "Git repository configuration is write-only for the role");
});

test("membership: WriteMembers on Clusters-managed groups plus WriteMemberships on its own objects or clusters; no reading", async () => {
  const mine = (await cm.cdb.createObject(Class.EdgeAccount)).uuid;
  const theirs = (await admin.cdb.createObject(Class.EdgeAccount)).uuid;
  const { uuid: cluster } = await createClusterAsAdminUi(admin.cdb, { typed: "line 2" });
  const otherGroup = randomUUID();
  standin.configdb.register(otherGroup, Meta.ClassClass);
  assert.equal(await status(cm.cdb.addClassMember(fluxGroup, mine)), 200);
  assert.equal(await status(cm.cdb.addClassMember(fluxGroup, cluster)), 200, "members of class Edge cluster");
  assert.equal(await status(cm.cdb.addClassMember(fluxGroup, theirs)), 403, "not its own object");
  assert.equal(await status(cm.cdb.addClassMember(otherGroup, mine)), 403, "not a Clusters-managed group");
  assert.equal(await status(cm.cdb.isClassMember(fluxGroup, mine)), 403, "no ReadMembers");
  assert.equal(await status(cm.cdb.removeClassMember(fluxGroup, mine)), 200);
});

test("Kerberos identities: ManageKerberos on anything, but no ReadKerberos", async () => {
  const account = (await cm.cdb.createObject(Class.EdgeAccount)).uuid;
  const name = `op1flux/${randomBytes(3).toString("hex")}@${standin.realm}`;
  assert.equal(await status(cm.auth.setKerberos(account, name)), 200);
  assert.equal(await status(cm.auth.setKerberos(account, name)), 200, "setting the same name again is fine");
  assert.equal(await status(cm.auth.setKerberos((await cm.cdb.createObject(Class.EdgeAccount)).uuid, name)), 409, "a name held elsewhere");
  assert.equal(await status(cm.auth.getKerberos(account)), 403);
  assert.equal(await status(cm.auth.findPrincipalByKerberos(name)), 403);
  assert.equal(await status(cm.auth.deleteKerberos(account)), 200);
});

test("grants: ManageACL for Git Pull only; grants cannot be searched without ReadACL on their permission", async () => {
  const account = (await cm.cdb.createObject(Class.EdgeAccount)).uuid;
  const { uuid: cluster } = await createClusterAsAdminUi(admin.cdb, { typed: "Grants" });
  const pull = await cm.auth.addGrant({ principal: account, permission: Perm.GitPull, target: cluster, plural: false });
  assert.equal(pull.created, true);
  const again = await cm.auth.addGrant({ principal: account, permission: Perm.GitPull, target: cluster, plural: false });
  assert.deepEqual(again, { uuid: pull.uuid, created: false }, "an identical grant answers with the first one's UUID");
  assert.equal(await status(cm.auth.addGrant({ principal: account, permission: Perm.GitPush, target: cluster, plural: false })), 403);
  assert.equal(await status(cm.auth.findGrants({ principal: account, permission: Perm.GitPull })), 403);
  assert.equal(await status(cm.auth.findGrants({ permission: Perm.ManageClusters })), 200, "ReadACL on the cluster-manager permissions");
  assert.equal(await status(cm.auth.deleteGrant(pull.uuid)), 200);
});

test("a group's grants follow its members; a dump loaded later adds grants", async () => {
  const outsider = roleMember();
  standin.configdb.removeMember(AcsGroup.ClusterManager, outsider.principal);
  assert.equal(await status(outsider.cdb.createObject(Class.EdgeAccount)), 403, "outside the role group");
  standin.configdb.addMember(AcsGroup.ClusterManager, outsider.principal);
  assert.equal(await status(outsider.cdb.createObject(Class.EdgeAccount)), 200, "inside it");

  assert.equal(await status(cm.cdb.createObject(Class.EdgeCluster, randomUUID())), 403);
  const file = path.join(dir, "extra.yaml");
  await writeFile(file, [
    "service: cab2642a-f7d9-42e5-8845-8f35affe1fd4", "version: 2", "grants:",
    `  ${AcsGroup.ClusterManager}:`, `    ${AcsPerm.CreateSpecificObject}:`, `      ${Class.EdgeCluster}: false`, "",
  ].join("\n"));
  standin.loadDump(file);
  assert.equal(await status(cm.cdb.createObject(Class.EdgeCluster, randomUUID())), 200);
});

test("dumps: a malformed grant table is refused by name, not loaded partly", () => {
  assert.throws(() => parseDump("service: cab2642a-f7d9-42e5-8845-8f35affe1fd4\nversion: 2\ngrants:\n  not-a-uuid: {}\n"), /not-a-uuid/);
  assert.throws(() => parseDump("service: af15f175-78a0-4e05-97c0-2a0bb82b9f3b\nversion: 1\n"), /version 2/);
  assert.throws(() => parseDump(`service: cab2642a-f7d9-42e5-8845-8f35affe1fd4\nversion: 2\ngrants:\n  ${AcsGroup.ClusterManager}:\n    ${AcsPerm.ReadACL}:\n      ${Class.EdgeCluster}: yes please\n`), /true or false/);
});

test("the stand-in counts every request per service and caller", async () => {
  const before = standin.requests.length;
  await cm.cdb.getEntry(App.EdgeClusterConfiguration, randomUUID());
  const seen = standin.requests.slice(before).filter((r) => r.service === "configdb" && r.method === "GET");
  assert.equal(seen.length, 1);
  assert.match(seen[0]!.upn ?? "", /^sv1cm/);
  assert.equal(seen[0]!.status, 404);
});

test("cluster names as the admin UI writes them (acs-contract §9)", () => {
  for (const [typed, name] of [["Edge Cluster 1", "Edge_Cluster_1"], ["a_b c", "A_b_C"], ["Line 3", "Line_3"], ["siteA", "Site_A"], ["site-a", "Sitea"]]) {
    assert.equal(sparkplugSafeName(typed!), name, typed);
  }
});

test("notify/v2: a WATCH or SEARCH needs ReadConfig on the application, checked for every update (ACS answers response 403)", async (t) => {
  const tokenRes = await fetch(`${standin.urls.configdb}/token`, { method: "POST", headers: { authorization: cm.basic } });
  assert.equal(tokenRes.status, 200);
  const { token } = (await tokenRes.json()) as { token: string };
  const ws = new WebSocket(`${standin.urls.configdb.replace("http:", "ws:")}/notify/v2`);
  t.after(() => ws.terminate());
  const frames: string[] = [];
  ws.on("message", (data) => frames.push(String(data)));
  await new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
  const next = (from: number) => eventually(() => frames[from], { timeoutMs: 5000, message: "expected a frame" });
  ws.send(`Bearer ${token}`);
  assert.equal(await next(0), "200");
  const ask = async (request: object) => {
    const from = frames.length;
    ws.send(JSON.stringify(request));
    return JSON.parse(await next(from)) as Record<string, unknown>;
  };

  const cluster = randomUUID();
  standin.configdb.register(cluster, Class.EdgeCluster);
  standin.configdb.put(App.EdgeClusterConfiguration, cluster, { name: "line_1", namespace: "fplus-edge" });
  const search = await ask({ uuid: randomUUID(), method: "SEARCH", parent: `v2/app/${App.EdgeClusterConfiguration}/object/` });
  assert.equal(search.status, 201);
  assert.deepEqual(search.response, { status: 204 }, "the role reads 'Edge cluster configuration'");
  assert.ok(Object.hasOwn(search.children as object, cluster));

  // 'Edge deployment' is edge-sync's, not the Cluster Manager's: refused, and the entry's body never sent.
  const deployments = "f2b9417a-ef7f-421f-b387-bb8183a48cdb";
  standin.configdb.register(deployments, Meta.AppClass);
  standin.configdb.put(deployments, cluster, { cluster, name: "agent", chart: randomUUID() });
  const watch = randomUUID();
  assert.deepEqual(await ask({ uuid: watch, method: "WATCH", request: { url: `v2/app/${deployments}/object/${cluster}` } }),
    { uuid: watch, status: 201, response: { status: 403 } });
  const refusedSearch = randomUUID();
  assert.deepEqual(await ask({ uuid: refusedSearch, method: "SEARCH", parent: `v2/app/${deployments}/object/` }),
    { uuid: refusedSearch, status: 201, response: { status: 403 } });

  // Grants are data: once granted, the next change arrives with its body.
  standin.auth.addGrant({ principal: AcsGroup.ClusterManager, permission: AcsPerm.ReadConfig, target: deployments, plural: false });
  const from = frames.length;
  standin.configdb.put(deployments, cluster, { cluster, name: "agent-2", chart: randomUUID() });
  const updates = await eventually(() => {
    const got = frames.slice(from).map((f) => JSON.parse(f) as { uuid: string; status: number; response?: { status: number; body?: { name?: string } } });
    return got.some((u) => u.uuid === watch) && got;
  }, { timeoutMs: 5000, message: "the WATCH update after the grant" });
  const update = updates.find((u) => u.uuid === watch)!;
  assert.equal(update.status, 200);
  assert.equal(update.response?.status, 200);
  assert.equal(update.response?.body?.name, "agent-2");
});
