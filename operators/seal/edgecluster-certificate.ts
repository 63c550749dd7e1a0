import * as k8s from "@kubernetes/client-node";

export const EDGECLUSTER_GROUP = "factoryplus.app.amrc.co.uk";
export const EDGECLUSTER_VERSION = "v1alpha1";
export const EDGECLUSTER_PLURAL = "edgeclusters";

export class EdgeClusterLookupError extends Error {
  override name = "EdgeClusterLookupError";
}

interface EdgeClusterWithCertificate {
  status?: { kubesealCertificate?: { pem?: unknown } };
}

/**
 * The Sealed Secrets certificate an edge cluster last reported (`status.kubesealCertificate.pem` of its EdgeCluster),
 * or undefined while it has reported none. Validity is for `parseCertificate` to judge.
 */
export async function readEdgeClusterCertificate(kubeConfig: k8s.KubeConfig, namespace: string, name: string): Promise<string | undefined> {
  const api = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  let edgeCluster: EdgeClusterWithCertificate;
  try {
    edgeCluster = await api.getNamespacedCustomObject({
      group: EDGECLUSTER_GROUP, version: EDGECLUSTER_VERSION, plural: EDGECLUSTER_PLURAL, namespace, name,
    }) as EdgeClusterWithCertificate;
  } catch (err) {
    if (err instanceof k8s.ApiException && err.code === 404) {
      throw new EdgeClusterLookupError(`edge cluster "${namespace}/${name}" not found`);
    }
    throw new EdgeClusterLookupError(`cannot read edge cluster "${namespace}/${name}": ${describe(err)}`);
  }
  const pem = edgeCluster.status?.kubesealCertificate?.pem;
  return typeof pem === "string" && pem.trim() !== "" ? pem : undefined;
}

function describe(err: unknown): string {
  if (err instanceof k8s.ApiException) return `API server answered ${err.code}`;
  return err instanceof Error ? err.message : String(err);
}
