// edge-sync: keeps the centre's 'Edge cluster status' entry equal to this cluster's hosts, Sealed Secrets
// certificate and GitOps state (gitops/). Level-triggered: every write is computed from the informers' current state against what the centre
// last acknowledged, so a burst of changes becomes one write, events that do not change the status (kubelet
// heartbeats) cause none, and after an outage the retry carries the latest state rather than a queued stale one.
import { createHash } from "node:crypto";
import type { KubeConnection } from "../runtime/kubeconfig.js";
import type { Logger } from "pino";
import { AcsLoginError } from "../acs/negotiate.js";
import { App } from "../api/constants.js";
import { backoffDelay } from "../runtime/backoff.js";
import { isPermanentRefusal } from "../runtime/http-status.js";
import { Informer } from "../runtime/informer.js";
import { Core } from "../runtime/kube.js";
import { silentLogger } from "../runtime/logger.js";
import { KubeClient } from "../runtime/rest.js";
import { CertificateSource, type CertificateMode } from "./certificate.js";
import { HttpError, type ConfigDbClient } from "./configdb-client.js";
import { hostFromNode, hostList, type NodeObject } from "./hosts.js";
import { GitopsWatch } from "./gitops/gitops-watch.js";
import { HeadFollower } from "./gitops/head-follower.js";
import { EdgeSyncMetrics } from "./metrics.js";
import { afterPatch, sameJson, statusPatch, type EdgeStatus } from "./status-diff.js";

export interface EdgeSyncOptions {
  kubeConfig: KubeConnection;
  clusterUuid: string;
  configDb: ConfigDbClient;
  sealedSecrets: {
    namespace: string;
    controller: string;
    /** Service port (name or number) for the /v1/cert.pem fallback; default: the Service's first port. */
    port?: string;
    /** How often the controller is polled when the key Secrets are not readable. Default 10 min. */
    pollIntervalMs?: number;
  };
  /**
   * Report the Flux objects graft put in this namespace and the Flux controllers in fluxNamespace (default
   * flux-system). Absent: no GitOps report.
   */
  gitops?: { namespace: string; fluxNamespace?: string; storageMigration?: boolean; followHead?: boolean };
  /** Changes within this window after the first one are sent together. Default 2 s. */
  debounceMs?: number;
  /**
   * Send the whole status again this often, even if nothing changed: it repairs a centre that lost the entry and
   * tells the centre this cluster is still reporting (cluster-manager's Reporting condition). 0 disables. Default 5 min.
   */
  resyncIntervalMs?: number;
  /** Capped exponential backoff for failed writes (and the watches). Defaults 1 s and 2 min. */
  minRetryMs?: number;
  maxRetryMs?: number;
  /** Server-side timeout of the Node watch, after which it is resumed (progress the liveness check sees). Default 300 s. */
  watchTimeoutSeconds?: number;
  /**
   * The liveness check fails when the Node watch or the write loop made no progress for this long (see stuckReasons).
   * Must exceed the watch timeout and the longest retry delay. Default 10 min.
   */
  stallAfterMs?: number;
  log?: Logger;
  metrics?: EdgeSyncMetrics;
}

export class EdgeSync {
  readonly metrics: EdgeSyncMetrics;
  private readonly log: Logger;
  private readonly nodes: Informer<NodeObject>;
  private readonly certificate: CertificateSource;
  private readonly gitops?: GitopsWatch;
  /** Embedded mode: asks Flux to fetch when the cluster's repository head moves (gitops/head-follower.ts). */
  readonly headFollower?: HeadFollower;
  private readonly debounceMs: number;
  private readonly retry: { minMs: number; maxMs: number };
  private acknowledged: EdgeStatus = {};
  private lastSeen?: EdgeStatus;
  private timer?: NodeJS.Timeout;
  private timerDue = 0;
  private resyncTimer?: NodeJS.Timeout;
  private inFlight?: Promise<void>;
  private again = false;
  private failures = 0;
  private inFlightSince?: number;
  private lastAttemptAt = Date.now();
  private lastWriteAt = 0;
  private readonly stallAfterMs: number;
  private stopped = false;
  private readonly stopping = new AbortController();

