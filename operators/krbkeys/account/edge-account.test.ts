// krbkeys' spec.account against a real KDC, a real API server and the ACS stand-in holding exactly the grants ACS gives
// its edge roles (dumps/edge-*.yaml): krbkeys, logged in as op1krbkeys, creates op1sync's account, names it, puts it in
// the edge-sync role and maps the principal; edge-sync's password (from the Secret krbkeys wrote) then logs in and
// its status writes are accepted, other writes refused; deleting the key releases the account.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually } from "../../../e2e/harness/eventually.js";
import type { AcsStandin } from "../../../e2e/acs-standin/standin.js";
import { EdgeClass, EdgeRole } from "../../../e2e/acs-standin/edge-roles.js";
import { AcsPerm } from "../../../e2e/acs-standin/acs-uuids.js";
import { startKrbKeysAcsSite } from "../../../e2e/support/krbkeys/acs-site.js";
import { readyOf, startKrbKeysFixture, type KrbKeysFixture } from "../../../e2e/support/krbkeys/fixture.js";
import { ConfigDbClient } from "../../acs/configdb.js";
import { AcsHttpError } from "../../acs/errors.js";
import { ServiceClient } from "../../acs/service-client.js";
import { App, Class, RECONCILE_REQUESTED_ANNOTATION } from "../../api/constants.js";
import { ACCOUNT_CREATING_ANNOTATION, ACCOUNT_FINALIZER, ACCOUNT_UUID_ANNOTATION, KerberosKeyType, type KerberosKey } from "../../api/kerberoskey.js";

