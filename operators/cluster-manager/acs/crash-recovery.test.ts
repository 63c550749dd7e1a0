// ACS mode under ACS's own Cluster Manager grants (the stand-in enforces them): kill -9 of `graft cluster-manager
// --mode acs` right after each ACS setup step, then a restart. The cluster ends Ready with exactly one account per
// role, one Kerberos identity each, one Git Pull grant and one commit on the ACS Git server, and no account left over
// anywhere (an account's UUID is recorded the moment the ConfigDB returns it; one made just before a crash is found
// and adopted when the manager may look, config/acs/cluster-manager-adopt.yaml). A crash in the middle of teardown
// resumes too and leaves nothing the role could remove. The kubectl → ConfigDB points run last, after the extra
// grants of config/acs/cluster-manager-kubectl.yaml are loaded, as an administrator would.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ControlPlane } from "../../../e2e/harness/control-plane.js";
import { eventually } from "../../../e2e/harness/eventually.js";
import { freePort } from "../../../e2e/harness/ports.js";
import { startProcess } from "../../../e2e/harness/process.js";
import { Class, Perm } from "../../api/constants.js";
import { EdgeClusterType, type EdgeCluster } from "../../api/edgecluster.js";
import type { KubeClient } from "../../runtime/rest.js";
import { AcsCrashPoint, CrashPoint, type CrashPointName } from "../crash-points.js";
import { edgeClusterYaml, gitClient } from "../../../e2e/support/cluster-manager/fixtures.js";
import { acsTraces, createClusterInConfigDb, KUBECTL_DIRECTION_DUMP, startAcsWorld, type AcsWorld } from "../../../e2e/support/cluster-manager/acs-world.js";
import { App } from "../../api/constants.js";
import { startApiServer } from "../../../e2e/support/api-server.js";

const cli = fileURLToPath(new URL("../../cli/main.ts", import.meta.url));
const NS = "acs-crash";
let cp: ControlPlane;
let world: AcsWorld;
let client: KubeClient;
let dataDir: string;
let port: number;
/** Clusters set up so far: every one of them has exactly two accounts. */
let clusters = 0;
/** Accounts a teardown under ACS's grants had to leave (the role has no DeleteObject). */
let leftAccounts = 0;
/** Accounts a crash left that the manager could not look for (ACS's grants alone). */
let orphans = 0;
const ADOPT_DUMP = fileURLToPath(new URL("../../../config/acs/cluster-manager-adopt.yaml", import.meta.url));

before(async () => {
  [{ cp, client }, world] = await Promise.all([startApiServer({ name: "acs-crash", namespace: NS, crds: true }), startAcsWorld()]);
  dataDir = mkdtempSync(join(tmpdir(), "graft-acs-crash-"));
  port = await freePort();
});

