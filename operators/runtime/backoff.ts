// Capped exponential backoff shared by every retry loop (work queue, informers, edge-sync, edge-monitor, notify).
export interface BackoffOptions {
  minMs: number;
  maxMs: number;
  /**
   * Fraction by which each delay is shortened at random, so that many keys or many edge clusters failing together
   * (one outage) do not retry in lockstep. Applied after the cap, so the spread holds at the cap too.
   */
  jitter?: number;
}

/** Capped exponential delay: min·2^(attempt-1), at most max, less up to `jitter` of it. attempt starts at 1. */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const capped = Math.min(opts.maxMs, opts.minMs * 2 ** Math.max(0, Math.min(attempt - 1, 40)));
  return Math.round(capped * (1 - random() * (opts.jitter ?? 0)));
}

export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
