// The FluxRollout reconciler: on every pass it plans the rollout afresh from the EdgeClusters of its namespace
// (rollout-plan.ts), assigns the release to the clusters of the waves that may start (an annotation the EdgeCluster
// reconciler turns into a commit of flux-system/gotk-components.yaml), and writes the rollout's status once. A wave
// that fails pauses the rollout with a Warning Event and the WaveFailed condition. It runs on the leader only, beside
// the EdgeCluster controller, sharing its informer: any change of a cluster's release, report or labels re-plans the
// rollouts of that namespace.
import type { Logger } from "pino";
import { FLUX_ROLLOUT_ANNOTATION, FLUX_VERSION_ANNOTATION, RECONCILE_REQUESTED_ANNOTATION } from "../../api/constants.js";
import { EdgeClusterType, type EdgeCluster } from "../../api/edgecluster.js";
import { FluxRolloutType, type FluxRollout } from "../../api/fluxrollout.js";
import { Controller, type ReconcileResult } from "../../runtime/controller.js";
import type { EventRecorder } from "../../runtime/events.js";
import { Informer } from "../../runtime/informer.js";
import { objectKey, splitKey, type KubeObject } from "../../runtime/kube.js";
import type { ControllerMetrics } from "../../runtime/metrics.js";
import type { KubeClient } from "../../runtime/rest.js";
import { patchStatus } from "../../runtime/status.js";
import type { FluxReleases } from "./flux-releases.js";
import { planRollout } from "./rollout-plan.js";

export const ROLLOUT_CONTROLLER = "flux-rollout";

export interface RolloutControllerDeps {
  client: KubeClient;
  log: Logger;
  events: EventRecorder;
  releases: FluxReleases;
  /** The EdgeCluster informer (shared with the EdgeCluster controller). */
  clusters: Informer<EdgeCluster>;
  watchNamespace?: string;
  metrics?: ControllerMetrics;
  resyncMs?: number;
}

const annotation = (o: KubeObject, key: string) => o.metadata.annotations?.[key];

/** A rollout needs planning on a new generation or a retry request; its own status writes do not. */
export function rolloutNeedsReconcile(obj: FluxRollout, old: FluxRollout): boolean {
  return obj.metadata.generation !== old.metadata.generation
    || annotation(obj, RECONCILE_REQUESTED_ANNOTATION) !== annotation(old, RECONCILE_REQUESTED_ANNOTATION);
}

/** What of a cluster a rollout reads: its labels, pin, assignment, committed release and the edge's report. */
export function clusterChangeMatters(obj: EdgeCluster, old: EdgeCluster): boolean {
  const view = (ec: EdgeCluster) => JSON.stringify([
    ec.metadata.labels ?? {}, ec.metadata.deletionTimestamp, ec.spec.fluxVersion, ec.spec.bare,
    annotation(ec, FLUX_VERSION_ANNOTATION), annotation(ec, FLUX_ROLLOUT_ANNOTATION),
    ec.status?.fluxVersion, ec.status?.commit, ec.status?.gitops?.fluxVersion, ec.status?.gitops?.appliedRevision,
    ec.status?.gitops?.objects,
  ]);
  return view(obj) !== view(old);
}

export class FluxRolloutReconciler {
  readonly informer: Informer<FluxRollout>;
  readonly controller: Controller;

  constructor(private readonly deps: RolloutControllerDeps) {
    this.informer = new Informer<FluxRollout>(deps.client, FluxRolloutType, deps.log, { namespace: deps.watchNamespace });
    this.controller = new Controller({
      name: ROLLOUT_CONTROLLER, log: deps.log.child({ controller: ROLLOUT_CONTROLLER }), metrics: deps.metrics, concurrency: 1, resyncMs: deps.resyncMs,
      watches: [
        { informer: this.informer as unknown as Informer<KubeObject>, predicate: (o, p) => rolloutNeedsReconcile(o as FluxRollout, p as FluxRollout) },
        {
          informer: deps.clusters as unknown as Informer<KubeObject>,
          predicate: (o, p) => clusterChangeMatters(o as EdgeCluster, p as EdgeCluster),
          keysFor: (ec) => this.rolloutsIn(ec.metadata.namespace).map(objectKey),
        },
      ],
      reconcile: (key) => this.reconcile(key),
    });
  }

  private rolloutsIn(namespace: string | undefined): FluxRollout[] {
    return this.informer.list().filter((r) => r.metadata.namespace === namespace);
  }

  async reconcile(key: string): Promise<ReconcileResult | void> {
    const { client, events, log } = this.deps;
    const { namespace, name } = splitKey(key);
    const rollout = this.informer.get(key) ?? await client.getOrNull<FluxRollout>(FluxRolloutType, name, namespace);
    if (!rollout || rollout.metadata.deletionTimestamp) return;
    const clusters = this.deps.clusters.list().filter((ec) => ec.metadata.namespace === namespace);
    const plan = planRollout({
      rollout, clusters, releases: this.deps.releases, now: new Date(),
      rollouts: new Set(this.rolloutsIn(namespace).map((r) => r.metadata.name)),
    });
    for (const ec of plan.assign) {
      await client.patch(EdgeClusterType, ec.metadata.name, namespace, {
        metadata: { annotations: { [FLUX_VERSION_ANNOTATION]: rollout.spec.version, [FLUX_ROLLOUT_ANNOTATION]: rollout.metadata.name } },
      }, { type: "merge", fieldManager: ROLLOUT_CONTROLLER });
      log.info({ name: ec.metadata.name, namespace, rollout: rollout.metadata.name, version: rollout.spec.version }, "assigned a Flux release");
    }
    const written = await patchStatus(client, FluxRolloutType, rollout, rollout.status ?? {}, plan.status);
    if (plan.paused && written) {
      await events.record(FluxRolloutType, written, "Warning", "RolloutPaused", plan.paused.message);
    }
    if (plan.assign.length > 0) {
      await events.record(FluxRolloutType, rollout, "Normal", "ReleaseAssigned",
        `assigned Flux ${rollout.spec.version} to ${plan.assign.map((ec) => `"${ec.metadata.name}"`).join(", ")}`);
    }
    return plan.requeueAfterMs ? { requeueAfterMs: plan.requeueAfterMs } : undefined;
  }
}
