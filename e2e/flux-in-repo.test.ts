// Flux managed from the cluster's repository, with the real Flux controllers: an EdgeCluster pinned to an older
// Flux release is set up with that release's install in flux-system/gotk-components.yaml, the bootstrap script
// installs the same release, and the self-link Kustomization takes Flux over (never pruning it). Changing
// spec.fluxVersion is one commit, which Flux applies to itself; a release the cluster-manager lacks stalls with a
// message naming the ones it has; a bare cluster's repository stops carrying Flux and Flux stays installed.
// The controllers run as processes against an edge API server (no kubelet), so "Flux upgraded" is seen in what they
// applied: the flux-system Deployments' images and the CRDs of the new release.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { startControlPlane, type ControlPlane } from "./harness/control-plane.js";
import { eventually } from "./harness/eventually.js";
import { startFlux, type FluxControllers } from "./harness/flux.js";
import { EdgeClusterType, type EdgeCluster } from "../operators/api/edgecluster.js";
import { requestBootstrapCommand } from "../operators/cluster-manager/bootstrap-command.js";
import { FLUX_COMPONENTS_FILE, repoFluxVersion } from "../operators/cluster-manager/git/repo-content.js";
import { edgeClusterYaml, startManagerFixture, type ManagerFixture } from "./support/cluster-manager/fixtures.js";

const run = promisify(execFile);
const NS = "sites";
const EDGE_NS = "fplus-edge";
const OLD = "v2.7.5";
const NEW = "v2.9.5";

let central: ManagerFixture;
let edge: ControlPlane;
let flux: FluxControllers | undefined;
let work: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), "graft-flux-repo-"));
  central = await startManagerFixture("central");
  edge = await startControlPlane({ name: "edge" });
  await central.cp.kubectl(["create", "namespace", NS]);
});
after(async () => {
  await flux?.stop();
  await edge?.stop();
  await central?.stop();
  rmSync(work, { recursive: true, force: true });
});

const ec = () => central.manager.client.get<EdgeCluster>(EdgeClusterType, "site-a", NS);
const edgeJson = async (args: string[]) => {
  const r = await edge.kubectl([...args, "-o", "json"]);
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
};
type Cond = { type: string; status: string; reason?: string; message?: string };
const condition = (obj: { status?: { conditions?: Cond[] } }, type: string) => obj.status?.conditions?.find((c) => c.type === type);
const image = async (name: string): Promise<string> => (await edgeJson(["-n", "flux-system", "get", "deployment", name])).spec.template.spec.containers[0].image;
const selfLink = () => edgeJson(["-n", EDGE_NS, "get", "kustomizations.kustomize.toolkit.fluxcd.io", "self-link"]);
const pullNow = () => edge.kubectl(["-n", EDGE_NS, "annotate", "--overwrite", "gitrepositories.source.toolkit.fluxcd.io", "self-link", `reconcile.fluxcd.io/requestedAt=${Date.now()}`]);

/** The self-link Kustomization Ready at the commit graft made last. */
async function appliedCommit(commit: string): Promise<void> {
  await eventually(async () => {
    const k = await selfLink();
    return condition(k, "Ready")?.status === "True" && String(k.status?.lastAppliedRevision ?? "").endsWith(commit);
  }, { timeoutMs: 120_000, intervalMs: 1000, message: () => `self-link Ready at ${commit} (flux logs: ${flux?.recentLogs(15)})` });
}

