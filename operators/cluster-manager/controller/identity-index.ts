// Which EdgeClusters in the informer's cache share a cluster name or a UUID, kept up to date from the informer's
// events. The name check, the requeue of a cluster's rivals and the endpoints' UUID lookups read a handful of keys
// here instead of scanning every cluster: a scan on every event and every pass made 1000 clusters cost a million
// comparisons.
import type { EdgeCluster } from "../../api/edgecluster.js";
import type { Informer } from "../../runtime/informer.js";
import { objectKey } from "../../runtime/kube.js";
import { clusterNameOf } from "./names.js";

/** What orders clusters by age: creation time, then key (creation times have a resolution of one second). */
export const ageOf = (ec: EdgeCluster): string => `${ec.metadata.creationTimestamp ?? ""}|${objectKey(ec)}`;

/** The UUID a cluster is known by: the one it was provisioned with, else the one its spec asks for. */
export const identityUuidOf = (ec: EdgeCluster): string | undefined => ec.status?.uuid ?? ec.spec.uuid;

export class IdentityIndex {
  private readonly byName = new Map<string, Set<string>>();
  private readonly byUuid = new Map<string, Set<string>>();
  private readonly held = new Map<string, { name: string; uuid?: string }>();

  /** An index fed by the informer (every event, whatever the controller's predicate makes of it). */
  constructor(private readonly informer: Informer<EdgeCluster>) {
    informer.on((event, ec) => this.set(objectKey(ec), event === "delete" ? undefined : ec));
  }

  /** The cached clusters with this name or this UUID (the one asked about included, if cached). */
  sharing(name: string, uuid: string | undefined): EdgeCluster[] {
    const keys = new Set(this.byName.get(name));
    if (uuid !== undefined) for (const k of this.byUuid.get(uuid) ?? []) keys.add(k);
    return [...keys].map((k) => this.informer.get(k)).filter((o): o is EdgeCluster => o !== undefined);
  }

  /**
   * The cached cluster holding this UUID in its status, if any; of a rejected duplicate and the cluster it
   * collided with, the older (the one the name check lets through).
   */
  provisionedWith(uuid: string): EdgeCluster | undefined {
    let found: EdgeCluster | undefined;
    for (const k of this.byUuid.get(uuid) ?? []) {
      const ec = this.informer.get(k);
      if (ec?.status?.uuid === uuid && (!found || ageOf(ec) < ageOf(found))) found = ec;
    }
    return found;
  }

  private set(key: string, ec: EdgeCluster | undefined): void {
    const before = this.held.get(key);
    const after = ec && { name: clusterNameOf(ec), uuid: identityUuidOf(ec) };
    if (before?.name === after?.name && before?.uuid === after?.uuid) return;
    if (before) {
      drop(this.byName, before.name, key);
      if (before.uuid !== undefined) drop(this.byUuid, before.uuid, key);
    }
    if (!after) {
      this.held.delete(key);
      return;
    }
    this.held.set(key, after);
    add(this.byName, after.name, key);
    if (after.uuid !== undefined) add(this.byUuid, after.uuid, key);
  }
}

function add(m: Map<string, Set<string>>, k: string, key: string): void {
  const s = m.get(k);
  if (s) s.add(key);
  else m.set(k, new Set([key]));
}

function drop(m: Map<string, Set<string>>, k: string, key: string): void {
  const s = m.get(k);
  if (!s) return;
  s.delete(key);
  if (s.size === 0) m.delete(k);
}
