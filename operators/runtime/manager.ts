// Runs an operator's controllers: ops endpoints at once, controllers only while this instance leads (when leader
// election is on), and an orderly shutdown on SIGTERM/SIGINT or when leadership is lost.
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
}

export class Manager {
  private readonly abort = new AbortController();
  private elector?: LeaderElector;
  private ops?: OpsServer;
  private controllersRunning = false;
  private done?: Promise<void>;
  private lostLeadership = false;

  constructor(private readonly opts: ManagerOptions) {}

  get isLeader(): boolean {
    return this.elector ? this.elector.isLeader : this.controllersRunning;
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
        liveness: { leadership: () => !this.lostLeadership },
        readiness: { started: () => this.done !== undefined },
      });
    }
    if (opts.leaderElection) {
      this.elector = new LeaderElector(opts.client, { leaseName: `${opts.name}-leader-election`, ...opts.leaderElection }, opts.log);
      this.done = this.elector.run(this.abort.signal, () => void this.startControllers(), () => {
        if (!this.abort.signal.aborted) {
          this.lostLeadership = true;
          opts.log.error("lost leadership; stopping controllers");
        }
        void this.stopControllers();
      });
    } else {
      this.done = this.startControllers();
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.done;
    await this.stopControllers();
    await this.opts.onStop?.();
    await this.ops?.close();
  }

  private async startControllers() {
    if (this.controllersRunning) return;
    this.controllersRunning = true;
    await Promise.all(this.opts.controllers.map((c) => c.start()));
  }

  private async stopControllers() {
    if (!this.controllersRunning) return;
    this.controllersRunning = false;
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