  constructor(private readonly opts: EdgeSyncOptions) {
    this.log = opts.log ?? silentLogger;
    this.metrics = opts.metrics ?? new EdgeSyncMetrics();
    this.debounceMs = opts.debounceMs ?? 250;
    this.retry = { minMs: opts.minRetryMs ?? 1_000, maxMs: opts.maxRetryMs ?? 120_000 };
    const client = new KubeClient(opts.kubeConfig);
    this.stallAfterMs = opts.stallAfterMs ?? 600_000;
    this.nodes = new Informer<NodeObject>(client, Core.nodes, this.log, {
      minRetryMs: this.retry.minMs, maxRetryMs: Math.min(this.retry.maxMs, 30_000), watchTimeoutSeconds: opts.watchTimeoutSeconds,
    });
    this.certificate = new CertificateSource({
      client, log: this.log,
      namespace: opts.sealedSecrets.namespace, controller: opts.sealedSecrets.controller, port: opts.sealedSecrets.port,
      pollIntervalMs: opts.sealedSecrets.pollIntervalMs ?? 600_000,
      minRetryMs: this.retry.minMs, maxRetryMs: Math.min(this.retry.maxMs, 30_000), watchTimeoutSeconds: opts.watchTimeoutSeconds,
      onChange: () => this.onInput(),
    });
    if (opts.gitops) {
      this.gitops = new GitopsWatch({
        client, clusterUuid: opts.clusterUuid, namespace: opts.gitops.namespace, fluxNamespace: opts.gitops.fluxNamespace ?? "flux-system",
        storageMigration: opts.gitops.storageMigration ?? false,
        log: this.log, onChange: () => this.onInput(),
        minRetryMs: this.retry.minMs, maxRetryMs: Math.min(this.retry.maxMs, 30_000), watchTimeoutSeconds: opts.watchTimeoutSeconds,
      });
      if (opts.gitops.followHead) {
        this.headFollower = new HeadFollower({
          client, clusterUuid: opts.clusterUuid, namespace: opts.gitops.namespace, centre: opts.configDb.service, auth: opts.configDb.auth,
          log: this.log, minRetryMs: this.retry.minMs, maxRetryMs: this.retry.maxMs, onRequested: () => this.metrics.reconcileRequests.inc(),
        });
      }
    }
  }

  /** Starts watching and resolves once the Nodes are listed (the first write follows at once). */
  async start(): Promise<void> {
    // A heartbeat changes the Node but not its host entry: skip rebuilding the whole list for it. (hostFromNode sets
    // its keys in one order, so plain JSON compares; this runs for every heartbeat of every Node.)
    this.nodes.on((event, node, old) => {
      if (event === "update" && old && JSON.stringify(hostFromNode(node)) === JSON.stringify(hostFromNode(old))) return;
      this.onInput();
    }).start();
    this.certificate.start();
    this.gitops?.start();
    this.headFollower?.start();
    await Promise.race([this.nodes.waitForSync(), new Promise((r) => this.stopping.signal.addEventListener("abort", r, { once: true }))]);
    if (this.stopped) return;
    this.lastSeen = this.desired();
    this.metrics.hosts.set(this.lastSeen.hosts?.length ?? 0);
    this.schedule(0);
    const resync = this.opts.resyncIntervalMs ?? 300_000;
    if (resync > 0) this.resyncTimer = setInterval(() => this.resync(), resync);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    clearTimeout(this.timer);
    clearInterval(this.resyncTimer);
    await Promise.all([this.nodes.stop(), this.certificate.stop(), this.gitops?.stop(), this.headFollower?.stop()]);
    await this.inFlight;
  }

  isReady(): boolean {
    return this.nodes.hasSynced && !this.stopped;
  }

  /**
   * Why this process is stuck — a restart would help — or nothing. Not the centre being down (the write loop keeps
   * retrying, which is progress), but: the Node watch made no progress (a connection that died without closing), a
   * write that never returns, a change that no write picked up, a certificate poll that stopped.
   */
  stuckReasons(now = Date.now()): string[] {
    const reasons: string[] = [];
    const stale = (since: number) => now - since > this.stallAfterMs;
    if (stale(this.nodes.lastProgressAt)) reasons.push(`the Node watch made no progress for ${Math.round((now - this.nodes.lastProgressAt) / 1000)} s`);
    if (this.gitops && stale(this.gitops.lastProgressAt)) reasons.push(`a Flux object watch made no progress for ${Math.round((now - this.gitops.lastProgressAt) / 1000)} s`);
    if (this.inFlightSince !== undefined && stale(this.inFlightSince)) {
      reasons.push(`a status write has been running for ${Math.round((now - this.inFlightSince) / 1000)} s`);
    } else if (this.inFlightSince === undefined && this.nodes.hasSynced && stale(this.lastAttemptAt) && statusPatch(this.desired(), this.acknowledged)) {
      reasons.push(`a status change has waited ${Math.round((now - this.lastAttemptAt) / 1000)} s for a write`);
    }
    const certificate = this.certificate.stuckReason(now, this.stallAfterMs);
    if (certificate) reasons.push(certificate);
    return reasons;
  }

