// An informer: list, then watch from the list's resourceVersion, keeping a local cache and telling handlers what
// changed. A watch that ends is resumed from the last seen version; 410 Gone (expired version) forces a relist, and a
// relist reports the difference from the cache, so nothing is missed across API server restarts. Events are read
// straight off the socket (KubeClient.watch): a kubelet heartbeat or a status write costs one JSON.parse, not a trip
// through fetch, web streams and readline.
//
// Only a watch that ran and ended cleanly is resumed at once. Anything else — a failed request, an ERROR event, a
// watch the server closes at once with nothing in it, a 410 right after a relist — counts as a failure and waits a
// capped, jittered, doubling delay first (a server failing every watch sees a handful of requests a minute, not
// thousands); a second failure in a row also relists. The count resets after a clean watch, or once no failure has
// been seen for a while.
import type { Logger } from "pino";
import { backoffDelay, sleep } from "./backoff.js";
import { objectKey, resourcePath, type KubeObject, type ResourceType } from "./kube.js";
import { isGone, type KubeClient, type WatchStream } from "./rest.js";

export type InformerEvent = "add" | "update" | "delete";
export type InformerHandler<T extends KubeObject> = (event: InformerEvent, obj: T, old?: T) => void;

export interface InformerOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Server-side watch timeout; the watch is then resumed (keeps connections fresh through proxies). */
  watchTimeoutSeconds?: number;
  /** A watch that received nothing (not even a bookmark) for this long is taken for a dead connection and resumed. */
  watchIdleTimeoutMs?: number;
  minRetryMs?: number;
  maxRetryMs?: number;
  /** Failures further apart than this start the backoff again from minRetryMs (default 2 min). */
  backoffResetMs?: number;
  pageSize?: number;
  /**
   * Keep metadata.managedFields in the cache. By default they are dropped as objects arrive: they are often half an
   * object's size, and nothing graft does with a cached object reads them (a PUT without them leaves the server's).
   */
  keepManagedFields?: boolean;
}

/** A watch shorter than this that delivered nothing counts as failed (the server closed it at once). */
const SHORT_WATCH_MS = 1000;

interface WatchOutcome {
  end: "ended" | "gone" | "error";
  events: number;
  ms: number;
  err?: unknown;
}

