// The edge monitor's configuration: the keys of the `cluster-config` ConfigMap (delivered as environment
// variables), each overridable by a command-line flag. Every problem is reported at once, naming both the flag and
// the variable, so a person can fix the Deployment in one go.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseAddr } from "../runtime/ops-server.js";
import { DEFAULT_NODE_ID, EDGE_MONITOR_SCHEMA_UUID, invalidSparkplugIdReason } from "./sparkplug-ids.js";
import { validate as isUuid, v5 as uuidV5 } from "uuid";

export type BdSeqStoreConfig =
  | { kind: "file"; path: string }
  | { kind: "configmap"; namespace: string; name: string }
  | { kind: "memory" };

export interface MqttConfig {
  url: string;
  username?: string;
  /** The password itself (MQTT_PASSWORD, for a shell)… */
  password?: string;
  /** …or the file holding it (a mounted Secret, as the chart does), read again after the broker refuses it. */
  passwordFile?: string;
  /** PEM bundle of the CAs that may sign the broker's certificate. */
  caFile?: string;
  clientId: string;
  protocolVersion: 4 | 5;
  keepaliveSeconds: number;
  connectTimeoutMs: number;
}

export interface MonitorConfig {
  clusterUuid: string;
  clusterName?: string;
  sparkplug: {
    group: string;
    nodeId: string;
    instanceUuid: string;
    linkInstanceUuid: string;
  };
  mqtt: MqttConfig;
  retry: { minDelayMs: number; maxDelayMs: number };
  /** /healthz fails when there has been no Sparkplug session and no connection attempt finished for this long. */
  stallAfterMs: number;
  bdSeqStore: BdSeqStoreConfig;
  healthAddr: string;
  metricsAddr: string;
}

/** Command-line values (all strings, as commander gives them); each wins over its environment variable. */
export interface MonitorFlags {
  clusterUuid?: string;
  clusterName?: string;
  organisationPrefix?: string;
  sparkplugGroup?: string;
  nodeId?: string;
  instanceUuid?: string;
  mqttUrl?: string;
  mqttUsername?: string;
  mqttPasswordFile?: string;
  mqttCaFile?: string;
  mqttClientId?: string;
  mqttProtocolVersion?: string;
  mqttKeepalive?: string;
  bdseqStore?: string;
  bdseqFile?: string;
  bdseqConfigmap?: string;
  namespace?: string;
  healthAddr?: string;
  metricsAddr?: string;
  minRetryDelay?: string;
  maxRetryDelay?: string;
  stallAfter?: string;
}

/** Flag (kebab-case) and environment variable of each setting, for help texts and error messages. */
export const SETTINGS = {
  clusterUuid: ["--cluster-uuid", "CLUSTER_UUID"],
  clusterName: ["--cluster-name", "CLUSTER_NAME"],
  organisationPrefix: ["--organisation-prefix", "ORGANISATION_PREFIX"],
  sparkplugGroup: ["--sparkplug-group", "SPARKPLUG_GROUP"],
  nodeId: ["--node-id", "SPARKPLUG_NODE_ID"],
  instanceUuid: ["--instance-uuid", "MONITOR_INSTANCE_UUID"],
  mqttUrl: ["--mqtt-url", "MQTT_URL"],
  mqttUsername: ["--mqtt-username", "MQTT_USERNAME"],
  mqttPasswordFile: ["--mqtt-password-file", "MQTT_PASSWORD_FILE"],
  mqttCaFile: ["--mqtt-ca-file", "MQTT_CA_FILE"],
  mqttClientId: ["--mqtt-client-id", "MQTT_CLIENT_ID"],
  mqttProtocolVersion: ["--mqtt-protocol-version", "MQTT_PROTOCOL_VERSION"],
  mqttKeepalive: ["--mqtt-keepalive", "MQTT_KEEPALIVE"],
  bdseqStore: ["--bdseq-store", "BDSEQ_STORE"],
  bdseqFile: ["--bdseq-file", "BDSEQ_FILE"],
  bdseqConfigmap: ["--bdseq-configmap", "BDSEQ_CONFIGMAP"],
  namespace: ["--namespace", "POD_NAMESPACE"],
  healthAddr: ["--health-addr", "HEALTH_ADDR"],
  metricsAddr: ["--metrics-addr", "METRICS_ADDR"],
  minRetryDelay: ["--min-retry-delay", "MIN_RETRY_DELAY"],
  maxRetryDelay: ["--max-retry-delay", "MAX_RETRY_DELAY"],
  stallAfter: ["--stall-after", "STALL_AFTER"],
} as const satisfies Record<keyof MonitorFlags, readonly [string, string]>;

