// End to end, Kerberos (ACS) mode: `kubectl apply` of an EdgeCluster on a central API server whose cluster-manager
// runs in ACS mode against the ACS stand-in, logged in with its keytab (Negotiate) and with every ACS password and
// ticket checked by a real MIT KDC → the manager writes the ConfigDB entries, the flux and krbkeys accounts with
// their Kerberos identities and the Git Pull grant, and the cluster's repository on the stand-in's Git server → the
// one-time bootstrap script (Kerberos mode) run with dash against an edge API server enrols with `graft enrol
// --local` and the KDC's admin credentials (kadmind) → the upstream Flux controllers pull the repository with
// `flux-secrets` (op1flux's Kerberos password) → the edge-cluster chart, rendered with helm from the HelmRelease Flux
// applied, declares KerberosKeys; `graft krbkeys` makes op1sync's keytab (a Random key, as ACS's chart) with the
// op1krbkeys keytab and, logged in to ACS with that same keytab (Negotiate, verified with the stand-in's HTTP service
// keytab), op1sync's account → `graft edge-sync` logs in as op1sync with its keytab (Negotiate) and writes 'Edge
// cluster status' → the manager mirrors it and the EdgeCluster is Ready with hosts and certificate. krbkeys rotates
// op1sync's key: once the running edge-sync's tickets end, the stale mounted keytab is refused and the file the
// kubelet replaces is read again. Then a change of spec.values reaches the edge through Flux, and deleting the
// EdgeCluster removes every central trace in the stand-in.
//
// No kubelet runs here, so the chart's operators run as processes with the environment and files their Pods would
// get (podProcess below), and enrolment runs from this machine (`--local`) instead of in the edge-bootstrap Pod.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { appendFileSync, chmodSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseAllDocuments, stringify } from "yaml";
import { App, Class, Perm } from "../operators/api/constants.js";
import { EdgeClusterType, type EdgeCluster } from "../operators/api/edgecluster.js";
import { ROTATE_REQUESTED_ANNOTATION } from "../operators/api/kerberoskey.js";
import { requestBootstrapCommand } from "../operators/cluster-manager/bootstrap-command.js";
import type { ClusterManager } from "../operators/cluster-manager/cluster-manager.js";
import { credentialsSecretName } from "../operators/cluster-manager/credentials.js";
import { edgeClusterYaml } from "./support/cluster-manager/fixtures.js";
import { KubeClient } from "../operators/runtime/rest.js";
import { Meta } from "./acs-standin/configdb-model.js";
import { startAcsStandin, type AcsStandin } from "./acs-standin/standin.js";
import { AcsGroup } from "./acs-standin/acs-uuids.js";
import { EDGE_DUMPS, EdgeRole } from "./acs-standin/edge-roles.js";
import { KUBECTL_DIRECTION_DUMP, installClustersService, startKerberosAcsManager } from "./support/cluster-manager/acs-world.js";
import { helm } from "./deploy/helm.js";
import { startControlPlane, type ControlPlane } from "./harness/control-plane.js";
import { eventually } from "./harness/eventually.js";
import { startFlux, type FluxControllers } from "./harness/flux.js";
import { startKdc, type Kdc } from "./harness/kdc.js";
import { createSealedSecretsKey } from "./harness/sealed-secrets-key.js";
import { startProcess, type ManagedProcess } from "./harness/process.js";

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const cli = join(repoRoot, "operators/cli/main.ts");
const kerberosKeyCrd = join(repoRoot, "crds/factoryplus.app.amrc.co.uk_kerberos-keys.yaml");
const chartDir = join(repoRoot, "config/edge-cluster");
const NS = "sites";
const EDGE_NS = "fplus-edge";
const NAME = "line-k";

let kdc: Kdc;
let standin: AcsStandin;
let acs: AcsInstall;
let central: ControlPlane;
let centralClient: KubeClient;
let manager: ClusterManager | undefined;
let edge: ControlPlane;
let flux: FluxControllers | undefined;
const operators: ManagedProcess[] = [];
let work: string;

