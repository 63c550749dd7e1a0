// The GitOps report end to end: an edge API server with the Flux CRDs, graft's five Flux objects, the three Flux
// controller Deployments and 20 other HelmReleases (Edge deployments), an edge-sync child process reporting to a real
// cluster-manager. Phase 1: Flux's status churn — every object's status rewritten once a second as a no-op reconcile
// does (Reconciling added then removed, lastHandledReconcileAt and the artifact's lastUpdateTime moved) for 60 s:
// pushes and centre reports should stay at zero. Phase 2: 20 real changes (the edge-cluster HelmRelease failing, then
// Ready again): pushes, edge change → Synced at the centre, and the centre's cost per report (CPU, API requests).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually } from "../harness/eventually.js";
import { installFluxCrds } from "../harness/flux.js";
import { HELM_CHARTS_SOURCE, SELF_LINK, helmReleaseName } from "../../operators/cluster-manager/git/repo-content.js";
import { Deployments, FluxTypes } from "../../operators/edge-sync/gitops/flux-objects.js";
import { Core, type ResourceType } from "../../operators/runtime/kube.js";
import type { KubeClient } from "../../operators/runtime/rest.js";
import { apiRequests } from "./api-server-metrics.js";
import { inParallel } from "./edge-clusters.js";
import { percentile, sayer, type BenchOptions, type Figure } from "./figures.js";
import { startBenchEdgeSync, startBenchSite } from "./edge-site.js";
import { metricValue } from "./manager-process.js";

export interface GitopsBenchOptions extends BenchOptions {
  churnSeconds?: number;
  changes?: number;
  changeSpacingMs?: number;
  otherReleases?: number;

}

const NS = "bench-gitops";
const EDGE_NS = "fplus-edge";
const FLUX_NS = "flux-system";

interface Obj { type: ResourceType; namespace: string; name: string }

