// The edge as users get it, Kerberos (ACS) mode, on a real node (kubelet, containerd, CoreDNS; e2e/harness/real-node.ts).
// Central: config/acs installed in Pods as an ACS site installs it (e2e/support/real-node/acs-site.ts, namespace
// graft-system), with the ACS stand-in and a real MIT KDC listening on the node's bridge address, which is the one host
// address Pods reach. Edge (namespace fplus-edge of the same cluster): the bootstrap command the cluster-manager Pods serve
// is run with dash and without --local, so the enrolment Pod really runs the graft image and is answered through
// `kubectl attach` as a person would (the principal, then the password at its prompt) → Flux's controllers run as Pods
// and pull the cluster repository and the shared helm-charts repository from the stand-in's Git server with op1flux's
// Kerberos password → helm-controller installs the edge-cluster chart → krbkeys, edge-sync, edge-monitor and the
// Sealed Secrets controller run as Pods and become Ready: krbkeys makes op1sync's keytab and op1monitor's password at
// the KDC and, logged in to ACS with its keytab (Negotiate, checked with the stand-in's keytab for HTTP/<bridge
// address>), their ACS accounts in the edge-sync and edge-monitor roles; edge-sync logs in to the ConfigDB as op1sync
// with its keytab (Negotiate) and reports the real Node, edge-monitor logs in to Mosquitto (its
// password file built from krbkeys' Secret; ACS's MQTT permissions as its ACL, e2e/support/edge-monitor/acs-broker.ts)
// and publishes its NBIRTH → the EdgeCluster is Ready with the real Node's
// hostname, arch and kubelet version. Then krbkeys rotates op1sync's key: the kubelet updates the mounted keytab,
// and the running edge-sync, its session and tickets ended, logs in with tickets from the file's new keytab (the KDC
// refuses the old one) and keeps reporting, never restarted. A spec.values change reaches the installed release, and `graft seal` of a
// value makes the edge's controller create the Secret. Last, a chart revision that changes the KerberosKey CRD reaches the site on
// upgrade (the HelmRelease's upgrade.crds CreateReplace). Root on Linux only.
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "yaml";
import { App, Class } from "../operators/api/constants.js";
import { EdgeClusterType, type EdgeCluster } from "../operators/api/edgecluster.js";
import { ROTATE_REQUESTED_ANNOTATION } from "../operators/api/kerberoskey.js";
import { requestBootstrapCommand } from "../operators/cluster-manager/bootstrap-command.js";
import { KubeClient } from "../operators/runtime/rest.js";
import { startAcsStandin, type AcsStandin } from "./acs-standin/standin.js";
import { EDGE_DUMPS, EdgeRole } from "./acs-standin/edge-roles.js";
import { startKdc, type Kdc } from "./harness/kdc.js";
import type { Mosquitto } from "./harness/mosquitto.js";
import { graftImage, realNodeSkipReason, type RealNode } from "./harness/real-node.js";
import { assertReportedRealHost, diagnosedWait, kubectlOn, startEdgeNode } from "./support/real-node/edge-node.js";
import { makePasswordFile } from "./support/edge-monitor/broker-credentials.js";
import { SparkplugSubscriber } from "./support/edge-monitor/sparkplug-subscriber.js";
import { startAcsBroker } from "./support/edge-monitor/acs-broker.js";
import { addClusterManagerAccount, KUBECTL_DIRECTION_DUMP, installClustersService } from "./support/cluster-manager/acs-world.js";
import { installAcsCentral } from "./support/real-node/acs-site.js";
import { CENTRAL_NS } from "./support/real-node/central-pods.js";
import { childProcessEnv } from "../operators/runtime/child-env.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const chartDir = join(repoRoot, "config/edge-cluster");
const EDGE_NS = "fplus-edge";
const NAME = "line-kr";
const ORG = "acme";
const SYNC_TICKET_SECONDS = 30;

const skip = realNodeSkipReason();
let kdcEnv: Record<string, string> = {};