export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly handlers: InformerHandler<T>[] = [];
  private readonly abort = new AbortController();
  private currentWatch?: WatchStream;
  private resourceVersion = "";
  private synced = false;
  private syncWaiters: Array<() => void> = [];
  private running?: Promise<void>;
  private restartRequested = false;
  /** Counts relists, for tests and metrics. */
  relists = 0;
  /**
   * When the list-and-watch loop last did something (a list, a watch opened or ended, an event or bookmark, a retry):
   * liveness checks read it. A watch held open by a connection that silently died shows as no progress.
   */
  lastProgressAt = Date.now();
  /** Counts watch requests made, for tests and metrics. */
  watches = 0;
  /** The delays waited after failures since the informer started, for tests and metrics. */
  readonly backoffs: number[] = [];

  constructor(
    private readonly client: KubeClient,
    readonly type: ResourceType,
    private readonly log: Logger,
    private readonly opts: InformerOptions = {},
  ) {}

  on(handler: InformerHandler<T>): this {
    this.handlers.push(handler);
    return this;
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  waitForSync(): Promise<void> {
    return this.synced ? Promise.resolve() : new Promise((r) => this.syncWaiters.push(r));
  }

  start(): this {
    this.running ??= this.run();
    return this;
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.currentWatch?.abort();
    await this.running;
  }

  /** Ends the current watch as if the server had dropped it; with expire, the next resume sees 410 Gone. */
  forceWatchRestart(expire = false): void {
    if (expire) this.resourceVersion = "1";
    this.restartRequested = true;
    this.currentWatch?.abort();
  }

  private async run(): Promise<void> {
    let failures = 0;
    let lastFailureAt = 0;
    let needList = true;
    while (!this.abort.signal.aborted) {
      let outcome: WatchOutcome;
      let listed = false;
      try {
        if (needList) {
          await this.relist();
          needList = false;
          listed = true;
        }
        this.restartRequested = false;
        outcome = await this.watchOnce();
        this.lastProgressAt = Date.now();
      } catch (err) {
        // The list failed (the watch reports its own failures in its outcome).
        outcome = { end: "error", events: 0, ms: 0, err };
      }
      if (this.abort.signal.aborted) break;
      // A 410 when resuming from an older version is routine; right after a fresh list it means the server is unwell.
      const short = outcome.events === 0 && outcome.ms < SHORT_WATCH_MS && !this.restartRequested;
      const failed = outcome.end === "error" || (short && (outcome.end === "ended" || listed));
      if (!failed) {
        failures = 0;
        if (outcome.end === "gone") needList = true;
        continue;
      }
      const now = Date.now();
      if (now - lastFailureAt > (this.opts.backoffResetMs ?? 120_000)) failures = 0;
      lastFailureAt = now;
      failures++;
      if (outcome.end === "gone" || isGoneError(outcome.err) || failures > 1) needList = true;
      const delay = backoffDelay(failures, { minMs: this.opts.minRetryMs ?? 500, maxMs: this.opts.maxRetryMs ?? 30_000, jitter: 0.2 });
      this.backoffs.push(delay);
      if (this.backoffs.length > 100) this.backoffs.shift();
      this.log.warn({ resource: this.type.plural, err: describeFailure(outcome), retryInMs: delay, relist: needList }, "watch failed; retrying");
      await sleep(delay, this.abort.signal);
      this.lastProgressAt = Date.now();
    }
  }

  private async relist(): Promise<void> {
    const seen = new Map<string, T>();
    let cont: string | undefined;
    let rv = "";
    do {
      const page = await this.client.list<T>(this.type, this.opts.namespace, {
        labelSelector: this.opts.labelSelector, fieldSelector: this.opts.fieldSelector,
        limit: this.opts.pageSize ?? 500, continue: cont,
      });
      for (const item of page.items) seen.set(objectKey(item), this.trimmed(item));
      cont = page.metadata.continue || undefined;
      rv = page.metadata.resourceVersion;
    } while (cont);
    this.relists++;
    this.lastProgressAt = Date.now();
    for (const [key, old] of this.cache) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.emit("delete", old);
      }
    }
    for (const [key, obj] of seen) {
      const old = this.cache.get(key);
      this.cache.set(key, obj);
      if (!old) this.emit("add", obj);
      else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.emit("update", obj, old);
    }
    this.resourceVersion = rv;
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  /**
   * Runs one watch until it ends: "gone" when the server said the resourceVersion expired, "error" for a failed
   * request or an ERROR event, with how many events it delivered and how long it lasted.
   */
  private watchOnce(): Promise<WatchOutcome> {
    const started = Date.now();
    let events = 0;
    return new Promise((resolve) => {
      let gone = false;
      let errorEvent: unknown;
      let settled = false;
      const finish = (err?: unknown) => {
        if (settled) return;
        settled = true;
        const ms = Date.now() - started;
        if (gone) return resolve({ end: "gone", events, ms });
        const failure = errorEvent ?? (err && !this.abort.signal.aborted ? err : undefined);
        resolve(failure ? { end: "error", events, ms, err: failure } : { end: "ended", events, ms });
      };
      this.watches++;
      const watch = this.client.watch(resourcePath(this.type, this.opts.namespace), {
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        labelSelector: this.opts.labelSelector,
        fieldSelector: this.opts.fieldSelector,
        timeoutSeconds: this.opts.watchTimeoutSeconds ?? 300,
      }, (phase, raw) => {
        if (settled) return;
        const obj = raw as T & { code?: number; message?: string };
        this.lastProgressAt = Date.now();
        if (phase === "ERROR") {
          if (obj.code === 410) gone = true;
          else errorEvent = new Error(`ERROR event: ${obj.code ?? "?"} ${obj.message ?? JSON.stringify(obj)}`);
          watch.abort();
          finish();
          return;
        }
        events++;
        if (obj?.metadata?.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
        if (phase === "BOOKMARK") return;
        const cached = this.trimmed(obj);
        const key = objectKey(cached);
        const old = this.cache.get(key);
        if (phase === "DELETED") {
          this.cache.delete(key);
          this.emit("delete", cached);
        } else {
          this.cache.set(key, cached);
          this.emit(old ? "update" : "add", cached, old);
        }
      }, { idleTimeoutMs: this.opts.watchIdleTimeoutMs });
      this.currentWatch = watch;
      if (this.abort.signal.aborted) watch.abort();
      watch.done.then(() => finish(), finish);
    });
  }

  private trimmed(obj: T): T {
    if (this.opts.keepManagedFields || !obj.metadata?.managedFields) return obj;
    const { managedFields: _dropped, ...metadata } = obj.metadata;
    return { ...obj, metadata };
  }

  private emit(event: InformerEvent, obj: T, old?: T) {
    for (const h of this.handlers) {
      try {
        h(event, obj, old);
      } catch (err) {
        this.log.error({ err }, "informer handler threw");
      }
    }
  }
}

/** A 410 from the watch request itself (client-node reports the status as statusCode) or from a list. */
function isGoneError(err: unknown): boolean {
  return isGone(err) || (err as { statusCode?: number } | undefined)?.statusCode === 410;
}

function describeFailure(o: WatchOutcome): string {
  if (o.err) return (o.err as Error).message ?? String(o.err);
  if (o.end === "gone") return "410 Gone right after listing";
  return `the server closed the watch after ${o.ms} ms without an event`;
}
