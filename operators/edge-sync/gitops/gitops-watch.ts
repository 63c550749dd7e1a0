// Watches the edge's GitOps state (flux-objects.ts says what is in it) and tells edge-sync when the report changes.
// One informer per Flux kind in the edge namespace and one on the Flux controllers' Deployments; the report exists
// once all of them have listed, so a half-listed edge never tells the centre an object is gone. With storageMigration
// it also keeps the Flux CRDs' stored versions migrated (flux-storage.ts); a CRD it could not migrate is reported.
import type { Logger } from "pino";
import type { GitopsObject } from "../../api/edgecluster.js";
import { Informer } from "../../runtime/informer.js";
import type { ResourceType } from "../../runtime/kube.js";
import type { KubeClient } from "../../runtime/rest.js";
import { sameJson } from "../status-diff.js";
import {
  controllerReport, Deployments, FLUX_CONTROLLER_SELECTOR, fluxObjectReport, FluxTypes, fluxVersionOf, graftObjectNames,
  type DeploymentObject, type FluxObject,
} from "./flux-objects.js";
import { FluxStorageKeeper } from "./flux-storage.js";

/**
 * The `gitops` member of the status entry. Sent whole as part of a JSON merge patch, so an unknown Flux version is
 * null (which removes the centre's old value) rather than left out (which would keep it).
 */
export interface GitopsReport {
  fluxVersion: string | null;
  objects: GitopsObject[];
}

export interface GitopsWatchOptions {
  client: KubeClient;
  clusterUuid: string;
  /** The edge namespace graft's Flux objects live in (edge-sync's own). */
  namespace: string;
  /** Where the Flux controllers run. */
  fluxNamespace: string;
  log: Logger;
  onChange: () => void;
  /** Migrate stale stored versions of the Flux CRDs (needs the chart's migration ClusterRole). */
  storageMigration?: boolean;
  minRetryMs?: number;
  maxRetryMs?: number;
  watchTimeoutSeconds?: number;
}

export class GitopsWatch {
  private readonly kinds: Array<{ kind: string; informer: Informer<FluxObject> }>;
  private readonly controllers: Informer<DeploymentObject>;
  private readonly names: Record<string, readonly string[]>;
  private readonly storage?: FluxStorageKeeper;
  private last?: GitopsReport;

  constructor(private readonly opts: GitopsWatchOptions) {
    const informerOpts = { minRetryMs: opts.minRetryMs, maxRetryMs: opts.maxRetryMs, watchTimeoutSeconds: opts.watchTimeoutSeconds };
    const make = <T extends FluxObject | DeploymentObject>(type: ResourceType, namespace: string, labelSelector?: string) =>
      new Informer<T>(opts.client, type, opts.log, { ...informerOpts, namespace, labelSelector });
    this.names = graftObjectNames(opts.clusterUuid);
    this.kinds = Object.values(FluxTypes).map((type) => ({ kind: type.kind, informer: make<FluxObject>(type, opts.namespace) }));
    this.controllers = make<DeploymentObject>(Deployments, opts.fluxNamespace, FLUX_CONTROLLER_SELECTOR);
    if (opts.storageMigration) this.storage = new FluxStorageKeeper({ client: opts.client, log: opts.log, onChange: () => this.changed(), ...informerOpts });
  }

  start(): void {
    const changed = () => this.changed();
    for (const { informer } of this.kinds) informer.on(changed).start();
    this.controllers.on(changed).start();
    // Not part of hasSynced or the liveness check: without the ClusterRole its CRD watch never lists, and the report
    // goes on without it.
    this.storage?.start();
    // Empty lists raise no event: the first report is due once everything has listed.
    void Promise.all([...this.kinds.map((k) => k.informer.waitForSync()), this.controllers.waitForSync()]).then(changed);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.kinds.map((k) => k.informer.stop()), this.controllers.stop(), this.storage?.stop()]);
  }

  /** When the least recently progressing of its watches last made progress (for edge-sync's liveness check). */
  get lastProgressAt(): number {
    return Math.min(this.controllers.lastProgressAt, ...this.kinds.map((k) => k.informer.lastProgressAt));
  }

  get hasSynced(): boolean {
    return this.controllers.hasSynced && this.kinds.every((k) => k.informer.hasSynced);
  }

  /** The report as of now, or undefined until every informer has listed. */
  current(): GitopsReport | undefined {
    if (!this.hasSynced) return undefined;
    const objects: GitopsObject[] = [];
    for (const { kind, informer } of this.kinds) {
      const wanted = this.names[kind] ?? [];
      for (const obj of informer.list()) if (wanted.includes(obj.metadata.name)) objects.push(fluxObjectReport(obj, kind));
    }
    const controllers = this.controllers.list();
    objects.push(...controllers.map(controllerReport));
    if (this.storage) objects.push(...this.storage.objects());
    objects.sort((a, b) => key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
    return { fluxVersion: fluxVersionOf(controllers) ?? null, objects };
  }

  /** Informer events that leave the report as it was (status churn, objects graft does not own) stop here. */
  private changed(): void {
    const report = this.current();
    if (!report || (this.last && sameJson(report, this.last))) return;
    this.last = report;
    this.opts.onChange();
  }
}

const key = (o: GitopsObject) => `${o.kind}/${o.namespace}/${o.name}`;