test("Flux lives in the cluster's repository: pinned release, bootstrap, self-managed upgrade, unknown release, bare", async () => {
  assert.equal((await central.cp.kubectl(["apply", "-f", "-"], { input: edgeClusterYaml("site-a", NS, { fluxVersion: OLD }) })).code, 0);
  assert.equal((await central.cp.kubectl(["wait", "-n", NS, "ec/site-a", "--for=condition=Provisioned", "--timeout=60s"])).code, 0);
  const first = await ec();
  const uuid = first.status!.uuid!;
  assert.equal(first.status!.fluxVersion, OLD);
  const files = await central.manager.repos.readFiles(uuid);
  assert.equal(repoFluxVersion(files), OLD);
  assert.match(files.get(FLUX_COMPONENTS_FILE)!.toString("utf8"), /image: ghcr\.io\/fluxcd\/source-controller:v1\.7\.3/);
  const table = await central.cp.kubectl(["get", "ec", "-n", NS, "-o", "wide"]);
  assert.match(table.stdout, /FLUX-TARGET/);
  assert.match(table.stdout, new RegExp(`site-a\\s.*${OLD.replace(/\./g, "\\.")}`));

  // The bootstrap script installs the cluster's release, not the cluster-manager's pinned one.
  const { command } = await requestBootstrapCommand(central.manager.client, NS, "site-a", 30_000);
  const url = /'([^']+)'/.exec(command)![1]!;
  const script = await (await fetch(url)).text();
  writeFileSync(join(work, "bootstrap.sh"), script);
  await run("dash", [join(work, "bootstrap.sh"), "--yes", "--no-wait"], {
    env: { PATH: process.env.PATH, HOME: work, KUBECTL: edge.kubectlPath, KUBECONFIG: edge.kubeconfigPath },
  });
  assert.equal(await image("source-controller"), "ghcr.io/fluxcd/source-controller:v1.7.3");
  const bootstrapped = await edgeJson(["-n", "flux-system", "get", "deployment", "kustomize-controller"]);

  flux = await startFlux({ kubeconfigPath: edge.kubeconfigPath, workDir: join(work, "flux") });
  await appliedCommit(first.status!.commit!);
  // The self-link Kustomization owns Flux now, and would never prune it.
  const deployment = await edgeJson(["-n", "flux-system", "get", "deployment", "kustomize-controller"]);
  assert.equal(deployment.metadata.generation, bootstrapped.metadata.generation, "adopting the bootstrap's install changes no Deployment");
  assert.equal(deployment.metadata.labels["kustomize.toolkit.fluxcd.io/name"], "self-link");
  assert.equal(deployment.metadata.annotations["kustomize.toolkit.fluxcd.io/prune"], "disabled");
  assert.equal(deployment.spec.template.metadata.annotations?.["kustomize.toolkit.fluxcd.io/prune"], undefined, "Pod template untouched");
  const oldCrd = await edgeJson(["get", "crd", "gitrepositories.source.toolkit.fluxcd.io"]);
  assert.equal(oldCrd.metadata.labels["app.kubernetes.io/version"], OLD);
  // Only the versions the new release keeps are stored: the jump needs no storage migration (docs/flux-upgrades.md).
  assert.deepEqual(oldCrd.status.storedVersions, ["v1"]);

  // An upgrade is one commit, which Flux applies to itself.
  assert.equal((await central.cp.kubectl(["patch", "ec", "-n", NS, "site-a", "--type=merge", "-p", JSON.stringify({ spec: { fluxVersion: NEW } })])).code, 0);
  const upgraded = await eventually(async () => {
    const e = await ec();
    return e.status?.fluxVersion === NEW && e.status.observedGeneration === e.metadata.generation && e;
  }, { timeoutMs: 60_000, message: "the new release committed" });
  assert.notEqual(upgraded.status!.commit, first.status!.commit);
  assert.equal(repoFluxVersion(await central.manager.repos.readFiles(uuid)), NEW);
  await pullNow();
  await appliedCommit(upgraded.status!.commit!);
  assert.equal(await image("source-controller"), "ghcr.io/fluxcd/source-controller:v1.9.5");
  assert.equal(await image("helm-controller"), "ghcr.io/fluxcd/helm-controller:v1.6.4");
  const newCrd = await edgeJson(["get", "crd", "gitrepositories.source.toolkit.fluxcd.io"]);
  assert.equal(newCrd.metadata.labels["app.kubernetes.io/version"], NEW);
  assert.deepEqual(newCrd.spec.versions.map((v: { name: string }) => v.name), ["v1"], "the new release's CRD (v1beta2 dropped)");

  // A release the cluster-manager does not have: stalled with the ones it has, the repository untouched.
  assert.equal((await central.cp.kubectl(["patch", "ec", "-n", NS, "site-a", "--type=merge", "-p", '{"spec":{"fluxVersion":"v2.8.0"}}'])).code, 0);
  const stalled = await eventually(async () => {
    const e = await ec();
    const failed = condition(e, "RepositoryFailed");
    return failed?.reason === "UnknownFluxVersion" && condition(e, "Stalled")?.status === "True" && failed;
  }, { timeoutMs: 60_000, message: "UnknownFluxVersion" });
  assert.match(stalled.message!, /asks for Flux "v2\.8\.0", which the cluster-manager does not have \(it has v2\.7\.5, v2\.9\.5\)/);
  assert.equal(repoFluxVersion(await central.manager.repos.readFiles(uuid)), NEW);

  // Without a pin the repository keeps what it has (the cluster-manager's own release does not move the cluster).
  assert.equal((await central.cp.kubectl(["patch", "ec", "-n", NS, "site-a", "--type=json", "-p", '[{"op":"remove","path":"/spec/fluxVersion"}]'])).code, 0);
  await eventually(async () => {
    const e = await ec();
    return e.status?.observedGeneration === e.metadata.generation && condition(e, "Ready") !== undefined && !condition(e, "RepositoryFailed") && e.status?.fluxVersion === NEW;
  }, { timeoutMs: 60_000, message: "unpinned: recovered, still on the repository's release" });

  // Bare: the repository stops carrying Flux; Flux stays installed (prune disabled).
  assert.equal((await central.cp.kubectl(["patch", "ec", "-n", NS, "site-a", "--type=merge", "-p", '{"spec":{"bare":true}}'])).code, 0);
  const bare = await eventually(async () => {
    const e = await ec();
    return e.status?.observedGeneration === e.metadata.generation && e.status?.fluxVersion === undefined && e;
  }, { timeoutMs: 60_000, message: "bare committed" });
  assert.equal([...(await central.manager.repos.readFiles(uuid)).keys()].some((p) => p.startsWith("flux-system/")), false);
  await pullNow();
  await appliedCommit(bare.status!.commit!);
  assert.equal(await image("source-controller"), "ghcr.io/fluxcd/source-controller:v1.9.5", "Flux not pruned");
  assert.equal((await edge.kubectl(["get", "crd", "kustomizations.kustomize.toolkit.fluxcd.io"])).code, 0);
});
