// `graft edge-sync`: reports this edge cluster's hosts, Sealed Secrets certificate and GitOps state to the centre
// until SIGTERM/SIGINT.
import { readFileSync } from "node:fs";
import { Command } from "commander";
import type { LevelWithSilent } from "pino";
import { Service } from "../api/constants.js";
import { loadKubeConfig } from "../runtime/kube.js";
import { createLogger, type Logger } from "../runtime/logger.js";
import { startOpsServer } from "../runtime/ops-server.js";
import { nextTerminationSignal } from "../runtime/signals.js";
import {
  ConfigDbClient, DirectoryLocator, KeytabLogin, PasswordLogin, PresetUrl, StaticToken, type AuthProvider, type ServiceLocator,
} from "./configdb-client.js";
import { DEFAULTS, EdgeSyncConfigError, resolveEdgeSyncConfig, SETTINGS, type EdgeSyncConfig, type EdgeSyncFlags } from "./config.js";
import { EdgeSync } from "./edge-sync.js";
import { edgeDeploymentsFor } from "./deployments/wiring.js";
import { EdgeSyncMetrics } from "./metrics.js";

export function edgeSyncCommand(): Command {
  const cmd = new Command("edge-sync")
    .description("Report this edge cluster's hosts, Sealed Secrets certificate and Flux state to the centre (ConfigDB v2 protocol)");
  for (const key of Object.keys(SETTINGS) as (keyof EdgeSyncFlags)[]) {
    const [flag, envName, description] = SETTINGS[key];
    const fallback = DEFAULTS[key];
    cmd.option(`${flag} <value>`, `${description} (env ${envName}${fallback ? `, default "${fallback}"` : ""})`);
  }
  cmd.option("--log-level <level>", "trace, debug, info, warn, error or silent (env LOG_LEVEL, default \"info\")");
  cmd.action(async (opts: EdgeSyncFlags & { logLevel?: string }) => {
    let config: EdgeSyncConfig;
    try {
      config = resolveEdgeSyncConfig(opts, process.env);
    } catch (err) {
      if (err instanceof EdgeSyncConfigError) cmd.error(`error: ${err.message}`, { exitCode: 2 });
      throw err;
    }
    const log = createLogger("edge-sync", { level: (opts.logLevel ?? process.env.LOG_LEVEL ?? "info") as LevelWithSilent });
    await runEdgeSync(config, log);
    process.exitCode = 0;
  });
  return cmd;
}

/** The ConfigDB client for the configured centre and credentials. */
export function configDbClientFor(config: EdgeSyncConfig): ConfigDbClient {
  const { auth } = config;
  const login = (service: ServiceLocator, serviceName: string): AuthProvider => {
    if (auth.kind === "keytab") return new KeytabLogin({ service, serviceName, credentials: auth });
    if (auth.kind === "password") {
      return new PasswordLogin({ service, username: auth.username, password: auth.passwordFile ? { file: auth.passwordFile } : auth.password ?? "" });
    }
    return new StaticToken({ token: auth.token, file: auth.file });
  };
  const service: ServiceLocator = config.centre.kind === "preset"
    ? new PresetUrl(config.centre.url)
    : new DirectoryLocator({
      directoryUrl: config.centre.directoryUrl, service: Service.ConfigDB,
      auth: config.directoryAuth ? login(new PresetUrl(config.centre.directoryUrl), "directory") : undefined,
    });
  return new ConfigDbClient({ service, auth: login(service, "configdb") });
}

/** Runs edge-sync and its health endpoints until the first SIGTERM or SIGINT. */
export async function runEdgeSync(config: EdgeSyncConfig, log: Logger): Promise<void> {
  const metrics = new EdgeSyncMetrics({ defaultMetrics: true });
  const kubeConfig = loadKubeConfig(config.kubeconfig);
  const configDb = configDbClientFor(config);
  const deployments = edgeDeploymentsFor(config, { kubeConfig, configDb, log });
  const gitopsNamespace = config.gitops ? config.gitops.namespace ?? serviceAccountNamespace() : undefined;
  if (config.gitops && !gitopsNamespace) log.warn("no GitOps report: set --namespace (POD_NAMESPACE) to the namespace graft's Flux objects are in");
  const sync = new EdgeSync({
    kubeConfig,
    clusterUuid: config.clusterUuid,
    configDb,
    sealedSecrets: config.sealedSecrets,
    gitops: gitopsNamespace ? {
      namespace: gitopsNamespace, fluxNamespace: config.gitops!.fluxNamespace, storageMigration: config.gitops!.storageMigration,
      // Embedded mode only: the head watch is cluster-manager's; an ACS ConfigDB has none (the edge's repository is on ACS's Git server).
      followHead: config.gitops!.followHead,
    } : undefined,
    debounceMs: config.debounceMs,
    resyncIntervalMs: config.resyncIntervalMs,
    minRetryMs: config.minRetryMs,
    maxRetryMs: config.maxRetryMs,
    stallAfterMs: config.stallAfterMs,
    log, metrics,
  });
  let stuck = "";
  const progressing = () => {
    const reasons = sync.stuckReasons().join("; ");
    if (reasons && reasons !== stuck) log.error({ reasons }, "edge-sync is stuck: the liveness probe fails so the kubelet restarts it");
    stuck = reasons;
    return !reasons;
  };
  const ops = await startOpsServer({
    ...config.health, registry: metrics.registry, readiness: { nodes: () => sync.isReady() }, liveness: { progressing },
  });
  const signal = nextTerminationSignal(log);
  log.info({
    cluster: config.clusterUuid, name: config.clusterName, health: ops.port,
    centre: config.centre.kind === "preset" ? config.centre.url : `directory ${config.centre.directoryUrl}`, auth: config.auth.kind,
    account: config.auth.kind === "keytab" ? config.auth.principal : config.auth.kind === "password" ? config.auth.username : undefined,
    edgeDeployments: deployments !== undefined, gitops: gitopsNamespace ?? false,
  }, "edge-sync starting");
  try {
    deployments?.sync.start();
    await Promise.race([sync.start(), signal]);
    log.info({ signal: await signal }, "stopping on signal");
  } finally {
    await deployments?.sync.stop();
    await deployments?.notify.close();
    await sync.stop();
    await ops.close();
  }
}

/** The namespace of the Pod's service account, or undefined outside a Pod. */
function serviceAccountNamespace(): string | undefined {
  try {
    return readFileSync("/var/run/secrets/kubernetes.io/serviceaccount/namespace", "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}
