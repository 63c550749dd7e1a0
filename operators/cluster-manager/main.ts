// `graft cluster-manager`: flags and environment → a running ClusterManager.
import { readFileSync } from "node:fs";
import { Command, Option } from "commander";
import { parse as parseYaml } from "yaml";
import { parseDuration } from "../runtime/duration.js";
import { addLeaderElectionOptions, leaderElectionSettings } from "../runtime/leader-election-flags.js";
import { loadKubeConfig } from "../runtime/kube.js";
import { createLogger } from "../runtime/logger.js";
import { stopOnSignals } from "../runtime/manager.js";
import { parseAddr } from "../runtime/ops-server.js";
import { ClusterManager } from "./cluster-manager.js";
import { defaultConfig } from "./config.js";
import { chartImage } from "./edge-image.js";
import { acsSettingsFromFlags, addAcsOptions } from "./acs/options.js";
import { DEFAULT_MAX_CONNECTIONS } from "./http-server.js";


export function clusterManagerCommand(): Command {
  return addAcsOptions(addLeaderElectionOptions(new Command("cluster-manager")
    .description("central operator: reconciles EdgeClusters, serves bootstrap scripts, Git repositories and the edge status endpoint")
    .option("--kubeconfig <path>", "kubeconfig (default: KUBECONFIG, ~/.kube/config, then in-cluster)")
    .addOption(new Option("--namespace <ns>", "namespace whose EdgeClusters are reconciled (default: all)").env("WATCH_NAMESPACE"))
    .addOption(new Option("--organisation-prefix <prefix>", "Sparkplug group prefix: groups are <prefix>-<cluster name>").env("ORGANISATION_PREFIX").default("graft"))
    .addOption(new Option("--data-dir <dir>", "directory holding the cluster Git repositories").env("DATA_DIR").default("/var/lib/graft"))
    .addOption(new Option("--external-url <url>", "URL edge clusters reach this manager at").env("EXTERNAL_URL").makeOptionMandatory())
    .addOption(new Option("--listen-address <addr>", "address of the public listener (Git, bootstrap, status)").env("LISTEN_ADDRESS").default(":8080"))
    .addOption(new Option("--max-connections <n>", "connections the public listener keeps open at once; more are closed on accept").env("MAX_CONNECTIONS").default(String(DEFAULT_MAX_CONNECTIONS)))
    .addOption(new Option("--keep-alive-timeout <duration>", "a kept-alive public connection with no next request is closed after this long").env("KEEP_ALIVE_TIMEOUT").default("5s"))
    .addOption(new Option("--health-addr <addr>", "address of /healthz, /readyz and /metrics").env("HEALTH_ADDR").default(":8081"))
    .addOption(new Option("--bootstrap-token-ttl <duration>", "lifetime of a bootstrap token").env("BOOTSTRAP_TOKEN_TTL").default("1h"))
    .addOption(new Option("--report-timeout <duration>", "time without an edge report after which Reporting goes False").env("REPORT_TIMEOUT").default("10m"))
    .addOption(new Option("--mqtt-url <url>", "Sparkplug broker to watch edge monitors' NBIRTH/NDEATH on: sets the Online condition").env("MQTT_URL"))
    .addOption(new Option("--mqtt-username <name>", "MQTT username for --mqtt-url").env("MQTT_USERNAME"))
    .addOption(new Option("--mqtt-password-file <path>", "file holding the MQTT password (read again after a refusal)").env("MQTT_PASSWORD_FILE"))
    .addOption(new Option("--mqtt-ca-file <path>", "CA bundle for an mqtts: broker").env("MQTT_CA_FILE"))
    .addOption(new Option("--chart-values-file <path>", "YAML map: chart name → values template ({{name}}, {{uuid}} placeholders)").env("CHART_VALUES_FILE"))
    .addOption(new Option("--edge-image <image>", "embedded mode: image of the edge components (the chart's image values; default: the chart's own)").env("EDGE_IMAGE"))
    .addOption(new Option("--flux-install-manifest <path>", "Flux install manifest the bootstrap script carries").env("FLUX_INSTALL_MANIFEST"))
    .addOption(new Option("--flux-releases-dir <dir>", "further Flux releases a cluster's repository may carry: <dir>/<version>/install.yaml (config/flux/releases)").env("FLUX_RELEASES_DIR"))
    .addOption(new Option("--chart-dir <dir>", "edge-cluster Helm chart published in the shared helm-charts repository").env("CHART_DIR"))
    .option("--concurrent <n>", "EdgeClusters reconciled in parallel (16 was fastest on 2 cores, docs/operations.md)", "16")
    .option("--resync-interval <duration>", "interval at which every EdgeCluster is reconciled again", "10m")
    .option("--stall-retry-interval <duration>", "a stalled EdgeCluster (only a spec change can fix it) is retried after this long", "10m")
    .addOption(new Option("--log-level <level>", "log level").env("LOG_LEVEL").default("info").choices(["debug", "info", "warn", "error"]))
    .addOption(new Option("--mode <mode>", "embedded: Kubernetes only; acs: the ACS ConfigDB, Auth and Git services are the backends").env("MODE").default("embedded").choices(["embedded", "acs"])), "graft-system"))
    .action(async (o) => {
      const log = createLogger("cluster-manager", { level: o.logLevel });
      const config = defaultConfig({
        watchNamespace: o.namespace || undefined,
        organisationPrefix: o.organisationPrefix,
        dataDir: o.dataDir,
        externalUrl: o.externalUrl,
        bootstrapTokenTtlMs: parseDuration(o.bootstrapTokenTtl),
        reportTimeoutMs: parseDuration(o.reportTimeout),
        ...(o.mqttUrl ? { liveness: { url: o.mqttUrl, username: o.mqttUsername, passwordFile: o.mqttPasswordFile, caFile: o.mqttCaFile } } : {}),
        chartValues: o.chartValuesFile ? (parseYaml(readFileSync(o.chartValuesFile, "utf8")) ?? {}) : {},
        ...(o.edgeImage ? { edgeImage: chartImage(o.edgeImage) } : {}),
        ...(o.mode === "acs" ? { mode: "acs" as const, acs: acsSettingsFromFlags(o) } : {}),
      });
      const manager = new ClusterManager({
        kubeConfig: loadKubeConfig(o.kubeconfig),
        config: { ...config, fluxInstallPath: o.fluxInstallManifest, fluxReleasesDir: o.fluxReleasesDir, chartDir: o.chartDir },
        log,
        listen: { ...parseAddr(o.listenAddress), limits: { maxConnections: positiveInteger(o.maxConnections, "--max-connections"), keepAliveTimeoutMs: parseDuration(o.keepAliveTimeout) } },
        ops: parseAddr(o.healthAddr),
        concurrency: Number(o.concurrent),
        resyncMs: parseDuration(o.resyncInterval),
        stallRetryMs: parseDuration(o.stallRetryInterval),
        leaderElection: leaderElectionSettings(o),
      });
      await manager.start();
      stopOnSignals(manager, log);
    });
}

function positiveInteger(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag} must be a whole number of at least 1, not "${value}"`);
  return n;
}
