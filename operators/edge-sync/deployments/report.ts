// What edge-sync says about each Edge deployment, and how that reaches the centre: a `deployments` member of this
// cluster's 'Edge cluster status' entry, keyed by deployment UUID, merge-patched so hosts and certificate (written by
// the status loop) are never touched. Why there: edge-sync may write only that entry (acs-contract.md §7), a person
// reads it in the ConfigDB next to the hosts, and ACS's entry is a plain object its own consumers read by key. Only
// changed members are sent; a write that fails is retried with backoff carrying the latest report.
import type { Logger } from "pino";
import { App } from "../../api/constants.js";
import { backoffDelay } from "../../runtime/backoff.js";
import { HttpError, type ConfigDbClient } from "../configdb-client.js";

export type DeploymentState =
  /** Everything it needs was applied. */
  | "Applied"
  /** Its entry or a template cannot be read or built now: the last good objects stay as they were. */
  | "Held"
  /** It cannot be built and nothing was applied for it before, or applying failed (retried). */
  | "Failed";

export interface DeploymentStatus {
  name?: string;
  state: DeploymentState;
  /** The HelmReleases it makes. */
  helmReleases: string[];
  /** Ready of its HelmReleases: True when all are Ready, False when one is not, Unknown until Flux says. */
  ready: "True" | "False" | "Unknown";
  message?: string;
}

export type DeploymentReport = Record<string, DeploymentStatus>;

export interface ReportSink {
  publish(report: DeploymentReport): void;
  stop(): Promise<void>;
}

/** Sends the report into the Edge cluster status entry. */
export class CentralReport implements ReportSink {
  private sent: DeploymentReport = {};
  private wanted: DeploymentReport = {};
  private failures = 0;
  private timer?: NodeJS.Timeout;
  private inFlight?: Promise<void>;
  private stopped = false;

  constructor(private readonly opts: {
    configDb: ConfigDbClient; clusterUuid: string; log: Logger; minRetryMs: number; maxRetryMs: number;
  }) {}

  publish(report: DeploymentReport): void {
    this.wanted = structuredClone(report);
    if (this.failures === 0) this.kick(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.inFlight;
  }

  private kick(delayMs: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.inFlight) return this.kick(50);
      this.inFlight = this.send().finally(() => { this.inFlight = undefined; });
    }, delayMs);
  }

  private async send(): Promise<void> {
    const patch = reportPatch(this.sent, this.wanted);
    if (!patch) return;
    const wanted = this.wanted;
    try {
      await this.opts.configDb.patchEntry(App.EdgeClusterStatus, this.opts.clusterUuid, { deployments: patch });
      this.sent = wanted;
      this.failures = 0;
      if (reportPatch(this.sent, this.wanted)) this.kick(0);
    } catch (err) {
      this.failures++;
      const retryInMs = backoffDelay(this.failures, { minMs: this.opts.minRetryMs, maxMs: this.opts.maxRetryMs, jitter: 0.2 });
      const refused = err instanceof HttpError && err.status >= 400 && err.status < 500;
      this.opts.log[refused ? "error" : "warn"]({ err: (err as Error).message, retryInMs },
        "reporting the Edge deployments' state to the centre failed; retrying");
      this.kick(retryInMs);
    }
  }
}

/** The merge patch from what the centre has to what it should have, or undefined when they are equal. */
export function reportPatch(sent: DeploymentReport, wanted: DeploymentReport): Record<string, unknown> | undefined {
  const patch: Record<string, unknown> = {};
  for (const [uuid, status] of Object.entries(wanted)) {
    // Members merge key by key at the centre: an absent optional key is sent as null so an old value goes.
    if (JSON.stringify(sent[uuid]) !== JSON.stringify(status)) patch[uuid] = { name: null, message: null, ...status };
  }
  for (const uuid of Object.keys(sent)) if (!(uuid in wanted)) patch[uuid] = null;
  return Object.keys(patch).length ? patch : undefined;
}
