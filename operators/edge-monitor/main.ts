// `graft edge-monitor`: runs the cluster's Sparkplug B edge node until SIGTERM/SIGINT, then publishes the NDEATH,
// disconnects and exits 0.
import { readFileSync } from "node:fs";
import { Command } from "commander";
import type { LevelWithSilent } from "pino";
import { loadKubeConfig } from "../runtime/kube.js";
import { createLogger } from "../runtime/logger.js";
import { KubeClient } from "../runtime/rest.js";
import { FileBdSeqStore, MemoryBdSeqStore, type BdSeqStore } from "./bdseq-store.js";
import { DEFAULTS, MonitorConfigError, resolveMonitorConfig, SETTINGS, type BdSeqStoreConfig, type MonitorFlags } from "./config.js";
import { ConfigMapBdSeqStore } from "./configmap-bdseq-store.js";
import { monitorAcsConnection, sparkplugNodesFor } from "./nodes/wiring.js";
import { accountUuid } from "./account-instance.js";
import { AuthClient } from "../acs/auth.js";
import { ConfigDbClient } from "../acs/configdb.js";
import { waitForOwnAddress } from "./own-address.js";
import { EdgeMonitor } from "./edge-monitor.js";
import { startOpsServer, parseAddr, type OpsServer } from "../runtime/ops-server.js";
import { nextTerminationSignal } from "../runtime/signals.js";

const SERVICE_ACCOUNT_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
/** After a clean stop the process ends by itself; this only catches a handle some library left open. */
const EXIT_GRACE_MS = 2_000;

const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"];

const DESCRIPTIONS: Record<keyof MonitorFlags, string> = {
  clusterUuid: "UUID of this edge cluster (the link target in the NBIRTH)",
  clusterName: "name of this edge cluster",
  organisationPrefix: "ACS organisation prefix; with the cluster name it gives the default Sparkplug group <prefix>-<name>",
  sparkplugGroup: "Sparkplug Group ID of the cluster",
  nodeId: "Sparkplug Edge Node ID",
  instanceUuid: "Instance_UUID of this monitor (default: in ACS mode its account UUID, else derived from the cluster UUID)",
  mqttUrl: "broker URL, e.g. mqtts://mqtt.example.com:8883",
  mqttUsername: "broker user name",
  mqttPasswordFile: "file holding the broker password (or set MQTT_PASSWORD)",
  mqttCaFile: "PEM bundle of the CAs trusted for the broker's TLS certificate",
  mqttClientId: "MQTT client id (default: graft-mon-<random>)",
  mqttProtocolVersion: "MQTT protocol: 3.1.1 or 5",
  mqttKeepalive: "MQTT keep-alive interval",
  bdseqStore: "where bdSeq survives restarts: configmap, file or memory (tests only)",
  bdseqFile: "bdSeq file for --bdseq-store file",
  bdseqConfigmap: "ConfigMap owned by the monitor for --bdseq-store configmap",
  namespace: "namespace of that ConfigMap (default: the Pod's namespace)",
  healthAddr: "address of /healthz and /readyz",
  metricsAddr: "address of /metrics",
  minRetryDelay: "first reconnect delay",
  maxRetryDelay: "longest reconnect delay",
  stallAfter: "/healthz fails when there was no Sparkplug session and no connection attempt finished for this long",
};

export function edgeMonitorCommand(): Command {
  const cmd = new Command("edge-monitor")
    .description("Run this edge cluster's Sparkplug B edge node (NBIRTH/NDEATH with a persistent bdSeq, rebirth on request)");
  for (const key of Object.keys(SETTINGS) as (keyof MonitorFlags)[]) {
    const [flag, envName] = SETTINGS[key];
    const fallback = (DEFAULTS as Record<string, string>)[key];
    cmd.option(`${flag} <value>`, `${DESCRIPTIONS[key]} (env ${envName}${fallback ? `, default "${fallback}"` : ""})`);
  }
  cmd.option("--log-level <level>", "trace, debug, info, warn, error or silent (env LOG_LEVEL, default \"info\")");
  cmd.action(async (opts: MonitorFlags & { logLevel?: string }) => {
    const env = { ...process.env };
    if (!env.POD_NAMESPACE && !env.CLUSTER_NAMESPACE) {
      const namespace = readOptional(SERVICE_ACCOUNT_NAMESPACE_FILE);
      if (namespace) env.POD_NAMESPACE = namespace;
    }
    const level = opts.logLevel ?? env.LOG_LEVEL ?? "info";
    if (!LOG_LEVELS.includes(level)) cmd.error(`error: log level "${level}" must be one of ${LOG_LEVELS.join(", ")}`, { exitCode: 2 });
    try {
      await runEdgeMonitor(opts, env, { level: level as LevelWithSilent });
    } catch (err) {
      if (err instanceof MonitorConfigError) cmd.error(`error: ${err.message}`, { exitCode: 2 });
      throw err;
    }
    process.exitCode = 0;
    setTimeout(() => process.exit(0), EXIT_GRACE_MS).unref();
  });
  return cmd;
}

