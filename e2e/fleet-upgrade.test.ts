// A Flux minor upgrade (v2.7.5 → v2.9.5) rolled out by a FluxRollout to three edge clusters, each its own API server
// running Flux's real controllers as processes — the binaries of exactly the images its flux-system Deployments name,
// swapped when Flux applies a new release to itself (harness/flux-kubelet.ts) — with edge-sync reporting to the
// cluster-manager. The canary (site-a) once stored GitRepositories as v1beta2 (its CRD's storedVersions say so), which
// v2.9.5's CRD no longer serves: the upgrade breaks there, the rollout pauses after the canary with WaveFailed and a
// Warning Event, and the other two stay on v2.7.5. `graft flux-migrate` on the canary (what the release notes ask
// for: `flux migrate`) and a retry finish the rollout: every edge runs v2.9.5 with every Kustomization and HelmRelease
// Ready.
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
import { imageBinaries, startFluxKubelet, type FluxKubelet } from "./harness/flux-kubelet.js";
import { startProcess, type ManagedProcess } from "./harness/process.js";
import { RECONCILE_REQUESTED_ANNOTATION } from "../operators/api/constants.js";
import { EdgeClusterType, type EdgeCluster } from "../operators/api/edgecluster.js";
import { FluxRolloutType, type FluxRollout } from "../operators/api/fluxrollout.js";
import { requestBootstrapCommand } from "../operators/cluster-manager/bootstrap-command.js";
import { edgeClusterYaml, startManagerFixture, type ManagerFixture } from "./support/cluster-manager/fixtures.js";

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

interface Edge { name: string; cp: ControlPlane; kubelet?: FluxKubelet; sync?: ManagedProcess; work: string }
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

