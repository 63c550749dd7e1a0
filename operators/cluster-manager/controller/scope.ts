// What every reconcile step gets and returns. A step reads the object as read at the start of the pass, changes
// only the status draft (never the API status directly: the exit path writes it once), notes what it did for the
// pass's Event, and owns one negative-polarity condition that it sets just before failing and removes on success.
import type { Logger } from "pino";
import type { EdgeCluster, EdgeClusterStatus } from "../../api/edgecluster.js";
import type { ClusterEntry } from "../acs/entries.js";
import { removeCondition, setCondition } from "../../runtime/conditions.js";
import { GenericError, StallingError, WaitingError, messageOf, reasonOf } from "../../runtime/errors.js";

export interface ReconcileScope {
  /** The object as read at the start of the pass (after the finalizer was added). Steps that write metadata replace it. */
  ec: EdgeCluster;
  /** The status the pass started from (or last flushed). */
  read: EdgeClusterStatus;
  /** The status being built; the exit path diffs it against `read` and writes it once. */
  readonly status: EdgeClusterStatus;
  /** Per-pass values one step hands to the next. */
  readonly scratch: Scratch;
  readonly log: Logger;
  /** Notes what a step did; the exit path turns the pass's notes into Events (after the status write). */
  note(reason: string, message: string, type?: "Normal" | "Warning"): void;
  /**
   * Writes the draft now, for a step whose result others must see before the next side effect (the ACS identity:
   * the ConfigDB sync tells a registered cluster from one to mirror by status.uuid). The exit still writes once more.
   */
  flush(): Promise<void>;
}

export interface Scratch {
  uuid?: string;
  clusterName?: string;
  sparkplugGroup?: string;
  credentialsSecret?: string;
  repository?: string;
  commit?: string;
  /** Embedded mode: the Flux release in the cluster's repository (absent for a bare cluster). */
  fluxVersion?: string;
  /** True when this pass created the credentials Secret or the repository (the first provisioning). */
  createdSomething?: boolean;
  /** Message of the Provisioned condition. */
  provisionedMessage?: string;
  /** ACS mode: the cluster's 'Edge cluster configuration' entry as synced. */
  acsEntry?: ClusterEntry;
  /** Embedded mode: come back when the edge would count as silent. */
  requeueAfterMs?: number;
}

/** continue: run the next step; done: end the pass on purpose, nothing more to do now; requeue: come back later. */
export type StepResult = "continue" | "done" | { requeueAfterMs: number };
export type Step = (scope: ReconcileScope) => Promise<StepResult>;

/**
 * Runs a step's work under its failure condition: on success the condition is removed; on failure it is set (with
 * the error's reason, or `type` for an untyped error, and a message saying what could not be done) and the error is
 * rethrown typed, so the exit path and the work queue treat it by its class.
 */
export async function ownedBy<R>(scope: ReconcileScope, type: string, what: string, fn: () => Promise<R>): Promise<R> {
  const s = scope.status;
  try {
    const result = await fn();
    s.conditions = removeCondition(s.conditions, type);
    return result;
  } catch (err) {
    const typed = err instanceof StallingError || err instanceof WaitingError || err instanceof GenericError
      ? err : new GenericError(type, `${what}: ${messageOf(err)}`, { cause: err });
    s.conditions = setCondition(s.conditions, { type, status: "True", reason: reasonOf(typed), message: messageOf(typed) }, scope.ec.metadata.generation);
    throw typed;
  }
}
