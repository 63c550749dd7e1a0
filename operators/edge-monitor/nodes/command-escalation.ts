// Asks the ACS Command Escalation service (acs-contract.md §11) to send a Sparkplug command on the monitor's behalf:
// `POST v1/address/<group>/<node>` with `{name, type, value}`; ACS checks the monitor's rights and publishes the NCMD.
import type { ServiceClient } from "../../acs/service-client.js";

export interface CommandSender {
  rebirth(group: string, node: string): Promise<void>;
  /** `Node Control/Reload Edge Agent Config`, for edge agents. */
  reloadConfig(group: string, node: string): Promise<void>;
}

export class CommandEscalation implements CommandSender {
  constructor(private readonly http: ServiceClient) {}

  async rebirth(group: string, node: string): Promise<void> {
    await this.send(group, node, "Node Control/Rebirth");
  }

  async reloadConfig(group: string, node: string): Promise<void> {
    await this.send(group, node, "Node Control/Reload Edge Agent Config");
  }

  private async send(group: string, node: string, name: string): Promise<void> {
    await this.http.request({
      method: "POST",
      path: `v1/address/${encodeURIComponent(group)}/${encodeURIComponent(node)}`,
      json: { name, type: "Boolean", value: true },
    });
  }
}
