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
import { SparkplugNodes } from "./sparkplug-nodes.js";

/** SparkplugNode monitoring, or undefined outside ACS mode (no Directory, no MQTT account, no namespace). */
export function sparkplugNodesFor(config: MonitorConfig, monitor: EdgeMonitor, env: Record<string, string | undefined>, log: Logger): SparkplugNodes | undefined {
  const directory = env.DIRECTORY_URL;
  const namespace = env.POD_NAMESPACE;
  const username = config.mqtt.username;
  if (!directory || !namespace || !username || env.SPARKPLUG_NODES === "false") return undefined;
  // Read on use and again after a refused login, so a rotated password is picked up without a restart.
  const password = config.mqtt.passwordFile ? new CredentialFile(config.mqtt.passwordFile, "the MQTT password") : config.mqtt.password;
  if (!password) return undefined;
  const acs = new AcsConnection({ credentials: { username, password }, urls: { directory, ...(env.CONFIGDB_URL ? { configdb: env.CONFIGDB_URL } : {}) }, logger: log });
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
    log, minRetryMs: config.retry.minDelayMs, maxRetryMs: config.retry.maxDelayMs,
  });
}
