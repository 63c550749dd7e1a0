// The FluxRollout resource: one Flux release rolled out to a set of EdgeClusters in waves — a canary wave first, then
// batches — each wave started only once every cluster of the ones before runs the release with every Flux object
// Ready again (the edge's report, status.gitops). A failing wave pauses the rollout until its spec changes or a
// retry is asked for (the reconcile-request annotation).
import { z } from "zod";
import { conditionList, conditionMessageColumn, conditionStatusColumn, namespacedKind, type CustomObject } from "./custom-resource.js";

export const FLUXROLLOUT_VERSION = "v1alpha1";

const labelSelector = z.object({
  matchLabels: z.record(z.string(), z.string()).optional(),
  matchExpressions: z.array(z.object({
    key: z.string(),
    operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]),
    values: z.array(z.string()).optional(),
  }).strict()).optional(),
}).strict();
export type LabelSelector = z.output<typeof labelSelector>;

export const fluxRolloutSpec = z.object({
  version: z.string().regex(/^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/, { message: "must be a Flux release such as v2.9.5" }).meta({
    description: "The Flux release to roll out: one the cluster-manager has (config/flux).",
    patternMessage: "spec.version must be a Flux release such as v2.9.5",
  }),
  selector: labelSelector.optional().meta({ description: "The EdgeClusters (in this namespace) the rollout covers; absent: all of them. Clusters with spec.fluxVersion or spec.bare are left alone." }),
  canary: labelSelector.optional().meta({ description: "The first wave: the clusters in scope matching this; absent: the first cluster in scope by name." }),
  batchSize: z.number().int().min(1).max(1000).default(1).meta({ description: "Clusters per wave after the canary wave." }),
  progressDeadline: z.string().regex(/^([0-9]+(ms|s|m|h))+$/, { message: "must be a duration such as 10m" }).default("10m").meta({
    description: "A wave whose clusters are not all upgraded and Ready this long after it started has failed.",
    patternMessage: "spec.progressDeadline must be a duration such as 10m or 1h30m",
  }),
  failAfter: z.string().regex(/^([0-9]+(ms|s|m|h))+$/, { message: "must be a duration such as 1m" }).default("1m").meta({
    description: "A Flux object a cluster of a started wave reports Ready=False fails the wave once that report stays unchanged this long (a controller being replaced fails a reconcile or two on its way).",
    patternMessage: "spec.failAfter must be a duration such as 1m or 30s",
  }),
  paused: z.boolean().default(false).meta({ description: "Start no further wave (waves already started carry on)." }),
}).strict();

export const WAVE_STATES = ["Pending", "Progressing", "Succeeded", "Failed"] as const;
export type WaveState = typeof WAVE_STATES[number];

export const rolloutWave = z.object({
  clusters: z.array(z.string()),
  state: z.enum(WAVE_STATES),
  startedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  message: z.string().optional(),
});

export const fluxRolloutStatus = z.object({
  observedGeneration: z.number().int().optional(),
  version: z.string().optional().meta({ description: "The release the waves below roll out" }),
  waves: z.array(rolloutWave).optional(),
  updated: z.string().optional().meta({ description: "Clusters on the release and Ready, of those in scope: '<n>/<total>'" }),
  skipped: z.array(z.string()).optional().meta({ description: "Clusters in scope left alone: spec.fluxVersion pins them, they are bare, or another FluxRollout has them" }),
  pause: z.object({
    generation: z.number().int(),
    wave: z.number().int(),
    retryRequest: z.string().optional().meta({ description: "The reconcile-request annotation value when the rollout paused; a new value retries" }),
  }).optional().meta({ description: "Set while a failed wave pauses the rollout" }),
  lastHandledReconcileAt: z.string().optional(),
  conditions: conditionList(),
});

export type FluxRolloutSpec = z.output<typeof fluxRolloutSpec>;
export type FluxRolloutStatus = z.output<typeof fluxRolloutStatus>;
export type RolloutWave = z.output<typeof rolloutWave>;

export type FluxRollout = CustomObject<FluxRolloutSpec, FluxRolloutStatus>;

export const FluxRolloutType = namespacedKind(FLUXROLLOUT_VERSION, "fluxrollouts", "FluxRollout");

export const FluxRolloutCondition = {
  Ready: "Ready",
  Reconciling: "Reconciling",
  Stalled: "Stalled",
  /** Negative polarity: present only while a failed wave pauses the rollout. */
  WaveFailed: "WaveFailed",
} as const;

export const FluxRolloutReason = {
  Succeeded: "Succeeded",
  Progressing: "Progressing",
  Paused: "Paused",
  WaveFailed: "WaveFailed",
  InvalidSpec: "InvalidSpec",
  UnknownFluxVersion: "UnknownFluxVersion",
} as const;

export const fluxRolloutCrd = {
  type: FluxRolloutType,
  singular: "fluxrollout",
  shortNames: ["fro"],
  categories: ["graft"],
  central: true,
  spec: fluxRolloutSpec,
  status: fluxRolloutStatus,
  printerColumns: [
    { name: "Version", type: "string", jsonPath: ".spec.version" },
    { name: "Updated", type: "string", jsonPath: ".status.updated", description: "Clusters on the release and Ready, of those in scope" },
    conditionStatusColumn("Ready"),
    conditionMessageColumn("Ready", { name: "Status" }),
    { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
  ],
};
