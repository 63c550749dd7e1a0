// A Flux minor upgrade (v2.7.5 → v2.9.5) rolled out by a FluxRollout to three edge clusters with edge-sync reporting to
// the cluster-manager. Two edges are API servers running Flux's real controllers and edge-sync as processes — the
// controllers are the binaries of exactly the images their flux-system Deployments name, swapped when Flux applies a
// new release to itself (harness/flux-kubelet.ts); the third (site-c) is the real node (harness/real-node.ts), where
// Flux runs in Pods of the v2.7.5 images (build-node-images.sh flux-release:v2.7.5, packaged from
// build-flux-release.sh's binaries), its helm-controller installs the edge chart, whose edge-sync Pod (graft's image,
// the chart's RBAC) reports, and the upgrade is Kubernetes rolling out the v2.9.5 images. On a machine that cannot
// run the real node (not root on Linux) site-c runs as a process edge like the others.
// All three once stored GitRepositories as v1beta2 (their CRD's storedVersions say so), which v2.9.5's CRD no longer
// serves. site-b's and site-c's edge-sync migrate that by themselves (what `flux migrate` does; the chart's default)
// before any rollout. The canary's (site-a) may not (FLUX_STORAGE_MIGRATION=false, as with
// edgeSync.fluxStorageMigration: false): the upgrade breaks there, the rollout pauses after the canary with WaveFailed
// — saying to run `graft flux-migrate` — and a Warning Event, and the other two stay on v2.7.5. `graft flux-migrate`
// on the canary and a retry finish the rollout: every edge runs v2.9.5 with every Kustomization and HelmRelease Ready.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { startControlPlane, type ControlPlane } from "./harness/control-plane.js";
import { eventually } from "./harness/eventually.js";
import { fluxBinaries, helmControllerBinary } from "./harness/flux.js";
import { FLUX_CONTROLLERS, imageBinaries, startFluxKubelet, type FluxKubelet } from "./harness/flux-kubelet.js";
import { startProcess, type ManagedProcess } from "./harness/process.js";
import { graftImage, imageTarball, realNodeSkipReason, startRealNode, type RealNode } from "./harness/real-node.js";
import { FLUX_IMAGES } from "./support/real-node/embedded-site.js";
import { diagnosedWait } from "./support/real-node/edge-node.js";
import { RECONCILE_REQUESTED_ANNOTATION } from "../operators/api/constants.js";
import { EdgeClusterType, type EdgeCluster } from "../operators/api/edgecluster.js";
import { FluxRolloutType, type FluxRollout } from "../operators/api/fluxrollout.js";
import { requestBootstrapCommand } from "../operators/cluster-manager/bootstrap-command.js";
import { edgeClusterYaml, startManagerFixture, type ManagerFixture } from "./support/cluster-manager/fixtures.js";
import { childProcessEnv } from "../operators/runtime/child-env.js";

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));
const cli = join(root, "operators/cli/main.ts");
const NS = "fleet";
const EDGE_NS = "fplus-edge";
const OLD = "v2.7.5";
const NEW = "v2.9.5";
const SITES = ["site-a", "site-b", "site-c"];
/** No workloads: nothing runs the chart's Pods here, and helm-controller would wait for them. */
const VALUES = { edgeSync: { enabled: false }, edgeMonitor: { enabled: false }, sealedSecrets: { enabled: false } };
/** On the real node edge-sync runs as the chart installs it: a Pod of graft's image under the chart's RBAC. */
const REAL_NODE_VALUES = { edgeMonitor: { enabled: false }, sealedSecrets: { enabled: false } };

/** The site whose Flux runs in Pods on the real node, when this machine can run it. */
const REAL_NODE_SITE = realNodeSkipReason() === undefined ? "site-c" : undefined;

interface Edge { name: string; cp: ControlPlane; node?: RealNode; kubelet?: FluxKubelet; sync?: ManagedProcess; work: string }
let central: ManagerFixture;
const edges = new Map<string, Edge>();
let work: string;
let poke: NodeJS.Timeout | undefined;

function versionsOf(file: string): Record<"source-controller" | "kustomize-controller" | "helm-controller", string> {
  const text = readFileSync(join(root, file), "utf8");
  const pin = (k: string) => new RegExp(`^${k}=(\\S+)$`, "m").exec(text)![1]!;
  return { "source-controller": pin("SOURCE_CONTROLLER_VERSION"), "kustomize-controller": pin("KUSTOMIZE_CONTROLLER_VERSION"), "helm-controller": pin("HELM_CONTROLLER_VERSION") };
}

