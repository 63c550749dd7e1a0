// What ACS's MQTT broker lets each principal publish and subscribe to, as a Mosquitto `acl_file` rendered from the
// stand-in's own data (grants, group memberships, Sparkplug addresses, the MQTT permission templates of
// dumps/mqtt.yaml), and kept current: re-rendered on every change and the broker told to reload (SIGHUP).
//
// ACS's model, as its public source has it (facts only; none of its code is used here):
// - acs-mqtt/src/main/java/uk/co/amrc/factoryplus/hivemq_auth_krb/FPKrbAuthProvider.java (getACLforPrincipal): the
//   principal's effective ACL from the Auth service, restricted to the MQTT permission group; per entry the
//   'MQTT permission template' entry of its permission and the 'Sparkplug address' entry of its target.
// - the MqttAce class beside it: `%g`/`%n` in a template's topic become the target address's group_id/node_id, and a
//   topic whose target has no such address is dropped; access `r…` is subscribe, `w` publish, both all (`s` alone
//   nothing).
// - FPKrbAuth.java: these are the connection's only permissions (default deny), computed at CONNECT.
// - acs-auth/lib/model.js (the ACL query): a grant on the special target Self means the principal itself.
// - acs-service-setup/dumps/acs-v2.yaml and sparkplug.yaml: the templates and the Sparkplug node/reader grants.
// Differences that stay: ACS fixes a connection's permissions when it connects, Mosquitto applies the reloaded file to
// connections already open; HiveMQ decides a SUBSCRIBE against the permissions, Mosquitto accepts it and delivers
// only what `read` allows. Publishing is decided per message by both (a refused QoS 1 PUBLISH gets PUBACK 0x87 from
// Mosquitto; a refused QoS 0 one, as an NBIRTH is, is dropped without a word).
import { renameSync, writeFileSync } from "node:fs";
import { App } from "../../operators/api/constants.js";
import type { AcsStandin } from "./standin.js";

export const MqttAcs = {
  /** The 'MQTT permission template' application: one entry per MQTT permission. */
  PermTemplateApp: "1266ddf1-156c-4266-9808-d6949418b185",
  /** The MQTT permission group: ACS's broker looks only at permissions that are its members. */
  PermGroup: "a637134a-d06b-41e7-ad86-4bf62fde914a",
  /** The special grant target standing for the principal holding the grant. */
  Self: "5855a1cc-46d8-4b16-84f8-ab3916ecb230",
} as const;

type Access = "read" | "write" | "readwrite";

/** A template's access string as ACS's broker reads it; undefined when it grants nothing. */
function accessOf(value: unknown): Access | undefined {
  if (typeof value !== "string") return undefined;
  const read = value.includes("r");
  const write = value.includes("w");
  return read && write ? "readwrite" : read ? "read" : write ? "write" : undefined;
}

/** `%g`/`%n` replaced from the address; undefined when the topic needs a part the address lacks. */
function expandTopic(template: string, address: unknown): string | undefined {
  if (!/%[gn]/.test(template)) return template;
  if (typeof address !== "object" || address === null) return undefined;
  const { group_id: group, node_id: node } = address as Record<string, unknown>;
  let missing = false;
  const topic = template.replace(/%([gn])/g, (_, part: string) => {
    const value = part === "g" ? group : node;
    if (typeof value !== "string" || value === "") {
      missing = true;
      return "";
    }
    return value;
  });
  return missing ? undefined : topic;
}

/** The topic permissions of one principal: `topic <access> <filter>` lines, sorted and without repeats. */
export function topicPermissions(standin: AcsStandin, principal: string): string[] {
  const { configdb, acl } = standin;
  const lines = new Set<string>();
  for (const { permission, target } of acl.effectiveAcl(principal)) {
    if (!configdb.containersOf(permission).has(MqttAcs.PermGroup)) continue;
    const template = configdb.get(MqttAcs.PermTemplateApp, permission)?.value;
    if (typeof template !== "object" || template === null) continue;
    const targetUuid = target === MqttAcs.Self ? principal : target;
    const address = configdb.get(App.SparkplugAddress, targetUuid)?.value;
    for (const [filter, value] of Object.entries(template)) {
      const access = accessOf(value);
      const topic = access && expandTopic(filter, address);
      if (access && topic) lines.add(`topic ${access} ${topic}`);
    }
  }
  return [...lines].sort();
}

/**
 * The whole acl_file: one `user` section per Kerberos identity the Auth service holds (the MQTT user name is the
 * full principal name, as ACS's broker sees it after authentication), the root principal allowed everything. A user
 * without a section, or an anonymous client, may do nothing.
 */
export function renderMqttAcl(standin: AcsStandin): string {
  const out = ["# Rendered by the ACS stand-in (e2e/acs-standin/mqtt-acl.ts) from its grants; do not edit.", ""];
  out.push(`user ${standin.adminUser.upn}`, "topic readwrite #", "");
  for (const [principal, upn] of standin.auth.identities().sort((a, b) => a[1].localeCompare(b[1]))) {
    if (upn === standin.adminUser.upn || /\s/.test(upn)) continue;
    out.push(`user ${upn}`, ...topicPermissions(standin, principal), "");
  }
  return out.join("\n");
}

export interface MqttAclFile {
  readonly path: string;
  /** The text last written. */
  readonly current: string;
  /** Resolves once every change made so far is in the file and the broker has reloaded it. */
  settled(): Promise<void>;
  stop(): void;
}

/**
 * Keeps `path` equal to renderMqttAcl(standin): written now, then again (atomically, by rename) after any change to
 * the stand-in's ConfigDB or Auth state that changes the text, each time followed by `reload` (the broker's SIGHUP,
 * resolving once the broker has reloaded). Rewrites run one after another, so no reload is asked for while another is
 * still under way.
 */
export function keepMqttAcl(standin: AcsStandin, path: string, reload: () => Promise<void>): MqttAclFile {
  let current = "";
  let queued = false;
  let chain: Promise<void> = Promise.resolve();
  const writeIfChanged = () => {
    const text = renderMqttAcl(standin);
    if (text === current) return false;
    writeFileSync(`${path}.tmp`, text, { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
    current = text;
    return true;
  };
  const schedule = () => {
    if (queued) return;
    queued = true;
    chain = chain.then(() => new Promise<void>((resolve) => setImmediate(resolve))).then(async () => {
      queued = false;
      if (writeIfChanged()) await reload();
    });
  };
  writeIfChanged();
  const unsubscribe = [standin.configdb.onAnyChange(schedule), standin.auth.onChange(schedule)];
  return {
    path,
    get current() {
      return current;
    },
    settled: () => chain,
    stop: () => {
      for (const off of unsubscribe) off();
    },
  };
}
