// The edge's GitOps state at the centre, against the real Flux controllers (source-, kustomize- and helm-controller as
// processes on an edge API server; nothing runs Pods, so the chart's workloads are switched off and edge-sync runs
// as a process): bootstrap → Flux applies the repository and helm-controller installs the edge-cluster chart →
// edge-sync reports each Flux object → the EdgeCluster is Synced at graft's commit with the applied revision and the
// Flux version in `kubectl get ec`. A spec.values change moves the applied revision to the new commit; a values change
// the chart's schema refuses shows helm-controller's error in `kubectl describe ec`; fixing it makes Synced True again.
// Each new commit reaches Flux through edge-sync's head watch (the manager answers its long-poll when the head moves,
// edge-sync asks for a reconcile of the self-link GitRepository); with the poll set to an hour it still does.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { eventually } from "./harness/eventually.js";
import type { FluxControllers } from "./harness/flux.js";
import { EdgeClusterType, type EdgeCluster } from "../operators/api/edgecluster.js";
import { edgeClusterYaml } from "./support/cluster-manager/fixtures.js";
import { edgeWorldForFile } from "./support/cluster-manager/edge-world.js";

const NS = "sites";
const EDGE_NS = "fplus-edge";
const NAME = "line-g";
/** No workloads: helm-controller's install waits for Pods no kubelet would start. */
const VALUES = { edgeSync: { enabled: false }, edgeMonitor: { enabled: false }, sealedSecrets: { enabled: false } };
const { central, edge, work, edgeJson, ...site } = await edgeWorldForFile({ name: "gitops", namespace: NS });
let flux: FluxControllers | undefined;

const ec = () => central.manager.client.get<EdgeCluster>(EdgeClusterType, NAME, NS);
const synced = (e: EdgeCluster) => e.status?.conditions?.find((c) => c.type === "Synced");
const logs = () => `edge-sync: ${tail(join(work, "edge-sync.log"))}\n${flux?.recentLogs(15)}`;
const selfLink = () => edgeJson(["-n", EDGE_NS, "get", "gitrepositories.source.toolkit.fluxcd.io", "self-link"]);
const edgeKubectl = async (args: string[]) => assert.equal((await edge.kubectl(["-n", EDGE_NS, ...args])).code, 0, args.join(" "));

async function newCommit(patch: unknown, previous: string): Promise<string> {
  assert.equal((await central.cp.kubectl(["patch", "ec", "-n", NS, NAME, "--type=merge", "-p", JSON.stringify({ spec: { values: patch } })])).code, 0);
  const e = await eventually(async () => {
    const x = await ec();
    return x.status?.commit !== previous && x.status?.observedGeneration === x.metadata.generation && x;
  }, { message: "the values change committed" });
  return e.status!.commit!;
}

