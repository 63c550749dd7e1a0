// Names ACS mode derives from a cluster: Kubernetes object names, account names, Kerberos principals, and the
// labels and annotations that tie an EdgeCluster to its ConfigDB entry.
import { GROUP } from "../../api/constants.js";

/** An EdgeCluster the mirror created from a ConfigDB entry carries this label with the value "configdb". */
export const ORIGIN_LABEL = `${GROUP}/origin`;
export const ORIGIN_CONFIGDB = "configdb";

/**
 * The UUID of the ConfigDB entry this EdgeCluster has been linked to. Set once the entry is known to exist, so a
 * later absence of the entry means it was deleted in the ConfigDB (and not that it was never written).
 */
export const REGISTERED_ANNOTATION = `${GROUP}/configdb-entry`;

export type AccountRole = "flux" | "krbkeys";
export const ACCOUNT_ROLES: readonly AccountRole[] = ["flux", "krbkeys"];

const MAX_DNS_LABEL = 63;

/**
 * A DNS label for an ACS cluster name: lowercase, runs of anything but letters and digits become one '-', at most 63
 * characters; a name with nothing usable becomes `cluster-<first 8 hex digits of the UUID>`.
 */
export function dnsLabelFor(name: string, uuid: string): string {
  const label = name.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, MAX_DNS_LABEL).replace(/-+$/, "");
  return label || `cluster-${uuid.slice(0, 8)}`;
}

/** The same label made unique with the UUID's first 8 hex digits, for when the plain one is taken. */
export function dnsLabelWithSuffix(name: string, uuid: string): string {
  const suffix = `-${uuid.slice(0, 8)}`;
  return `${dnsLabelFor(name, uuid).slice(0, MAX_DNS_LABEL - suffix.length).replace(/-+$/, "")}${suffix}`;
}

/** `op1flux/<cluster>@<REALM>`: the identity the edge enrolment creates in the KDC (acs-contract.md §1, §5). */
export function principalFor(role: AccountRole, clusterName: string, realm: string): string {
  return `op1${role}/${clusterName}@${realm}`;
}

/** The General information name of an edge account. */
export function accountName(role: AccountRole, clusterName: string): string {
  return `Edge ${role}: ${clusterName}`;
}