/** What an ACS installation has set up before graft runs (as operators/cluster-manager/acs/testing/acs-world.ts). */
interface AcsInstall {
  groups: { flux: string; krbkeys: string; repos: string };
  chart: string;
  helmChartsRepo: string;
  service: { principal: string; upn: string; keytab: string };
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), "graft-e2e-krb-"));
  [kdc, central, edge] = await Promise.all([startKdc(), startControlPlane({ name: "central" }), startControlPlane({ name: "edge" })]);
  // As on an ACS KDC, the krbkeys principals may add, change and inquire principals (kadmind reads the ACL at start).
  appendFileSync(join(kdc.dir, "kadm5.acl"), `op1krbkeys/*@${kdc.realm} acim\n`);
  await kdc.stopServers("kadmind");
  await kdc.startServers();

  // ACS's own grants (built in) plus the extra ones graft needs to write a kubectl-made cluster into the ConfigDB.
  // The edge roles' grants (dumps/edge-*.yaml): krbkeys and edge-sync work with exactly what ACS gives them.
  // With the KDC's kadmin.local the stand-in also holds a keytab for HTTP/127.0.0.1 and accepts Negotiate logins.
  standin = await startAcsStandin({ kdc, dumps: [KUBECTL_DIRECTION_DUMP, ...EDGE_DUMPS] });
  acs = await installAcs(standin, kdc);
  await Promise.all([central.installCrds(), edge.installCrds([kerberosKeyCrd])]);
  await central.kubectl(["create", "namespace", NS]);
  centralClient = new KubeClient(central.kubeConfig);

  manager = await startKerberosAcsManager({
    kubeConfig: central.kubeConfig, dataDir: join(work, "manager"), directoryUrl: standin.urls.directory,
    // The manager logs in with its keytab (Negotiate), as ACS's own cluster manager does.
    credentials: { principal: acs.service.upn, keytabFile: acs.service.keytab, env: kdc.env }, kdc, enrolImage: "graft:test", namespace: NS,
    organisationPrefix: "acme",
  });
});

after(async () => {
  for (const p of operators) await p.stop();
  await flux?.stop();
  await manager?.stop();
  await standin?.stop();
  await Promise.all([edge?.stop(), central?.stop(), kdc?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

/** The installer's part: groups for the edge accounts, the shared helm-charts repo, the chart template, the manager's account. */
async function installAcs(s: AcsStandin, k: Kdc): Promise<AcsInstall> {
  const model = s.configdb;
  const { groups, helmChartsRepo, chart } = installClustersService(s, { image: { repository: "graft", tag: "test" } }, { krbkeys: EdgeRole.Krbkeys });

  // The manager's service account is a KDC principal with a random key in a keytab, as ACS's installer makes it.
  const service = { principal: randomUUID(), upn: `sv1clustermanager@${k.realm}`, keytab: join(work, "manager.keytab") };
  await k.kadminLocal(`addprinc -randkey ${service.upn}`);
  await k.kadminLocal(`ktadd -k ${service.keytab} ${service.upn}`);
  model.register(service.principal, Meta.ClassClass);
  model.addMember(AcsGroup.ClusterManager, service.principal);
  s.auth.setKerberos(service.principal, service.upn);
  return { groups, chart, helmChartsRepo, service };
}

const ec = () => centralClient.get<EdgeCluster>(EdgeClusterType, NAME, NS);
const edgeJson = async (args: string[]) => {
  const r = await edge.kubectl([...args, "-o", "json"]);
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
};
const edgeSecret = async (name: string) => {
  const data = (await edgeJson(["-n", EDGE_NS, "get", "secret", name])).data as Record<string, string>;
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, "base64")]));
};
type WithConditions = { status?: { conditions?: Array<{ type: string; status: string }> } };
const hasCondition = (obj: WithConditions, type: string) => obj.status?.conditions?.some((c) => c.type === type && c.status === "True") ?? false;
const node = (name: string, labels: Record<string, string> = {}) => JSON.stringify({
  apiVersion: "v1", kind: "Node", metadata: { name, labels: { "kubernetes.io/hostname": name, ...labels } },
});
const accountsNamed = (role: string) => (standin.configdb.membersOf(Class.EdgeAccount) ?? [])
  .filter((a) => (standin.configdb.get(App.GeneralInfo, a)?.value as { name?: string } | undefined)?.name === `Edge ${role}: ${NAME}`);
