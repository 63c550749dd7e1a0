// Error classes that carry their policy (after Flux's internal/error), and the one function that turns any error
// into what happens next: the conditions it leaves, whether and when the key is requeued, and the Event it records.

/** Only a change of the spec (or of what was refused) can fix it: stall, retry only after a long fixed delay. */
export class StallingError extends Error {
  constructor(readonly reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "StallingError";
  }
}

/** A dependency is not ready yet: try again after a fixed delay, not counted as a failure. */
export class WaitingError extends Error {
  constructor(readonly reason: string, message: string, readonly retryAfterMs = 10_000) {
    super(message);
    this.name = "WaitingError";
  }
}

/** A transient failure with a reason for the status condition; retried with capped exponential backoff. */
export class GenericError extends Error {
  constructor(readonly reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "GenericError";
  }
}

export const reasonOf = (err: unknown, fallback = "ReconcileFailed"): string =>
  err instanceof StallingError || err instanceof WaitingError || err instanceof GenericError ? err.reason : fallback;

export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** What an error means for the object and its work-queue key. Untyped errors are Generic. */
export interface ErrorOutcome {
  kind: "stalled" | "waiting" | "failed";
  reason: string;
  message: string;
  /** Stalled: Stalled=True, Reconciling removed. Otherwise Reconciling=True: the controller is still at it. */
  stalled: boolean;
  /** Warning for failures and stalls (recorded only when reason or message changed), Normal while waiting. */
  eventType: "Normal" | "Warning";
  /** "backoff": the work queue's per-key exponential backoff; a number: requeue after exactly this delay. */
  requeue: "backoff" | number;
}

export interface ErrorPolicy {
  /** A stalled key is looked at again after this long even without a change (default 10 minutes). */
  stallRetryMs: number;
}

export const DEFAULT_STALL_RETRY_MS = 10 * 60_000;

/** The one place that decides what an error leads to. */
export function errorOutcome(err: unknown, policy: ErrorPolicy = { stallRetryMs: DEFAULT_STALL_RETRY_MS }): ErrorOutcome {
  const reason = reasonOf(err);
  const message = messageOf(err);
  if (err instanceof StallingError) {
    return { kind: "stalled", reason, message, stalled: true, eventType: "Warning", requeue: policy.stallRetryMs };
  }
  if (err instanceof WaitingError) {
    return { kind: "waiting", reason, message, stalled: false, eventType: "Normal", requeue: err.retryAfterMs };
  }
  return { kind: "failed", reason, message, stalled: false, eventType: "Warning", requeue: "backoff" };
}
