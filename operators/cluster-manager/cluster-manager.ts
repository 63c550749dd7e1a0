// Wires the cluster-manager together: the EdgeCluster controller (leader only), the credential index and the
// public HTTP listener (every replica), metrics and probes.
import type { Logger } from "pino";
import type { KubeConnection } from "../runtime/kubeconfig.js";
import type { EdgeCluster } from "../api/edgecluster.js";
import { EventRecorder } from "../runtime/events.js";
import { Manager } from "../runtime/manager.js";
import { ControllerMetrics } from "../runtime/metrics.js";
import { KubeClient } from "../runtime/rest.js";
import { createBootstrapHandler } from "./bootstrap-endpoint.js";
import type { AcsModeSettings, ClusterManagerConfig } from "./config.js";
import { CredentialIndex } from "./credential-index.js";
import { CONTROLLER_NAME, EdgeClusterReconciler } from "./controller/edgecluster-controller.js";
import { createGitHttpHandler } from "./git/git-http.js";
import { RepoStore } from "./git/repo-store.js";
import { createHeadEndpoint, type HeadEndpoint } from "./head-endpoint.js";
import { DEFAULT_MAX_CONNECTIONS, startPublicServer, type ListenerLimits, type PublicServer, type RouteHandler } from "./http-server.js";
import { DEFAULT_FLUX_INSTALL } from "./bootstrap-script.js";
import { DEFAULT_FLUX_RELEASES_DIR, FluxReleases } from "./fleet/flux-releases.js";
import { FluxRolloutReconciler, ROLLOUT_CONTROLLER } from "./fleet/rollout-controller.js";
import { DEFAULT_CHART_DIR, publishHelmChartsTask } from "./helm-charts.js";
import { chartValuesSchema } from "./chart-values-schema.js";
import { createSealHandler } from "./seal-endpoint.js";
import { createStatusHandler } from "./status-endpoint.js";
import { Counter, Gauge } from "prom-client";
import { AcsBackend } from "./acs/acs-backend.js";
import { ConfigDbSync } from "./acs/configdb-sync.js";
import { SparkplugLiveness } from "./online/sparkplug-liveness.js";

export interface ClusterManagerOptions {
  kubeConfig: KubeConnection;
  config: ClusterManagerConfig & { fluxInstallPath?: string; fluxReleasesDir?: string; chartDir?: string };
  log: Logger;
  listen: { host: string; port: number; limits?: ListenerLimits };
  ops?: { host?: string; port: number };
  leaderElection?: { namespace: string; identity?: string; leaseDurationMs?: number; renewDeadlineMs?: number; retryPeriodMs?: number };
  concurrency?: number;
  resyncMs?: number;
  /** A stalled EdgeCluster is reconciled again after this long even without a change. */
  stallRetryMs?: number;
}

export class ClusterManager {
  readonly client: KubeClient;
  readonly metrics = new ControllerMetrics(undefined, { defaultMetrics: true });
  readonly repos: RepoStore;
  readonly index: CredentialIndex;
  readonly reconciler: EdgeClusterReconciler;
  /** The Flux releases clusters' repositories may carry (the pinned one and config/flux/releases). */
  readonly fluxReleases: FluxReleases;
  /** Embedded mode: FluxRollouts, which assign Flux releases to EdgeClusters wave by wave (leader only). */
  readonly rollouts?: FluxRolloutReconciler;
  readonly reports = new Counter({ name: "graft_status_reports_total", help: "Status reports accepted from edge clusters", labelNames: ["method"], registers: [this.metrics.registry] });
  readonly headWatchesHeld = new Gauge({ name: "graft_head_watches_held", help: "Edge head watches (GET /v1/cluster/<uuid>/head) held open now", registers: [this.metrics.registry],
    collect: () => { this.headWatchesHeld.set(this.headEndpoint?.held ?? 0); } });
  private headEndpoint?: HeadEndpoint;
  readonly droppedConnections = new Counter({ name: "graft_public_connections_dropped_total", help: "Connections to the public listener closed on accept: --max-connections were open", registers: [this.metrics.registry] });
  /** ACS mode only: the ACS backends and the ConfigDB → Kubernetes sync. */
  readonly acs?: AcsBackend;
  readonly configDbSync?: ConfigDbSync;
  /** With a broker configured: the Online condition from the edge monitors' NBIRTH/NDEATH (leader only). */
  readonly liveness?: SparkplugLiveness;
  private manager?: Manager;
  private server?: PublicServer;

