// Runs an operator's controllers: ops endpoints at once, controllers only while this instance leads (when leader
// election is on), and an orderly shutdown on SIGTERM/SIGINT or when leadership is lost. Controllers stop taking
// work the moment leadership ends; the lease is released only once they have drained, and stop() resolves after.
// Losing leadership stops only the work: the informers keep watching (other parts of the process read the same
// caches), and are stopped when the manager stops.
import type { Logger } from "pino";
import type { Controller } from "./controller.js";
import { LeaderElector, type LeaderElectionOptions } from "./leader-election.js";
import type { ControllerMetrics } from "./metrics.js";
import { startOpsServer, type OpsServer } from "./ops-server.js";
import type { KubeClient } from "./rest.js";

export interface ManagerOptions {
  name: string;
  client: KubeClient;
  log: Logger;
  controllers: Controller[];
  metrics?: ControllerMetrics;
  leaderElection?: Omit<LeaderElectionOptions, "leaseName"> & { leaseName?: string };
  ops?: { host?: string; port: number };
  /** Other long-running parts (HTTP servers…) that must stop with the manager. */
  onStop?: () => Promise<void>;
  /**
   * Work only the leader does, each time this instance starts leading, before its controllers start (e.g. writing
   * shared state every replica reads). The signal aborts when leadership ends. A task that throws is logged; the
   * controllers start regardless.
   */
  leaderTasks?: Array<(signal: AbortSignal) => Promise<void>>;
  /** Told when this instance starts (true) and stops (false) leading, before its controllers start or stop. */
  onLeadershipChange?: (leading: boolean) => void;
  /** More /healthz checks (name → alive?) beside the manager's own. */
  liveness?: Record<string, () => boolean>;
}

export class Manager {
  private readonly abort = new AbortController();
  private elector?: LeaderElector;
  private ops?: OpsServer;
  private controllersRunning = false;
  private leadership?: AbortController;
  private done?: Promise<void>;
  private lostLeadership = false;

  constructor(private readonly opts: ManagerOptions) {}

  get isLeader(): boolean {
    return this.elector ? this.elector.isLeader : this.controllersRunning;
  }

  /** The lease holder this instance last saw (itself while leading); undefined before the first look. */
  get observedLeader(): string | undefined {
    return this.elector?.observedHolder;
  }

  get opsPort(): number | undefined {
    return this.ops?.port;
  }

  /** Resolves once the manager runs (not once it is elected). */
  async start(): Promise<void> {
    const { opts } = this;
    if (opts.ops) {
      this.ops = await startOpsServer({
        ...opts.ops, registry: opts.metrics?.registry,
        liveness: { ...opts.liveness, leadership: () => !this.lostLeadership },
        readiness: { started: () => this.done !== undefined },
      });
    }
    if (opts.leaderElection) {
      this.elector = new LeaderElector(opts.client, { leaseName: `${opts.name}-leader-election`, ...opts.leaderElection }, opts.log);
      this.done = this.elector.run(this.abort.signal, () => {
        opts.onLeadershipChange?.(true);
        void this.startControllers();
      }, async () => {
        opts.onLeadershipChange?.(false);
        if (!this.abort.signal.aborted) {
          this.lostLeadership = true;
          opts.log.error("lost leadership; stopping controllers");
        }
        await this.stopControllers();
      });
    } else {
      this.done = this.startControllers();
    }
  }

  /**
   * Stops the controllers and waits for them to drain (and, with leader election, for the lease to be released), then
   * stops their informers.
   */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.done;
    await this.stopControllers();
    await Promise.all(this.opts.controllers.map((c) => c.stopInformers()));
    await this.opts.onStop?.();
    await this.ops?.close();
  }

  private async startControllers() {
    if (this.controllersRunning) return;
    this.controllersRunning = true;
    const leadership = (this.leadership = new AbortController());
    for (const task of this.opts.leaderTasks ?? []) {
      try {
        await task(leadership.signal);
      } catch (err) {
        this.opts.log.error({ err: (err as Error).message }, "leader task failed");
      }
      if (leadership.signal.aborted) return;
    }
    await Promise.all(this.opts.controllers.map((c) => c.start()));
  }

  /** Work stops being handed out at once (each controller shuts its queue first); resolves once in-flight work is done. */
  private async stopControllers() {
    if (!this.controllersRunning) return;
    this.controllersRunning = false;
    this.leadership?.abort();
    await Promise.all(this.opts.controllers.map((c) => c.stop()));
  }
}

/** Stops the manager on SIGTERM/SIGINT and exits; a second signal exits at once. */
export function stopOnSignals(manager: { stop(): Promise<void> }, log: Logger): void {
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal: sig }, "shutting down");
    manager.stop().then(() => process.exit(0), (err) => {
      log.error({ err: (err as Error).message }, "shutdown failed");
      process.exit(1);
    });
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
