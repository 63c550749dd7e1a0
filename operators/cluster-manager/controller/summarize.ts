// The one derivation of an EdgeCluster's Ready condition, and the summary the reconciler's exit path writes at the
// end of every pass. The owned condition types are declared once, in priority order: the first one failing decides
// Ready. Steps never write Ready; the status endpoint and the ConfigDB sync call readyCondition too.
import { ConditionType as T, Reason } from "../../api/conditions.js";
import { RECONCILE_REQUESTED_ANNOTATION } from "../../api/constants.js";
import type { EdgeCluster, EdgeClusterStatus } from "../../api/edgecluster.js";
import { getCondition, removeCondition, setCondition, type Condition, type ConditionInput } from "../../runtime/conditions.js";
import type { ErrorOutcome } from "../../runtime/errors.js";
import { syncedCondition } from "../gitops-report.js";

/** Negative-polarity conditions, each owned by one step: present (True) only while that step is failing. */
export const FAILURE_CONDITIONS: readonly string[] = [
  T.CredentialsFailed, T.RepositoryFailed, T.AcsSetupFailed, T.BootstrapFailed, T.TeardownFailed,
];

/** How a condition makes Ready False, in priority order (first match wins). */
const READY_RULES: ReadonlyArray<{ type: string; failsWhen: (c: Condition | undefined) => boolean }> = [
  { type: T.Stalled, failsWhen: (c) => c?.status === "True" },
  ...FAILURE_CONDITIONS.map((type) => ({ type, failsWhen: (c: Condition | undefined) => c?.status === "True" })),
  { type: T.Reconciling, failsWhen: (c) => c?.status === "True" },
  // ACS mode only: absent in embedded mode.
  { type: T.ConfigDBSynced, failsWhen: (c) => c !== undefined && c.status !== "True" },
  { type: T.Provisioned, failsWhen: (c) => c?.status !== "True" },
  // Absent until the edge first reports: a provisioned cluster waiting for its edge is Ready.
  { type: T.Bootstrapped, failsWhen: (c) => c?.status === "False" },
  { type: T.Reporting, failsWhen: (c) => c?.status === "False" },
];

/** The condition types the reconciler owns, in priority order. */
export const OWNED_CONDITIONS: readonly string[] = READY_RULES.map((r) => r.type);

/**
 * Ready for the object's current generation: False while that generation has not been fully handled
 * (status.observedGeneration behind), otherwise from the first failing owned condition.
 */
export function readyCondition(status: EdgeClusterStatus | undefined, generation?: number): ConditionInput {
  const conditions = status?.conditions;
  for (const rule of READY_RULES) {
    const c = getCondition(conditions, rule.type);
    if (!rule.failsWhen(c)) continue;
    return { type: T.Ready, status: "False", reason: c?.reason ?? Reason.Progressing, message: c?.message ?? "provisioning" };
  }
  if (generation !== undefined && status?.observedGeneration !== generation) {
    return { type: T.Ready, status: "False", reason: Reason.Progressing, message: `generation ${generation} has not been reconciled yet` };
  }
  const bootstrapped = getCondition(conditions, T.Bootstrapped)?.status === "True";
  return {
    type: T.Ready, status: "True", reason: Reason.Succeeded,
    message: bootstrapped ? "edge cluster is bootstrapped and reporting" : "provisioned; waiting for the edge cluster to be bootstrapped",
  };
}

/**
 * Sets Ready in a status draft from its other conditions (for every writer of EdgeCluster status), and Synced from
 * the edge's GitOps report and graft's latest commit (not part of Ready: an edge applying a new commit is not a fault).
 */
export function summarizeReady(status: EdgeClusterStatus, generation?: number): void {
  const synced = syncedCondition(status);
  status.conditions = synced ? setCondition(status.conditions, synced, generation) : removeCondition(status.conditions, T.Synced);
  status.conditions = setCondition(status.conditions, readyCondition(status, generation), generation);
}

/** How a reconcile pass ended. */
export type PassOutcome =
  /** Every step ran: the generation is fully handled. */
  | { kind: "success" }
  /** A step ended the pass on purpose (nothing may be done now, e.g. an ACS entry on hold): handled as far as it can be. */
  | { kind: "held" }
  /** A step asked to come back later: the generation is not handled yet. */
  | { kind: "requeue" }
  | { kind: "error"; error: ErrorOutcome };

/** Message of Reconciling while a generation is being handled; stable, so retries do not rewrite status. */
export const reconcilingMessage = (ec: EdgeCluster, read: EdgeClusterStatus) =>
  read.observedGeneration !== undefined && read.observedGeneration !== ec.metadata.generation
    ? `reconciling new generation ${ec.metadata.generation} (last handled: ${read.observedGeneration})`
    : `reconciling generation ${ec.metadata.generation}`;

/**
 * The end of every pass: Reconciling/Stalled, Provisioned on failure, observedGeneration and lastHandledReconcileAt,
 * then Ready. `read` is the status the pass started from; `draft` holds what the steps changed.
 */
export function summarizePass(ec: EdgeCluster, read: EdgeClusterStatus, draft: EdgeClusterStatus, outcome: PassOutcome): void {
  const generation = ec.metadata.generation;
  const handled = () => {
    draft.observedGeneration = generation;
    const request = ec.metadata.annotations?.[RECONCILE_REQUESTED_ANNOTATION];
    if (request) draft.lastHandledReconcileAt = request;
  };
  const reconciling = () => setCondition(draft.conditions, {
    type: T.Reconciling, status: "True", reason: Reason.Progressing, message: reconcilingMessage(ec, read),
  }, generation);
  switch (outcome.kind) {
    case "success":
    case "held":
      draft.conditions = removeCondition(removeCondition(draft.conditions, T.Reconciling), T.Stalled);
      handled();
      break;
    case "requeue":
      draft.conditions = removeCondition(reconciling(), T.Stalled);
      break;
    case "error": {
      const { reason, message, stalled } = outcome.error;
      // Provisioned speaks for the current generation: a generation that failed is not provisioned.
      const newGeneration = read.observedGeneration !== generation;
      if (newGeneration || getCondition(draft.conditions, T.Provisioned)?.status !== "True") {
        draft.conditions = setCondition(draft.conditions, { type: T.Provisioned, status: "False", reason, message }, generation);
      }
      if (stalled) {
        draft.conditions = setCondition(removeCondition(draft.conditions, T.Reconciling), { type: T.Stalled, status: "True", reason, message }, generation);
        handled();
      } else {
        draft.conditions = removeCondition(reconciling(), T.Stalled);
      }
      break;
    }
  }
  summarizeReady(draft, generation);
}
