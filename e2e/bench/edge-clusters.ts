// EdgeClusters for benchmarks and fault tests: applied in parallel, then awaited until Provisioned.
import { EdgeClusterType, type EdgeCluster } from "../../operators/api/edgecluster.js";
import { eventually } from "../harness/eventually.js";
import { apiVersionOf, resourcePath } from "../../operators/runtime/kube.js";
import type { KubeClient } from "../../operators/runtime/rest.js";

export const isProvisioned = (ec: EdgeCluster) =>
  ec.status?.conditions?.some((c) => c.type === "Provisioned" && c.status === "True") ?? false;

export async function inParallel<T>(items: T[], parallelism: number, fn: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(parallelism, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  }));
}

/** Server-side applies one EdgeCluster per name (field manager "graft-bench"). */
export async function applyEdgeClusters(client: KubeClient, namespace: string, names: string[], parallelism = 16): Promise<void> {
  await inParallel(names, parallelism, async (name) => {
    await client.apply<EdgeCluster>(EdgeClusterType, {
      metadata: { name, namespace }, spec: { namespace: "fplus-edge", bare: false },
    } as unknown as EdgeCluster, "graft-bench");
  });
}

/** Waits until every named EdgeCluster is Provisioned; returns them by name. */
export async function waitProvisioned(client: KubeClient, namespace: string, names: string[], timeoutMs = 120_000): Promise<Map<string, EdgeCluster>> {
  const wanted = new Set(names);
  return eventually(async () => {
    const items = (await client.list<EdgeCluster>(EdgeClusterType, namespace)).items.filter((ec) => wanted.has(ec.metadata.name));
    const done = items.filter(isProvisioned);
    return done.length === wanted.size && new Map(done.map((ec) => [ec.metadata.name, ec]));
  }, { timeoutMs, intervalMs: 250, message: `${names.length} EdgeClusters Provisioned in "${namespace}"` });
}

/**
 * A server-side dry-run create of an EdgeCluster, so the benchmark's clock does not start on a CRD the API server
 * has just established: its first create waits about 2 s (seen on a fresh control plane, not on one whose CRDs have
 * been in place for a while, as a site's are); the dry run takes that wait and stores nothing.
 */
export async function settleNewCrd(client: KubeClient, namespace: string): Promise<void> {
  await client.request(resourcePath(EdgeClusterType, namespace), {
    method: "POST", query: { dryRun: "All" },
    body: { apiVersion: apiVersionOf(EdgeClusterType), kind: EdgeClusterType.kind, metadata: { name: "crd-settle", namespace }, spec: { namespace: "fplus-edge" } },
  });
}