export async function benchGitopsReport(opts: GitopsBenchOptions = {}): Promise<Figure[]> {
  const say = sayer(opts);
  const seconds = opts.churnSeconds ?? 60;
  const changes = opts.changes ?? 20;
  const others = opts.otherReleases ?? 20;
  const group = `gitops report (${5 + 3 + others} Flux objects)`;
  const work = mkdtempSync(join(tmpdir(), "graft-bench-gitops-"));
  const cleanups: Array<() => Promise<void>> = [];
  try {
    const site = await startBenchSite({ name: "bench-gitops", namespace: NS, cluster: "fleet", work, cleanups, compiled: opts.compiled });
    const { central, manager, edge, edgeClient, onStatus } = site;
    const uuid = site.cluster.status!.uuid!;
    const commit = site.cluster.status!.commit!;
    await installFluxCrds(edge);
    for (const name of [EDGE_NS, FLUX_NS]) await edgeClient.create(Core.namespaces, { metadata: { name } });
    const revision = `main@sha1:${commit}`;
    const objects: Obj[] = [
      { type: FluxTypes.gitRepositories, namespace: EDGE_NS, name: SELF_LINK },
      { type: FluxTypes.gitRepositories, namespace: EDGE_NS, name: HELM_CHARTS_SOURCE },
      { type: FluxTypes.kustomizations, namespace: EDGE_NS, name: SELF_LINK },
      { type: FluxTypes.kustomizations, namespace: EDGE_NS, name: "flux-system" },
      { type: FluxTypes.helmReleases, namespace: EDGE_NS, name: helmReleaseName(uuid) },
      ...["source-controller", "kustomize-controller", "helm-controller"].map((name) => ({ type: Deployments as ResourceType, namespace: FLUX_NS, name })),
      ...Array.from({ length: others }, (_, i) => ({ type: FluxTypes.helmReleases as ResourceType, namespace: EDGE_NS, name: `edge-agent-${i}` })),
    ];
    say(`${group}: creating the Flux objects`);
    await inParallel(objects, 8, async (o) => {
      await edgeClient.create(o.type, { metadata: { name: o.name, namespace: o.namespace, ...(o.type === Deployments ? { labels: { "app.kubernetes.io/part-of": "flux", "app.kubernetes.io/version": "v2.9.5" } } : {}) }, spec: specOf(o) });
      await setStatus(edgeClient, o, readyStatus(o, revision, 0));
    });

    const synced = () => site.seen()?.status?.conditions?.find((c) => c.type === "Synced");

    const sync = await startBenchEdgeSync(site, { work, cleanups, compiled: opts.compiled, env: { POD_NAMESPACE: EDGE_NS } });
    await eventually(() => synced()?.status === "True", { timeoutMs: 60_000, message: () => `Synced=True at the centre (${JSON.stringify(synced())})` });
    await new Promise((r) => setTimeout(r, 3_000));

    say(`${group}: Flux status churn for ${seconds} s`);
    const pushesBefore = await sync.pushes();
    const reportsBefore = metricValue(await manager.metrics(), "graft_status_reports_total");
    const cpuBefore = sync.cpuSeconds();
    const updates = await churn(edgeClient, objects, revision, seconds * 1000);
    await new Promise((r) => setTimeout(r, 3_000));
    const churnCpu = sync.cpuSeconds() - cpuBefore;
    const churnPushes = (await sync.pushes()) - pushesBefore;
    const churnReports = metricValue(await manager.metrics(), "graft_status_reports_total") - reportsBefore;

    say(`${group}: ${changes} HelmRelease changes`);
    const release = objects[4]!;
    const changePushesBefore = await sync.pushes();
    const reportsBeforeChanges = metricValue(await manager.metrics(), "graft_status_reports_total");
    const managerCpuBefore = manager.cpuSeconds();
    const requestsBefore = await apiRequests(central);
    const delays: number[] = [];
    for (let i = 0; i < changes; i++) {
      const failing = i % 2 === 0;
      const want = failing ? `upgrade ${i} failed` : undefined;
      const at = performance.now();
      const arrived = new Promise<void>((resolve) => {
        const check = () => {
          const c = synced();
          if (failing ? c?.message.includes(want!) : c?.status === "True") {
            onStatus.splice(onStatus.indexOf(check), 1);
            delays.push(performance.now() - at);
            resolve();
          }
        };
        onStatus.push(check);
      });
      await setStatus(edgeClient, release, failing ? failedStatus(want!) : readyStatus(release, revision, i));
      await Promise.race([arrived, new Promise((r) => setTimeout(r, 10_000))]);
      await new Promise((r) => setTimeout(r, opts.changeSpacingMs ?? 500));
    }
    await new Promise((r) => setTimeout(r, 1_000));
    const changePushes = (await sync.pushes()) - changePushesBefore;
    const changeReports = metricValue(await manager.metrics(), "graft_status_reports_total") - reportsBeforeChanges;
    const managerCpu = manager.cpuSeconds() - managerCpuBefore;
    // Includes this benchmark's own reads (the informer's watch events are not requests; the status polls are none).
    const centralRequests = (await apiRequests(central)) - requestsBefore;

    return [
      { group, name: `Flux status updates in ${seconds} s (churn)`, value: updates, unit: "" },
      { group, name: "pushes caused by the churn", value: churnPushes, unit: "", target: { op: "==", bound: 0 } },
      { group, name: "status reports the centre received meanwhile", value: churnReports, unit: "", target: { op: "==", bound: 0 } },
      { group, name: "edge-sync CPU per Flux status update", value: (churnCpu * 1e6) / Math.max(1, updates), unit: "µs" },
      { group, name: `HelmRelease changes seen as Synced changes (1 per ${opts.changeSpacingMs ?? 500} ms)`, value: delays.length, unit: `of ${changes}`, target: { op: "==", bound: changes } },
      { group, name: "pushes for those changes", value: changePushes, unit: "" },
      { group, name: "edge change → Synced at the centre, p50", value: percentile(delays, 50), unit: "ms" },
      { group, name: "edge change → Synced at the centre, p99", value: percentile(delays, 99), unit: "ms" },
      { group, name: "cluster-manager CPU per report", value: (managerCpu * 1e3) / Math.max(1, changeReports), unit: "ms" },
      { group, name: "central API requests per report", value: centralRequests / Math.max(1, changeReports), unit: "" },
    ];
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
}

function specOf(o: Obj): Record<string, unknown> {
  if (o.type === Deployments) {
    return { replicas: 1, selector: { matchLabels: { app: o.name } }, template: { metadata: { labels: { app: o.name } }, spec: { containers: [{ name: "manager", image: `ghcr.io/fluxcd/${o.name}:v1` }] } } };
  }
  const source = { kind: "GitRepository", name: HELM_CHARTS_SOURCE };
  if (o.type === FluxTypes.gitRepositories) return { interval: "3m", url: "http://example.invalid/repo", ref: { branch: "main" } };
  if (o.type === FluxTypes.kustomizations) return { interval: "3m", path: "./", prune: true, sourceRef: source };
  return { interval: "2m", chart: { spec: { chart: "edge-cluster", sourceRef: source } } };
}

const READY_AT = "2026-01-01T00:00:00Z";

/** A settled object's status; `n` moves only what a no-op reconcile moves. */
function readyStatus(o: Obj, revision: string, n: number): Record<string, unknown> {
  if (o.type === Deployments) return { observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 };
  const handled = `2026-01-01T00:${String(Math.floor(n / 60) % 60).padStart(2, "0")}:${String(n % 60).padStart(2, "0")}Z`;
  const ready = { type: "Ready", status: "True", reason: "Succeeded", message: `Applied revision: ${revision}`, lastTransitionTime: READY_AT, observedGeneration: 1 };
  const base = { observedGeneration: 1, lastHandledReconcileAt: handled, conditions: [ready] };
  if (o.type === FluxTypes.gitRepositories) return { ...base, artifact: { revision, lastUpdateTime: handled, path: "x", url: "http://x", digest: "sha256:0" } };
  if (o.type === FluxTypes.kustomizations) return { ...base, lastAppliedRevision: revision, lastAttemptedRevision: revision };
  return { ...base, history: [{ chartVersion: "0.2.0+abc", chartName: "edge-cluster", name: o.name, namespace: EDGE_NS, version: 1, status: "deployed", digest: "sha256:0", firstDeployed: READY_AT, lastDeployed: READY_AT, configDigest: "sha256:0" }] };
}

function failedStatus(message: string): Record<string, unknown> {
  return {
    observedGeneration: 1,
    conditions: [{ type: "Ready", status: "False", reason: "UpgradeFailed", message, lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"), observedGeneration: 1 }],
    history: [{ chartVersion: "0.2.0+abc", chartName: "edge-cluster", name: "x", namespace: EDGE_NS, version: 1, status: "failed", digest: "sha256:0", firstDeployed: READY_AT, lastDeployed: READY_AT, configDigest: "sha256:0" }],
  };
}

async function setStatus(client: KubeClient, o: Obj, status: Record<string, unknown>): Promise<void> {
  await client.request(`${pathOf(o)}/status`, { method: "PUT", body: { ...(await client.get(o.type, o.name, o.namespace)), status } });
}

const pathOf = (o: Obj) => `/${o.type.group ? `apis/${o.type.group}` : "api"}/${o.type.version}/namespaces/${o.namespace}/${o.type.plural}/${o.name}`;

/** Every Flux object reconciles once a second (Reconciling added, then the settled status with new timestamps). */
async function churn(client: KubeClient, objects: Obj[], revision: string, durationMs: number): Promise<number> {
  const flux = objects.filter((o) => o.type !== Deployments);
  const start = performance.now();
  let updates = 0;
  for (let n = 1; performance.now() - start < durationMs; n++) {
    const round = performance.now();
    await inParallel(flux, 8, async (o) => {
      const settled = readyStatus(o, revision, n);
      const reconciling = { ...settled, conditions: [...(settled.conditions as object[]), { type: "Reconciling", status: "True", reason: "Progressing", message: "reconciliation in progress", lastTransitionTime: READY_AT, observedGeneration: 1 }] };
      await setStatus(client, o, reconciling);
      await setStatus(client, o, settled);
      updates += 2;
    });
    const wait = 1000 - (performance.now() - round);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  return updates;
}