describe("the edge on a real node (Kerberos mode)", { skip }, () => {
  let node: RealNode;
  let kdc: Kdc;
  let standin: AcsStandin;
  let broker: Mosquitto;
  let acsBroker: Awaited<ReturnType<typeof startAcsBroker>> | undefined;
  let subscriber: SparkplugSubscriber | undefined;
  let client: KubeClient;
  let work: string;
  let uuid: string;
  let releaseName: string;
  let helmChartsRepo: string;

  const { kubectl, json } = kubectlOn(() => node);
  const secretBytes = async (name: string, key: string) => {
    const s = await json(["-n", EDGE_NS, "get", "secret", name]);
    return Buffer.from(s.data[key] ?? "", "base64");
  };
  const secret = async (name: string, key: string) => (await secretBytes(name, key)).toString();
  type WithConditions = { status?: { conditions?: Array<{ type: string; status: string }> } };
  const ready = (o: WithConditions) => o.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
  const ec = () => client.get<EdgeCluster>(EdgeClusterType, NAME, CENTRAL_NS);
  const principal = (role: string) => `${role}/${NAME}@${kdc.realm}`;
  const statusEntry = () => standin.configdb.get(App.EdgeClusterStatus, uuid)?.value as
    { hosts?: Array<{ hostname: string; control_plane: boolean }> } | undefined;
  const diagnose = async () => {
    const r = await node.cluster.kubectl(["get", "pods,helmreleases,kustomizations,gitrepositories,kerberos-keys", "-A", "-o", "wide"]);
    const events = await node.cluster.kubectl(["get", "events", "-A", "--sort-by=.lastTimestamp"]);
    const logs = [];
    for (const [ns, selector] of [[EDGE_NS, "app.kubernetes.io/part-of=graft"], ["flux-system", "app.kubernetes.io/part-of=flux"]] as const) {
      const l = await node.cluster.kubectl(["-n", ns, "logs", "-l", selector, "--all-containers", "--prefix", "--tail=15"]);
      logs.push(l.stdout + l.stderr);
    }
    return `${r.stdout}${r.stderr}\n${events.stdout.split("\n").slice(-25).join("\n")}\n${logs.join("\n")}`;
  };
  /** eventually(), with the cluster's Pods, Flux objects, KerberosKeys, recent events and logs in the error. */
  const waitFor = diagnosedWait(diagnose, { intervalMs: 2_000 });

  before(async () => {
    work = mkdtempSync(join(tmpdir(), "graft-krb-real-node-"));
    const image = graftImage();
    node = await startEdgeNode();
    client = new KubeClient(node.cluster.kubeConfig);
    // The central services listen where the Pods reach them: the node's bridge address.
    kdc = await startKdc({ address: node.bridgeAddress });
    kdcEnv = kdc.env;
    // As on an ACS KDC, the krbkeys principals may add, change and inquire principals (kadmind reads the ACL at start).
    appendFileSync(join(kdc.dir, "kadm5.acl"), `op1krbkeys/*@${kdc.realm} acim\n`);
    await kdc.stopServers("kadmind");
    await kdc.startServers();
    // op1sync's tickets last 30 s (kadmin's -maxlife; ACS sites: hours), so after the rotation below the running
    // edge-sync needs new ones from its mounted keytab within the test. krbkeys finds the principal without a keytab
    // and keys it (keeping its attributes), as it would re-key one an earlier install left behind.
    const created = await kdc.kadminLocal(`addprinc -randkey -maxlife "${SYNC_TICKET_SECONDS} seconds" ${principal("op1sync")}`);
    assert.match(created, /created/i);
    // ACS's grants for the cluster manager and the edge roles; the KDC's kadmin.local gives the stand-in its keytab.
    standin = await startAcsStandin({ kdc, dumps: [KUBECTL_DIRECTION_DUMP, ...EDGE_DUMPS], host: node.bridgeAddress });
    // The broker accepts only the accounts in its password file (the stand-in's root principal, the test's observer,
    // now; op1monitor once krbkeys made it) and lets each do what its ACS grants allow (the stand-in's MQTT ACL).
    const observer = standin.adminUser;
    const mqttDir = join(work, "mqtt");
    mkdirSync(mqttDir);
    acsBroker = await startAcsBroker(standin, mqttDir, {
      host: node.bridgeAddress,
      listenerConfig: ["allow_anonymous false", `password_file ${makePasswordFile(work, observer.upn, observer.password)}`],
    });
    broker = acsBroker.broker;

    const [repository, tag] = [image.reference.slice(0, image.reference.lastIndexOf(":")), image.reference.slice(image.reference.lastIndexOf(":") + 1)];
    // The installation's edge roles in the chart template, so krbkeys puts op1sync's and op1monitor's accounts in them.
    // ACS's installer: the Clusters service with the edge krbkeys role, and the manager's account (password at the KDC).
    helmChartsRepo = installClustersService(standin, {
      image: { repository, tag }, mqtt: { url: broker.url }, uuid: { group: { edgeSync: EdgeRole.Sync, edgeMonitor: EdgeRole.Monitor } },
    }, { krbkeys: EdgeRole.Krbkeys }).helmChartsRepo;
    const account = await addClusterManagerAccount(standin, { kdc });
    // ACS's installer fills the shared helm-charts repository; here it holds graft's chart and Flux's manifests, laid
    // out as the cluster-manager publishes them in embedded mode (helm-charts.ts).
    await publishCharts(chartDir);
    // The central install in Pods (its image is the one the enrolment Pod runs: config/acs's default ENROL_IMAGE).
    assert.equal(image.reference, "ghcr.io/graft-operators/graft:0.1.0");
    await installAcsCentral(node, work, { directoryUrl: standin.urls.directory, account, kdc, organisationPrefix: ORG });
  });
  after(async () => {
    await subscriber?.close();
    await node?.stop();
    await acsBroker?.stop();
    await Promise.all([standin?.stop(), kdc?.stop()]);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("bootstrap with the enrolment Pod → Flux, krbkeys, edge-sync, edge-monitor Pods Ready → EdgeCluster Ready with the real Node; NBIRTH on the broker", { timeout: 900_000 }, async () => {
    await kubectl(["apply", "-f", "-"], stringify({
      apiVersion: "factoryplus.app.amrc.co.uk/v1alpha1", kind: "EdgeCluster", metadata: { name: NAME, namespace: CENTRAL_NS }, spec: {},
    }));
    await kubectl(["-n", CENTRAL_NS, "wait", `ec/${NAME}`, "--for=condition=Provisioned", "--timeout=120s"]);
    uuid = (await ec()).status!.uuid!;
    releaseName = `edge-cluster-${uuid}`;

    // The one-time script, run as a user runs it: enrolment in the Pod, answered through kubectl attach.
    const { command } = await requestBootstrapCommand(client, CENTRAL_NS, NAME, 60_000);
    const url = /'([^']+)'/.exec(command)![1]!;
    const script = await (await fetch(url)).text();
    assert.match(script, /graft_mode='kerberos'/);
    writeFileSync(join(work, "bootstrap.sh"), script);
    const output = await runBootstrap(join(work, "bootstrap.sh"));
    assert.match(output, /Enrolling with Kerberos realm .* from Pod "fplus-edge\/edge-bootstrap"/);
    assert.match(output, new RegExp(`enrolled cluster "${NAME}" in realm "${kdc.realm}"`));
    assert.ok(!output.includes(kdc.adminPassword), "the admin password is not echoed");
    assert.ok(await kdc.kvno(principal("op1flux")) && await kdc.kvno(principal("op1krbkeys")), "the Pod made op1flux and op1krbkeys at the KDC");
    assert.equal((await node.cluster.kubectl(["-n", EDGE_NS, "get", "pod,serviceaccount,rolebinding", "edge-bootstrap"])).code, 1,
      "the enrolment Pod and its admin ServiceAccount are gone");

    // Flux's controllers run as Pods; helm-controller installs the chart from the stand-in's helm-charts repository.
    for (const d of ["source-controller", "kustomize-controller", "helm-controller"]) {
      await kubectl(["-n", "flux-system", "rollout", "status", `deployment/${d}`, "--timeout=180s"]);
    }

    // krbkeys (in its Pod, against the KDC) makes the operators' keytabs and passwords.
    for (const key of ["op1krbkeys", "op1flux", "op1sync", "op1monitor"]) {
      const k = await waitFor(async () => {
        const got = await json(["-n", EDGE_NS, "get", "kerberos-keys", key]);
        return ready(got) && got;
      }, { timeoutMs: 300_000, message: `KerberosKey ${key} Ready` });
      assert.equal(k.status.kvno, await kdc.kvno(principal(key)), `${key}: the KDC's key version`);
    }
    // ... and, logged in to ACS with nothing but its keytab (Negotiate from its Pod), op1sync's and op1monitor's accounts
    // in their roles (acs-contract §12); the test registers neither.
    for (const [key, role] of [["op1sync", EdgeRole.Sync], ["op1monitor", EdgeRole.Monitor]] as const) {
      const account = await waitFor(async () => (await json(["-n", EDGE_NS, "get", "kerberos-keys", key])).status?.account?.uuid as string | undefined,
        { timeoutMs: 120_000, message: `krbkeys set up ${key}'s ACS account` });
      assert.equal(standin.auth.principalOf(principal(key)), account, `${key}'s Kerberos identity is its account`);
      assert.ok(standin.configdb.isMember(role, account), `${key}'s account is in its role`);
      assert.ok(standin.configdb.isMember(Class.EdgeAccount, account), `${key}'s account is an EdgeService account`);
    }
    assert.ok(standin.requests.some((r) => r.path === "/token" && r.upn === principal("op1krbkeys") && r.status === 200),
      "krbkeys got its ACS tokens as op1krbkeys");
    const krbkeysPod = `deployment/${releaseName}-krbkeys`;
    assert.equal(await kubectl(["-n", EDGE_NS, "exec", krbkeysPod, "--", "node", "-e", "require('kerberos'); console.log('kerberos loads')"]),
      "kerberos loads\n", "the GSSAPI addon loads in the built image");

    // The broker learns op1monitor's password (the one krbkeys set at the KDC) and restarts; the observer's session
    // survives the restart (persistence), so it misses no message published meanwhile.
    const observer = standin.adminUser;
    subscriber = await SparkplugSubscriber.connect(broker.url, { persistentId: "graft-test-observer", extra: { username: observer.upn, password: observer.password } });
    const monitorPassword = await secret("edge-monitor-credentials", "password");
    const passwd = makePasswordFile(work, observer.upn, observer.password);
    await runTool("mosquitto_passwd", ["-b", passwd, principal("op1monitor"), monitorPassword]);
    await broker.stop();
    await broker.start();

    // helm-controller's install waits for every Pod of the release to be Ready.
    await waitFor(async () => ready(await json(["-n", EDGE_NS, "get", "helmreleases.helm.toolkit.fluxcd.io", releaseName])),
      { timeoutMs: 300_000, message: `HelmRelease ${releaseName} Ready` });
    for (const d of ["krbkeys", "edge-sync", "edge-monitor"]) {
      await kubectl(["-n", EDGE_NS, "rollout", "status", `deployment/${releaseName}-${d}`, "--timeout=180s"]);
    }
    await kubectl(["-n", "sealed-secrets", "rollout", "status", "deployment/sealed-secrets", "--timeout=180s"]);
    const pods = await json(["get", "pods", "-A"]) as { items: Array<{ metadata: { namespace: string; name: string }; status: WithConditions["status"] & { phase: string } }> };
    console.log(await kubectl(["get", "pods", "-A"]));
    for (const p of pods.items.filter((i) => [EDGE_NS, "flux-system", "sealed-secrets"].includes(i.metadata.namespace))) {
      assert.ok(ready(p), `Pod ${p.metadata.namespace}/${p.metadata.name} Ready (${p.status.phase})`);
    }

    // edge-monitor: its NBIRTH on the broker, under the cluster's Sparkplug group.
    const birth = await subscriber.waitFor("NBIRTH of the edge monitor", (m) => m.topic.startsWith(`spBv1.0/${ORG}-${NAME}/NBIRTH/`), { timeoutMs: 120_000 });
    assert.ok(birth.payload, "a Sparkplug B payload");

    // edge-sync reports the real Node (logged in to the ConfigDB as op1sync) → the EdgeCluster is Ready with it.
    const nodeObj = await json(["get", "node", node.nodeName]);
    const reported = await waitFor(async () => {
      const e = await ec();
      return ready(e) && e.status?.kubesealCertificate?.pem && (e.status.hosts?.length ?? 0) === 1 ? e : undefined;
    }, { timeoutMs: 180_000, message: "EdgeCluster Ready with the host and the certificate" });
    const host = reported.status!.hosts![0]! as { hostname: string; arch: string; k8s_version: string };
    assertReportedRealHost(host, node, nodeObj.status.nodeInfo);
    assert.deepEqual(statusEntry()?.hosts?.map((h) => h.hostname), [node.nodeName], "edge-sync wrote the ConfigDB entry");
  });

  test("rotation: krbkeys gives op1sync a new key; the running edge-sync Pod takes new tickets from the updated keytab file and keeps reporting", { timeout: 600_000 }, async () => {
    assert.ok(uuid, "the bootstrap test ran");
    const podOf = async () => {
      const list = await json(["-n", EDGE_NS, "get", "pods", "-l", "app.kubernetes.io/name=edge-sync,app.kubernetes.io/part-of=graft"]);
      assert.equal(list.items.length, 1, "one edge-sync Pod");
      const p = list.items[0];
      return { name: p.metadata.name as string, uid: p.metadata.uid as string, restarts: p.status.containerStatuses[0].restartCount as number };
    };
    const before = await podOf();
    const upn = principal("op1sync");
    const kvnoBefore = (await kdc.kvno(upn))!;
    const oldKeytab = await secretBytes("edge-sync-keytabs", "client");
    await kubectl(["-n", EDGE_NS, "annotate", "--overwrite", "kerberos-keys", "op1sync", `${ROTATE_REQUESTED_ANNOTATION}=${new Date().toISOString()}`]);
    await waitFor(async () => ((await kdc.kvno(upn)) ?? 0) > kvnoBefore, { timeoutMs: 120_000, message: "krbkeys rotated op1sync at the KDC" });
    // Every ticket the Pod got before the rotation has ended by then: later ones can only come from the new key.
    const oldTicketsEnded = Date.now() + SYNC_TICKET_SECONDS * 1000;
    const newKeytab = await waitFor(async () => {
      const k = await secretBytes("edge-sync-keytabs", "client");
      return !k.equals(oldKeytab) && k;
    }, { timeoutMs: 60_000, message: "krbkeys stored the new keytab" });

    // The kubelet brings the Secret's new content into the running Pod's volume.
    const inPod = () => kubectl(["-n", EDGE_NS, "exec", before.name, "-c", "edge-sync", "--", "node", "-e",
      "process.stdout.write(require('fs').readFileSync('/etc/graft/keytab/client').toString('base64'))"]);
    await waitFor(async () => (await inPod()) === newKeytab.toString("base64"), { timeoutMs: 240_000, message: "the mounted keytab holds the rotated key" });
    await waitFor(() => Date.now() > oldTicketsEnded, { timeoutMs: (SYNC_TICKET_SECONDS + 10) * 1000, message: "op1sync's old tickets ended" });

    // The session ends (tokens revoked); reporting a change on the edge needs a new login, with tickets only the
    // rotated keytab (read again from the file) gets.
    const mark = standin.requests.length;
    standin.revokeTokens();
    await kubectl(["label", "--overwrite", "node", node.nodeName, "node-role.kubernetes.io/control-plane="]);
    await waitFor(() => statusEntry()?.hosts?.find((h) => h.hostname === node.nodeName)?.control_plane === true,
      { timeoutMs: 180_000, message: "edge-sync reported the labelled Node after the rotation" });
    assert.ok(standin.requests.slice(mark).some((r) => r.service === "configdb" && r.method === "POST" && r.path === "/token" && r.upn === upn && r.status === 200),
      "edge-sync logged in to the ConfigDB again after the revocation");
    assert.notEqual(await kinitKeytabStatus(upn, oldKeytab, work), 0, "the KDC refuses the old keytab: the login used the re-read file");
    assert.equal(await kinitKeytabStatus(upn, newKeytab, work), 0, "the KDC accepts the rotated keytab");
    const afterRotation = await podOf();
    assert.deepEqual(afterRotation, before, "the same Pod and container, never restarted");
  });

  test("a spec.values change reaches the installed release; graft seal of a value → the edge's controller creates the Secret", { timeout: 600_000 }, async () => {
    assert.ok(uuid, "the bootstrap test ran");
    const generation = (await ec()).metadata.generation!;
    await kubectl(["-n", CENTRAL_NS, "patch", "ec", NAME, "--type=merge", "-p", '{"spec":{"values":{"logLevel":"debug"}}}']);
    await waitFor(async () => (await ec()).status?.observedGeneration === generation + 1, { timeoutMs: 60_000, message: "the new generation committed" });
    await kubectl(["-n", EDGE_NS, "annotate", "--overwrite", "gitrepositories.source.toolkit.fluxcd.io", "self-link", `reconcile.fluxcd.io/requestedAt=${Date.now()}`]);
    await waitFor(async () => {
      const d = await json(["-n", EDGE_NS, "get", "deployment", `${releaseName}-edge-sync`]);
      const env = d.spec.template.spec.containers[0].env as Array<{ name: string; value?: string }>;
      return env.find((e) => e.name === "LOG_LEVEL")?.value === "debug";
    }, { timeoutMs: 300_000, message: "logLevel debug in the installed release" });

    const value = `s3cret-${randomBytes(4).toString("hex")}`;
    const sealed = await new Promise<string>((resolve, reject) => {
      const child = execFile(process.execPath, ["--import", "tsx", join(repoRoot, "operators/cli/main.ts"), "seal", NAME, `${EDGE_NS}/sealed-by-graft`, "password",
        "-n", CENTRAL_NS, "--kubeconfig", node.cluster.kubeconfigPath], { cwd: repoRoot, encoding: "utf8" },
      (err, stdout, stderr) => (err ? reject(new Error(`graft seal: ${stderr}`)) : resolve(stdout)));
      child.stdin!.end(value);
    });
    await kubectl(["apply", "-f", "-"], sealed);
    const unsealed = await waitFor(async () => {
      const r = await node.cluster.kubectl(["-n", EDGE_NS, "get", "secret", "sealed-by-graft", "-o", "json"]);
      return r.code === 0 ? JSON.parse(r.stdout) as { data: Record<string, string> } : undefined;
    }, { timeoutMs: 120_000, message: "the controller unsealed the Secret" });
    assert.equal(Buffer.from(unsealed.data.password ?? "", "base64").toString(), value);
  });

  test("a CRD change in a new chart revision reaches the site on upgrade (HelmRelease upgrade.crds CreateReplace)", { timeout: 600_000 }, async () => {
    assert.ok(uuid, "the bootstrap test ran");
    const release = await json(["-n", EDGE_NS, "get", "helmreleases.helm.toolkit.fluxcd.io", releaseName]);
    assert.deepEqual([release.spec.install?.crds, release.spec.upgrade?.crds], ["CreateReplace", "CreateReplace"]);
    const installedVersion = release.status.history[0].version as number;

    // The next chart revision adds a field to the KerberosKey CRD (as a graft release that extends the API would).
    const changed = join(work, "edge-cluster-next");
    cpSync(chartDir, changed, { recursive: true });
    const crdFile = join(changed, "crds/factoryplus.app.amrc.co.uk_kerberos-keys.yaml");
    const crd = parse(readFileSync(crdFile, "utf8")) as { spec: { versions: Array<{ schema: { openAPIV3Schema: { properties: { spec: { properties: Record<string, unknown> } } } } }> } };
    for (const v of crd.spec.versions) {
      v.schema.openAPIV3Schema.properties.spec.properties.upgradeProbe = { type: "string", description: "added by the next chart revision" };
    }
    writeFileSync(crdFile, stringify(crd));
    await publishCharts(changed);
    await kubectl(["-n", EDGE_NS, "annotate", "--overwrite", "gitrepositories.source.toolkit.fluxcd.io", "helm-charts", `reconcile.fluxcd.io/requestedAt=${Date.now()}`]);

    const upgraded = await waitFor(async () => {
      const r = await json(["-n", EDGE_NS, "get", "helmreleases.helm.toolkit.fluxcd.io", releaseName]);
      return ready(r) && (r.status.history[0].version as number) > installedVersion && r;
    }, { timeoutMs: 300_000, message: "the HelmRelease upgraded to the new chart revision" });
    assert.equal(upgraded.status.history[0].status, "deployed");
    const onCluster = await json(["get", "crd", "kerberos-keys.factoryplus.app.amrc.co.uk"]);
    for (const v of onCluster.spec.versions) {
      assert.equal(v.schema.openAPIV3Schema.properties.spec.properties.upgradeProbe?.type, "string", `the CRD's ${v.name} schema has the new field`);
    }
  });

  /** Commits a chart directory (as `edge-cluster/`) and Flux's install manifest to the stand-in's helm-charts repository. */
  async function publishCharts(dir: string) {
    const clone = join(work, `helm-charts-${randomBytes(3).toString("hex")}`);
    const url = new URL(`${standin.urls.git}/uuid/${helmChartsRepo}`);
    url.username = standin.adminUser.username;
    url.password = standin.adminUser.password;
    const git = (...args: string[]) => runTool("git", ["-C", clone, "-c", "user.name=ACS installer", "-c", "user.email=installer@acs.test", ...args]);
    mkdirSync(clone);
    await git("init", "--quiet", "--initial-branch=main");
    cpSync(dir, join(clone, "edge-cluster"), { recursive: true });
    mkdirSync(join(clone, "flux-system"));
    copyFileSync(join(repoRoot, "config/flux/install.yaml"), join(clone, "flux-system/gotk-components.yaml"));
    await git("add", "--all");
    await git("commit", "--quiet", "-m", "graft's edge-cluster chart and Flux manifests");
    await git("push", "--quiet", "--force", url.toString(), "HEAD:main");
  }

  /**
   * Runs the bootstrap script with dash on a terminal (util-linux `script`, in a session of its own), so it attaches
   * to the enrolment Pod with `kubectl attach -i -t` as it does for a person, and answers the Pod's questions as a
   * person would: the admin principal once the script has attached, the password once the Pod asks for it. Resolves
   * with everything the terminal showed.
   */
  function runBootstrap(file: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = spawn("script", ["--quiet", "--return", "--command", `dash '${file}' --yes`, "/dev/null"], {
        env: { PATH: process.env.PATH, HOME: work, KUBECTL: node.cluster.kubectlPath, KUBECONFIG: node.cluster.kubeconfigPath, LC_ALL: "C" },
        detached: true, stdio: ["pipe", "pipe", "pipe"],
      });
      let output = "";
      let answered = 0;
      const onOutput = (chunk: Buffer) => {
        output += chunk.toString();
        if (answered === 0 && output.includes("attached: answer the prompts below")) {
          answered = 1;
          child.stdin.write(`${kdc.adminPrincipal}\n`);
        }
        if (answered === 1 && /Password for [^\n]*: *$/.test(output)) {
          answered = 2;
          child.stdin.write(`${kdc.adminPassword}\n`);
        }
      };
      child.stdout.on("data", onOutput);
      child.stderr.on("data", onOutput);
      const timer = setTimeout(() => child.kill("SIGKILL"), 600_000);
      child.on("close", (code) => {
        clearTimeout(timer);
        child.stdin.end();
        if (code === 0) resolve(output);
        else reject(new Error(`the bootstrap script exited with ${code}:\n${output}`));
      });
    });
  }
});

/** kinit's exit status for a principal and keytab, against the test KDC (the MIT tool, not graft's code). */
function kinitKeytabStatus(upn: string, keytab: Buffer, dir: string): Promise<number | null> {
  const file = join(dir, `kinit-${randomBytes(4).toString("hex")}.keytab`);
  writeFileSync(file, keytab, { mode: 0o600 });
  return new Promise((resolve, reject) => {
    const child = spawn("kinit", ["-k", "-t", file, "-c", `MEMORY:k${randomBytes(4).toString("hex")}`, upn], { env: { ...childProcessEnv(), ...kdcEnv }, stdio: "ignore" });
    child.once("error", reject);
    child.once("close", (code) => resolve(code));
  }).finally(() => rmSync(file, { force: true })) as Promise<number | null>;
}

function runTool(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (c: Buffer) => { err += c.toString(); });
    child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} failed (${code}): ${err}`))));
  });
}