const CLUSTER_NAME = "test-site";
const GROUP_ID = `graft-${CLUSTER_NAME}`;
let f: KrbKeysFixture;
let standin: AcsStandin;
let dir: string;
let krbkeysAccount: string;
let CLUSTER: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "graft-krbkeys-acs-"));
  f = await startKrbKeysFixture("edge", {
    acs: async (kdc, operatorPrincipal) => {
      const site = await startKrbKeysAcsSite(kdc, operatorPrincipal, dir, CLUSTER_NAME);
      ({ standin, krbkeysAccount } = site);
      CLUSTER = site.cluster.uuid;
      return site.acs;
    },
  });
});
after(async () => {
  await f?.stop();
  await standin?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const readyWithAccount = (kk: KerberosKey) =>
  readyOf(kk)?.status === "True" && readyOf(kk)?.observedGeneration === kk.metadata.generation && kk.status?.account !== undefined;
const refusalsOf = (upn: string) => standin.acl.refusals.filter((r) => r.upn === upn);

async function deleteKey(name: string): Promise<void> {
  const r = await f.cp.kubectl(["delete", "-n", f.namespace, `kerberos-keys/${name}`, "--wait=false"]);
  assert.equal(r.code, 0, r.stderr);
  await eventually(async () => {
    const kk = await f.operator.client.getOrNull<KerberosKey>(KerberosKeyType, name, f.namespace);
    if (kk) throw new Error(`still there with finalizers ${JSON.stringify(kk.metadata.finalizers)}`);
    return true;
  }, { timeoutMs: 30_000, intervalMs: 100, message: `KerberosKey "${name}" is deleted` });
}

test("op1sync with an account: created under the edge krbkeys grants, in the edge-sync role, mapped; edge-sync's writes are then accepted; deletion releases it", async () => {
  const principal = `op1sync/${CLUSTER_NAME}@${f.kdc.realm}`;
  await f.applyKey("op1sync", {
    type: "Password", principal: `op1sync/${CLUSTER_NAME}`, secret: "edge-sync-credentials/password",
    account: { class: EdgeClass.EdgeService, name: `Edge sync: ${CLUSTER_NAME}`, groups: [EdgeRole.Sync] },
  });
  const kk = await f.waitForKey("op1sync", readyWithAccount, "Ready with its account set up");
  const account = kk.status!.account!.uuid;
  assert.equal(kk.metadata.annotations?.[ACCOUNT_UUID_ANNOTATION], account, "the account UUID is recorded as ACS's krbkeys records it");
  assert.ok(kk.metadata.finalizers?.includes(ACCOUNT_FINALIZER));
  assert.deepEqual(kk.status?.account, { uuid: account, groups: [EdgeRole.Sync] });

  const model = standin.configdb;
  assert.equal(model.classOf(account), EdgeClass.EdgeService);
  assert.equal(model.ownerOf(account), krbkeysAccount, "the account is krbkeys' own (created without choosing the UUID)");
  assert.deepEqual(model.get(App.GeneralInfo, account)?.value, { name: `Edge sync: ${CLUSTER_NAME}` });
  assert.ok(model.isMember(EdgeRole.Sync, account), "the account is in the edge-sync role");
  assert.equal(standin.auth.principalOf(principal), account, "the Kerberos name maps to the account");
  // The only request ACS refuses edge krbkeys is the Registration patch, which ACS's krbkeys makes and tolerates too.
  const operatorUpn = f.operatorPrincipal;
  assert.deepEqual([...new Set(refusalsOf(operatorUpn).map((r) => `${r.permission}/${r.target}`))], [`${AcsPerm.WriteConfig}/${App.Registration}`]);

  // edge-sync logs in with the password krbkeys set and stored, and acts with the edge-sync role's rights only.
  const password = Buffer.from((await f.getSecret("edge-sync-credentials"))!.data!.password!, "base64").toString("utf8");
  const asEdgeSync = new ConfigDbClient(new ServiceClient({ service: "configdb", baseUrl: standin.urls.configdb, credentials: { username: principal, password } }));
  await asEdgeSync.patchEntry(App.EdgeClusterStatus, CLUSTER, { hosts: [{ hostname: "edge-1" }] });
  assert.deepEqual(model.get(App.EdgeClusterStatus, CLUSTER)?.value, { hosts: [{ hostname: "edge-1" }] });
  await assert.rejects(asEdgeSync.putEntry(App.EdgeClusterConfiguration, CLUSTER, { name: "x", namespace: "y" }),
    (err) => err instanceof AcsHttpError && err.status === 403, "edge-sync may not write the cluster's configuration");

  await deleteKey("op1sync");
  assert.equal(standin.auth.principalOf(principal), undefined, "the Kerberos name no longer maps to the account");
  assert.ok(!model.isMember(EdgeRole.Sync, account), "the account left the edge-sync role");
  assert.equal(model.classOf(account), EdgeClass.EdgeService, "the object itself is kept");
  await assert.rejects(asEdgeSync.patchEntry(App.EdgeClusterStatus, CLUSTER, { hosts: [] }),
    (err) => err instanceof AcsHttpError && (err.status === 401 || err.status === 403), "edge-sync's writes are refused again");
});

test("op1monitor with a Sparkplug node: the address takes the cluster's group; a group dropped from the spec is left", async () => {
  await f.applyKey("op1monitor", {
    type: "Password", principal: `op1monitor/${CLUSTER_NAME}`, secret: "edge-monitor-credentials/password",
    account: { class: EdgeClass.EdgeService, name: `Edge monitor: ${CLUSTER_NAME}`, groups: [EdgeRole.Monitor], sparkplug: { node: "Monitor" } },
  });
  const kk = await f.waitForKey("op1monitor", readyWithAccount, "Ready with its account set up");
  const account = kk.status!.account!.uuid;
  assert.deepEqual(standin.configdb.get(App.SparkplugAddress, account)?.value, { group_id: GROUP_ID, node_id: "Monitor" });
  assert.ok(standin.configdb.isMember(EdgeRole.Monitor, account));

  await f.applyKey("op1monitor", {
    type: "Password", principal: `op1monitor/${CLUSTER_NAME}`, secret: "edge-monitor-credentials/password",
    account: { class: EdgeClass.EdgeService, name: `Edge monitor: ${CLUSTER_NAME}`, sparkplug: { node: "Monitor" } },
  });
  const dropped = await f.waitForKey("op1monitor", (k) => readyWithAccount(k) && k.status?.account?.groups === undefined, "the group is dropped");
  assert.equal(dropped.status?.account?.uuid, account, "the same account");
  assert.ok(!standin.configdb.isMember(EdgeRole.Monitor, account), "the account left the dropped group");
  await deleteKey("op1monitor");
  assert.equal(standin.configdb.get(App.SparkplugAddress, account), undefined, "the Sparkplug address is removed");
});

test("an account class edge krbkeys may not create in: Stalled, PermissionDenied naming CreateObject; deletion is not held up", async () => {
  await f.applyKey("svc-x", {
    type: "Password", principal: `svc-x/${CLUSTER_NAME}`, secret: "svc-x/password",
    account: { class: Class.EdgeCluster, groups: [EdgeRole.Sync] },
  });
  // A second pass (the key's new Secret is an event for it) may be between its mark and its refusal when the first
  // pass's Stalled is read: wait for a Stalled key with no mark, which a refusal that left its mark never reaches.
  const kk = await f.waitForKey("svc-x", (k) => (k.status?.conditions?.some((c) => c.type === "Stalled" && c.status === "True") ?? false)
    && k.metadata.annotations?.[ACCOUNT_CREATING_ANNOTATION] === undefined, "Stalled, with no creation left marked");
  const stalled = kk.status!.conditions!.find((c) => c.type === "Stalled")!;
  assert.equal(stalled.reason, "PermissionDenied");
  assert.match(stalled.message, /CreateObject on class Edge cluster/);
  assert.equal(readyOf(kk)?.status, "False");
  assert.equal(kk.metadata.annotations?.[ACCOUNT_UUID_ANNOTATION], undefined, "no account UUID was recorded");
  assert.equal(kk.metadata.annotations?.[ACCOUNT_CREATING_ANNOTATION], undefined, "the refused creation is not left marked in flight");
  await deleteKey("svc-x");
});

test("a second pass changes nothing (no second object); removing spec.account releases the account and the finalizer", async () => {
  const principal = `op1agent/${CLUSTER_NAME}@${f.kdc.realm}`;
  const spec = { type: "Password" as const, principal: `op1agent/${CLUSTER_NAME}`, secret: "op1agent/password" };
  await f.applyKey("op1agent", { ...spec, account: { class: EdgeClass.EdgeService, name: "agent", groups: [EdgeRole.Sync] } });
  const kk = await f.waitForKey("op1agent", readyWithAccount, "Ready with its account set up");
  const account = kk.status!.account!.uuid;
  const creations = () => standin.requests.filter((r) => r.service === "configdb" && r.method === "POST" && r.path === "/v2/object" && r.upn === f.operatorPrincipal).length;
  const created = creations();

  await f.annotate("op1agent", RECONCILE_REQUESTED_ANNOTATION, "again");
  const again = await f.waitForKey("op1agent", (k) => k.status?.lastHandledReconcileAt === "again" && readyWithAccount(k), "the requested pass is done");
  assert.equal(again.status?.account?.uuid, account);
  assert.equal(creations(), created, "no second account object");

  await f.applyKey("op1agent", spec);
  const released = await f.waitForKey("op1agent", (k) => readyOf(k)?.status === "True" && readyOf(k)?.observedGeneration === k.metadata.generation
    && k.status?.account === undefined, "the account released");
  assert.ok(!released.metadata.finalizers?.includes(ACCOUNT_FINALIZER), "the finalizer is gone with the account");
  assert.equal(standin.auth.principalOf(principal), undefined);
  assert.ok(!standin.configdb.isMember(EdgeRole.Sync, account));
  await deleteKey("op1agent");
});

test("an account named by UUID (made centrally) is used as it is: no object is created, the principal is mapped to it", async () => {
  const account = randomUUID();
  standin.configdb.register(account, EdgeClass.EdgeService, krbkeysAccount);
  await f.applyKey("op1central", { type: "Password", principal: `op1central/${CLUSTER_NAME}`, secret: "op1central/password", account: { uuid: account } });
  const kk = await f.waitForKey("op1central", readyWithAccount, "Ready with its account");
  assert.deepEqual(kk.status?.account, { uuid: account });
  assert.equal(standin.auth.principalOf(`op1central/${CLUSTER_NAME}@${f.kdc.realm}`), account);
  await deleteKey("op1central");
  assert.equal(standin.auth.principalOf(`op1central/${CLUSTER_NAME}@${f.kdc.realm}`), undefined);
});
