// Keeps the edge's Flux CRDs storing only their storage version, so a Flux minor upgrade committed to the cluster's
// repository can apply its CRDs: what `flux migrate` (and `graft flux-migrate`) does, done by edge-sync whenever a
// Flux CRD's status.storedVersions lists more than its storage version — before an upgrade, or right after one that
// stopped on it. Level-triggered off an informer on the CRDs; one pass at a time. A CRD it cannot migrate (the API
// server refuses: e.g. it may read the CRDs but not rewrite their objects) becomes a not-Ready object of the GitOps
// report whose message says what to do, so the centre's Synced condition and a FluxRollout show it; it is tried again
// after retryMs or when the CRD changes.
import type { Logger } from "pino";
import type { GitopsObject } from "../../api/edgecluster.js";
import { isFluxCrd, migrateCrd, staleStoredVersions, type FluxCrd } from "../../cluster-manager/fleet/storage-migration.js";
import { Informer } from "../../runtime/informer.js";
import type { KubeObject, ResourceType } from "../../runtime/kube.js";
import type { KubeClient } from "../../runtime/rest.js";
import { FLUX_CONTROLLER_SELECTOR } from "./flux-objects.js";

export const CustomResourceDefinitions = {
  group: "apiextensions.k8s.io", version: "v1", plural: "customresourcedefinitions", kind: "CustomResourceDefinition", namespaced: false,
} as const satisfies ResourceType;

type CrdObject = FluxCrd & KubeObject;

export interface FluxStorageOptions {
  client: KubeClient;
  log: Logger;
  /** The problems (objects()) changed. */
  onChange: () => void;
  /** A CRD that could not be migrated is tried again this long after (default 5 min), or when it changes. */
  retryMs?: number;
  minRetryMs?: number;
  maxRetryMs?: number;
  watchTimeoutSeconds?: number;
}

export class FluxStorageKeeper {
  private readonly crds: Informer<CrdObject>;
  /** CRD name → why it still stores an older version. */
  private readonly problems = new Map<string, string>();
  private running?: Promise<void>;
  private again = false;
  private retry?: NodeJS.Timeout;
  private stopped = false;

  constructor(private readonly opts: FluxStorageOptions) {
    // Flux labels everything it installs: only its CRDs are listed and kept (their schemas are large).
    this.crds = new Informer<CrdObject>(opts.client, CustomResourceDefinitions, opts.log, {
      labelSelector: FLUX_CONTROLLER_SELECTOR, minRetryMs: opts.minRetryMs, maxRetryMs: opts.maxRetryMs, watchTimeoutSeconds: opts.watchTimeoutSeconds,
    });
  }

  start(): void {
    this.crds.on((_event, crd) => {
      if (isFluxCrd(crd)) this.schedule();
    }).start();
    void this.crds.waitForSync().then(() => this.schedule());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.crds.stop();
    await this.running;
  }

  get lastProgressAt(): number {
    return this.crds.lastProgressAt;
  }

  /** One not-Ready CustomResourceDefinition object per Flux CRD edge-sync could not migrate, by name. */
  objects(): GitopsObject[] {
    return [...this.problems].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, message]) => ({
      kind: "CustomResourceDefinition", namespace: "", name, ready: "False", reason: "StoredVersionsNotMigrated", message,
    }));
  }

  /** The pass running now finishes first; a request meanwhile runs one more. */
  private schedule(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass().finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.schedule();
      }
    });
  }

  private async pass(): Promise<void> {
    const before = JSON.stringify([...this.problems]);
    const flux = this.crds.list().filter(isFluxCrd);
    for (const name of this.problems.keys()) if (!flux.some((c) => c.metadata.name === name)) this.problems.delete(name);
    let failed = false;
    for (const crd of flux) {
      const stale = staleStoredVersions(crd);
      if (!stale) {
        this.problems.delete(crd.metadata.name);
        continue;
      }
      try {
        const done = await migrateCrd(this.opts.client, crd);
        this.problems.delete(crd.metadata.name);
        this.opts.log.info({ crd: crd.metadata.name, storedBefore: done.storedBefore, storageVersion: done.storageVersion, rewritten: done.rewritten },
          "migrated a Flux CRD's stored versions");
      } catch (err) {
        failed = true;
        const message = `stores ${stale.stored.join(",")}, more than its storage version ${stale.storage}, and edge-sync could not migrate it ` +
          `(${messageOf(err)}): a Flux upgrade that drops ${stale.stored.filter((v: string) => v !== stale.storage).join(",")} cannot apply ` +
          "its CRDs; run `graft flux-migrate` against this cluster (what `flux migrate` does), or give edge-sync the chart's " +
          "migration ClusterRole (edgeSync.fluxStorageMigration)";
        this.problems.set(crd.metadata.name, message);
        this.opts.log.warn({ crd: crd.metadata.name, err: messageOf(err) }, "cannot migrate a Flux CRD's stored versions");
      }
    }
    clearTimeout(this.retry);
    if (failed && !this.stopped) this.retry = setTimeout(() => this.schedule(), this.opts.retryMs ?? 300_000);
    if (JSON.stringify([...this.problems]) !== before) this.opts.onChange();
  }
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));