test("the edge's Flux objects reach the EdgeCluster: Synced at graft's commit, applied revision, Flux version, a HelmRelease failure in describe", async (t) => {
  assert.equal((await central.cp.kubectl(["apply", "-f", "-"], { input: edgeClusterYaml(NAME, NS, { values: VALUES }) })).code, 0);
  assert.equal((await central.cp.kubectl(["wait", "-n", NS, `ec/${NAME}`, "--for=condition=Provisioned", "--timeout=60s"])).code, 0);
  await site.bootstrap(NAME);
  flux = await site.startFlux({ helmController: true });

  // The repository's Flux install creates the controller Deployments in flux-system; with no kube-controller-manager
  // here, their rollout status is written as its deployment controller would, once they exist.
  const controllers = await eventually(async () => {
    const list = (await edgeJson(["-n", "flux-system", "get", "deployments", "-l", "app.kubernetes.io/part-of=flux"])).items as Array<{ metadata: { name: string; generation: number } }>;
    return list.length === 3 && list;
  }, { timeoutMs: 120_000, intervalMs: 1000, message: () => `Flux's controller Deployments applied (${flux?.recentLogs(10)})` });
  for (const d of controllers) {
    const rolledOut = { status: { observedGeneration: d.metadata.generation, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 } };
    assert.equal((await edge.kubectl(["-n", "flux-system", "patch", "deployment", d.metadata.name, "--subresource=status", "--type=merge", "-p", JSON.stringify(rolledOut)])).code, 0);
  }

  await site.startEdgeSync({ LOG_LEVEL: "info", POD_NAMESPACE: EDGE_NS });

  let seen: EdgeCluster | undefined;
  const first = await eventually(async () => {
    seen = await ec();
    return synced(seen)?.status === "True" && seen;
  }, { timeoutMs: 180_000, intervalMs: 1000, message: () => `Synced=True (gitops: ${JSON.stringify(seen?.status?.gitops)}; Synced: ${JSON.stringify(seen && synced(seen))}; ${logs()})` });
  const commit = first.status!.commit!;
  assert.equal(first.status!.gitops!.appliedRevision, `main@sha1:${commit}`);
  assert.equal(first.status!.gitops!.fluxVersion, "v2.9.5");
  const kinds = first.status!.gitops!.objects.map((o) => `${o.kind}/${o.name}=${o.ready}`);
  const uuid = first.status!.uuid!;
  for (const want of ["GitRepository/self-link=True", "GitRepository/helm-charts=True", "Kustomization/self-link=True", `HelmRelease/edge-cluster-${uuid}=True`, "Deployment/helm-controller=True"]) {
    assert.ok(kinds.includes(want), `${want} in ${kinds.join(", ")}`);
  }
  const table = await central.cp.kubectl(["get", "ec", "-n", NS, NAME, "-o", "wide"]);
  assert.match(table.stdout, new RegExp(`\\sTrue\\s+v2\\.9\\.5\\s+main@sha1:${commit}\\s`), table.stdout);

  // A values change: a new commit, Synced False until the edge applied it, then the applied revision moves.
  const second = await newCommit({ logLevel: "debug" }, commit);
  assert.equal(synced(await ec())?.reason, "RevisionPending", "graft's new commit is not applied yet");
  const moved = await eventually(async () => {
    const e = await ec();
    return e.status?.gitops?.appliedRevision === `main@sha1:${second}` && synced(e)?.status === "True" && e;
  }, { timeoutMs: 120_000, intervalMs: 1000, message: () => `applied revision moved to ${second} (${logs()})` });
  const release = await edgeJson(["-n", EDGE_NS, "get", "helmreleases.helm.toolkit.fluxcd.io", `edge-cluster-${uuid}`]);
  assert.equal(release.spec.values.logLevel, "debug");
  assert.match(synced(moved)!.message, new RegExp(`graft's latest commit ${second.slice(0, 12)}`));

  // A values change the chart's templates refuse (the manager commits no values its values.schema.json refuses):
  // helm-controller's error in describe.
  // Nobody but edge-sync's head watch asks Flux to look (the self-link GitRepository's poll is the fallback).
  const source = await selfLink();
  assert.equal(source.spec.interval, "1m");
  const third = await newCommit({ sealedSecrets: { enabled: true, namespace: EDGE_NS } }, second);
  const brokenAt = Date.now();
  const broken = await eventually(async () => {
    seen = await ec();
    const described = (await central.cp.kubectl(["describe", "ec", "-n", NS, NAME])).stdout.replace(/\s+/g, " ");
    return /HelmRelease fplus-edge\/edge-cluster-\S+ is not Ready: \w+: .*sealedSecrets\.namespace "fplus-edge" is the release namespace/.test(described) && described;
  }, { timeoutMs: 180_000, intervalMs: 1000, message: () => `the HelmRelease's error in describe (gitops: ${JSON.stringify(seen?.status?.gitops)}; ${logs()})` });
  t.diagnostic(`values change refused by the chart → its error in kubectl describe ec: ${((Date.now() - brokenAt) / 1000).toFixed(1)} s after the commit (edge-sync's head watch asked Flux to fetch)`);
  assert.match(broken, /get a namespace of their own Observed Generation: \d+ Reason: FluxObjectNotReady Status: False Type: Synced/);
  assert.equal((await ec()).status!.gitops!.appliedRevision, `main@sha1:${third}`, "the Kustomization applied it; the HelmRelease refused it");
  assert.equal((await ec()).status!.conditions!.find((c) => c.type === "Ready")?.status, "True", "a failing edge release is Synced=False, not a provisioning fault");

  // The bad values taken back: Synced again.
  const fourth = await newCommit({ sealedSecrets: { enabled: false, namespace: null } }, third);
  await eventually(async () => {
    const e = await ec();
    return e.status?.gitops?.appliedRevision === `main@sha1:${fourth}` && synced(e)?.status === "True";
  }, { timeoutMs: 180_000, intervalMs: 1000, message: () => `Synced again at ${fourth} (${logs()})` });
});

