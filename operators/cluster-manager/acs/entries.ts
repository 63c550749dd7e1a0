// The ConfigDB entries ACS mode reads and writes about a cluster (acs-contract.md §1), and how an 'Edge cluster
// configuration' entry maps onto an EdgeCluster spec.
import { isDeepStrictEqual } from "node:util";
import { z } from "zod";
import { clusterName as clusterNameSchema, type EdgeCluster, type EdgeClusterSpec } from "../../api/edgecluster.js";
import { DEFAULT_EDGE_NAMESPACE } from "../../api/constants.js";

const UUID = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, "must be a lowercase UUID");

/** 'Edge cluster configuration': `{name, namespace, chart?, bare?, values?}` and no other keys. */
export const clusterEntrySchema = z.object({
  name: z.string().min(1),
  namespace: z.string().min(1),
  chart: UUID.optional(),
  bare: z.boolean().optional(),
  values: z.record(z.string(), z.unknown()).optional(),
}).strict();
export type ClusterEntry = z.output<typeof clusterEntrySchema>;

/** 'Helm chart template': the chart path in the helm-charts repository and its values template. */
export const chartTemplateSchema = z.object({
  chart: z.string().min(1),
  values: z.record(z.string(), z.unknown()).default({}),
  prefix: z.string().optional(),
  source: z.string().optional(),
}).loose();
export type ChartTemplate = z.output<typeof chartTemplateSchema>;

/**
 * 'Edge cluster setup status' (private to the cluster manager; ACS only promises `ready`). The shape follows ACS's
 * own so that an installation moving from ACS's cluster manager keeps its accounts: `flux`/`krbkeys` hold the
 * account UUID the ConfigDB gave the account (recorded the moment it is known; `creating` marks the request in flight)
 * and `done` once every account step has been made.
 */
// Older ACS releases stored the bare account UUID (`flux: "<uuid>"`); read that as `{uuid}` so its accounts are kept.
const accountRecord = z.preprocess((v) => (typeof v === "string" ? { uuid: v } : v),
  z.object({ uuid: UUID.optional(), done: z.boolean().optional(), creating: z.boolean().optional() }).loose());
/** The setup status member saying why an entry is not mirrored (removed once it is, or when the entry goes). */
export const NOT_MIRRORED_KEY = "notMirrored";
/** The setup status member saying why a mirrored cluster is not set up: its name is an older cluster's (removed once set up). */
export const NAME_CONFLICT_KEY = "nameConflict";

export const setupStatusSchema = z.object({
  ready: z.boolean().optional(),
  spec: z.unknown().optional(),
  flux: accountRecord.nullish(),
  krbkeys: accountRecord.nullish(),
  self_link: z.string().optional(),
  commit: z.string().optional(),
  /** The Flux release the cluster's bootstrap installs. */
  fluxVersion: z.string().optional(),
}).loose();
export type SetupStatus = z.output<typeof setupStatusSchema>;

/** Parses an entry value, or says what is wrong with it (for a condition message). */
export function parseClusterEntry(value: unknown): { entry: ClusterEntry } | { problem: string } {
  const result = clusterEntrySchema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    return { problem: `"${issue.path.join(".") || "(entry)"}": ${issue.message}` };
  }
  const name = clusterNameSchema.safeParse(result.data.name);
  if (!name.success) return { problem: `"name" "${result.data.name}" cannot be an EdgeCluster spec.name: ${name.error.issues[0]!.message}` };
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(result.data.namespace) || result.data.namespace.length > 63) {
    return { problem: `"namespace" "${result.data.namespace}" is not a DNS label` };
  }
  return { entry: result.data };
}

/** The entry an EdgeCluster stands for. `bare: false` and absent values are left out, as ACS writes them. */
export function entryFromSpec(spec: EdgeClusterSpec, clusterName: string): ClusterEntry {
  return {
    name: clusterName,
    namespace: spec.namespace ?? DEFAULT_EDGE_NAMESPACE,
    ...(spec.chart !== undefined ? { chart: spec.chart } : {}),
    ...(spec.bare ? { bare: true } : {}),
    ...(spec.values !== undefined ? { values: spec.values } : {}),
  };
}

/** Whether two entries mean the same cluster configuration. */
export function sameEntry(a: ClusterEntry, b: ClusterEntry): boolean {
  return isDeepStrictEqual(normalise(a), normalise(b));
}

function normalise(e: ClusterEntry): ClusterEntry {
  return entryFromSpec({ namespace: e.namespace, chart: e.chart, bare: e.bare ?? false, values: e.values }, e.name);
}

/** The spec fields of an EdgeCluster mirrored from this entry (spec.name and spec.uuid are set at creation only). */
export function specFieldsFromEntry(entry: ClusterEntry): Pick<EdgeClusterSpec, "namespace" | "chart" | "bare" | "values"> {
  return {
    namespace: entry.namespace,
    ...(entry.chart !== undefined ? { chart: entry.chart } : {}),
    bare: entry.bare ?? false,
    ...(entry.values !== undefined ? { values: entry.values } : {}),
  };
}

/**
 * JSON patch operations that make the EdgeCluster's mutable spec fields equal to the entry's; empty when nothing
 * differs. Not guarded by resourceVersion on purpose: the entry wins over any concurrent edit of these fields.
 */
export function specPatchFromEntry(ec: EdgeCluster, entry: ClusterEntry): object[] {
  const want = specFieldsFromEntry(entry);
  const ops: object[] = [];
  for (const field of ["namespace", "chart", "bare", "values"] as const) {
    const have = ec.spec[field];
    const next = want[field];
    if (isDeepStrictEqual(have, next)) continue;
    if (next === undefined) ops.push({ op: "remove", path: `/spec/${field}` });
    else ops.push({ op: "add", path: `/spec/${field}`, value: next });
  }
  return ops;
}
