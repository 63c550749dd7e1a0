// The centre edge-sync reports to in its tests: the ACS stand-in, with the cluster registered and an edge-sync
// account holding what ACS's edge-sync role holds (acs-contract.md §7: ReadConfig on the K8s resource template,
// Helm chart template, Edge deployment and Edge cluster status applications, WriteConfig on Edge cluster status).
import { randomBytes, randomUUID } from "node:crypto";
import { startAcsStandin, type AcsStandin, type AcsStandinOptions } from "../../acs-standin/standin.js";
import { AcsPerm } from "../../acs-standin/acs-uuids.js";
import type { ConfigDbWrite } from "../../acs-standin/configdb-http.js";
import { App, Class } from "../../../operators/api/constants.js";

export const EDGE_SYNC_READS = [App.K8sResourceTemplate, App.HelmChartTemplate, App.EdgeDeployment, App.EdgeClusterStatus];
export const EDGE_SYNC_WRITES = [App.EdgeClusterStatus];

export interface EdgeSyncAccount {
  username: string;
  password: string;
  upn: string;
  principal: string;
}

export interface EdgeSyncCentre {
  standin: AcsStandin;
  account: EdgeSyncAccount;
  /** The cluster's Edge cluster status entry, as the ConfigDB holds it. */
  entry(): Record<string, unknown> | undefined;
  /** The accepted writes of that entry so far, in order. */
  writes(): ConfigDbWrite[];
  /** ConfigDB requests answered 401 (token requests included). */
  unauthorised(): number;
  /** A bearer token issued to the account by the ConfigDB, as an embedded-mode sync token stands in the token file. */
  issueToken(account?: EdgeSyncAccount): Promise<string>;
  stop(): Promise<void>;
}

/** Adds an account holding the edge-sync role's grants (or none, with `grants: false`). */
export function addEdgeSyncAccount(standin: AcsStandin, username: string, options: { password?: string; grants?: boolean } = {}): EdgeSyncAccount {
  const password = options.password ?? randomBytes(9).toString("hex");
  const { upn } = standin.addUser(username, password);
  const principal = randomUUID();
  standin.configdb.register(principal, Class.EdgeAccount);
  standin.auth.setKerberos(principal, upn);
  if (options.grants !== false) {
    for (const app of EDGE_SYNC_READS) standin.auth.addGrant({ principal, permission: AcsPerm.ReadConfig, target: app, plural: false });
    for (const app of EDGE_SYNC_WRITES) standin.auth.addGrant({ principal, permission: AcsPerm.WriteConfig, target: app, plural: false });
  }
  return { username, password, upn, principal };
}

export async function startEdgeSyncCentre(cluster: string, options: AcsStandinOptions & { username?: string; password?: string } = {}): Promise<EdgeSyncCentre> {
  const standin = await startAcsStandin(options);
  standin.configdb.register(cluster, Class.EdgeCluster);
  const account = addEdgeSyncAccount(standin, options.username ?? "op1sync/site-a", { password: options.password });
  return {
    standin,
    account,
    entry: () => standin.configdb.get(App.EdgeClusterStatus, cluster)?.value as Record<string, unknown> | undefined,
    writes: () => standin.configdbWrites.filter((w) => w.app === App.EdgeClusterStatus && w.object === cluster),
    unauthorised: () => standin.requests.filter((r) => r.service === "configdb" && r.status === 401).length,
    issueToken: async (who = account) => {
      const basic = Buffer.from(`${who.upn}:${who.password}`).toString("base64");
      const res = await fetch(`${standin.urls.configdb}/token`, { method: "POST", headers: { authorization: `Basic ${basic}` } });
      if (!res.ok) throw new Error(`token request for ${who.upn}: HTTP ${res.status}`);
      return ((await res.json()) as { token: string }).token;
    },
    stop: () => standin.stop(),
  };
}