/** Both releases' controllers, by image: the old one from build-flux-release.sh, the pinned one as the suite builds it. */
function binaries() {
  const oldDir = process.env.GRAFT_FLUX_RELEASE_ASSETS
    ?? execFileSync("sh", [join(root, "e2e/assets/build-flux-release.sh"), OLD], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim().split("\n").pop()!;
  const pinned = fluxBinaries();
  const newDir = join(work, "new-bin");
  mkdirSync(newDir);
  execFileSync("ln", ["-s", pinned.sourceController, join(newDir, "source-controller")]);
  execFileSync("ln", ["-s", pinned.kustomizeController, join(newDir, "kustomize-controller")]);
  execFileSync("ln", ["-s", helmControllerBinary(), join(newDir, "helm-controller")]);
  return new Map([...imageBinaries(oldDir, versionsOf(`config/flux/releases/${OLD}/VERSIONS`)), ...imageBinaries(newDir, versionsOf("config/flux/VERSIONS"))]);
}

/** Both releases' controller images, for the real node (the pinned ones as edge-real-node uses them). */
function realNodeImages(): string[] {
  const old = versionsOf(`config/flux/releases/${OLD}/VERSIONS`);
  return [graftImage().tarball, ...FLUX_IMAGES.map((r) => imageTarball(r)), ...FLUX_CONTROLLERS.map((c) => imageTarball(`ghcr.io/fluxcd/${c}:${old[c]}`, [`flux-release:${OLD}`]))];
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), "graft-fleet-"));
  // The real node first (it waits for the machine-wide lock): its Pods reach the cluster-manager only at its bridge.
  const node = REAL_NODE_SITE ? await startRealNode({ images: realNodeImages(), log: (m) => console.log(`real node: ${m}`) }) : undefined;
  central = await startManagerFixture("fleet-central", {}, undefined, node?.bridgeAddress);
  await central.cp.kubectl(["create", "namespace", NS]);
  for (const name of SITES) {
    const dir = join(work, name);
    mkdirSync(dir);
    const onNode = name === REAL_NODE_SITE ? node : undefined;
    edges.set(name, { name, cp: onNode?.cluster ?? await startControlPlane({ name: `fleet-${name}` }), node: onNode, work: dir });
  }
});
after(async () => {
  clearInterval(poke);
  for (const e of edges.values()) {
    await e.sync?.stop();
    await e.kubelet?.stop();
    await (e.node ?? e.cp).stop();
  }
  await central?.stop();
  rmSync(work, { recursive: true, force: true });
});

const ec = (name: string) => central.manager.client.get<EdgeCluster>(EdgeClusterType, name, NS);
const rollout = () => central.manager.client.get<FluxRollout>(FluxRolloutType, "to-v2-9", NS);
const cond = (o: { status?: { conditions?: Array<{ type: string; status: string; reason: string; message: string }> } }, type: string) =>
  o.status?.conditions?.find((c) => c.type === type);
const edgeJson = async (e: Edge, args: string[]) => {
  const r = await e.cp.kubectl([...args, "-o", "json"]);
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
};
async function logsOf(e: Edge): Promise<string> {
  const flux = e.node
    ? (await e.cp.kubectl(["-n", "flux-system", "get", "pods", "-o", "wide"])).stdout +
      (await e.cp.kubectl(["-n", "flux-system", "logs", "-l", "app.kubernetes.io/part-of=flux", "--all-containers", "--prefix", "--tail=5"])).stdout
    : e.kubelet?.recentLogs();
  const sync = e.node
    ? (await e.cp.kubectl(["-n", EDGE_NS, "logs", "-l", "app.kubernetes.io/name=edge-sync", "--tail=10"])).stdout
    : tail(join(e.work, "edge-sync.log"));
  return `${flux}\nedge-sync: ${sync}`;
}

/**
 * The image each Flux controller runs: the process's (flux-kubelet), or on the real node the one Pod of its
 * Deployment, Ready (undefined while a rollout still has an old or unready Pod).
 */
