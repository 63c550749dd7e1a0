// The host list edge-sync reports (acs-contract.md §1): one entry per Node, derived only from fields that describe
// the host, so kubelet heartbeats (which touch conditions' timestamps and resourceVersion) never change it.
import type { Host } from "../api/edgecluster.js";
import type { KubeObject } from "../runtime/kube.js";

export const HOSTNAME_LABEL = "kubernetes.io/hostname";
/** kubeadm sets this label with the empty string as its value; any value counts. */
export const CONTROL_PLANE_LABEL = "node-role.kubernetes.io/control-plane";
export const LEGACY_MASTER_LABEL = "node-role.kubernetes.io/master";
export const SPECIALISED_TAINT = "factoryplus.app.amrc.co.uk/specialised";

export interface NodeTaint {
  key: string;
  value?: string;
  effect?: string;
}

export interface NodeCondition {
  type: string;
  status: string;
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export interface NodeObject extends KubeObject {
  spec?: { taints?: NodeTaint[]; [k: string]: unknown };
  status?: {
    nodeInfo?: { kubeletVersion?: string; architecture?: string; osImage?: string; [k: string]: unknown };
    conditions?: NodeCondition[];
    [k: string]: unknown;
  };
}

export function hostFromNode(node: NodeObject): Host {
  const labels = node.metadata.labels ?? {};
  const info = node.status?.nodeInfo ?? {};
  // Keys are assigned in one fixed order so that equal hosts serialise identically.
  const host: Host = {
    hostname: labels[HOSTNAME_LABEL] || node.metadata.name,
    control_plane: CONTROL_PLANE_LABEL in labels || LEGACY_MASTER_LABEL in labels,
    k8s_version: info.kubeletVersion ?? "",
    arch: info.architecture ?? "",
  };
  if (info.osImage) host.os_version = info.osImage;
  host.ready = node.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
  const taint = node.spec?.taints?.find((t) => t.key === SPECIALISED_TAINT);
  if (taint) host.specialised = taint.value ?? "";
  return host;
}

/** The hosts of all Nodes, ordered by hostname (then Node name), so the same cluster always gives the same list. */
export function hostList(nodes: Iterable<NodeObject>): Host[] {
  return [...nodes]
    .map((node) => ({ name: node.metadata.name, host: hostFromNode(node) }))
    .sort((a, b) => compare(a.host.hostname, b.host.hostname) || compare(a.name, b.name))
    .map((entry) => entry.host);
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
