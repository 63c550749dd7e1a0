import type { LivenessBrokerSettings } from "./online/sparkplug-liveness.js";
import type { AcsServiceConfig } from "./acs/service-config.js";
import type { AcsCredentials } from "../acs/service-client.js";
import type { ChartImage } from "./edge-image.js";

export type ManagerMode = "embedded" | "acs";

/** ACS mode: where the ACS services are, who the manager is there, and what the edge needs for Kerberos. */
export interface AcsModeSettings {
  /** Preset service URLs; services without one are found through the Directory. */
  urls: { directory?: string; configdb?: string; auth?: string; git?: string };
  /** The manager's ACS account: SERVICE_USERNAME with SERVICE_PASSWORD (Basic) or with SERVICE_KEYTAB_FILE (Negotiate). */
  credentials: AcsCredentials;
  /**
   * The Clusters API's Negotiate acceptor: a keytab with the keys of `HTTP/<host>@REALM` (the host clients reach the
   * API at), SERVER_KEYTAB_FILE; absent: Negotiate is not offered.
   */
  negotiate?: { keytabFile: string; env?: Record<string, string | undefined> };
  /** Kerberos realm of the edge principals (`op1flux/<cluster>@<realm>`). */
  realm: string;
  /** DNS domain of the central services: the edge's krb5.conf names `kdc.<domain>` and `kadmin.<domain>`. */
  domain: string;
  /** Explicit KDC and kadmin server (`host[:port]`) for the edge, when not `kdc.<domain>` / `kadmin.<domain>`. */
  kdc?: string;
  adminServer?: string;
  /** The Directory URL as the edge reaches it (edge-sync and the chart); default: the Directory URL above. */
  edgeDirectoryUrl?: string;
  /** Image of the enrolment Pod the bootstrap script runs (`graft enrol`). */
  enrolImage: string;
  /** Namespace the EdgeClusters mirrored from the ConfigDB are created in. */
  mirrorNamespace: string;
  /** Values that win over the ConfigDB 'Service config' entry. */
  serviceConfig: Partial<AcsServiceConfig>;
  /**
   * How long a ConfigDB list that suddenly names no clusters must stay empty (and be confirmed by a second, fresh
   * listing) before mirrored EdgeClusters are deleted; Infinity never deletes on an empty list.
   */
  emptyListConfirmMs: number;
}

export interface ClusterManagerConfig {
  /** embedded (default): Kubernetes only. acs: the ACS ConfigDB, Auth and Git services are the backends. */
  mode?: ManagerMode;
  /** Required in ACS mode. */
  acs?: AcsModeSettings;
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
  /** Embedded mode: the edge components' image, as the chart's `image` values (absent: the chart's own default). */
  edgeImage?: ChartImage;
  /** Time without a report after which Reporting goes False. */
  reportTimeoutMs: number;
  /** A Sparkplug broker to watch edge monitors on: sets the Online condition (absent: no Online condition). */
  liveness?: LivenessBrokerSettings;
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
