// What a FluxRollout should look like now, worked out from scratch on every pass (level-triggered): which clusters
// it covers, their waves (the canary wave, then batches of spec.batchSize, each in name order), each wave's state
// from the clusters' own status (the release committed to the repository, and the edge's report: the Flux version
// running and every reported object Ready at graft's latest commit), which clusters to assign the release to, and
// the rollout's status. Pure: the controller only reads the inputs and writes the results.
import { Reason as EcReason } from "../../api/conditions.js";
import { FLUX_ROLLOUT_ANNOTATION, FLUX_VERSION_ANNOTATION, RECONCILE_REQUESTED_ANNOTATION } from "../../api/constants.js";
import type { EdgeCluster } from "../../api/edgecluster.js";
import {
  FluxRolloutCondition as C, FluxRolloutReason as R, type FluxRollout, type FluxRolloutStatus, type LabelSelector,
  type RolloutWave,
} from "../../api/fluxrollout.js";
import { removeCondition, setCondition, type ConditionInput } from "../../runtime/conditions.js";
import { parseDuration } from "../../runtime/duration.js";
import { syncedCondition } from "../gitops-report.js";
import type { FluxReleases } from "./flux-releases.js";

export interface PlanInput {
  rollout: FluxRollout;
  /** The EdgeClusters of the rollout's namespace. */
  clusters: readonly EdgeCluster[];
  /** Names of the FluxRollouts of the namespace (a cluster another one holds is left to it). */
  rollouts: ReadonlySet<string>;
  releases: FluxReleases;
  now: Date;
}

export interface RolloutPlan {
  status: FluxRolloutStatus;
  /** Clusters whose annotations must name this rollout's release (and the rollout). */
  assign: EdgeCluster[];
  /** Set when a wave has just failed: the Warning Event to record. */
  paused?: { wave: number; message: string };
  /** Come back then (a started wave's deadline), even if nothing changes. */
  requeueAfterMs?: number;
}

export type ClusterProgress = { state: "updated" | "progressing" | "failed"; message: string };

/** Where one cluster stands with the release: on it with every Flux object Ready, on its way, or failing. */
export function clusterProgress(ec: EdgeCluster, version: string): ClusterProgress {
  const name = ec.metadata.name;
  const s = ec.status ?? {};
  if (s.fluxVersion !== version) return { state: "progressing", message: `"${name}": Flux ${version} not yet committed to its repository` };
  const synced = syncedCondition(s);
  if (!synced) return { state: "progressing", message: `"${name}": no report from the edge yet` };
  if (synced.status === "False" && synced.reason === EcReason.FluxObjectNotReady) return { state: "failed", message: `"${name}": ${synced.message.trimEnd()}${migrationHint(synced.message)}` };
  const running = s.gitops?.fluxVersion;
  if (synced.status === "True" && running === version) return { state: "updated", message: `"${name}": on Flux ${version}, every Flux object Ready` };
  if (synced.status === "True") return { state: "progressing", message: `"${name}": the edge reports Flux ${running ?? "(unknown)"}, not yet ${version}` };
  return { state: "progressing", message: `"${name}": ${synced.message}` };
}

/**
 * What to do when the new release's CRDs were refused for a stored version they drop (the API server's
 * "storedVersions[0]: Invalid value"): the edge's edge-sync migrates by itself where the chart lets it, so this
 * names the two ways. edge-sync's own report of a CRD it could not migrate says so already.
 */
function migrationHint(message: string): string {
  if (!/storedVersions/.test(message) || /graft flux-migrate/.test(message)) return "";
  return " — the edge's Flux CRDs still store an API version the new release drops: run `graft flux-migrate --kubeconfig <that cluster's kubeconfig>` " +
    "(what `flux migrate` does), or let its edge-sync do it (chart value edgeSync.fluxStorageMigration, on by default)";
}

