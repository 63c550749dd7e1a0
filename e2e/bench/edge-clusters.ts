// EdgeClusters for benchmarks and fault tests: applied in parallel, then awaited until Provisioned.
import { EdgeClusterType, type EdgeCluster } from "../../operators/api/edgecluster.js";
import { eventually } from "../harness/eventually.js";
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
