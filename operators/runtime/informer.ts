// An informer: list, then watch from the list's resourceVersion, keeping a local cache and telling handlers what
// changed. A watch that ends is resumed from the last seen version; 410 Gone (expired version) forces a relist, and a
// relist reports the difference from the cache, so nothing is missed across API server restarts. Errors are retried
// with capped exponential backoff.
import * as k8s from "@kubernetes/client-node";
import type { Logger } from "pino";
import { backoffDelay, sleep } from "./backoff.js";
import { objectKey, resourcePath, type KubeObject, type ResourceType } from "./kube.js";
import { isGone, type KubeClient } from "./rest.js";

export type InformerEvent = "add" | "update" | "delete";
export type InformerHandler<T extends KubeObject> = (event: InformerEvent, obj: T, old?: T) => void;

export interface InformerOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** Server-side watch timeout; the watch is then resumed (keeps connections fresh through proxies). */
  watchTimeoutSeconds?: number;
  minRetryMs?: number;
  maxRetryMs?: number;
  pageSize?: number;
}

export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly handlers: InformerHandler<T>[] = [];
  private readonly abort = new AbortController();
  private currentWatch?: AbortController;
  private resourceVersion = "";
  private synced = false;
  private syncWaiters: Array<() => void> = [];
  private running?: Promise<void>;
  /** Counts relists, for tests and metrics. */
  relists = 0;
  /**
   * When the list-and-watch loop last did something (a list, a watch opened or ended, an event or bookmark, a retry):
   * liveness checks read it. A watch held open by a connection that silently died shows as no progress.
   */
  lastProgressAt = Date.now();

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
    this.currentWatch?.abort();
  }

  private async run(): Promise<void> {
    let failures = 0;
    let needList = true;
    while (!this.abort.signal.aborted) {
      try {
        if (needList) {
          await this.relist();
          needList = false;
        }
        const outcome = await this.watchOnce();
        this.lastProgressAt = Date.now();
        failures = 0;
        if (outcome === "gone") needList = true;
      } catch (err) {
        if (this.abort.signal.aborted) break;
        failures++;
        if (isGone(err)) needList = true;
        else if (failures > 1) needList = true;
        const delay = backoffDelay(failures, { minMs: this.opts.minRetryMs ?? 500, maxMs: this.opts.maxRetryMs ?? 30_000, jitter: 0.2 });
        this.log.warn({ resource: this.type.plural, err: (err as Error).message, retryInMs: delay }, "watch failed; retrying");
        await sleep(delay, this.abort.signal);
        this.lastProgressAt = Date.now();
      }
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
      for (const item of page.items) seen.set(objectKey(item), item);
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

  /** Runs one watch until it ends; "gone" when the server said the resourceVersion expired. */
  private watchOnce(): Promise<"ended" | "gone"> {
    return new Promise((resolve, reject) => {
      let gone = false;
      let settled = false;
      const finish = (err?: unknown) => {
        if (settled) return;
        settled = true;
        if (err && !gone && !this.abort.signal.aborted && !isAbort(err)) reject(err);
        else resolve(gone ? "gone" : "ended");
      };
      const watch = new k8s.Watch(this.client.kc);
      watch.watch(resourcePath(this.type, this.opts.namespace), {
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        labelSelector: this.opts.labelSelector,
        fieldSelector: this.opts.fieldSelector,
        timeoutSeconds: this.opts.watchTimeoutSeconds ?? 300,
      }, (phase, obj: T & { code?: number }) => {
        this.lastProgressAt = Date.now();
        if (phase === "ERROR") {
          if (obj.code === 410) gone = true;
          else this.log.warn({ resource: this.type.plural, status: obj }, "watch error event");
          this.currentWatch?.abort();
          return;
        }
        if (obj?.metadata?.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
        if (phase === "BOOKMARK") return;
        const key = objectKey(obj);
        const old = this.cache.get(key);
        if (phase === "DELETED") {
          this.cache.delete(key);
          this.emit("delete", obj);
        } else {
          this.cache.set(key, obj);
          this.emit(old ? "update" : "add", obj, old);
        }
      }, finish).then((ctl) => {
        this.lastProgressAt = Date.now();
        this.currentWatch = ctl;
        if (this.abort.signal.aborted) ctl.abort();
      }, finish);
    });
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

function isAbort(err: unknown): boolean {
  const e = err as { name?: string; type?: string } | undefined;
  return e?.name === "AbortError" || e?.type === "aborted";
}