const fluxUpn = () => `op1flux/${NAME}@${kdc.realm}`;
const krbkeysUpn = () => `op1krbkeys/${NAME}@${kdc.realm}`;

test("Kerberos mode: apply → ACS setup → bootstrap with KDC enrolment → Flux → krbkeys + edge-sync report → Ready", async () => {
  assert.equal((await central.kubectl(["apply", "-f", "-"], {
    input: edgeClusterYaml(NAME, NS, {
      values: {
        logLevel: "warn", edgeSync: { extraEnv: [{ name: "SYNC_DEBOUNCE", value: "200ms" }] },
        // The installation's edge-sync role, so krbkeys makes op1sync's account in it (§12).
        uuid: { group: { edgeSync: EdgeRole.Sync } },
      },
    }),
  })).code, 0);
  assert.equal((await central.kubectl(["wait", "-n", NS, `ec/${NAME}`, "--for=condition=Provisioned", "--timeout=60s"])).code, 0,
    JSON.stringify((await ec()).status?.conditions));
  const uuid = (await ec()).status!.uuid!;

  // ACS setup: accounts with Kerberos identities, flux's Git Pull grant, the repository on the ACS Git server.
  const [fluxAccount] = accountsNamed("flux");
  const [krbkeysAccount] = accountsNamed("krbkeys");
  assert.ok(fluxAccount && krbkeysAccount, "one account per role");
  assert.equal(standin.auth.principalOf(fluxUpn()), fluxAccount);
  assert.equal(standin.auth.principalOf(krbkeysUpn()), krbkeysAccount);
  assert.deepEqual(standin.auth.listGrants().filter((g) => g.target === uuid).map((g) => [g.principal, g.permission]),
    [[fluxAccount, Perm.GitPull]]);
  assert.equal((await ec()).status!.repository, `${standin.urls.git}/uuid/${uuid}`);

  // The one-time script, run with dash against the edge; enrolment runs here (`--local`) with graft's CLI.
  assert.equal((await edge.kubectl(["apply", "-f", "-"], { input: node("edge-cp-1", { "node-role.kubernetes.io/control-plane": "" }) })).code, 0);
  const { command } = await requestBootstrapCommand(centralClient, NS, NAME, 30_000);
  const url = /'([^']+)'/.exec(command)![1]!;
  const script = await (await fetch(url)).text();
  assert.match(script, /graft_mode='kerberos'/);
  writeFileSync(join(work, "bootstrap.sh"), script);
  const graft = join(work, "graft");
  writeFileSync(graft, `#!/bin/sh\nexec '${process.execPath}' --import '${import.meta.resolve("tsx")}' '${cli}' "$@"\n`);
  chmodSync(graft, 0o755);
  const { stdout } = await run("dash", [join(work, "bootstrap.sh"), "--yes", "--no-wait", "--local"], {
    env: {
      PATH: process.env.PATH, HOME: work, KUBECTL: edge.kubectlPath, KUBECONFIG: edge.kubeconfigPath, GRAFT: graft,
      GRAFT_ADMIN_PRINCIPAL: kdc.adminPrincipal, GRAFT_ADMIN_PASSWORD: kdc.adminPassword,
      KRB5CCNAME: `FILE:${join(work, "enrol-ccache")}`, LC_ALL: "C",
    },
  });
  assert.match(stdout, new RegExp(`enrolled cluster "${NAME}" in realm "${kdc.realm}"`));
  // The `.sh` form answers a spent link with a script that says so; the plain link answers with the status.
  assert.equal((await fetch(url.replace(/\.sh$/, ""))).status, 410, "the link worked once");

  // Enrolment made both principals in the KDC and their Secrets on the edge.
  assert.ok(await kdc.kvno(fluxUpn()) && await kdc.kvno(krbkeysUpn()), "op1flux and op1krbkeys exist in the KDC");
  const fluxSecrets = await edgeSecret("flux-secrets");
  assert.equal(fluxSecrets.username!.toString(), fluxUpn());
  const keytab = (await edgeSecret("krb-keys-keytabs")).client!;
  assert.ok(keytab.length > 0);

  // Flux pulls from the stand-in's Git server with op1flux's Kerberos password (checked with kinit there).
  flux = await startFlux({ kubeconfigPath: edge.kubeconfigPath, workDir: join(work, "flux") });
  await eventually(async () => hasCondition(await edgeJson(["-n", EDGE_NS, "get", "kustomizations.kustomize.toolkit.fluxcd.io", "self-link"]), "Ready"),
    { timeoutMs: 120_000, intervalMs: 1000, message: () => `self-link Kustomization Ready (flux logs: ${flux?.recentLogs(20)})` });
  const release = await eventually(() => edgeJson(["-n", EDGE_NS, "get", "helmreleases.helm.toolkit.fluxcd.io", `edge-cluster-${uuid}`]),
    { timeoutMs: 60_000, message: "HelmRelease applied by Flux" });
  assert.equal(release.spec.values.mode, "kerberos");
  assert.equal(release.spec.values.kerberos.realm, kdc.realm);
  assert.equal(release.spec.values.logLevel, "warn");

  // The chart as Flux's helm-controller would install it from that HelmRelease.
  const rendered = await renderChart(release);
  const keys = rendered.filter((d) => d.kind === "KerberosKey");
  assert.deepEqual(keys.map((k) => k.metadata.name).sort(), ["op1flux", "op1krbkeys", "op1sync"]);
  assert.equal((await edge.kubectl(["apply", "-f", "-"], { input: keys.map((k) => stringify(k)).join("---\n") })).code, 0);

  // krbkeys with op1krbkeys' enrolled keytab and nothing else: keeps the enrolled credentials, makes op1sync's
  // keytab and, logged in to ACS as op1krbkeys with that keytab (Negotiate), op1sync's account in the edge-sync role.
  const krbkeysPod = rendered.find((d) => d.kind === "Deployment" && d.metadata.labels?.["app.kubernetes.io/name"] === "krbkeys")!;
  const krbkeysEnv = krbkeysPod.spec!.template!.spec.containers[0]!.env!.map((e) => e.name);
  assert.ok(krbkeysEnv.includes("DIRECTORY_URL") && !krbkeysEnv.some((n) => /PASSWORD/.test(n)), `krbkeys gets ACS but no password: ${krbkeysEnv.join(", ")}`);
  const negotiated = () => standin.requests.filter((r) => r.path === "/token" && r.upn === krbkeysUpn() && r.status === 200).length;
  operators.push(await podProcess(rendered, "krbkeys"));
  const syncKey = await eventually(async () => {
    const k = await edgeJson(["-n", EDGE_NS, "get", "kerberos-keys", "op1sync"]);
    return hasCondition(k, "Ready") && k;
  }, { timeoutMs: 60_000, intervalMs: 500, message: () => `KerberosKey op1sync Ready (krbkeys log: ${tail(join(work, "krbkeys.log"))})` });
  assert.equal(syncKey.status.kvno, await kdc.kvno(`op1sync/${NAME}@${kdc.realm}`));
  assert.equal(syncKey.spec.type, "Random");
  assert.ok((await edgeSecret("edge-sync-keytabs")).client!.length > 0, "krbkeys stored op1sync's keytab");
  const syncAccount = await eventually(async () => {
    const k = await edgeJson(["-n", EDGE_NS, "get", "kerberos-keys", "op1sync"]);
    return hasCondition(k, "Ready") && k.status.account?.uuid as string | undefined;
  }, { timeoutMs: 60_000, intervalMs: 500, message: () => `op1sync's account set up (krbkeys log: ${tail(join(work, "krbkeys.log"))})` });
  assert.deepEqual(accountsNamed("sync"), [syncAccount], "krbkeys made one account named as ACS names it");
  assert.equal(standin.auth.principalOf(`op1sync/${NAME}@${kdc.realm}`), syncAccount);
  assert.ok(standin.configdb.isMember(EdgeRole.Sync, syncAccount), "op1sync's account is in the edge-sync role");
  assert.ok(negotiated() > 0, "krbkeys got its ACS tokens as op1krbkeys, with its keytab");
  for (const name of ["op1flux", "op1krbkeys"]) {
    const k = await eventually(async () => {
      const got = await edgeJson(["-n", EDGE_NS, "get", "kerberos-keys", name]);
      return hasCondition(got, "Ready") && got;
    }, { timeoutMs: 60_000, intervalMs: 500, message: `KerberosKey ${name} Ready` });
    assert.equal(k.status.lastRotation, undefined, `the enrolled ${name} credential was verified, not replaced`);
  }
  assert.deepEqual((await edgeSecret("flux-secrets")).password, fluxSecrets.password, "flux keeps its password");

  // edge-sync logs in as op1sync with the keytab from krbkeys' Secret (Negotiate; op1sync has no password) and writes
  // 'Edge cluster status' in the ConfigDB. Its tickets last 15 s (kadmin's -maxlife; ACS sites: hours), so the
  // rotation below needs a new one from the keytab within the test; a resync each second keeps it logging in.
  const syncUpn = `op1sync/${NAME}@${kdc.realm}`;
  await kdc.kadminLocal(`modprinc -maxlife "15 seconds" ${syncUpn}`);
  const syncPod = rendered.find((d) => d.kind === "Deployment" && d.metadata.labels?.["app.kubernetes.io/name"] === "edge-sync")!;
  const syncEnv = syncPod.spec!.template!.spec.containers[0]!.env!.map((e) => e.name);
  assert.ok(syncEnv.includes("SERVICE_KEYTAB_FILE") && !syncEnv.some((n) => /PASSWORD/.test(n)), `edge-sync gets a keytab and no password: ${syncEnv.join(", ")}`);
  operators.push(await podProcess(rendered, "edge-sync", { RESYNC_INTERVAL: "1s" }));
  assert.equal((await edge.kubectl(["apply", "-f", "-"], { input: node("edge-worker-1") })).code, 0);
  const { certPem } = await createSealedSecretsKey(edge, work);

  const ready = await eventually(async () => {
    const e = await ec();
    return e.status?.hostCount === 2 && e.status.kubesealCertificate && hasCondition(e, "Ready") && hasCondition(e, "Bootstrapped") && e;
  }, { timeoutMs: 60_000, message: () => `EdgeCluster Ready with hosts and certificate (edge-sync log: ${tail(join(work, "edge-sync.log"))})` });
  assert.deepEqual(ready.status!.hosts!.map((h) => [h.hostname, h.control_plane]), [["edge-cp-1", true], ["edge-worker-1", false]]);
  assert.equal(ready.status!.kubesealCertificate!.pem, certPem);
  const entry = standin.configdb.get(App.EdgeClusterStatus, uuid)?.value as { hosts: Array<{ hostname: string }>; kubeseal_cert: string };
  assert.deepEqual(entry.hosts.map((h) => h.hostname), ["edge-cp-1", "edge-worker-1"], "edge-sync wrote the ConfigDB entry");
  assert.equal(entry.kubeseal_cert, certPem);
  const table = await central.kubectl(["get", "ec", "-n", NS, "-o", "wide"]);
  assert.match(table.stdout, new RegExp(`${NAME}\\s+acme-${NAME}\\s+2\\s+\\d{4}-\\d\\d-\\d\\dT\\S+\\s+True`));

  assert.ok(standin.requests.some((r) => r.service === "configdb" && r.path === "/token" && r.upn === syncUpn && r.status === 200),
    "edge-sync got its ConfigDB token as op1sync, with its keytab");

  // Rotation: krbkeys gives op1sync a new key (asked for through its annotation) at the KDC and a new keytab in the
  // Secret; the kubelet updates the mounted file later. The running edge-sync keeps its tickets until they end; its
  // next login (tokens revoked) from the stale file is refused by the KDC, and once the file holds the new keytab the
  // same process reads it and keeps reporting — no restart.
  const syncProcess = operators.at(-1)!;
  const kvnoBefore = await kdc.kvno(syncUpn);
  const oldKeytab = (await edgeSecret("edge-sync-keytabs")).client!;
  assert.equal((await edge.kubectl(["-n", EDGE_NS, "annotate", "--overwrite", "kerberos-keys", "op1sync", `${ROTATE_REQUESTED_ANNOTATION}=${new Date().toISOString()}`])).code, 0);
  await eventually(async () => ((await kdc.kvno(syncUpn)) ?? 0) > (kvnoBefore ?? 0), { timeoutMs: 60_000, message: "krbkeys rotated op1sync at the KDC" });
  const newKeytab = await eventually(async () => {
    const k = (await edgeSecret("edge-sync-keytabs")).client;
    return k && !k.equals(oldKeytab) && k;
  }, { timeoutMs: 60_000, message: "krbkeys stored the new keytab" });
  const syncLog = join(work, "edge-sync.log");
  await eventually(() => {
    standin.revokeTokens("configdb");
    return readFileSync(syncLog, "utf8").split("\n").some((l) => /"level":"error"/.test(l) && l.includes(`no Kerberos ticket for HTTP@127.0.0.1 as \\"${syncUpn}\\"`));
  }, { timeoutMs: 90_000, intervalMs: 500, message: () => `edge-sync refused with the stale keytab once its tickets ended (log: ${tail(syncLog)})` });
  assert.equal((await edge.kubectl(["apply", "-f", "-"], { input: node("edge-worker-2") })).code, 0);
  // As the kubelet writes a Secret volume: the new content appears at once, never half-written.
  const keytabFile = join(work, "pods", "edge-sync", "credentials", "client");
  writeFileSync(`${keytabFile}.new`, newKeytab, { mode: 0o600 });
  renameSync(`${keytabFile}.new`, keytabFile);
  await eventually(() => {
    const e = standin.configdb.get(App.EdgeClusterStatus, uuid)?.value as { hosts: Array<{ hostname: string }> } | undefined;
    return e?.hosts.some((h) => h.hostname === "edge-worker-2");
  }, { timeoutMs: 120_000, message: () => `edge-sync reports again with the rotated keytab (log: ${tail(syncLog)})` });
  assert.equal(syncProcess.child.exitCode, null, "the same edge-sync process, never restarted");
  // edge-sync's part ends here: resyncing each second, it would write its status entry again during the teardown.
  await syncProcess.stop();
  operators.splice(operators.indexOf(syncProcess), 1);

  // A change of spec.values: a new commit on the ACS Git server, applied on the edge by Flux.
  const before = (await ec()).status!.commit;
  await central.kubectl(["patch", "ec", "-n", NS, NAME, "--type=merge", "-p", '{"spec":{"values":{"logLevel":"info"}}}']);
  await eventually(async () => {
    const e = await ec();
    return e.status?.observedGeneration === 2 && e.status.commit !== before;
  }, { message: "new generation committed" });
  assert.equal((standin.configdb.get(App.EdgeClusterConfiguration, uuid)?.value as { values: { logLevel: string } }).values.logLevel, "info",
    "the ConfigDB entry follows the EdgeCluster");
  await edge.kubectl(["-n", EDGE_NS, "annotate", "--overwrite", "gitrepositories.source.toolkit.fluxcd.io", "self-link", `reconcile.fluxcd.io/requestedAt=${Date.now()}`]);
  await eventually(async () => (await edgeJson(["-n", EDGE_NS, "get", "helmreleases.helm.toolkit.fluxcd.io", `edge-cluster-${uuid}`])).spec.values.logLevel === "info",
    { timeoutMs: 90_000, intervalMs: 1000, message: () => `new values applied on the edge (flux logs: ${flux?.recentLogs(20)})` });

  // Deleting the EdgeCluster removes every central trace: ConfigDB object and entries, accounts, grants, identities.
  assert.equal((await central.kubectl(["delete", "ec", "-n", NS, NAME, "--wait=true", "--timeout=60s"])).code, 0);
  const model = standin.configdb;
  assert.equal(model.hasObject(uuid), false, "the cluster's ConfigDB object is deleted");
  for (const app of [App.EdgeClusterConfiguration, App.EdgeClusterSetupStatus, App.EdgeClusterStatus, App.SparkplugAddress, App.GitRepoConfig]) {
    assert.equal(model.get(app, uuid), undefined, `entry of application ${app} deleted`);
  }
  assert.equal(model.isMember(acs.groups.repos, uuid), false);
  for (const account of [fluxAccount, krbkeysAccount]) {
    assert.equal(model.hasObject(account), false, `account ${account} deleted`);
    assert.deepEqual(standin.auth.listGrants().filter((g) => g.principal === account), [], `account ${account} holds no grant`);
  }
  assert.deepEqual([accountsNamed("flux"), accountsNamed("krbkeys")], [[], []]);
  assert.equal(standin.auth.principalOf(fluxUpn()), undefined, "op1flux's Kerberos identity removed");
  assert.equal(standin.auth.principalOf(krbkeysUpn()), undefined, "op1krbkeys' Kerberos identity removed");
  assert.equal((await central.kubectl(["get", "secret", "-n", NS, credentialsSecretName(uuid)])).code, 1, "central Secret removed");
});

