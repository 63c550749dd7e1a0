export interface EventuallyOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** What was awaited; a function is called only on time-out (e.g. to read a log then). */
  message?: string | (() => string);
}

/**
 * Retries fn until it returns a truthy value (which is returned) or the time runs out; a throw counts as a
 * failed try. On time-out the last failure is reported, so a test says what it was waiting for.
 */
export type Truthy<T> = Exclude<T, false | null | undefined | 0 | "">;

export async function eventually<T>(fn: () => T | Promise<T>, opts: EventuallyOptions = {}): Promise<Truthy<T>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  const interval = opts.intervalMs ?? 100;
  let last: unknown = "condition never became true";
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as Truthy<T>;
      last = `last result: ${JSON.stringify(v)}`;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? last.message : String(last);
      const what = typeof opts.message === "function" ? opts.message() : opts.message;
      throw new Error(`${what ?? "eventually timed out"}: ${why}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}
