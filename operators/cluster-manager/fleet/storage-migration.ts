// `graft flux-migrate`: what `flux migrate` does in cluster mode, run against an edge cluster before (or after a
// failed) Flux minor upgrade. For every Flux CRD (group *.toolkit.fluxcd.io) whose status.storedVersions lists more
// than its storage version, every object is written back unchanged (the API server stores it at the storage version),
// then storedVersions is set to the storage version alone — so a release that drops an old API version can apply its
// CRDs. Idempotent; a CRD already clean is left alone. edge-sync does the same by itself (edge-sync/gitops/flux-storage.ts).
import { Command } from "commander";
import { loadKubeConfig } from "../../runtime/kube.js";
import { KubeClient, statusOf } from "../../runtime/rest.js";

export interface FluxCrd {
  metadata: { name: string; resourceVersion?: string };
  spec: { group: string; names: { plural: string }; scope: string; versions: Array<{ name: string; storage: boolean; served: boolean }> };
  status?: { storedVersions?: string[] };
}

export interface CrdMigration {
  crd: string;
  storageVersion: string;
  storedBefore: string[];
  /** Objects written back at the storage version (0 when the CRD was already clean). */
  rewritten: number;
}

const CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

export const isFluxCrd = (crd: FluxCrd): boolean => crd.spec.group.endsWith(".toolkit.fluxcd.io");

/** The CRD's storage version and what it lists as stored, when that is more than the storage version. */
export function staleStoredVersions(crd: FluxCrd): { storage: string; stored: string[] } | undefined {
  const storage = crd.spec.versions.find((v) => v.storage)?.name;
  if (!storage) return undefined;
  const stored = crd.status?.storedVersions ?? [];
  return stored.length === 1 && stored[0] === storage ? undefined : { storage, stored };
}

/** Every object of the CRD written back at its storage version, then storedVersions set to that version alone. */
export async function migrateCrd(client: KubeClient, crd: FluxCrd): Promise<CrdMigration> {
  const stale = staleStoredVersions(crd);
  const storage = stale?.storage ?? crd.spec.versions.find((v) => v.storage)?.name ?? "";
  if (!stale) return { crd: crd.metadata.name, storageVersion: storage, storedBefore: crd.status?.storedVersions ?? [], rewritten: 0 };
  const base = `/apis/${crd.spec.group}/${storage}`;
  const list = await client.request<{ items: Array<{ metadata: { name: string; namespace?: string } }> }>(`${base}/${crd.spec.names.plural}`);
  let rewritten = 0;
  for (const item of list.items) {
    const path = `${base}/${item.metadata.namespace ? `namespaces/${item.metadata.namespace}/` : ""}${crd.spec.names.plural}/${item.metadata.name}`;
    for (let attempt = 0; ; attempt++) {
      const fresh = await client.request<Record<string, unknown>>(path).catch((err: unknown) => {
        if (statusOf(err) === 404) return undefined;
        throw err;
      });
      if (!fresh) break;
      try {
        await client.request(path, { method: "PUT", body: fresh });
        rewritten++;
        break;
      } catch (err) {
        if (statusOf(err) !== 409 || attempt >= 4) throw err;
      }
    }
  }
  await client.request(`${CRDS}/${crd.metadata.name}/status`, {
    method: "PATCH", contentType: "application/merge-patch+json", body: { status: { storedVersions: [storage] } },
  });
  return { crd: crd.metadata.name, storageVersion: storage, storedBefore: stale.stored, rewritten };
}

export async function migrateFluxStorage(client: KubeClient, log: (line: string) => void = () => undefined): Promise<CrdMigration[]> {
  const crds = (await client.request<{ items: FluxCrd[] }>(CRDS)).items.filter(isFluxCrd);
  const results: CrdMigration[] = [];
  for (const crd of crds.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1))) {
    if (!staleStoredVersions(crd)) continue;
    const done = await migrateCrd(client, crd);
    log(`${crd.metadata.name}: ${done.rewritten} objects stored as ${done.storageVersion}; storedVersions ${done.storedBefore.join(",") || "(none)"} -> ${done.storageVersion}`);
    results.push(done);
  }
  return results;
}
export function fluxMigrateCommand(): Command {
  return new Command("flux-migrate")
    .description("on an edge cluster: store every Flux object at its CRD's storage version and drop older stored versions (what `flux migrate` does before a Flux minor upgrade)")
    .option("--kubeconfig <path>", "kubeconfig of the edge cluster (default: KUBECONFIG or ~/.kube/config)")
    .action(async (o: { kubeconfig?: string }) => {
      const client = new KubeClient(loadKubeConfig(o.kubeconfig));
      const done = await migrateFluxStorage(client, (line) => process.stdout.write(`${line}\n`));
      if (done.length === 0) process.stdout.write("every Flux CRD already stores only its storage version: nothing to migrate\n");
    });
}