  constructor(private readonly opts: ClusterManagerOptions) {
    const { log, config } = opts;
    this.client = new KubeClient(opts.kubeConfig);
    this.repos = new RepoStore({ dataDir: config.dataDir, logger: log.child({ component: "repo-store" }) });
    this.index = new CredentialIndex(this.client, log.child({ component: "credential-index" }), config.watchNamespace);
    const events = new EventRecorder(this.client, CONTROLLER_NAME, log);
    this.fluxReleases = FluxReleases.load(config.fluxInstallPath ?? DEFAULT_FLUX_INSTALL, config.fluxReleasesDir ?? DEFAULT_FLUX_RELEASES_DIR);
    if (config.mode === "acs") {
      const settings = checkAcsSettings(config);
      this.acs = new AcsBackend({
        settings, organisationPrefix: config.organisationPrefix, repos: this.repos, log,
        fluxInstallPath: config.fluxInstallPath ?? DEFAULT_FLUX_INSTALL,
      });
    }
    this.reconciler = new EdgeClusterReconciler({
      client: this.client, log, config, repos: this.repos, metrics: this.metrics, events,
      concurrency: opts.concurrency, resyncMs: opts.resyncMs, stallRetryMs: opts.stallRetryMs, acs: this.acs,
      credentialsKnown: (uuid) => this.index.exists(uuid), fluxReleases: this.fluxReleases,
      valuesSchema: config.mode === "acs" ? undefined : chartValuesSchema(config.chartDir ?? DEFAULT_CHART_DIR),
    });
    if (config.mode !== "acs") {
      this.rollouts = new FluxRolloutReconciler({
        client: this.client, log, events: new EventRecorder(this.client, ROLLOUT_CONTROLLER, log), releases: this.fluxReleases,
        clusters: this.reconciler.informer, watchNamespace: config.watchNamespace, metrics: this.metrics, resyncMs: opts.resyncMs,
      });
    }
    if (config.liveness) {
      this.liveness = new SparkplugLiveness({
        client: this.client, log: log.child({ component: "sparkplug-liveness" }), broker: config.liveness,
        clusters: () => this.reconciler.informer.list(),
      });
    }
    if (this.acs) {
      this.configDbSync = new ConfigDbSync({
        client: this.client, log, events, cdb: this.acs.cdb, notify: this.acs.notify, informer: this.reconciler.informer,
        mirrorNamespace: this.acs.settings.mirrorNamespace, watchNamespace: config.watchNamespace,
        emptyListConfirmMs: this.acs.settings.emptyListConfirmMs,
        requeueEdgeCluster: (key) => this.reconciler.controller.queue.add(key),
        metrics: this.metrics, resyncMs: opts.resyncMs,
      });
    }
  }

  get port(): number {
    return this.server!.port;
  }

  get opsPort(): number | undefined {
    return this.manager?.opsPort;
  }

  get isLeader(): boolean {
    return this.manager?.isLeader ?? false;
  }

  clusterByUuid = (uuid: string): EdgeCluster | undefined => this.reconciler.identities.provisionedWith(uuid);