/** The parts of rendered manifests this test reads. */
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string } };
}
interface Volume {
  name: string;
  configMap?: { name: string };
  secret?: { secretName: string; items?: Array<{ key: string; path: string }> };
  emptyDir?: object;
}
interface PodSpec {
  containers: Array<{ args: string[]; env?: EnvVar[]; volumeMounts?: Array<{ name: string; mountPath: string }> }>;
  volumes?: Volume[];
}
interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  spec?: { template?: { spec: PodSpec } };
}

/** `helm template` of the edge-cluster chart with the HelmRelease's values, release name and namespace. */
async function renderChart(release: { metadata: { name: string; namespace: string }; spec: { releaseName?: string; targetNamespace?: string; values: unknown } }): Promise<Manifest[]> {
  const valuesFile = join(work, "release-values.yaml");
  writeFileSync(valuesFile, stringify(release.spec.values));
  const r = await helm(["template", release.spec.releaseName ?? release.metadata.name, chartDir,
    "--namespace", release.spec.targetNamespace ?? release.metadata.namespace, "--values", valuesFile], { stateDir: join(work, "helm") });
  assert.equal(r.code, 0, r.stderr);
  return parseAllDocuments(r.stdout).map((d) => d.toJS() as Manifest).filter(Boolean);
}

