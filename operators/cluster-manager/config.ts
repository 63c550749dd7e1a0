export interface ClusterManagerConfig {
  /** Namespace whose EdgeClusters are reconciled; undefined = all namespaces. */
  watchNamespace?: string;
  /** ACS ORGANISATION_PREFIX: the Sparkplug group of a cluster is `<prefix>-<cluster name>`. */
  organisationPrefix: string;
  /** Where the cluster repositories live. */
  dataDir: string;
  /** The URL edge clusters reach this manager at (bootstrap script, Git repositories, status endpoint). */
  externalUrl: string;
  /** Lifetime of a bootstrap token. */
  bootstrapTokenTtlMs: number;
  /** Chart used when spec.chart is absent. */
  defaultChart: string;
  /** Values of each chart template (name → values with {{name}}/{{uuid}} placeholders). */
  chartValues: Record<string, Record<string, unknown>>;
  /** Time without a report after which Reporting goes False. */
  reportTimeoutMs: number;
}

export const defaultConfig = (over: Partial<ClusterManagerConfig> = {}): ClusterManagerConfig => ({
  organisationPrefix: "graft",
  dataDir: "/var/lib/graft",
  externalUrl: "http://localhost:8080",
  bootstrapTokenTtlMs: 60 * 60_000,
  defaultChart: "edge-cluster",
  chartValues: {},
  reportTimeoutMs: 10 * 60_000,
  ...over,
});

export const urlsFor = (cfg: ClusterManagerConfig, uuid: string) => {
  const base = cfg.externalUrl.replace(/\/+$/, "");
  return {
    central: base,
    git: `${base}/uuid/${uuid}`,
    helmCharts: `${base}/shared/helm-charts`,
    status: base,
    bootstrap: `${base}/v1/bootstrap`,
  };
};