/** Runs the monitor and its HTTP endpoints until the first SIGTERM or SIGINT, then stops both. */
export async function runEdgeMonitor(flags: MonitorFlags, env: Record<string, string | undefined>, opts: { level?: LevelWithSilent } = {}): Promise<void> {
  const config = resolveMonitorConfig(flags, env);
  const log = createLogger("edge-monitor", opts.level ? { level: opts.level } : {});
  const acs = monitorAcsConnection(config, env, log);
  const monitor = new EdgeMonitor({ config, bdSeqStore: openBdSeqStore(config.bdSeqStore), logger: log });
  const nodes = sparkplugNodesFor(config, monitor, env, log, acs);
  const signal = nextTerminationSignal(log);
  const endpoints = await startMonitorEndpoints(config, monitor);
  log.info({ health: endpoints.healthPort, metrics: endpoints.metricsPort }, "serving health and metrics");
  try {
    if (acs && !(flags.instanceUuid ?? env[SETTINGS.instanceUuid[1]])) {
      // ACS mode: born as its own account (acs-contract §12) unless an Instance_UUID is given.
      const stopping = new AbortController();
      void signal.then(() => stopping.abort());
      const uuid = await accountUuid(new AuthClient(acs.service("auth")), {
        log, minRetryMs: config.retry.minDelayMs, maxRetryMs: config.retry.maxDelayMs, signal: stopping.signal, onAttempt: () => monitor.noteProgress(),
      }).catch((err: unknown) => {
        if (stopping.signal.aborted) return undefined;
        throw err;
      });
      if (uuid === undefined) return;
      const confirmed = await waitForOwnAddress(new ConfigDbClient(acs.service("configdb")), uuid, { group: config.sparkplug.group, node: config.sparkplug.nodeId }, {
        log, metrics: monitor.metrics, minRetryMs: config.retry.minDelayMs, maxRetryMs: config.retry.maxDelayMs, signal: stopping.signal, onAttempt: () => monitor.noteProgress(),
      }).then(() => true, (err: unknown) => {
        if (stopping.signal.aborted) return false;
        throw err;
      });
      if (!confirmed) return;
      monitor.useInstanceUuid(uuid);
    }
    await monitor.start();
    nodes?.start();
    log.info({ sparkplugNodes: nodes !== undefined }, "edge monitor running");
    log.info({ signal: await signal }, "stopping on signal");
    await nodes?.stop();
    await monitor.stop();
  } finally {
    await endpoints.close();
  }
}

export function openBdSeqStore(config: BdSeqStoreConfig): BdSeqStore {
  switch (config.kind) {
    case "file":
      return new FileBdSeqStore(config.path);
    case "memory":
      return new MemoryBdSeqStore();
    case "configmap": {
      return new ConfigMapBdSeqStore({ client: new KubeClient(loadKubeConfig()), namespace: config.namespace, name: config.name });
    }
  }
}

export interface MonitorEndpoints {
  healthPort: number;
  metricsPort: number;
  close(): Promise<void>;
}

/** /healthz, /readyz (a Sparkplug session is up) and /metrics: one listener, or two when the addresses differ. */
export async function startMonitorEndpoints(config: { healthAddr: string; metricsAddr: string }, monitor: EdgeMonitor): Promise<MonitorEndpoints> {
  const registry = monitor.metrics.registry;
  const shared = config.healthAddr === config.metricsAddr;
  const health = await startOpsServer({
    ...parseAddr(config.healthAddr), readiness: { "sparkplug session": () => monitor.isReady() },
    liveness: { "connect loop": () => monitor.stuckReason() === undefined }, ...(shared ? { registry } : {}),
  });
  let metrics: OpsServer = health;
  if (!shared) {
    try {
      metrics = await startOpsServer({ ...parseAddr(config.metricsAddr), registry, health: false });
    } catch (err) {
      await health.close();
      throw err;
    }
  }
  return {
    healthPort: health.port,
    metricsPort: metrics.port,
    close: async () => { await Promise.all(shared ? [health.close()] : [health.close(), metrics.close()]); },
  };
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}
