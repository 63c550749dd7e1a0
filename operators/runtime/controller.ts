// A controller: informers feed keys into a work queue; workers reconcile one key at a time each (never the same key
// twice at once), requeue on failure with capped exponential backoff, and every key is resynced periodically.
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { StallingError, WaitingError, messageOf } from "./errors.js";
import type { Informer } from "./informer.js";
import { objectKey, type KubeObject } from "./kube.js";
import type { ControllerMetrics } from "./metrics.js";
import { WorkQueue } from "./workqueue.js";

export interface ReconcileContext {
  log: Logger;
  reconcileId: string;
}

export interface ReconcileResult {
  /** Reconcile this key again after the delay even if nothing changes. */
  requeueAfterMs?: number;
}

export type ReconcileFn = (key: string, ctx: ReconcileContext) => Promise<ReconcileResult | void>;

export interface Watched {
  informer: Informer<KubeObject>;
  /** Keys of primary objects to reconcile when this object changes (default: its own key). */
  keysFor?: (obj: KubeObject) => string[];
}

export interface ControllerOptions {
  name: string;
  log: Logger;
  watches: Watched[];
  reconcile: ReconcileFn;
  /** Keys reconciled on every resync (default: the keys of the first watched informer). */
  resyncKeys?: () => string[];
  metrics?: ControllerMetrics;
  concurrency?: number;
  resyncMs?: number;
  minRetryMs?: number;
  maxRetryMs?: number;
}

export class Controller {
  readonly queue: WorkQueue;
  private workers: Promise<void>[] = [];
  private resyncTimer?: NodeJS.Timeout;
  private started = false;

  constructor(private readonly opts: ControllerOptions) {
    const name = opts.name;
    this.queue = new WorkQueue({
      minMs: opts.minRetryMs ?? 750, maxMs: opts.maxRetryMs ?? 15 * 60_000, jitter: 0.1,
      onDepthChange: (d) => opts.metrics?.queueDepth.set({ controller: name }, d),
    });
    for (const w of opts.watches) {
      w.informer.on((_event, obj) => {
        for (const key of w.keysFor ? w.keysFor(obj) : [objectKey(obj)]) this.queue.add(key);
      });
    }
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    for (const w of this.opts.watches) w.informer.start();
    await Promise.all(this.opts.watches.map((w) => w.informer.waitForSync()));
    for (let i = 0; i < (this.opts.concurrency ?? 4); i++) this.workers.push(this.worker());
    const resyncMs = this.opts.resyncMs ?? 10 * 60_000;
    this.resyncTimer = setInterval(() => this.resync(), resyncMs);
    this.resyncTimer.unref();
    this.opts.log.info({ concurrency: this.opts.concurrency ?? 4, resyncMs }, "controller started");
  }

  /** Queues every known key again. */
  resync(): void {
    const keys = this.opts.resyncKeys?.() ?? this.opts.watches[0]?.informer.list().map(objectKey) ?? [];
    for (const k of keys) this.queue.add(k);
  }

  async stop(): Promise<void> {
    clearInterval(this.resyncTimer);
    this.queue.shutdown();
    await Promise.all(this.workers);
    await Promise.all(this.opts.watches.map((w) => w.informer.stop()));
  }

  private async worker(): Promise<void> {
    const { metrics, name } = this.opts;
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      const reconcileId = randomUUID();
      const log = this.opts.log.child({ key, reconcileId });
      const end = metrics?.reconcileDuration.startTimer({ controller: name });
      metrics?.activeWorkers.inc({ controller: name });
      try {
        const result = await this.opts.reconcile(key, { log, reconcileId });
        this.queue.forget(key);
        if (result?.requeueAfterMs) {
          this.queue.addAfter(key, result.requeueAfterMs);
          metrics?.reconcileTotal.inc({ controller: name, result: "requeue_after" });
        } else {
          metrics?.reconcileTotal.inc({ controller: name, result: "success" });
        }
      } catch (err) {
        metrics?.reconcileErrors.inc({ controller: name });
        if (err instanceof StallingError) {
          this.queue.forget(key);
          metrics?.reconcileTotal.inc({ controller: name, result: "stalled" });
          log.error({ reason: err.reason, err: err.message }, "reconcile stalled; waiting for a spec change");
        } else if (err instanceof WaitingError) {
          this.queue.forget(key);
          this.queue.addAfter(key, err.retryAfterMs);
          metrics?.reconcileTotal.inc({ controller: name, result: "requeue_after" });
          log.info({ reason: err.reason, retryInMs: err.retryAfterMs }, err.message);
        } else {
          const delay = this.queue.addRateLimited(key);
          metrics?.reconcileTotal.inc({ controller: name, result: "error" });
          log.error({ err: messageOf(err), retryInMs: delay, attempt: this.queue.failureCount(key) }, "reconcile failed");
        }
      } finally {
        end?.();
        metrics?.activeWorkers.dec({ controller: name });
        this.queue.done(key);
      }
    }
  }
}