/**
 * Runs a Deployment's container from the rendered chart as a process: its `graft <args>` with its environment, with
 * each volume written to a local directory (ConfigMaps from the rendered chart, Secrets from the edge, emptyDirs
 * empty) and mount paths in the environment pointing there. The health port moves to a free loopback port and the
 * edge kubeconfig stands in for the service account; `extraEnv` adds settings a test needs (as the chart's extraEnv).
 */
async function podProcess(rendered: Manifest[], deployment: string, extraEnv: Record<string, string> = {}): Promise<ManagedProcess> {
  // The chart names Deployments after the release; the component is the app.kubernetes.io/name label.
  const deploy = rendered.find((d) => d.kind === "Deployment" && d.metadata.labels?.["app.kubernetes.io/name"] === deployment
    && d.metadata.labels["app.kubernetes.io/part-of"] === "graft");
  const pod = deploy?.spec?.template?.spec;
  assert.ok(deploy && pod, `the chart renders Deployment "${deployment}"`);
  const container = pod.containers[0]!;
  const mounts = new Map<string, string>();
  for (const mount of container.volumeMounts ?? []) {
    const volume = pod.volumes?.find((v) => v.name === mount.name);
    assert.ok(volume, `volume "${mount.name}" of Deployment "${deployment}"`);
    const dir = join(work, "pods", deployment, mount.name);
    mkdirSync(dir, { recursive: true });
    if (volume.configMap) {
      const cm = rendered.find((d) => d.kind === "ConfigMap" && d.metadata.name === volume.configMap!.name);
      assert.ok(cm?.data, `the chart renders ConfigMap "${volume.configMap.name}"`);
      for (const [key, value] of Object.entries(cm.data)) writeFileSync(join(dir, key), value);
    } else if (volume.secret) {
      const data = await edgeSecret(volume.secret.secretName);
      for (const item of volume.secret.items ?? Object.keys(data).map((key) => ({ key, path: key }))) {
        assert.ok(data[item.key], `Secret "${volume.secret.secretName}" has key "${item.key}"`);
        writeFileSync(join(dir, item.path), data[item.key]!, { mode: 0o600 });
      }
    } else {
      assert.ok(volume.emptyDir, `volume "${volume.name}": only configMap, secret and emptyDir volumes are emulated`);
    }
    mounts.set(mount.mountPath, dir);
  }
  // A mount path at the start of a value or after ":" (as in FILE:/tmp/ccache), as a whole path prefix.
  const alternatives = [...mounts.keys()].sort((a, b) => b.length - a.length).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  const mountRe = new RegExp(`(?<=^|:)(${alternatives.join("|")})(?=/|$)`, "g");
  const localPath = (value: string) => (mounts.size === 0 ? value : value.replace(mountRe, (p) => mounts.get(p)!));

  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: work, KUBECONFIG: edge.kubeconfigPath, HEALTH_ADDR: "127.0.0.1:0" };
  for (const e of container.env ?? []) {
    if (e.name === "HEALTH_ADDR") continue;
    if (e.value !== undefined) env[e.name] = localPath(e.value);
    else if (e.valueFrom?.secretKeyRef) {
      const { name, key } = e.valueFrom.secretKeyRef;
      const value = (await edgeSecret(name))[key];
      assert.ok(value, `Secret "${name}" has key "${key}" for ${e.name}`);
      env[e.name] = value.toString();
    } else if (e.valueFrom?.fieldRef?.fieldPath === "metadata.namespace") env[e.name] = deploy.metadata.namespace;
    else assert.fail(`environment variable ${e.name} of Deployment "${deployment}": this form is not emulated`);
  }
  return startProcess(process.execPath, ["--import", "tsx", cli, ...container.args], { logFile: join(work, `${deployment}.log`), env: { ...env, ...extraEnv }, cwd: repoRoot });
}

function tail(path: string): string {
  try {
    return readFileSync(path, "utf8").split("\n").slice(-20).join("\n");
  } catch {
    return "(no log)";
  }
}
