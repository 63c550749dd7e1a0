// Builds SparkplugNode monitoring for `graft edge-monitor` in ACS mode (DIRECTORY_URL set): node addresses from the
// ConfigDB and rebirths through the Command Escalation service, both found in the Directory and logged in to with
// the monitor's own account (the MQTT username and password, a Kerberos principal in ACS mode).
import { AcsConnection } from "../../acs/discovery.js";
import { ConfigDbClient } from "../../acs/configdb.js";
import { App } from "../../api/constants.js";
import { CredentialFile } from "../../runtime/credential-file.js";
import { loadKubeConfig } from "../../runtime/kube.js";
import type { Logger } from "../../runtime/logger.js";
import { KubeClient } from "../../runtime/rest.js";
import type { MonitorConfig } from "../config.js";
import type { EdgeMonitor } from "../edge-monitor.js";
import { CommandEscalation } from "./command-escalation.js";
import { SparkplugNodes, type SparkplugNodesOptions } from "./sparkplug-nodes.js";
import { NotifyClient } from "../../acs/notify.js";

/** The monitor's connection to ACS services, logged in as its own account; undefined outside ACS mode (no Directory). */
export function monitorAcsConnection(config: MonitorConfig, env: Record<string, string | undefined>, log: Logger): AcsConnection | undefined {
  const directory = env.DIRECTORY_URL;
  const username = config.mqtt.username;
  if (!directory || !username) return undefined;
  // Read on use and again after a refused login, so a rotated password is picked up without a restart.
  const password = config.mqtt.passwordFile ? new CredentialFile(config.mqtt.passwordFile, "the MQTT password") : config.mqtt.password;
  if (!password) return undefined;
  const urls = { directory, ...(env.CONFIGDB_URL ? { configdb: env.CONFIGDB_URL } : {}), ...(env.AUTHN_URL ? { auth: env.AUTHN_URL } : {}) };
  return new AcsConnection({ credentials: { username, password }, urls, logger: log });
}

/** SparkplugNode monitoring, or undefined outside ACS mode (no ACS connection, no namespace) or when switched off. */
export function sparkplugNodesFor(config: MonitorConfig, monitor: EdgeMonitor, env: Record<string, string | undefined>, log: Logger,
  acs: AcsConnection | undefined): SparkplugNodes | undefined {
  const namespace = env.POD_NAMESPACE;
  if (!acs || !namespace || env.SPARKPLUG_NODES === "false") return undefined;
  const configDb = new ConfigDbClient(acs.service("configdb"));
  return new SparkplugNodes({
    client: new KubeClient(loadKubeConfig()), namespace, monitor,
    own: { group: config.sparkplug.group, node: config.sparkplug.nodeId },
    addressOf: async (uuid) => {
      const entry = await configDb.getEntry<{ group_id?: unknown; node_id?: unknown }>(App.SparkplugAddress, uuid);
      const value = entry?.value;
      if (typeof value?.group_id !== "string" || typeof value?.node_id !== "string") {
        throw new Error(`the ConfigDB has no Sparkplug address (group_id and node_id) for "${uuid}"`);
      }
      return { group: value.group_id, node: value.node_id };
    },
    commands: new CommandEscalation(acs.service("cmdesc")),
    agentConfig: agentConfigFromConfigDb(configDb, new NotifyClient({ http: acs.service("configdb"), logger: log }), log),
    log, minRetryMs: config.retry.minDelayMs, maxRetryMs: config.retry.maxDelayMs,
  });
}

/** Edge agents' configuration revisions: the ETag of their 'Edge Agent config' entry, watched with notify/v2. */
export function agentConfigFromConfigDb(configDb: ConfigDbClient, notify: NotifyClient, log: Logger): NonNullable<SparkplugNodesOptions["agentConfig"]> {
  return {
    watchConfig: (uuid, onEtag) => notify.watchEntry(App.EdgeAgentConfig, uuid, (event) => {
      if (event.type === "closed") {
        log.warn({ uuid, status: event.status }, "the ConfigDB ended the watch of an edge agent's config");
        return;
      }
      const { status, etag } = event.response;
      if (status === 200) onEtag(etag);
      else if (status === 404) onEtag(null);
      else log.warn({ uuid, status }, "cannot watch the edge agent's config");
    }),
    configEtag: async (uuid) => (await configDb.getEntry(App.EdgeAgentConfig, uuid))?.etag ?? null,
    close: () => notify.close(),
  };
}