after(async () => {
  await world?.stop();
  await cp?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function manager(crashAt?: CrashPointName) {
  return startProcess(process.execPath, [
    "--import", "tsx", cli, "cluster-manager", `--kubeconfig=${cp.kubeconfigPath}`, `--namespace=${NS}`,
    `--data-dir=${join(dataDir, "data")}`, `--external-url=http://127.0.0.1:${port}`, `--listen-address=127.0.0.1:${port}`,
    "--health-addr=127.0.0.1:0", "--organisation-prefix=acme", "--log-level=warn",
  ], {
    logFile: join(dataDir, "manager.log"),
    env: { ...process.env, ...world.env(NS), GRAFT_CRASH_AT: crashAt ?? "" },
  });
}

async function crashes(crashAt: CrashPointName, act: () => Promise<void>) {
  const crashing = manager(crashAt);
  try {
    await act();
    const code = await Promise.race([crashing.exited, new Promise((r) => setTimeout(() => r("alive"), 60_000).unref())]);
    assert.notEqual(code, "alive", `the manager reached crash point ${crashAt}`);
  } finally {
    await crashing.kill();
  }
}

const uuidOf = (ec: EdgeCluster) => ec.status?.uuid ?? ec.spec.uuid;
const clustersWith = async (uuid: string) => (await client.list<EdgeCluster>(EdgeClusterType, NS)).items.filter((ec) => uuidOf(ec) === uuid);

function assertNoDuplicates(uuid: string, name: string) {
  const t = acsTraces(world, uuid, name);
  assert.equal(t.setup?.ready, true, "setup status ready");
  assert.deepEqual(t.accounts.flux, [t.setup!.flux!.uuid], "one flux account");
  assert.deepEqual(t.accounts.krbkeys, [t.setup!.krbkeys!.uuid], "one krbkeys account");
  assert.deepEqual(t.principals, { flux: t.setup!.flux!.uuid, krbkeys: t.setup!.krbkeys!.uuid }, "one Kerberos identity each");
  assert.deepEqual(t.grantsOn.map((g) => [g.principal, g.permission]), [[t.setup!.flux!.uuid, Perm.GitPull]], "one Git Pull grant");
  assert.equal(world.standin.configdb.membersOf(Class.EdgeAccount)!.length, 2 * clusters + leftAccounts + orphans, "no orphaned account anywhere");
  assert.ok(t.config && t.sparkplug && t.repoConfig, "configuration, Sparkplug address and repository entries written");
}

// Points on the kubectl path register the cluster in the ConfigDB (extra grants); the others are exercised by clusters
// created in the ConfigDB as the admin UI does, under ACS's grants alone.
const kubectlPath = new Set<CrashPointName>([AcsCrashPoint.AfterObject, AcsCrashPoint.AfterEntry]);
const setupPoints: CrashPointName[] = [CrashPoint.AfterIdentity,
  ...Object.values(AcsCrashPoint).filter((p) => p !== AcsCrashPoint.TeardownAfterAccount && !kubectlPath.has(p))];

/** Events of one reason on the EdgeCluster of a cluster name, as kubectl shows them. */
async function eventsOn(name: string, reason: string): Promise<Array<{ type: string; message: string }>> {
  const r = await cp.kubectl(["get", "events", "-n", NS, "--field-selector", `reason=${reason}`, "-o", "json"]);
  const items = (JSON.parse(r.stdout) as { items: Array<{ type: string; message: string; involvedObject: { name: string } }> }).items;
  return items.filter((e) => e.involvedObject.name === name);
}

function crashTest(point: CrashPointName, variant?: { title: string; name: string; orphans?: number; after: (name: string) => Promise<void> }) {
  const title = variant?.title ?? `crash at ${point}, restart → Ready without duplicate accounts or grants${kubectlPath.has(point) ? " (kubectl, extra grants loaded)" : ""}`;
  test(title, async () => {
    const name = variant?.name ?? point.replace(/^acs-after-/, "a-").replace(/[^a-z-]/g, "").slice(0, 40);
    let uuid: string | undefined;
    clusters++;
    await crashes(point, async () => {
      if (kubectlPath.has(point)) {
        const r = await cp.kubectl(["apply", "-f", "-"], { input: edgeClusterYaml(name, NS) });
        assert.equal(r.code, 0, r.stderr);
      } else {
        uuid = await createClusterInConfigDb(world, { name, namespace: "fplus-edge" });
      }
    });
    const healthy = manager();
    try {
      const ec = await eventually(async () => {
        const e = (await client.list<EdgeCluster>(EdgeClusterType, NS)).items.find((o) => (o.spec.name ?? o.metadata.name) === name);
        return e?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") && e.status.observedGeneration === e.metadata.generation && e;
      }, { timeoutMs: 60_000, message: `${name} Ready after restart` });
      uuid ??= ec.status!.uuid!;
      orphans += variant?.orphans ?? 0;
      assert.equal(ec.status!.uuid, uuid);
      assert.equal((await clustersWith(uuid)).length, 1, "one EdgeCluster");
      assertNoDuplicates(uuid, name);
      const { stdout } = await gitClient(["--git-dir", world.standin.gitRepoPath(uuid), "rev-list", "--count", "main"]);
      assert.equal(stdout.trim(), "1", "one commit on the ACS Git server");
      await variant?.after(ec.metadata.name!);
    } finally {
      await healthy.stop();
    }
  });
}

for (const point of setupPoints.filter((p) => p !== AcsCrashPoint.AfterAccountCreated)) crashTest(point);

// The ConfigDB made the flux account and the manager died before recording its UUID. Under ACS's grants alone the
// role cannot look for it: the restart says so and makes another (the one object this file allows to be left over).
crashTest(AcsCrashPoint.AfterAccountCreated, {
  title: `crash at ${AcsCrashPoint.AfterAccountCreated} under ACS's grants alone → Ready with one named account per role; a Warning says the left account cannot be looked for and which rights would`,
  name: "created-no-look",
  orphans: 1,
  after: async (name) => {
    const warnings = await eventsOn(name, "AccountMayBeOrphaned");
    assert.equal(warnings.length, 1, "one Warning Event");
    assert.equal(warnings[0]!.type, "Warning");
    assert.match(warnings[0]!.message, /ReadMembers on class EdgeService/);
    assert.match(warnings[0]!.message, /config\/acs\/cluster-manager-adopt\.yaml/);
  },
});

test(`crash at ${AcsCrashPoint.TeardownAfterAccount}, restart → the deletion completes; only what the role may not remove is left`, async () => {
  const name = "teardown";
  // Another cluster keeps the ConfigDB's list from going empty (the empty-list guard would hold the deletion).
  await createClusterInConfigDb(world, { name: "bystander", namespace: "fplus-edge" });
  const uuid = await createClusterInConfigDb(world, { name, namespace: "fplus-edge" });
  clusters += 2;
  const first = manager();
  let accounts: string[];
  try {
    await eventually(async () => acsTraces(world, uuid, name).setup?.ready, { timeoutMs: 60_000, message: "set up" });
    accounts = Object.values(acsTraces(world, uuid, name).accounts).flat();
  } finally {
    await first.stop();
  }
  // The administrator deletes the cluster in ACS (its configuration entry); graft deletes the EdgeCluster.
  await crashes(AcsCrashPoint.TeardownAfterAccount, async () => {
    await world.cdb.deleteEntry(App.EdgeClusterConfiguration, uuid);
  });
  const healthy = manager();
  try {
    await eventually(async () => (await clustersWith(uuid)).length === 0, { timeoutMs: 60_000, message: "EdgeCluster gone" });
    const t = acsTraces(world, uuid, name);
    assert.deepEqual([t.config, t.setup, t.sparkplug, t.repoConfig], [undefined, undefined, undefined, undefined]);
    assert.equal(t.inRepoGroup, false, "out of the repository group");
    assert.deepEqual(t.principals, { flux: undefined, krbkeys: undefined }, "no Kerberos identities");
    assert.deepEqual(t.grantsOn, [], "no grants on the cluster");
    for (const account of accounts) {
      const m = world.standin.configdb;
      assert.equal(m.get(App.GeneralInfo, account), undefined, "the account's name is gone");
      assert.equal(m.isMember(world.groups.flux, account) || m.isMember(world.groups.krbkeys, account), false, "out of its role group");
      assert.equal(m.hasObject(account), true, "the object itself stays: ACS's role has no DeleteObject");
    }
    leftAccounts += accounts.length;
    clusters--;
    const events = await cp.kubectl(["get", "events", "-n", NS, "--field-selector", "reason=AcsLeftBehind", "-o", "json"]);
    const messages = (JSON.parse(events.stdout) as { items: Array<{ message: string }> }).items.map((e) => e.message);
    assert.ok(messages.some((m) => accounts.every((a) => m.includes(a))), `a Warning Event names what was left: ${messages.join(" | ")}`);
  } finally {
    await healthy.stop();
  }
});

test("the read rights of config/acs/cluster-manager-adopt.yaml are loaded (finding an account a crash left)", () => {
  world.standin.loadDump(ADOPT_DUMP);
});

// The same crash with the read rights: the restart finds the account the ConfigDB made and adopts it; no new object.
crashTest(AcsCrashPoint.AfterAccountCreated, {
  title: `crash at ${AcsCrashPoint.AfterAccountCreated} with config/acs/cluster-manager-adopt.yaml → the account the ConfigDB made is adopted: no orphan, no duplicate`,
  name: "created-adopted",
  after: async (name) => {
    const adopted = await eventsOn(name, "AccountAdopted");
    assert.equal(adopted.length, 1, "one AccountAdopted Event");
    assert.equal((await eventsOn(name, "AccountMayBeOrphaned")).length, 0);
  },
});

test("the extra grants of config/acs/cluster-manager-kubectl.yaml are loaded (the kubectl → ConfigDB direction)", () => {
  world.standin.loadDump(KUBECTL_DIRECTION_DUMP);
});

for (const point of kubectlPath) crashTest(point);
