// The Sealed Secrets certificate `graft seal` takes from an EdgeCluster's status when no --cert is given.
import type * as k8s from "@kubernetes/client-node";
import { EdgeClusterType, type EdgeCluster } from "../api/edgecluster.js";
import { describeApiError, KubeClient } from "../runtime/rest.js";

export class EdgeClusterLookupError extends Error {
  override name = "EdgeClusterLookupError";
}

/**
 * The Sealed Secrets certificate an edge cluster last reported (`status.kubesealCertificate.pem` of its EdgeCluster),
 * or undefined while it has reported none. Validity is for `parseCertificate` to judge.
 */
export async function readEdgeClusterCertificate(kubeConfig: k8s.KubeConfig, namespace: string, name: string): Promise<string | undefined> {
  let edgeCluster: EdgeCluster | null;
  try {
    edgeCluster = await new KubeClient(kubeConfig).getOrNull<EdgeCluster>(EdgeClusterType, name, namespace);
  } catch (err) {
    throw new EdgeClusterLookupError(`cannot read edge cluster "${namespace}/${name}": ${describeApiError(err)}`);
  }
  if (!edgeCluster) throw new EdgeClusterLookupError(`edge cluster "${namespace}/${name}" not found`);
  const pem: unknown = edgeCluster.status?.kubesealCertificate?.pem;
  return typeof pem === "string" && pem.trim() !== "" ? pem : undefined;
}