export function matchesSelector(labels: Record<string, string> | undefined, selector: LabelSelector | undefined): boolean {
  if (!selector) return true;
  const l = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (l[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.hasOwn(l, e.key);
    const inValues = has && (e.values ?? []).includes(l[e.key]!);
    if (e.operator === "In" && !inValues) return false;
    if (e.operator === "NotIn" && inValues) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

const byName = (a: EdgeCluster, b: EdgeCluster) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0);

export function planRollout(input: PlanInput): RolloutPlan {
  const { rollout, now } = input;
  const { spec } = rollout;
  const generation = rollout.metadata.generation;
  const read = rollout.status ?? {};
  const status: FluxRolloutStatus = structuredClone(read);
  status.observedGeneration = generation;
  status.version = spec.version;
  const conditions = (ready: ConditionInput, extra: { stalled?: ConditionInput; failed?: ConditionInput; reconciling?: boolean }) => {
    let c = status.conditions;
    c = extra.stalled ? setCondition(c, extra.stalled, generation, now) : removeCondition(c, C.Stalled);
    c = extra.failed ? setCondition(c, extra.failed, generation, now) : removeCondition(c, C.WaveFailed);
    c = extra.reconciling && !extra.stalled
      ? setCondition(c, { type: C.Reconciling, status: "True", reason: R.Progressing, message: ready.message }, generation, now)
      : removeCondition(c, C.Reconciling);
    status.conditions = setCondition(c, ready, generation, now);
  };
  const stall = (reason: string, message: string): RolloutPlan => {
    delete status.waves;
    delete status.updated;
    delete status.pause;
    conditions({ type: C.Ready, status: "False", reason, message }, { stalled: { type: C.Stalled, status: "True", reason, message } });
    return { status, assign: [] };
  };

  if (!input.releases.get(spec.version)) {
    return stall(R.UnknownFluxVersion, `Flux "${spec.version}" is not available to the cluster-manager (it has ${input.releases.versions().join(", ")}): set spec.version to one of those`);
  }
  let deadlineMs: number;
  let failAfterMs: number;
  try {
    deadlineMs = parseDuration(spec.progressDeadline);
  } catch (err) {
    return stall(R.InvalidSpec, `spec.progressDeadline: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    failAfterMs = parseDuration(spec.failAfter ?? "1m");
  } catch (err) {
    return stall(R.InvalidSpec, `spec.failAfter: ${err instanceof Error ? err.message : String(err)}`);
  }

  const me = rollout.metadata.name;
  const inScope = input.clusters.filter((ec) => !ec.metadata.deletionTimestamp && matchesSelector(ec.metadata.labels, spec.selector)).sort(byName);
  const heldByOther = (ec: EdgeCluster) => {
    const holder = ec.metadata.annotations?.[FLUX_ROLLOUT_ANNOTATION];
    return holder !== undefined && holder !== me && input.rollouts.has(holder);
  };
  const skipped = inScope.filter((ec) => ec.spec.fluxVersion || ec.spec.bare || heldByOther(ec));
  const eligible = inScope.filter((ec) => !skipped.includes(ec));
  if (skipped.length > 0) status.skipped = skipped.map((ec) => ec.metadata.name);
  else delete status.skipped;

  const canaries = spec.canary ? eligible.filter((ec) => matchesSelector(ec.metadata.labels, spec.canary)) : eligible.slice(0, 1);
  if (spec.canary && canaries.length === 0 && eligible.length > 0) {
    return stall(R.InvalidSpec, `spec.canary matches none of the ${eligible.length} EdgeClusters the rollout covers: label a canary or change spec.canary`);
  }
  const rest = eligible.filter((ec) => !canaries.includes(ec));
  const waves: EdgeCluster[][] = canaries.length > 0 ? [canaries] : [];
  for (let i = 0; i < rest.length; i += spec.batchSize) waves.push(rest.slice(i, i + spec.batchSize));

  // What earlier passes of this generation and release recorded: when each wave started, and a pause.
  const sameRun = read.observedGeneration === generation && read.version === spec.version;
  const before = sameRun ? read.waves ?? [] : [];
  const retryRequest = rollout.metadata.annotations?.[RECONCILE_REQUESTED_ANNOTATION];
  if (retryRequest !== undefined) status.lastHandledReconcileAt = retryRequest;
  const pausedBefore = sameRun && read.pause?.generation === generation ? read.pause : undefined;
  const stillPaused = pausedBefore && pausedBefore.retryRequest === retryRequest ? pausedBefore : undefined;
  const retried = pausedBefore && !stillPaused ? pausedBefore.wave : undefined;

  const nowIso = now.toISOString();
  const assign: EdgeCluster[] = [];
  const out: RolloutWave[] = [];
  let blockedBy: { reason: string; message: string } | undefined;
  let failed: { wave: number; message: string } | undefined;
  let requeueAfterMs: number | undefined;
  let updated = 0;
  waves.forEach((members, i) => {
    const clusters = members.map((ec) => ec.metadata.name);
    const prev = before[i];
    const progress = members.map((ec) => clusterProgress(ec, spec.version));
    updated += progress.filter((p) => p.state === "updated").length;
    if (blockedBy) {
      out.push({ clusters, state: "Pending" });
      return;
    }
    if (stillPaused && i > stillPaused.wave) {
      out.push({ clusters, state: "Pending" });
      return;
    }
    const startedAt = prev?.startedAt && retried !== i ? prev.startedAt : undefined;
    if (!startedAt && spec.paused) {
      blockedBy = { reason: R.Paused, message: `paused by spec.paused before wave ${i + 1} of ${waves.length}` };
      out.push({ clusters, state: "Pending" });
      return;
    }
    const started = startedAt ?? nowIso;
    for (const ec of members) {
      const a = ec.metadata.annotations ?? {};
      if (a[FLUX_VERSION_ANNOTATION] !== spec.version || a[FLUX_ROLLOUT_ANNOTATION] !== me) assign.push(ec);
    }
    const wave = `wave ${i + 1} of ${waves.length} (${clusters.join(", ")})`;
    // Done stays done for the run: a cluster of a finished wave reconciling again (Ready Unknown for a moment) must
    // not hold back waves already started; its own Synced condition tells about it from then on.
    const doneBefore = prev?.state === "Succeeded" && prev.clusters.join() === clusters.join();
    if (doneBefore || progress.every((p) => p.state === "updated")) {
      out.push({ clusters, state: "Succeeded", startedAt: started, finishedAt: prev?.state === "Succeeded" && prev.finishedAt ? prev.finishedAt : nowIso });
      return;
    }
    // A failure counts when reported after the wave (re)started — what an edge said before a retry is stale — and
    // once that report has stood unchanged for spec.failAfter: while Flux replaces its own controllers a reconcile or
    // two fail on the way (an artifact gone with the old source-controller's Pod) and the next report clears them.
    const startedSec = Math.floor(Date.parse(started) / 1000) * 1000;
    const reported = (k: number) => Date.parse(members[k]!.status?.gitops?.reportedAt ?? "");
    const fresh = progress.map((p, k) => p.state === "failed" && reported(k) >= startedSec);
    const failing = progress.filter((_, k) => fresh[k] && now.getTime() - reported(k) >= failAfterMs);
    const settling = progress.map((_, k) => (fresh[k] ? reported(k) + failAfterMs - now.getTime() : Infinity)).filter((ms) => ms > 0 && ms < Infinity);
    const overdueMs = now.getTime() - Date.parse(started) - deadlineMs;
    if (failing.length > 0 || overdueMs > 0) {
      const why = failing.length > 0 ? failing.map((p) => p.message).join("; ")
        : `not done within spec.progressDeadline ${spec.progressDeadline}: ${progress.filter((p) => p.state !== "updated").map((p) => p.message).join("; ")}`;
      const message = `${wave} failed: ${why}`;
      out.push({ clusters, state: "Failed", startedAt: started, message });
      failed = { wave: i, message };
      blockedBy = { reason: R.WaveFailed, message };
      return;
    }
    out.push({ clusters, state: "Progressing", startedAt: started, message: progress.filter((p) => p.state !== "updated").map((p) => p.message).join("; ") });
    requeueAfterMs = Math.max(1000, Math.min(-overdueMs, ...settling) + 1000);
    blockedBy = { reason: R.Progressing, message: `${wave} in progress` };
  });
  status.waves = out;
  status.updated = `${updated}/${eligible.length}`;

  let paused: RolloutPlan["paused"];
  const retryHint = `retry with: kubectl annotate fluxrollout ${me} ${RECONCILE_REQUESTED_ANNOTATION}="$(date +%s)" --overwrite, or change spec.version`;
  if (stillPaused) {
    const failedWave = out[stillPaused.wave];
    const message = `paused after wave ${stillPaused.wave + 1} of ${waves.length} failed${failedWave?.message ? `: ${failedWave.message}` : ""}; ${retryHint}`;
    status.pause = stillPaused;
    conditions({ type: C.Ready, status: "False", reason: R.WaveFailed, message }, { failed: { type: C.WaveFailed, status: "True", reason: R.WaveFailed, message } });
    return { status, assign, requeueAfterMs };
  }
  if (failed) {
    const message = `${failed.message}; ${retryHint}`;
    status.pause = { generation: generation ?? 0, wave: failed.wave, ...(retryRequest !== undefined ? { retryRequest } : {}) };
    paused = { wave: failed.wave, message };
    conditions({ type: C.Ready, status: "False", reason: R.WaveFailed, message }, { failed: { type: C.WaveFailed, status: "True", reason: R.WaveFailed, message } });
    return { status, assign, paused };
  }
  delete status.pause;
  if (blockedBy) {
    conditions({ type: C.Ready, status: "False", reason: blockedBy.reason, message: `${status.updated} clusters on Flux ${spec.version}; ${blockedBy.message}` },
      { reconciling: blockedBy.reason === R.Progressing });
    return { status, assign, requeueAfterMs };
  }
  conditions({ type: C.Ready, status: "True", reason: R.Succeeded, message: `${status.updated} clusters run Flux ${spec.version} with every Flux object Ready` }, {});
  return { status, assign };
}