before(async () => {
  work = mkdtempSync(join(tmpdir(), "graft-fleet-"));
  central = await startManagerFixture("fleet-central");
  await central.cp.kubectl(["create", "namespace", NS]);
  for (const name of SITES) {
    const dir = join(work, name);
    mkdirSync(dir);
    edges.set(name, { name, cp: await startControlPlane({ name: `fleet-${name}` }), work: dir });
  }
});
after(async () => {
  clearInterval(poke);
  for (const e of edges.values()) {
    await e.sync?.stop();
    await e.kubelet?.stop();
    await e.cp.stop();
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
const logsOf = (e: Edge) => `${e.kubelet?.recentLogs()}\nedge-sync: ${tail(join(e.work, "edge-sync.log"))}`;

/** Every Kustomization and HelmRelease on the edge Ready, and the EdgeCluster Synced with the edge on `version`. */
async function allReady(name: string, version: string): Promise<void> {
  const e = edges.get(name)!;
  let seen = "";
  await eventually(async () => {
    const got = await ec(name);
    seen = `Synced ${JSON.stringify(cond(got, "Synced"))}, edge Flux ${got.status?.gitops?.fluxVersion}`;
    if (cond(got, "Synced")?.status !== "True" || got.status?.gitops?.fluxVersion !== version) return false;
    for (const kind of ["kustomizations.kustomize.toolkit.fluxcd.io", "helmreleases.helm.toolkit.fluxcd.io"]) {
      const items = (await edgeJson(e, ["get", kind, "-A"])).items as Array<{ metadata: { name: string }; status?: { conditions?: Array<{ type: string; status: string; message?: string }> } }>;
      seen += `; ${kind}: ${items.map((i) => `${i.metadata.name} ${JSON.stringify(i.status?.conditions?.find((c) => c.type === "Ready"))}`).join(", ")}`;
      if (items.length === 0 || !items.every((i) => i.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"))) return false;
    }
    return true;
  }, { timeoutMs: 360_000, intervalMs: 2000, message: () => `"${name}" on Flux ${version}, Synced, every Kustomization and HelmRelease Ready (${seen}; ${logsOf(e)})` });
}

async function bootstrap(e: Edge, bins: Map<string, string>): Promise<void> {
  const { command } = await requestBootstrapCommand(central.manager.client, NS, e.name, 30_000);
  const script = await (await fetch(/'([^']+)'/.exec(command)![1]!)).text();
  writeFileSync(join(e.work, "bootstrap.sh"), script);
  await run("dash", [join(e.work, "bootstrap.sh"), "--yes", "--no-wait"], {
    env: { PATH: process.env.PATH, HOME: e.work, KUBECTL: e.cp.kubectlPath, KUBECONFIG: e.cp.kubeconfigPath },
  });
  e.kubelet = await startFluxKubelet(e.cp, { binaries: bins, workDir: join(e.work, "flux") });
  const config = (await edgeJson(e, ["-n", EDGE_NS, "get", "configmap", "cluster-config"])).data;
  const token = Buffer.from((await edgeJson(e, ["-n", EDGE_NS, "get", "secret", "edge-sync-token"])).data.token, "base64").toString();
  e.sync = startProcess(process.execPath, ["--import", "tsx", cli, "edge-sync"], {
    logFile: join(e.work, "edge-sync.log"),
    env: {
      ...process.env, KUBECONFIG: e.cp.kubeconfigPath, CLUSTER_UUID: config.CLUSTER_UUID, CLUSTER_NAME: config.CLUSTER_NAME,
      STATUS_URL: config.STATUS_URL, SYNC_TOKEN: token, SYNC_DEBOUNCE: "200ms", HEALTH_ADDR: "127.0.0.1:0", LOG_LEVEL: "warn", POD_NAMESPACE: EDGE_NS,
    },
  });
}

test("a Flux minor upgrade across three edges: canary first, paused by a broken canary, migrated, retried, all Ready", async () => {
  const bins = binaries();
  for (const name of SITES) {
    assert.equal((await central.cp.kubectl(["apply", "-f", "-"], { input: edgeClusterYaml(name, NS, { fluxVersion: OLD, values: VALUES }) })).code, 0);
  }
  assert.equal((await central.cp.kubectl(["label", "ec", "-n", NS, "site-a", "fleet.factoryplus.app.amrc.co.uk/canary=true"])).code, 0);
  for (const name of SITES) {
    assert.equal((await central.cp.kubectl(["wait", "-n", NS, `ec/${name}`, "--for=condition=Provisioned", "--timeout=60s"])).code, 0);
    // Unpinned: the repository keeps v2.7.5 until a rollout says otherwise.
    assert.equal((await central.cp.kubectl(["patch", "ec", "-n", NS, name, "--type=json", "-p", '[{"op":"remove","path":"/spec/fluxVersion"}]'])).code, 0);
    await bootstrap(edges.get(name)!, bins);
  }
  // Flux polls the repository every 3 minutes; a person would wait, the test asks the edges' sources to look now and
  // then (a new commit's artifact makes the Kustomization apply at once).
  poke = setInterval(() => {
    for (const e of edges.values()) {
      void e.cp.kubectl(["-n", EDGE_NS, "annotate", "--overwrite", "gitrepositories.source.toolkit.fluxcd.io", "self-link", `reconcile.fluxcd.io/requestedAt=${Date.now()}`]);
    }
  }, 5000);
  for (const name of SITES) await allReady(name, OLD);
  for (const name of SITES) assert.equal(edges.get(name)!.kubelet!.running()["kustomize-controller"], "ghcr.io/fluxcd/kustomize-controller:v1.7.3");

  // The canary once stored GitRepositories as v1beta2 (a cluster that came from an older Flux): v2.9.5 drops it.
  const canary = edges.get("site-a")!;
  const stale = await canary.cp.kubectl(["patch", "crd", "gitrepositories.source.toolkit.fluxcd.io", "--subresource=status", "--type=merge", "-p", '{"status":{"storedVersions":["v1beta2","v1"]}}']);
  assert.equal(stale.code, 0, stale.stderr);

  const manifest = {
    apiVersion: "factoryplus.app.amrc.co.uk/v1alpha1", kind: "FluxRollout", metadata: { name: "to-v2-9", namespace: NS },
    spec: { version: NEW, canary: { matchLabels: { "fleet.factoryplus.app.amrc.co.uk/canary": "true" } }, batchSize: 2, progressDeadline: "10m" },
  };
  assert.equal((await central.cp.kubectl(["apply", "-f", "-"], { input: JSON.stringify(manifest) })).code, 0);

  const paused = await eventually(async () => { const r = await rollout(); return cond(r, "WaveFailed")?.status === "True" && r; },
    { timeoutMs: 240_000, intervalMs: 1000, message: () => `the broken canary pauses the rollout (${logsOf(canary)})` });
  assert.match(cond(paused, "WaveFailed")!.message, /wave 1 of 2 \(site-a\) failed: "site-a": Kustomization fplus-edge\/self-link is not Ready: .*storedVersions/);
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
  const done = await eventually(async () => { const r = await rollout(); return cond(r, "Ready")?.status === "True" && r; }, { timeoutMs: 60_000, message: "rollout Ready" });
  assert.equal(done.status!.updated, "3/3");
  assert.deepEqual(done.status!.waves!.map((w) => w.state), ["Succeeded", "Succeeded"]);
  assert.ok(Date.parse(done.status!.waves![1]!.startedAt!) >= Date.parse(done.status!.waves![0]!.finishedAt!), "wave 2 started after the canary was done");
  for (const name of SITES) {
    const e = edges.get(name)!;
    assert.equal(e.kubelet!.running()["source-controller"], "ghcr.io/fluxcd/source-controller:v1.9.5", `"${name}" runs the new controllers`);
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
