// Events through events.k8s.io/v1, as `kubectl describe` shows them. Identical events for the same object within
// a short window are not repeated, so a controller requeueing in a loop does not flood the API server.
//
// `kubectl describe` reads Events through core/v1 and sorts them by lastTimestamp alone (kubectl's
// util/event.SortableEvents). events.k8s.io/v1 calls that field deprecatedLastTimestamp and refuses it on create, so
// every Event ties at zero and they keep the API server's order, which is by name. The name therefore ends in the
// time in hex (as client-go names Events): an object's Events list in the order they happened.
import { hostname } from "node:os";
import type { Logger } from "pino";
import { apiVersionOf, Core, type KubeObject, type ResourceType } from "./kube.js";
import type { KubeClient } from "./rest.js";

export type EventType = "Normal" | "Warning";

export class EventRecorder {
  private readonly recent = new Map<string, number>();
  private readonly instance = `${hostname()}-${process.pid}`;
  private lastNameTime = 0n;

  constructor(
    private readonly client: KubeClient,
    private readonly controller: string,
    private readonly log: Logger,
    private readonly dedupeWindowMs = 60_000,
  ) {}

  async record(t: ResourceType, obj: KubeObject, type: EventType, reason: string, note: string, action = reason): Promise<void> {
    const ns = obj.metadata.namespace ?? "default";
    const dedupeKey = `${obj.metadata.uid}|${type}|${reason}|${note}`;
    const now = Date.now();
    const last = this.recent.get(dedupeKey);
    if (last && now - last < this.dedupeWindowMs) return;
    this.recent.set(dedupeKey, now);
    if (this.recent.size > 10_000) this.prune(now);
    const logFn = type === "Warning" ? this.log.error.bind(this.log) : this.log.info.bind(this.log);
    logFn({ name: obj.metadata.name, namespace: obj.metadata.namespace, reason }, note);
    try {
      await this.client.create(Core.events, {
        metadata: { name: `${obj.metadata.name.slice(0, 253 - 17)}.${this.nameTime(now).toString(16)}`, namespace: ns },
        eventTime: new Date(now).toISOString().replace("Z", "000Z"),
        reportingController: `factoryplus.app.amrc.co.uk/${this.controller}`,
        reportingInstance: this.instance.slice(0, 128),
        action: action.slice(0, 128),
        reason,
        note: note.slice(0, 1024),
        type,
        regarding: {
          apiVersion: obj.apiVersion ?? apiVersionOf(t), kind: obj.kind ?? t.kind,
          name: obj.metadata.name, namespace: obj.metadata.namespace, uid: obj.metadata.uid,
          resourceVersion: obj.metadata.resourceVersion,
        },
      });
    } catch (err) {
      this.log.warn({ err: (err as Error).message, reason }, "could not record event");
    }
  }

  /** Nanoseconds since the epoch for an Event name: never the same twice in this process, always increasing. */
  private nameTime(nowMs: number): bigint {
    const ns = BigInt(nowMs) * 1_000_000n + BigInt(process.hrtime()[1] % 1_000_000);
    this.lastNameTime = ns > this.lastNameTime ? ns : this.lastNameTime + 1n;
    return this.lastNameTime;
  }

  private prune(now: number) {
    for (const [k, at] of this.recent) if (now - at >= this.dedupeWindowMs) this.recent.delete(k);
  }
}
