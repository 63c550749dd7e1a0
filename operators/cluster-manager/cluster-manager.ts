// Wires the cluster-manager together: the EdgeCluster controller (leader only), the credential index and the
// public HTTP listener (every replica), metrics and probes.
import type { Logger } from "pino";
import type * as k8s from "@kubernetes/client-node";
import type { EdgeCluster } from "../api/edgecluster.js";
import { EventRecorder } from "../runtime/events.js";
import { Manager } from "../runtime/manager.js";
import { ControllerMetrics } from "../runtime/metrics.js";
import { KubeClient } from "../runtime/rest.js";
import { createBootstrapHandler } from "./bootstrap-endpoint.js";
import type { ClusterManagerConfig } from "./config.js";
import { CredentialIndex } from "./credential-index.js";
import { CONTROLLER_NAME, EdgeClusterReconciler } from "./controller/edgecluster-controller.js";
import { createGitHttpHandler } from "./git/git-http.js";
import { RepoStore } from "./git/repo-store.js";
import { startPublicServer, type PublicServer, type RouteHandler } from "./http-server.js";
import { DEFAULT_FLUX_INSTALL } from "./bootstrap-script.js";
import { DEFAULT_CHART_DIR, publishHelmCharts } from "./helm-charts.js";
import { createSealHandler } from "./seal-endpoint.js";
import { createStatusHandler } from "./status-endpoint.js";
import { Counter } from "prom-client";

export interface ClusterManagerOptions {
  kubeConfig: k8s.KubeConfig;
  config: ClusterManagerConfig & { fluxInstallPath?: string; chartDir?: string };
  log: Logger;
  listen: { host: string; port: number };
  ops?: { host?: string; port: number };
  leaderElection?: { namespace: string; identity?: string; leaseDurationMs?: number; renewDeadlineMs?: number; retryPeriodMs?: number };
  concurrency?: number;
  resyncMs?: number;
}

export class ClusterManager {
  readonly client: KubeClient;
  readonly metrics = new ControllerMetrics(undefined, { defaultMetrics: true });
  readonly repos: RepoStore;
  readonly index: CredentialIndex;
  readonly reconciler: EdgeClusterReconciler;
  readonly reports = new Counter({ name: "graft_status_reports_total", help: "Status reports accepted from edge clusters", labelNames: ["method"], registers: [this.metrics.registry] });
  private manager?: Manager;
  private server?: PublicServer;

  constructor(private readonly opts: ClusterManagerOptions) {
    const { log, config } = opts;
    this.client = new KubeClient(opts.kubeConfig);
    this.repos = new RepoStore({ dataDir: config.dataDir, logger: log.child({ component: "repo-store" }) });
    this.index = new CredentialIndex(this.client, log.child({ component: "credential-index" }), config.watchNamespace);
    this.reconciler = new EdgeClusterReconciler({
      client: this.client, log, config, repos: this.repos, metrics: this.metrics,
      events: new EventRecorder(this.client, CONTROLLER_NAME, log),
      concurrency: opts.concurrency, resyncMs: opts.resyncMs,
    });
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

  clusterByUuid = (uuid: string): EdgeCluster | undefined =>
    this.reconciler.informer.list().find((ec) => ec.status?.uuid === uuid);

  async start(): Promise<void> {
    const { log, config } = this.opts;
    const published = await publishHelmCharts(this.repos, config.chartDir ?? DEFAULT_CHART_DIR, config.fluxInstallPath ?? DEFAULT_FLUX_INSTALL);
    if (published.changed) log.info({ commit: published.commit }, "published the helm-charts repository");
    await this.index.start();
    // Every replica serves reads; the informer gives the HTTP handlers the EdgeClusters without API calls.
    this.reconciler.informer.start();
    await this.reconciler.informer.waitForSync();
    const handlers: RouteHandler[] = [
      createGitHttpHandler({
        dataDir: config.dataDir, logger: log.child({ component: "git-http" }),
        authorize: async ({ repo, username, password }) => repo.kind === "cluster"
          ? this.index.checkGit(repo.uuid, username, password)
          : this.index.checkAnyGit(username, password),
      }),
      createBootstrapHandler({ client: this.client, index: this.index, config, log: log.child({ component: "bootstrap" }), clusterByUuid: this.clusterByUuid }),
      createStatusHandler({
        client: this.client, index: this.index, log: log.child({ component: "status" }), clusterByUuid: this.clusterByUuid,
        onReport: (_uuid, method) => this.reports.inc({ method }),
      }),
      createSealHandler({ client: this.client, repos: this.repos, log: log.child({ component: "seal" }), clusterByUuid: this.clusterByUuid }),
    ];
    this.server = await startPublicServer(handlers, { ...this.opts.listen, log });
    this.manager = new Manager({
      name: CONTROLLER_NAME, client: this.client, log, metrics: this.metrics,
      controllers: [this.reconciler.controller], ops: this.opts.ops,
      leaderElection: this.opts.leaderElection,
    });
    await this.manager.start();
    log.info({ port: this.server.port, externalUrl: config.externalUrl }, "cluster-manager started");
  }

  async stop(): Promise<void> {
    await this.manager?.stop();
    await this.server?.close();
    await this.index.stop();
    await this.reconciler.informer.stop();
  }
}
