// A controller: informers feed keys into a work queue (updates only when a watch's predicate says they matter);
// workers reconcile one key at a time each (never the same key twice at once), and a failure is requeued as
// errorOutcome decides: capped exponential backoff, a fixed delay while waiting, a long fixed delay when stalled.
// Every key is resynced periodically. The informers outlive the controller's work: stop() (leadership lost) ends only
// the reconciling, so whoever else reads the same cache (HTTP handlers, other controllers) keeps a live view; the
// process stops the informers once, when it shuts down (stopInformers, which the Manager calls on stop()).
// stuckReasons() tells a liveness probe when the controller is wedged.
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { DEFAULT_STALL_RETRY_MS, errorOutcome } from "./errors.js";
import type { Informer, InformerEvent } from "./informer.js";
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

/**
 * Whether an update needs a reconcile (adds and deletes always do). Without one every update does, including the
 * controller's own status writes.
 */
export type UpdatePredicate = (obj: KubeObject, old: KubeObject) => boolean;

export interface Watched {
  informer: Informer<KubeObject>;
  predicate?: UpdatePredicate;
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
  /** A stalled key is reconciled again after this long even if nothing changed (default 10 minutes). */
  stallRetryMs?: number;
}

export class Controller {
  readonly queue: WorkQueue;
  private workers: Promise<void>[] = [];
  private resyncTimer?: NodeJS.Timeout;
  private started = false;
  private running = false;
  /** Reconciles in progress, by reconcile id: their key and when they began. */
  private readonly inFlight = new Map<string, { key: string; since: number }>();

  constructor(private readonly opts: ControllerOptions) {
    const name = opts.name;
    this.queue = new WorkQueue({
      minMs: opts.minRetryMs ?? 750, maxMs: opts.maxRetryMs ?? 15 * 60_000, jitter: 0.1,
      onDepthChange: (d) => opts.metrics?.queueDepth.set({ controller: name }, d),
    });
    for (const w of opts.watches) {
      w.informer.on((event: InformerEvent, obj, old) => {
        if (event === "update" && old && w.predicate && !w.predicate(obj, old)) return;
        for (const key of w.keysFor ? w.keysFor(obj) : [objectKey(obj)]) this.queue.add(key);
      });
    }
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.running = true;
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

  /**
   * Why the controller looks wedged, for a liveness probe: a reconcile running for longer than `afterMs`, or a watch
   * that made no progress for that long (a connection that died silently). An idle watch shows progress only when
   * its informer has a server-side watch timeout shorter than `afterMs`. Empty while the controller is not running
   * (e.g. not leading).
   */
  stuckReasons(afterMs: number, now = Date.now()): string[] {
    if (!this.running) return [];
    const reasons: string[] = [];
    for (const { key, since } of this.inFlight.values()) {
      if (now - since > afterMs) reasons.push(`the reconcile of "${key}" has run for ${Math.round((now - since) / 1000)} s`);
    }
    for (const { informer } of this.opts.watches) {
      const idle = now - informer.lastProgressAt;
      if (idle > afterMs) reasons.push(`the ${informer.type.kind} watch made no progress for ${Math.round(idle / 1000)} s`);
    }
    return reasons;
  }

  /** Stops handing out work and resolves once in-flight reconciles are done. The informers keep running. */
  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.resyncTimer);
    this.queue.shutdown();
    await Promise.all(this.workers);
  }

  /** Stops the watched informers: only at shutdown, as they may be shared with parts that run without leading. */
  async stopInformers(): Promise<void> {
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
      this.inFlight.set(reconcileId, { key, since: Date.now() });
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
        const outcome = errorOutcome(err, { stallRetryMs: this.opts.stallRetryMs ?? DEFAULT_STALL_RETRY_MS });
        if (outcome.requeue === "backoff") {
          const delay = this.queue.addRateLimited(key);
          metrics?.reconcileTotal.inc({ controller: name, result: "error" });
          log.error({ reason: outcome.reason, err: outcome.message, retryInMs: delay, attempt: this.queue.failureCount(key) }, "reconcile failed");
        } else {
          this.queue.forget(key);
          this.queue.addAfter(key, outcome.requeue);
          metrics?.reconcileTotal.inc({ controller: name, result: outcome.kind === "stalled" ? "stalled" : "requeue_after" });
          if (outcome.kind === "stalled") log.error({ reason: outcome.reason, err: outcome.message, retryInMs: outcome.requeue }, "reconcile stalled; waiting for a spec change");
          else log.info({ reason: outcome.reason, retryInMs: outcome.requeue }, outcome.message);
        }
      } finally {
        this.inFlight.delete(reconcileId);
        end?.();
        metrics?.activeWorkers.dec({ controller: name });
        this.queue.done(key);
      }
    }
  }
}