test("a new commit reaches the edge's GitRepository because edge-sync's head watch asked for it: poll set to 1h, nothing else moves the artifact", async (t) => {
  // The self-link Kustomization would put the 1m interval back when it applies: suspended while the poll is off.
  await edgeKubectl(["patch", "kustomizations.kustomize.toolkit.fluxcd.io", "self-link", "--type=merge", "-p", '{"spec":{"suspend":true}}']);
  await edgeKubectl(["patch", "gitrepositories.source.toolkit.fluxcd.io", "self-link", "--type=merge", "-p", '{"spec":{"interval":"1h"}}']);
  try {
    // The interval change is a new generation, which source-controller handles (and fetches for) once: let it.
    const quiet = await eventually(async () => {
      const g = await selfLink();
      return g.status?.observedGeneration === g.metadata.generation && g.status?.artifact?.revision && g;
    }, { timeoutMs: 60_000, message: "source-controller handled the 1h interval" });
    const before = await ec();
    assert.equal(quiet.status.artifact.revision, `main@sha1:${before.status!.commit}`, "the artifact is at graft's commit before the change");
    const askedBefore = quiet.metadata.annotations?.["reconcile.fluxcd.io/requestedAt"];

    const commit = await newCommit({ logLevel: "warn" }, before.status!.commit!);
    const committedAt = Date.now();
    const fetched = await eventually(async () => {
      const g = await selfLink();
      return g.status?.artifact?.revision === `main@sha1:${commit}` && g;
    }, { timeoutMs: 120_000, intervalMs: 250, message: () => `the self-link artifact at ${commit} (${logs()})` });
    t.diagnostic(`values change → the edge's GitRepository artifact at the new commit: ${((Date.now() - committedAt) / 1000).toFixed(1)} s (poll interval 1h)`);
    assert.equal(fetched.spec.interval, "1h", "no poll brought it");
    const asked = fetched.metadata.annotations?.["reconcile.fluxcd.io/requestedAt"];
    assert.ok(asked && asked !== askedBefore, "a reconcile was requested after the commit");
    assert.match(asked, /^\d{4}-\d\d-\d\dT[\d:.]+Z$/, "by edge-sync (an ISO time; nothing else here sets the annotation)");
    assert.equal(fetched.status.lastHandledReconcileAt, asked, "source-controller fetched because it was asked");
    assert.match(readFileSync(join(work, "edge-sync.log"), "utf8"), new RegExp(`"commit":"${commit}".*asked Flux to fetch it now`));
  } finally {
    await edgeKubectl(["patch", "kustomizations.kustomize.toolkit.fluxcd.io", "self-link", "--type=merge", "-p", '{"spec":{"suspend":false}}']);
  }
});

function tail(path: string): string {
  try {
    return readFileSync(path, "utf8").split("\n").slice(-15).join("\n");
  } catch {
    return "(no log)";
  }
}
