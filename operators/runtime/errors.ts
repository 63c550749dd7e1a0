// Error classes that tell the controller what to do next (after Flux's internal/error).

/** Only a change of the spec can fix it: no requeue until the object changes. */
export class StallingError extends Error {
  constructor(readonly reason: string, message: string) {
    super(message);
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

/** A transient failure with a reason for the status condition; retried with backoff like any other error. */
export class GenericError extends Error {
  constructor(readonly reason: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "GenericError";
  }
}

export const reasonOf = (err: unknown, fallback = "ReconcileFailed"): string =>
  err instanceof StallingError || err instanceof WaitingError || err instanceof GenericError ? err.reason : fallback;

export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));
