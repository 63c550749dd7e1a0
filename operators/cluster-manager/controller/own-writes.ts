// Lets a pass start from the informer's cache instead of a GET: the cache is only ever behind by versions this
// controller itself replaced (its writes are all under an optimistic lock), and those it remembers, so a cached
// version it has since overwritten is swapped for what it wrote. Anything else in the cache is at least as new.
import type { KubeObject } from "../../runtime/kube.js";

export class OwnWrites<T extends KubeObject> {
  private readonly byKey = new Map<string, { superseded: Set<string>; latest: T }>();

  /** The object to start a pass from: `cached`, unless it is a version this controller has since replaced. */
  resolve(key: string, cached: T | undefined): T | undefined {
    const own = this.byKey.get(key);
    if (!own || !cached) return cached;
    const rv = cached.metadata.resourceVersion ?? "";
    if (own.superseded.has(rv)) return own.latest;
    // The cache has caught up with (or moved past) this controller's last write.
    this.byKey.delete(key);
    return cached;
  }

  /**
   * Notes that a write of this controller turned `before` into `after`. With before === after: a version read in
   * the middle of a write (after a conflict), older than what the write will produce.
   */
  record(key: string, before: T, after: T): void {
    const own = this.byKey.get(key);
    if (before === after) {
      // The write under way replaces `latest` when it lands; if it never does, `before` is still a real version.
      if (own) own.superseded.add(before.metadata.resourceVersion ?? "");
      else this.byKey.set(key, { superseded: new Set([before.metadata.resourceVersion ?? ""]), latest: before });
      return;
    }
    if (before.metadata.resourceVersion === after.metadata.resourceVersion) return;
    const entry = own ?? { superseded: new Set<string>(), latest: after };
    entry.superseded.add(before.metadata.resourceVersion ?? "");
    entry.latest = after;
    this.byKey.set(key, entry);
  }

  forget(key: string): void {
    this.byKey.delete(key);
  }
}
