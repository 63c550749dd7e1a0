// Capped exponential backoff shared by every retry loop (work queue, informers, edge-sync, edge-monitor, notify).
export interface BackoffOptions {
  minMs: number;
  maxMs: number;
  /** Fraction of random spread on each delay, so that many keys or edge clusters failing together do not retry in step. */
  jitter?: number;
  /**
   * "up" (default): up to `jitter` longer, never past the maximum, so at the cap there is no spread. "down": up to
   * `jitter` shorter, also at the cap: for many clients cut off by one outage, which would otherwise return together.
   */
  spread?: "up" | "down";
}

/** Capped exponential delay: min·2^(attempt-1), at most max, spread by `jitter`. attempt starts at 1. */
export function backoffDelay(attempt: number, opts: BackoffOptions, random: () => number = Math.random): number {
  const capped = Math.min(opts.maxMs, opts.minMs * 2 ** Math.max(0, Math.min(attempt - 1, 40)));
  const jitter = opts.jitter ?? 0;
  if (opts.spread === "down") return Math.round(capped * (1 - random() * jitter));
  return Math.round(Math.min(opts.maxMs, capped * (1 + random() * jitter)));
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