  /** Where the certificate comes from: the key Secrets or the controller (undefined until decided). */
  get certificateMode(): CertificateMode | undefined {
    return this.certificate.mode;
  }

  /** What the edge would report now. */
  desired(): EdgeStatus {
    const status: EdgeStatus = {};
    if (this.nodes.hasSynced) status.hosts = hostList(this.nodes.list());
    const cert = this.certificate.current();
    if (cert) status.kubeseal_cert = cert;
    const gitops = this.gitops?.current();
    if (gitops) status.gitops = gitops;
    return status;
  }

  private onInput(): void {
    if (this.stopped || !this.nodes.hasSynced) return;
    const desired = this.desired();
    if (this.lastSeen && sameJson(desired, this.lastSeen)) return;
    this.lastSeen = desired;
    this.metrics.hosts.set(desired.hosts?.length ?? 0);
    // While backing off, the pending retry will send the newest state anyway; do not hammer an unhealthy centre.
    if (this.failures > 0) return;
    // Leading edge: a change after a quiet window is sent at once; changes inside the window wait for its end.
    this.schedule(Math.max(0, this.lastWriteAt + this.debounceMs - Date.now()));
  }

  /** Runs a sync after delayMs, unless one is already due sooner (so a burst does not postpone the write forever). */
  private schedule(delayMs: number, force = false): void {
    if (this.stopped) return;
    const due = Date.now() + delayMs;
    if (this.timer && !force && this.timerDue <= due) return;
    clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.sync();
    }, delayMs);
  }

  private resync(): void {
    this.log.debug("periodic resync: sending the whole status again");
    this.acknowledged = {};
    if (this.failures === 0) this.schedule(0);
  }

  private async sync(): Promise<void> {
    if (this.inFlight) {
      this.again = true;
      return;
    }
    const run = async () => {
      do {
        this.again = false;
        if (!(await this.pushOnce())) return;
      } while (this.again && !this.stopped);
    };
    this.inFlight = run().finally(() => { this.inFlight = undefined; });
    await this.inFlight;
  }

  /** Sends what changed; false (and a retry scheduled) when the write failed. */
  private async pushOnce(): Promise<boolean> {
    const patch = statusPatch(this.desired(), this.acknowledged);
    this.lastAttemptAt = Date.now();
    if (!patch) {
      this.failures = 0;
      return true;
    }
    this.inFlightSince = this.lastAttemptAt;
    this.lastWriteAt = this.lastAttemptAt;
    try {
      await this.opts.configDb.patchEntry(App.EdgeClusterStatus, this.opts.clusterUuid, { ...patch });
      this.acknowledged = afterPatch(this.acknowledged, patch);
      this.metrics.pushes.inc();
      this.metrics.lastSuccess.setToCurrentTime();
      if (this.failures > 0) this.log.info({ afterFailures: this.failures }, "the centre accepts status writes again");
      this.failures = 0;
      this.log.info(describe(patch), "status sent");
      // Changes that arrived during the write while backing off scheduled nothing: make sure they go out.
      if (statusPatch(this.desired(), this.acknowledged)) this.schedule(this.debounceMs);
      return true;
    } catch (err) {
      this.failures++;
      this.metrics.pushErrors.inc();
      const retryInMs = backoffDelay(this.failures, { ...this.retry, jitter: 0.2 });
      // A refusal (bad token, rejected body, a keytab that gets no ticket) needs a person, or the kubelet to deliver a
      // rotated credential; an unreachable centre usually does not.
      const refused = (err instanceof HttpError && isPermanentRefusal(err.status)) || err instanceof AcsLoginError;
      this.log[refused ? "error" : "warn"]({ err: (err as Error).message, failures: this.failures, retryInMs }, "sending the status failed; retrying with the latest state");
      this.schedule(retryInMs, true);
      return false;
    } finally {
      this.inFlightSince = undefined;
      this.lastAttemptAt = Date.now();
    }
  }
}

function describe(patch: EdgeStatus): Record<string, unknown> {
  const out: Record<string, unknown> = { fields: Object.keys(patch) };
  if (patch.hosts) out.hosts = patch.hosts.length;
  if (patch.gitops) out.gitops = patch.gitops.objects.map((o) => `${o.kind}/${o.name}=${o.ready}`).join(" ");
  if (patch.kubeseal_cert) out.certificateSha256 = createHash("sha256").update(patch.kubeseal_cert).digest("hex").slice(0, 16);
  return out;
}