async function controllerImages(e: Edge): Promise<Partial<Record<string, string>>> {
  if (!e.node) return e.kubelet!.running();
  const pods = (await edgeJson(e, ["-n", "flux-system", "get", "pods"])).items as Array<{
    metadata: { labels?: Record<string, string>; deletionTimestamp?: string };
    spec: { containers: Array<{ image: string }> };
    status?: { conditions?: Array<{ type: string; status: string }> };
  }>;
  const out: Partial<Record<string, string>> = {};
  for (const c of FLUX_CONTROLLERS) {
    const mine = pods.filter((p) => p.metadata.labels?.app === c);
    const pod = mine[0];
    const ready = pod && !pod.metadata.deletionTimestamp && pod.status?.conditions?.some((x) => x.type === "Ready" && x.status === "True");
    if (mine.length === 1 && ready) out[c] = pod.spec.containers[0]!.image;
  }
  return out;
}

/** Every Kustomization and HelmRelease on the edge Ready, and the EdgeCluster Synced with the edge on `version`. */
async function allReady(name: string, version: string): Promise<void> {
  const e = edges.get(name)!;
  let seen = "";
  await diagnosedWait(() => logsOf(e))(async () => {
    const got = await ec(name);
    seen = `Synced ${JSON.stringify(cond(got, "Synced"))}, edge Flux ${got.status?.gitops?.fluxVersion}`;
    if (cond(got, "Synced")?.status !== "True" || got.status?.gitops?.fluxVersion !== version) return false;
    for (const kind of ["kustomizations.kustomize.toolkit.fluxcd.io", "helmreleases.helm.toolkit.fluxcd.io"]) {
      const items = (await edgeJson(e, ["get", kind, "-A"])).items as Array<{ metadata: { name: string }; status?: { conditions?: Array<{ type: string; status: string; message?: string }> } }>;
      seen += `; ${kind}: ${items.map((i) => `${i.metadata.name} ${JSON.stringify(i.status?.conditions?.find((c) => c.type === "Ready"))}`).join(", ")}`;
      if (items.length === 0 || !items.every((i) => i.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"))) return false;
    }
    return true;
  }, { timeoutMs: 360_000, intervalMs: 2000, message: () => `"${name}" on Flux ${version}, Synced, every Kustomization and HelmRelease Ready (${seen})` });
}

async function bootstrap(e: Edge, bins: Map<string, string>, syncEnv: Record<string, string> = {}): Promise<void> {
  // edge-sync's Role for the Sealed Secrets controller's certificate lives in its namespace, which the chart leaves to
  // the (here disabled) Sealed Secrets subchart.
  if (e.node) assert.equal((await e.cp.kubectl(["create", "namespace", "sealed-secrets"])).code, 0);
  const { command } = await requestBootstrapCommand(central.manager.client, NS, e.name, 30_000);
  const script = await (await fetch(/'([^']+)'/.exec(command)![1]!)).text();
  writeFileSync(join(e.work, "bootstrap.sh"), script);
  await run("dash", [join(e.work, "bootstrap.sh"), "--yes", "--no-wait"], {
    env: { PATH: process.env.PATH, HOME: e.work, KUBECTL: e.cp.kubectlPath, KUBECONFIG: e.cp.kubeconfigPath },
  });
  // The real node's kubelet runs the Deployments' Pods (Flux's, and the chart's edge-sync); elsewhere the controllers
  // and edge-sync run as processes.
  if (e.node) return;
  e.kubelet = await startFluxKubelet(e.cp, { binaries: bins, workDir: join(e.work, "flux") });
  const config = (await edgeJson(e, ["-n", EDGE_NS, "get", "configmap", "cluster-config"])).data;
  const token = Buffer.from((await edgeJson(e, ["-n", EDGE_NS, "get", "secret", "edge-sync-token"])).data.token, "base64").toString();
  e.sync = startProcess(process.execPath, ["--import", "tsx", cli, "edge-sync"], {
    logFile: join(e.work, "edge-sync.log"),
    env: {
      ...childProcessEnv(), KUBECONFIG: e.cp.kubeconfigPath, CLUSTER_UUID: config.CLUSTER_UUID, CLUSTER_NAME: config.CLUSTER_NAME,
      STATUS_URL: config.STATUS_URL, SYNC_TOKEN: token, SYNC_DEBOUNCE: "200ms", HEALTH_ADDR: "127.0.0.1:0", LOG_LEVEL: "info", POD_NAMESPACE: EDGE_NS, ...syncEnv,
    },
  });
}

test("a Flux minor upgrade across three edges: canary first, paused by a broken canary, migrated, retried, all Ready", async () => {
  const bins = binaries();
  for (const name of SITES) {
    const values = name === REAL_NODE_SITE ? REAL_NODE_VALUES : VALUES;
    assert.equal((await central.cp.kubectl(["apply", "-f", "-"], { input: edgeClusterYaml(name, NS, { fluxVersion: OLD, values }) })).code, 0);
  }
  assert.equal((await central.cp.kubectl(["label", "ec", "-n", NS, "site-a", "fleet.factoryplus.app.amrc.co.uk/canary=true"])).code, 0);
  for (const name of SITES) {
    assert.equal((await central.cp.kubectl(["wait", "-n", NS, `ec/${name}`, "--for=condition=Provisioned", "--timeout=60s"])).code, 0);
    // Unpinned: the repository keeps v2.7.5 until a rollout says otherwise.
    assert.equal((await central.cp.kubectl(["patch", "ec", "-n", NS, name, "--type=json", "-p", '[{"op":"remove","path":"/spec/fluxVersion"}]'])).code, 0);
    // The canary's edge-sync may not migrate stored versions; the others' do (the chart's default).
    await bootstrap(edges.get(name)!, bins, name === "site-a" ? { FLUX_STORAGE_MIGRATION: "false" } : {});
  }
  // Flux polls the repository every 3 minutes; a person would wait, the test asks the edges' sources to look now and
  // then (a new commit's artifact makes the Kustomization apply at once).
  poke = setInterval(() => {
    for (const e of edges.values()) {
      void e.cp.kubectl(["-n", EDGE_NS, "annotate", "--overwrite", "gitrepositories.source.toolkit.fluxcd.io", "self-link", `reconcile.fluxcd.io/requestedAt=${Date.now()}`]);
    }
  }, 5000);
  for (const name of SITES) await allReady(name, OLD);
  for (const name of SITES) assert.equal((await controllerImages(edges.get(name)!))["kustomize-controller"], "ghcr.io/fluxcd/kustomize-controller:v1.7.3");

  // Every edge once stored GitRepositories as v1beta2 (clusters that came from an older Flux): v2.9.5 drops it.
  // site-b's and site-c's edge-sync migrate it at once; the canary's may not.
  const canary = edges.get("site-a")!;
  const crd = "gitrepositories.source.toolkit.fluxcd.io";
  const storedVersions = async (e: Edge) => (await edgeJson(e, ["get", "crd", crd])).status.storedVersions as string[];
  const selfMigrating = [edges.get("site-b")!, edges.get("site-c")!];
  for (const e of [canary, ...selfMigrating]) {
    const stale = await e.cp.kubectl(["patch", "crd", crd, "--subresource=status", "--type=merge", "-p", '{"status":{"storedVersions":["v1beta2","v1"]}}']);
    assert.equal(stale.code, 0, stale.stderr);
  }
  for (const e of selfMigrating) {
    await diagnosedWait(() => logsOf(e))(async () => (await storedVersions(e)).join() === "v1",
      { timeoutMs: 60_000, intervalMs: 1000, message: `${e.name}'s edge-sync migrated the stored versions` });
    const log = e.node ? (await e.cp.kubectl(["-n", EDGE_NS, "logs", "-l", "app.kubernetes.io/name=edge-sync", "--tail=-1"])).stdout
      : readFileSync(join(e.work, "edge-sync.log"), "utf8");
    assert.match(log, /migrated a Flux CRD's stored versions/, `${e.name}: edge-sync did it`);
  }
  assert.deepEqual(await storedVersions(canary), ["v1beta2", "v1"]);

  const manifest = {
    apiVersion: "factoryplus.app.amrc.co.uk/v1alpha1", kind: "FluxRollout", metadata: { name: "to-v2-9", namespace: NS },
    spec: { version: NEW, canary: { matchLabels: { "fleet.factoryplus.app.amrc.co.uk/canary": "true" } }, batchSize: 2, progressDeadline: "10m" },
  };
  assert.equal((await central.cp.kubectl(["apply", "-f", "-"], { input: JSON.stringify(manifest) })).code, 0);

  const paused = await diagnosedWait(() => logsOf(canary))(async () => { const r = await rollout(); return cond(r, "WaveFailed")?.status === "True" && r; },
    { timeoutMs: 240_000, intervalMs: 1000, message: "the broken canary pauses the rollout" });
  assert.match(cond(paused, "WaveFailed")!.message, /wave 1 of 2 \(site-a\) failed: "site-a": Kustomization fplus-edge\/self-link is not Ready: .*storedVersions.* run `graft flux-migrate --kubeconfig <that cluster's kubeconfig>`.*edgeSync\.fluxStorageMigration/s);
  assert.deepEqual(paused.status!.waves!.map((w) => [w.clusters, w.state]), [[["site-a"], "Failed"], [["site-b", "site-c"], "Pending"]]);
  const events = JSON.parse((await central.cp.kubectl(["get", "events.events.k8s.io", "-n", NS, "-o", "json"])).stdout).items as Array<{ reason: string; type: string; regarding: { kind: string } }>;
  assert.ok(events.some((e) => e.regarding.kind === "FluxRollout" && e.reason === "RolloutPaused" && e.type === "Warning"), "Warning Event RolloutPaused");
  for (const name of ["site-b", "site-c"]) {
    const got = await ec(name);
    assert.equal(got.status!.fluxVersion, OLD, `"${name}" not touched after the failed canary`);
    assert.equal(got.status!.gitops!.fluxVersion, OLD);
  }

  // What the release notes ask for, on the canary; then a retry.
  const migrated = await run(process.execPath, ["--import", "tsx", cli, "flux-migrate", "--kubeconfig", canary.cp.kubeconfigPath], { cwd: root });
  assert.match(migrated.stdout, /gitrepositories\.source\.toolkit\.fluxcd\.io: \d+ objects stored as v1; storedVersions v1beta2,v1 -> v1/);
  // The failed Kustomization would retry after its interval; `flux reconcile ks self-link` asks now. Once the canary
  // runs the release, the retry lets the rollout go on.
  await canary.cp.kubectl(["-n", EDGE_NS, "annotate", "--overwrite", "kustomizations.kustomize.toolkit.fluxcd.io", "self-link", `reconcile.fluxcd.io/requestedAt=${Date.now()}`]);
  await allReady("site-a", NEW);
  assert.equal(cond(await rollout(), "WaveFailed")?.status, "True", "still paused until a person retries");
  assert.equal((await ec("site-b")).status!.fluxVersion, OLD);
  assert.equal((await central.cp.kubectl(["annotate", "fluxrollout", "-n", NS, "to-v2-9", `${RECONCILE_REQUESTED_ANNOTATION}=after-migrate`, "--overwrite"])).code, 0);

  for (const name of SITES) await allReady(name, NEW);
  let last: FluxRollout | undefined;
  const done = await eventually(async () => { last = await rollout(); return cond(last, "Ready")?.status === "True" && last; },
    { timeoutMs: 60_000, message: () => `rollout Ready (${JSON.stringify({ waves: last?.status?.waves, conditions: last?.status?.conditions })})` });
  assert.equal(done.status!.updated, "3/3");
  assert.deepEqual(done.status!.waves!.map((w) => w.state), ["Succeeded", "Succeeded"]);
  assert.ok(Date.parse(done.status!.waves![1]!.startedAt!) >= Date.parse(done.status!.waves![0]!.finishedAt!), "wave 2 started after the canary was done");
  for (const name of SITES) {
    const e = edges.get(name)!;
    const images = await diagnosedWait(() => logsOf(e))(async () => { const i = await controllerImages(e); return Object.keys(i).length === 3 && i; },
      { timeoutMs: 120_000, intervalMs: 1000, message: `"${name}": one Ready Pod per controller` });
    assert.deepEqual(images, Object.fromEntries(FLUX_IMAGES.map((r) => [/\/(\w+-controller):/.exec(r)![1]!, r])), `"${name}" runs the new controllers`);
    assert.equal((await edgeJson(e, ["get", "crd", "kustomizations.kustomize.toolkit.fluxcd.io"])).metadata.labels["app.kubernetes.io/version"], NEW);
  }
  const table = await central.cp.kubectl(["get", "ec", "-n", NS]);
  for (const name of SITES) assert.match(table.stdout, new RegExp(`${name}\\s.*\\sTrue\\s+v2\\.9\\.5\\s`), table.stdout);
});

function tail(path: string): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-10).join("\n");
  } catch {
    return "(no log)";
  }
}
