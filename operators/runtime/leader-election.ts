// Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: the holder renews the lease every
// retry period; others take it over once it has not been renewed for the lease duration. Updates carry the
// resourceVersion, so two candidates can never both win a round. A holder stops leading no later than the renew
// deadline after its last renewal (shorter than the lease duration), so it has stopped before anyone can take over.
import { hostname } from "node:os";
import type { Logger } from "pino";
import { sleep } from "./backoff.js";
import { Core, type KubeObject } from "./kube.js";
import { isAlreadyExists, isConflict, type KubeClient } from "./rest.js";

export interface LeaderElectionOptions {
  leaseName: string;
  namespace: string;
  identity?: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

const microTime = (d: Date) => d.toISOString().replace("Z", "000Z");

/** Aborts when the signal does or after ms, whichever is first. */
const withDeadline = (signal: AbortSignal, ms: number) => AbortSignal.any([signal, AbortSignal.timeout(Math.max(1, ms))]);

export class LeaderElector {
  readonly identity: string;
  private leading = false;
  private readonly durationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  private observed?: { rv: string; holder?: string; renewTime?: string; seenAt: number };

  constructor(private readonly client: KubeClient, private readonly opts: LeaderElectionOptions, private readonly log: Logger) {
    this.identity = opts.identity ?? `${hostname()}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
    this.durationMs = opts.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = opts.renewDeadlineMs ?? 10_000;
    this.retryMs = opts.retryPeriodMs ?? 2_000;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** The holder of the lease when this candidate last read it. */
  get observedHolder(): string | undefined {
    return this.leading ? this.identity : this.observed?.holder;
  }

  /**
   * Campaigns until elected, calls onStarted, and renews every retry period. Each renewal (its GET and PUT) is
   * aborted when the renew deadline since the last successful renewal passes: leadership ends then at the latest, or
   * as soon as another holder is seen. When it ends (lost, or the signal aborted), onStopped runs and is awaited —
   * the caller drains its controllers there — and only then, on abort, is the lease released for a successor.
   */
  async run(signal: AbortSignal, onStarted: () => void, onStopped: () => void | Promise<void>): Promise<void> {
    while (!signal.aborted && (await this.tryAcquireOrRenew(withDeadline(signal, this.renewDeadlineMs))) !== "held") {
      await sleep(this.retryMs, signal);
    }
    if (signal.aborted) return;
    this.leading = true;
    this.log.info({ lease: this.opts.leaseName, identity: this.identity }, "became leader");
    onStarted();
    let lastRenew = Date.now();
    let why = "shutting down";
    while (!signal.aborted) {
      const remaining = () => lastRenew + this.renewDeadlineMs - Date.now();
      await sleep(Math.min(this.retryMs, Math.max(0, remaining())), signal);
      if (signal.aborted) break;
      if (remaining() <= 0) {
        why = `no renewal within the renew deadline (${this.renewDeadlineMs} ms)`;
        break;
      }
      const outcome = await this.tryAcquireOrRenew(withDeadline(signal, remaining()));
      if (outcome === "held") lastRenew = Date.now();
      else if (outcome === "taken") {
        why = "another candidate holds the lease";
        break;
      }
    }
    this.leading = false;
    this.log.info({ lease: this.opts.leaseName, identity: this.identity, why }, "stopped leading");
    await onStopped();
    if (signal.aborted) await this.release();
  }

  /** "held": the lease is ours (acquired or renewed); "taken": someone else holds it; "failed": could not tell. */
  private async tryAcquireOrRenew(signal: AbortSignal): Promise<"held" | "taken" | "failed"> {
    const now = new Date();
    try {
      const lease = await this.client.getOrNull<Lease>(Core.leases, this.opts.leaseName, this.opts.namespace, signal);
      if (!lease) {
        await this.client.create<Lease>(Core.leases, {
          metadata: { name: this.opts.leaseName, namespace: this.opts.namespace },
          spec: { holderIdentity: this.identity, leaseDurationSeconds: Math.ceil(this.durationMs / 1000), acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 },
        }, signal);
        return "held";
      }
      const spec = lease.spec ?? {};
      const rv = lease.metadata.resourceVersion ?? "";
      if (!this.observed || this.observed.rv !== rv) this.observed = { rv, holder: spec.holderIdentity, renewTime: spec.renewTime, seenAt: Date.now() };
      const held = spec.holderIdentity && spec.holderIdentity !== this.identity;
      // Expiry is judged by our own clock since we last saw the lease change, never by comparing clocks.
      if (held && Date.now() - this.observed.seenAt < this.durationMs) return "taken";
      const takeover = spec.holderIdentity !== this.identity;
      await this.client.replace<Lease>(Core.leases, {
        ...lease,
        spec: {
          ...spec,
          holderIdentity: this.identity,
          leaseDurationSeconds: Math.ceil(this.durationMs / 1000),
          renewTime: microTime(now),
          ...(takeover ? { acquireTime: microTime(now), leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
        },
      }, signal);
      if (takeover) this.log.info({ lease: this.opts.leaseName, previous: spec.holderIdentity || undefined }, "took over the lease");
      return "held";
    } catch (err) {
      if (!isConflict(err) && !isAlreadyExists(err)) this.log.warn({ err: (err as Error).message }, "leader election: lease update failed");
      return "failed";
    }
  }

  private async release(): Promise<void> {
    const signal = AbortSignal.timeout(this.renewDeadlineMs);
    try {
      const lease = await this.client.getOrNull<Lease>(Core.leases, this.opts.leaseName, this.opts.namespace, signal);
      if (lease?.spec?.holderIdentity !== this.identity) return;
      await this.client.replace<Lease>(Core.leases, { ...lease, spec: { ...lease.spec, holderIdentity: "", renewTime: microTime(new Date()) } }, signal);
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "leader election: could not release the lease");
    }
  }
}