export const DEFAULTS = {
  bdseqStore: "configmap",
  bdseqConfigmap: "edge-monitor-bdseq",
  healthAddr: ":8081",
  metricsAddr: ":8080",
  minRetryDelay: "500ms",
  maxRetryDelay: "30s",
  stallAfter: "5m",
  mqttKeepalive: "30s",
  mqttProtocolVersion: "3.1.1",
} as const;

export class MonitorConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid edge-monitor configuration: ${problems.join("; ")}`);
  }
}

export interface ResolveOptions {
  /** Reads a file named by a setting (password file); defaults to the file system. */
  readText?: (path: string) => string;
}

export function resolveMonitorConfig(flags: MonitorFlags, env: Record<string, string | undefined>, opts: ResolveOptions = {}): MonitorConfig {
  const readText = opts.readText ?? ((p: string) => readFileSync(p, "utf8"));
  const problems: string[] = [];
  const get = (key: keyof MonitorFlags): string | undefined => {
    const value = flags[key] ?? env[SETTINGS[key][1]];
    return value === undefined || value.trim() === "" ? undefined : value.trim();
  };
  const name = (key: keyof MonitorFlags) => `${SETTINGS[key][0]} or ${SETTINGS[key][1]}`;
  const required = (key: keyof MonitorFlags): string => {
    const value = get(key);
    if (value === undefined) problems.push(`${name(key)} is required`);
    return value ?? "";
  };
  const uuid = (key: keyof MonitorFlags, value: string | undefined) => {
    if (value !== undefined && value !== "" && !isUuid(value)) problems.push(`${name(key)} "${value}" is not a UUID`);
  };
  const duration = (key: keyof MonitorFlags & keyof typeof DEFAULTS): number => {
    const text = get(key) ?? DEFAULTS[key];
    const ms = parseDuration(text);
    if (ms === undefined) problems.push(`${name(key)} "${text}" is not a duration (e.g. 500ms, 30s, 2m)`);
    return ms ?? 0;
  };

  const clusterUuid = required("clusterUuid").toLowerCase();
  uuid("clusterUuid", clusterUuid);
  const clusterName = get("clusterName");

  // ACS names the cluster's Sparkplug group `<ORGANISATION_PREFIX>-<cluster name>`.
  const prefix = get("organisationPrefix");
  const group = get("sparkplugGroup") ?? (prefix && clusterName ? `${prefix}-${clusterName}` : undefined);
  if (group === undefined) {
    problems.push(`${name("sparkplugGroup")} is required (or both ${name("organisationPrefix")} and ${name("clusterName")})`);
  } else {
    const why = invalidSparkplugIdReason(group);
    if (why) problems.push(`sparkplug group "${group}" is not a valid Sparkplug Group ID: ${why}`);
  }
  const nodeId = get("nodeId") ?? DEFAULT_NODE_ID;
  const nodeWhy = invalidSparkplugIdReason(nodeId);
  if (nodeWhy) problems.push(`node id "${nodeId}" is not a valid Sparkplug Edge Node ID: ${nodeWhy}`);

  const givenInstance = get("instanceUuid")?.toLowerCase();
  uuid("instanceUuid", givenInstance);
  const instanceUuid = givenInstance
    ?? (isUuid(clusterUuid) ? uuidV5(`graft:edge-monitor:${clusterUuid}`, EDGE_MONITOR_SCHEMA_UUID) : "");
  const linkInstance = isUuid(instanceUuid) ? linkInstanceUuid(instanceUuid) : "";

  const url = required("mqttUrl");
  if (url) {
    let protocol = "";
    try {
      protocol = new URL(url).protocol;
    } catch {
      problems.push(`${name("mqttUrl")} "${url}" is not a URL`);
    }
    if (protocol && !["mqtt:", "mqtts:", "tcp:", "ssl:", "tls:", "ws:", "wss:"].includes(protocol)) {
      problems.push(`${name("mqttUrl")} "${url}" has scheme "${protocol}": use mqtt:, mqtts:, ws: or wss:`);
    }
  }
  const passwordFile = get("mqttPasswordFile");
  const password = passwordFile ? undefined : env.MQTT_PASSWORD;
  if (passwordFile) {
    // Checked now for a clear error at start; the monitor reads it again whenever the broker refuses the login.
    try {
      if (readText(passwordFile).replace(/\r?\n$/, "") === "") problems.push(`the MQTT password file "${passwordFile}" is empty`);
    } catch (err) {
      problems.push(`reading the MQTT password from "${passwordFile}": ${(err as Error).message}`);
    }
  }
  const versionText = get("mqttProtocolVersion") ?? DEFAULTS.mqttProtocolVersion;
  const protocolVersion = versionText === "5" || versionText === "5.0" ? 5
    : versionText === "4" || versionText === "3.1.1" ? 4 : undefined;
  if (protocolVersion === undefined) problems.push(`${name("mqttProtocolVersion")} "${versionText}" must be 3.1.1 (4) or 5`);
  const keepaliveMs = duration("mqttKeepalive");

  const minDelayMs = duration("minRetryDelay");
  const maxDelayMs = duration("maxRetryDelay");
  if (minDelayMs > maxDelayMs) problems.push(`${name("minRetryDelay")} must not exceed ${name("maxRetryDelay")}`);
  const stallAfterMs = duration("stallAfter");
  if (stallAfterMs <= maxDelayMs) problems.push(`${name("stallAfter")} must be longer than ${name("maxRetryDelay")}`);

  const bdSeqStore = resolveStore();
  const config: MonitorConfig = {
    clusterUuid,
    ...(clusterName ? { clusterName } : {}),
    sparkplug: { group: group ?? "", nodeId, instanceUuid, linkInstanceUuid: linkInstance },
    mqtt: {
      url,
      ...(get("mqttUsername") ? { username: get("mqttUsername") } : {}),
      ...(password ? { password } : {}),
      ...(passwordFile ? { passwordFile } : {}),
      ...(get("mqttCaFile") ? { caFile: get("mqttCaFile") } : {}),
      clientId: get("mqttClientId") ?? `graft-mon-${randomBytes(4).toString("hex")}`,
      protocolVersion: protocolVersion ?? 4,
      keepaliveSeconds: Math.max(1, Math.round(keepaliveMs / 1000)),
      connectTimeoutMs: 10_000,
    },
    retry: { minDelayMs, maxDelayMs },
    stallAfterMs,
    bdSeqStore,
    healthAddr: get("healthAddr") ?? DEFAULTS.healthAddr,
    metricsAddr: get("metricsAddr") ?? DEFAULTS.metricsAddr,
  };
  for (const key of ["healthAddr", "metricsAddr"] as const) {
    try {
      parseAddr(config[key]);
    } catch {
      problems.push(`${name(key)} "${config[key]}" is not [host]:port`);
    }
  }
  if (problems.length > 0) throw new MonitorConfigError(problems);
  return config;

  function resolveStore(): BdSeqStoreConfig {
    const kind = get("bdseqStore") ?? DEFAULTS.bdseqStore;
    switch (kind) {
      case "file": {
        const path = get("bdseqFile");
        if (!path) problems.push(`${name("bdseqFile")} is required when the bdSeq store is "file"`);
        return { kind, path: path ?? "" };
      }
      case "configmap": {
        const namespace = get("namespace") ?? env.CLUSTER_NAMESPACE;
        if (!namespace) problems.push(`${name("namespace")} (or CLUSTER_NAMESPACE) is required when the bdSeq store is "configmap"`);
        return { kind, namespace: namespace ?? "", name: get("bdseqConfigmap") ?? DEFAULTS.bdseqConfigmap };
      }
      case "memory":
        return { kind };
      default:
        problems.push(`${name("bdseqStore")} "${kind}" must be one of configmap, file, memory`);
        return { kind: "memory" };
    }
  }
}

/** "250ms", "30s", "2m", "1h" or a bare number of milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? "ms") as "ms" | "s" | "m" | "h"];
  return Math.round(Number(m[1]) * unit);
}

/** Instance_UUID of the NBIRTH's `Links/Cluster` link object, derived from the monitor's own. */
export function linkInstanceUuid(instanceUuid: string): string {
  return uuidV5("Links/Cluster", instanceUuid);
}