  async start(): Promise<void> {
    const { log, config } = this.opts;
    if (this.acs) {
      // The helm-charts repository lives on the ACS Git server (the installer fills it); the service config says which.
      await this.acs.start();
      log.info({ serviceConfig: this.acs.serviceConfig }, "ACS mode: loaded the service config");
    }
    await this.index.start();
    // Every replica serves reads; the informer gives the HTTP handlers the EdgeClusters without API calls.
    this.reconciler.informer.start();
    await this.reconciler.informer.waitForSync();
    this.configDbSync?.start();
    const bootstrap = createBootstrapHandler({ client: this.client, index: this.index, config: { ...config, fluxReleases: this.fluxReleases }, log: log.child({ component: "bootstrap" }), clusterByUuid: this.clusterByUuid });
    // In ACS mode the edge reads its repository from the ACS Git server and reports to the ConfigDB.
    const handlers: RouteHandler[] = this.acs ? [bootstrap, this.acs.clustersApi(config, this.client, this.clusterByUuid, log)] : [
      createGitHttpHandler({
        dataDir: config.dataDir, logger: log.child({ component: "git-http" }),
        authorize: async ({ repo, username, password }) => repo.kind === "cluster"
          ? this.index.checkGit(repo.uuid, username, password)
          : this.index.checkAnyGit(username, password),
      }),
      bootstrap,
      (this.headEndpoint = createHeadEndpoint({
        index: this.index, clusters: this.reconciler.informer, clusterByUuid: this.clusterByUuid, log: log.child({ component: "head" }),
        // Held watches (about one per edge) may take half the listener: git fetches, reports and bootstraps keep the rest.
        maxHeld: Math.floor((this.opts.listen.limits?.maxConnections ?? DEFAULT_MAX_CONNECTIONS) / 2),
      })).handler,
      createStatusHandler({
        client: this.client, index: this.index, log: log.child({ component: "status" }), clusterByUuid: this.clusterByUuid,
        onReport: (_uuid, method) => this.reports.inc({ method }),
      }),
      createSealHandler({ client: this.client, repos: this.repos, log: log.child({ component: "seal" }), clusterByUuid: this.clusterByUuid }),
    ];
    this.server = await startPublicServer(handlers, { ...this.opts.listen, log, onDrop: () => this.droppedConnections.inc() });
    if (this.acs) await this.acs.advertise(config.externalUrl, log);
    this.manager = new Manager({
      name: CONTROLLER_NAME, client: this.client, log, metrics: this.metrics,
      controllers: [this.reconciler.controller, ...(this.configDbSync ? [this.configDbSync.controller] : []), ...(this.rollouts ? [this.rollouts.controller] : [])],
      ops: this.opts.ops,
      leaderElection: this.opts.leaderElection,
      // Embedded mode: only the leader writes the shared helm-charts repository (in ACS mode the ACS Git server has it).
      leaderTasks: this.acs ? [] : [publishHelmChartsTask(this.repos, config.chartDir ?? DEFAULT_CHART_DIR,
        config.fluxInstallPath ?? DEFAULT_FLUX_INSTALL, log.child({ component: "helm-charts" }))],
      // Only the leader writes Online, as only it writes the rest of the status.
      onLeadershipChange: (leading) => {
        if (leading) void this.liveness?.start().catch((err: Error) => log.error({ err: err.message }, "cannot watch the liveness broker"));
        else void this.liveness?.stop();
      },
    });
    await this.manager.start();
    if (!this.opts.leaderElection) await this.liveness?.start();
    log.info({ port: this.server.port, externalUrl: config.externalUrl, mode: config.mode ?? "embedded" }, "cluster-manager started");
  }

  async stop(): Promise<void> {
    this.configDbSync?.stop();
    await this.manager?.stop();
    await this.liveness?.stop();
    await this.acs?.stop();
    await this.server?.close();
    await this.index.stop();
    await this.reconciler.informer.stop();
  }
}

/** ACS mode needs its settings, and mirrored EdgeClusters must land where the manager watches. */
function checkAcsSettings(config: ClusterManagerConfig): AcsModeSettings {
  const settings = config.acs;
  if (!settings) throw new Error("ACS mode needs its settings: realm, domain, ACS service URLs and credentials");
  if (config.watchNamespace && config.watchNamespace !== settings.mirrorNamespace) {
    throw new Error(`the mirror namespace "${settings.mirrorNamespace}" must be the watched namespace "${config.watchNamespace}": mirrored EdgeClusters would never be reconciled`);
  }
  return settings;
}
