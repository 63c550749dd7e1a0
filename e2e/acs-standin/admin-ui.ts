import type { ConfigDbClient } from "../../operators/acs/configdb.js";
import { App, Class } from "../../operators/api/constants.js";

/**
 * What the ACS admin UI does when a person creates an edge cluster (acs-contract.md §9): a new object of class Edge
 * cluster (the ConfigDB chooses its UUID), the typed text as its General information name, and the configuration
 * entry with the Sparkplug-safe form of that text as `name`. Tests create clusters through this, so graft meets the
 * names a real installation holds.
 */

/**
 * The admin UI's Sparkplug-safe name: characters outside `[A-Za-z0-9_ ]` dropped, the first letter of each word
 * upper-cased (`_` is a word character), spaces turned into `_`, and `_` put between a lower-case letter and a
 * following upper-case one. "Edge Cluster 1" → "Edge_Cluster_1", "siteA" → "Site_A", "site-a" → "Sitea".
 */
export function sparkplugSafeName(typed: string): string {
  return typed
    .replace(/[^A-Za-z0-9_ ]/g, "")
    .split(" ")
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join("_")
    .replace(/([a-z])(?=[A-Z])/g, "$1_");
}

export interface AdminUiCluster {
  /** What the person typed into the "name" field. */
  typed: string;
  namespace?: string;
  /** The 'Helm chart template' chosen in the UI's drop-down. */
  chart?: string;
  bare?: boolean;
}

/** Creates a cluster as the admin UI does, with the admin's ConfigDB connection; returns its UUID and entry name. */
export async function createClusterAsAdminUi(cdb: ConfigDbClient, c: AdminUiCluster): Promise<{ uuid: string; name: string }> {
  const name = sparkplugSafeName(c.typed);
  const { uuid } = await cdb.createObject(Class.EdgeCluster);
  await cdb.putEntry(App.GeneralInfo, uuid, { name: c.typed });
  await cdb.putEntry(App.EdgeClusterConfiguration, uuid, {
    name, namespace: c.namespace ?? "fplus-edge", ...(c.chart ? { chart: c.chart } : {}), ...(c.bare ? { bare: true } : {}),
  });
  return { uuid, name };
}
