// Command Escalation's permission check (ACS acs-cmdesc): a caller may send a command to an address when it holds a
// permission whose command definitions list that command (name and type), on the Null target or on an object whose
// Sparkplug address is that node. The definitions are ACS's for the commands edge components send (the Command
// Escalation permission group: Rebirth, ReloadEdgeAgentConfig); the grants are the loaded dumps'.
import { App } from "../../operators/api/constants.js";
import type { AccessControl } from "./acl.js";
import { AcsTarget } from "./acs-uuids.js";
import type { ConfigDbModel } from "./configdb-model.js";

export const CommandPerm = {
  Rebirth: "fbb9c25d-386d-4966-a325-f16471d9f7be",
  ReloadEdgeAgentConfig: "6335f100-e68e-4e4d-b46d-85b42f85a036",
} as const;

/** The commands each permission allows, as ACS's command definitions list them. */
const COMMANDS: Record<string, Array<{ name: string; type: string }>> = {
  [CommandPerm.Rebirth]: [{ name: "Node Control/Rebirth", type: "Boolean" }],
  [CommandPerm.ReloadEdgeAgentConfig]: [{ name: "Node Control/Reload Edge Agent Config", type: "Boolean" }],
};

export interface CommandTarget {
  group: string;
  node: string;
  device?: string;
}

export type CommandCheck = (upn: string, to: CommandTarget, command: { name?: unknown; type?: unknown }) => boolean;

export function commandCheck(acl: AccessControl, configdb: ConfigDbModel): CommandCheck {
  const addressedTo = (target: string, to: CommandTarget) => {
    const a = configdb.get(App.SparkplugAddress, target)?.value as { group_id?: unknown; node_id?: unknown; device_id?: unknown } | undefined;
    return a?.group_id === to.group && a?.node_id === to.node && (a.device_id === undefined || a.device_id === to.device);
  };
  return (upn, to, command) => {
    if (acl.isRoot(upn)) return true;
    const principal = acl.principalOf(upn);
    if (!principal) return false;
    return acl.effectiveAcl(principal).some((ace) =>
      (COMMANDS[ace.permission] ?? []).some((c) => c.name === command.name && (command.type === undefined || c.type === command.type))
      && (ace.target === AcsTarget.Null || addressedTo(ace.target, to)));
  };
}
