export interface BackoffOptions {
  minMs: number;
  maxMs: number;
  /** Fraction of random spread added to each delay so many failing keys do not retry in lockstep. */
  jitter?: number;
}

/** Capped exponential delay: min·2^(attempt-1), at most max. attempt starts at 1. */
export function backoffDelay(attempt: number, opts: BackoffOptions): number {
  const exp = Math.min(opts.maxMs, opts.minMs * 2 ** Math.max(0, Math.min(attempt - 1, 40)));
  const jitter = opts.jitter ?? 0;
  return Math.round(Math.min(opts.maxMs, exp * (1 + Math.random() * jitter)));
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
