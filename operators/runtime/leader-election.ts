// Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: the holder renews the lease every
// retry period; others take it over once it has not been renewed for the lease duration. Updates carry the
// resourceVersion, so two candidates can never both win a round.
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

  /**
   * Campaigns until elected, calls onStarted, renews until the signal aborts or renewal fails for longer than the
   * renew deadline, then calls onStopped. On abort the lease is released so a successor takes over at once.
   */
  async run(signal: AbortSignal, onStarted: () => void, onStopped: () => void): Promise<void> {
    while (!signal.aborted && !(await this.tryAcquireOrRenew())) await sleep(this.retryMs, signal);
    if (signal.aborted) return;
    this.leading = true;
    this.log.info({ lease: this.opts.leaseName, identity: this.identity }, "became leader");
    onStarted();
    let lastRenew = Date.now();
    while (!signal.aborted) {
      await sleep(this.retryMs, signal);
      if (signal.aborted) break;
      if (await this.tryAcquireOrRenew()) lastRenew = Date.now();
      else if (Date.now() - lastRenew > this.renewDeadlineMs) break;
    }
    this.leading = false;
    if (signal.aborted) await this.release();
    this.log.info({ lease: this.opts.leaseName, identity: this.identity }, "stopped leading");
    onStopped();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    try {
      const lease = await this.client.getOrNull<Lease>(Core.leases, this.opts.leaseName, this.opts.namespace);
      if (!lease) {
        await this.client.create<Lease>(Core.leases, {
          metadata: { name: this.opts.leaseName, namespace: this.opts.namespace },
          spec: { holderIdentity: this.identity, leaseDurationSeconds: Math.ceil(this.durationMs / 1000), acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 },
        });
        return true;
      }
      const spec = lease.spec ?? {};
      const rv = lease.metadata.resourceVersion ?? "";
      if (!this.observed || this.observed.rv !== rv) this.observed = { rv, holder: spec.holderIdentity, renewTime: spec.renewTime, seenAt: Date.now() };
      const held = spec.holderIdentity && spec.holderIdentity !== this.identity;
      // Expiry is judged by our own clock since we last saw the lease change, never by comparing clocks.
      if (held && Date.now() - this.observed.seenAt < this.durationMs) return false;
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
      });
      return true;
    } catch (err) {
      if (!isConflict(err) && !isAlreadyExists(err)) this.log.warn({ err: (err as Error).message }, "leader election: lease update failed");
      return false;
    }
  }

  private async release(): Promise<void> {
    try {
      const lease = await this.client.getOrNull<Lease>(Core.leases, this.opts.leaseName, this.opts.namespace);
      if (lease?.spec?.holderIdentity !== this.identity) return;
      await this.client.replace<Lease>(Core.leases, { ...lease, spec: { ...lease.spec, holderIdentity: "", renewTime: microTime(new Date()) } });
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "leader election: could not release the lease");
    }
  }
}
