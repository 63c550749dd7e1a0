// The ConfigDB → Kubernetes half of ACS mode, as one controller keyed by cluster UUID:
// - Mirror: every 'Edge cluster configuration' entry has an EdgeCluster (created in the mirror namespace, labelled
//   as mirrored, spec.uuid = object UUID); an EdgeCluster registered with an entry that is gone is deleted (its
//   finalizer then tears the cluster down). Entry changes are handed to the EdgeCluster reconciler, which applies the
//   conflict rule (entry-sync.ts).
// - Status: 'Edge cluster status' entries (written by edge-sync) flow into EdgeCluster status.
// Both sets are kept live by notify/v2 SEARCH (app-watch.ts); after a dropped connection the fresh snapshot is
// compared with the EdgeClusters, so changes made meanwhile are picked up.
//
// Guard against a suspicious empty list (ACS has none): a listing that names no clusters at all while registered
// EdgeClusters exist deletes nothing at first. Each such EdgeCluster gets ConfigDBSynced=False/SuspiciousEmptyList and a
// Warning Event. Only when the list has stayed empty for `emptyListConfirmMs` AND a fresh REST listing, made then,
// is empty too, are they deleted; any entry appearing meanwhile cancels it. With Infinity nothing is ever deleted on
// an empty list (delete the EdgeClusters with kubectl instead).
import { isDeepStrictEqual } from "node:util";
import type { Logger } from "pino";
import type { ConfigDbClient } from "../../acs/configdb.js";
import type { NotifyClient } from "../../acs/notify.js";
import { App, MANAGED_BY, MANAGED_BY_LABEL } from "../../api/constants.js";
import { ConditionType as T, Reason } from "../../api/conditions.js";
import { EdgeClusterType, type EdgeCluster, type EdgeClusterStatus } from "../../api/edgecluster.js";
import { getCondition, setCondition } from "../../runtime/conditions.js";
import { Controller, type ReconcileResult } from "../../runtime/controller.js";
import { messageOf } from "../../runtime/errors.js";
import type { EventRecorder } from "../../runtime/events.js";
import type { Informer } from "../../runtime/informer.js";
import { Core, objectKey, type KubeObject } from "../../runtime/kube.js";
import { Gauge } from "prom-client";
import type { ControllerMetrics } from "../../runtime/metrics.js";
import { isAlreadyExists, type KubeClient } from "../../runtime/rest.js";
import { updateStatus } from "../../runtime/status.js";
import { summarizeReady } from "../controller/summarize.js";
import { applyEntry, entryOf, statusEntry } from "../status-endpoint.js";
import { AppWatch, type ChangeKind } from "./app-watch.js";
import { NAME_CONFLICT_KEY, NOT_MIRRORED_KEY, parseClusterEntry, specFieldsFromEntry } from "./entries.js";
import { isRegistered } from "./entry-sync.js";
import { dnsLabelFor, dnsLabelWithSuffix, ORIGIN_CONFIGDB, ORIGIN_LABEL, REGISTERED_ANNOTATION } from "./names.js";

export const SYNC_CONTROLLER_NAME = "cluster-manager-configdb-sync";

export interface ConfigDbSyncDeps {
  client: KubeClient;
  log: Logger;
  events: EventRecorder;
  cdb: ConfigDbClient;
  notify: NotifyClient;
  /** The EdgeCluster informer the reconciler uses (shared). */
  informer: Informer<EdgeCluster>;
  mirrorNamespace: string;
  /** Namespace the EdgeClusters are watched in (undefined: all). */
  watchNamespace?: string;
  emptyListConfirmMs: number;
  /** Asks the EdgeCluster reconciler to look at a cluster again (its ConfigDB entry changed). */
  requeueEdgeCluster: (key: string) => void;
  metrics?: ControllerMetrics;
  concurrency?: number;
  resyncMs?: number;
}

const uuidOf = (ec: EdgeCluster) => ec.status?.uuid ?? ec.spec.uuid;

export class ConfigDbSync {
  readonly controller: Controller;
  readonly clusters: AppWatch;
  readonly statuses: AppWatch;
  /** The installation's templates the cluster repositories are made from (repo-templates.ts): a change re-runs setup. */
  readonly templates: AppWatch[];
  /** When the cluster list was first seen empty while registered EdgeClusters existed. */
  private emptySince: number | undefined;
  /** The entry ETag last handed to the reconciler, per cluster, so only real entry changes requeue it. */
  private readonly forwarded = new Map<string, string | null>();
  /** Entries that cannot be mirrored (UUID → why), exported as graft_acs_unmirrored_entries. */
  private readonly unmirrored = new Map<string, string>();

  constructor(private readonly deps: ConfigDbSyncDeps) {
    const log = deps.log.child({ component: "configdb-sync" });
    if (deps.metrics) {
      const unmirrored = this.unmirrored;
      new Gauge({
        name: "graft_acs_unmirrored_entries", help: "'Edge cluster configuration' entries that cannot be mirrored as EdgeClusters",
        registers: [deps.metrics.registry], collect() { this.set(unmirrored.size); },
      });
    }
    this.clusters = new AppWatch(deps.notify, App.EdgeClusterConfiguration, log, (uuids, kind) => this.changed(uuids, kind));
    this.statuses = new AppWatch(deps.notify, App.EdgeClusterStatus, log, (uuids, kind) => this.changed(uuids, kind));
    this.templates = [App.HelmChartTemplate, App.K8sResourceTemplate, App.FluxTemplate].map((app) => {
      // The first snapshot is what every pass reads anyway; later events count only when the entries really changed
      // (a reconnect's snapshot of the same entries is not a change).
      let seen: string | undefined;
      const watch: AppWatch = new AppWatch(deps.notify, app, log, () => {
        const now = JSON.stringify(watch.keys().sort().map((uuid) => [uuid, watch.get(uuid)?.etag ?? JSON.stringify(watch.get(uuid)?.value)]));
        const changed = seen !== undefined && seen !== now;
        seen = now;
        if (changed) this.templatesChanged(watch.app);
      });
      return watch;
    });
    this.controller = new Controller({
      name: SYNC_CONTROLLER_NAME, log, metrics: deps.metrics, concurrency: deps.concurrency ?? 2, resyncMs: deps.resyncMs,
      watches: [{
        informer: deps.informer as unknown as Informer<KubeObject>,
        keysFor: (o) => {
          const uuid = uuidOf(o as EdgeCluster);
          return uuid ? [uuid] : [];
        },
      }],
      resyncKeys: () => [...new Set([...this.clusters.keys(), ...this.statuses.keys(), ...this.knownUuids()])],
      reconcile: (uuid) => this.reconcile(uuid),
    });
  }

  /** Subscribes to the ConfigDB (on every replica: reads only; the controller acts only on the leader). */
  start(): void {
    this.clusters.start();
    this.statuses.start();
    for (const watch of this.templates) watch.start();
  }

  stop(): void {
    this.clusters.stop();
    this.statuses.stop();
    for (const watch of this.templates) watch.stop();
  }

  private knownUuids(): string[] {
    return this.deps.informer.list().map(uuidOf).filter((u): u is string => !!u);
  }

  private changed(uuids: string[], kind: ChangeKind): void {
    if (this.clusters.size > 0 && this.emptySince !== undefined) {
      this.deps.log.info("the ConfigDB lists edge clusters again; nothing is deleted for the earlier empty list");
      this.emptySince = undefined;
    }
    const keys = kind === "snapshot" ? [...uuids, ...this.knownUuids()] : uuids;
    for (const uuid of new Set(keys)) this.controller.queue.add(uuid);
  }

  /** A template changed: every linked cluster's repository is made again (a pass that changes nothing pushes nothing). */
  private templatesChanged(app: string): void {
    const linked = this.deps.informer.list().filter((ec) => uuidOf(ec) && !ec.metadata.deletionTimestamp);
    this.deps.log.info({ app, clusters: linked.length }, "a ConfigDB template changed: setting up every cluster's repository again");
    for (const ec of linked) this.deps.requeueEdgeCluster(objectKey(ec));
  }

  private clustersWith(uuid: string): EdgeCluster[] {
    return this.deps.informer.list().filter((ec) => uuidOf(ec) === uuid);
  }

  async reconcile(uuid: string): Promise<ReconcileResult | void> {
    const mirror = await this.mirror(uuid);
    await this.copyStatus(uuid);
    return mirror;
  }

  private async mirror(uuid: string): Promise<ReconcileResult | void> {
    const { clusters } = this;
    if (!clusters.synced || !clusters.accessible) return;
    const ecs = this.clustersWith(uuid);
    const found = clusters.get(uuid);
    if (found) {
      const live = ecs.filter((ec) => !ec.metadata.deletionTimestamp);
      if (ecs.length === 0) return this.createMirror(uuid, found.value);
      if (this.forwarded.get(uuid) !== found.etag || live.some(heldByEmptyList)) {
        for (const ec of live) this.deps.requeueEdgeCluster(objectKey(ec));
        this.forwarded.set(uuid, found.etag);
      }
      return;
    }
    this.forwarded.delete(uuid);
    this.unmirrored.delete(uuid);
    if (ecs.length === 0) await this.dropNotMirroredReport(uuid);
    const doomed = ecs.filter((ec) => isRegistered(ec, uuid) && !ec.metadata.deletionTimestamp);
    if (doomed.length === 0) return;
    if (clusters.size === 0) {
      const held = await this.holdForEmptyList(doomed);
      if (held) return held;
    }
    for (const ec of doomed) {
      await this.deps.events.record(EdgeClusterType, ec, "Normal", "DeletedInConfigDB",
        `the ConfigDB entry ${uuid} was deleted: deleting this EdgeCluster (its finalizer removes the accounts, grants and entries)`);
      await this.deps.client.delete(EdgeClusterType, ec.metadata.name, ec.metadata.namespace);
    }
  }

  /** The entry is gone: a setup status that only said why it could not be mirrored or set up goes with it. */
  private async dropNotMirroredReport(uuid: string): Promise<void> {
    const status = await this.deps.cdb.getEntry<Record<string, unknown>>(App.EdgeClusterSetupStatus, uuid);
    const keys = status && typeof status.value === "object" && status.value !== null ? Object.keys(status.value) : [];
    const reports = [NOT_MIRRORED_KEY, NAME_CONFLICT_KEY];
    if (keys.some((k) => reports.includes(k)) && keys.every((k) => reports.includes(k) || k === "ready")) {
      await this.deps.cdb.deleteEntry(App.EdgeClusterSetupStatus, uuid, status!.etag ? { ifMatch: status!.etag } : {});
    }
  }

  /** Holds deletions on an empty list; undefined once the emptiness has persisted and been confirmed. */
  private async holdForEmptyList(doomed: EdgeCluster[]): Promise<ReconcileResult | undefined> {
    const { log, emptyListConfirmMs } = this.deps;
    const now = Date.now();
    if (this.emptySince === undefined) {
      this.emptySince = now;
      log.warn({ clusters: doomed.length, confirmAfterMs: emptyListConfirmMs },
        "the ConfigDB suddenly lists no edge clusters at all: not deleting the EdgeClusters mirrored from it");
    }
    const waited = now - this.emptySince;
    if (waited >= emptyListConfirmMs) {
      const listed = await this.deps.cdb.listObjects(App.EdgeClusterConfiguration);
      if (listed.length === 0) {
        log.warn({ clusters: doomed.length, emptyForMs: waited }, "the ConfigDB has listed no edge clusters for the whole confirmation period: deleting");
        return undefined;
      }
      log.warn({ listed: listed.length }, "a fresh ConfigDB listing names clusters the notify snapshot did not: still not deleting");
      this.emptySince = now;
    }
    const when = Number.isFinite(emptyListConfirmMs)
      ? `unless it stays empty for ${Math.round(emptyListConfirmMs / 1000)}s and a fresh listing confirms it`
      : "(deleting on an empty list is disabled: delete the EdgeCluster with kubectl if that is intended)";
    const message = `the ConfigDB suddenly lists no edge clusters at all; not deleting this EdgeCluster ${when}`;
    for (const ec of doomed) {
      await this.setSynced(ec, "False", Reason.SuspiciousEmptyList, message);
      await this.deps.events.record(EdgeClusterType, ec, "Warning", Reason.SuspiciousEmptyList, message);
    }
    if (!Number.isFinite(emptyListConfirmMs)) return {};
    return { requeueAfterMs: Math.max(100, this.emptySince + emptyListConfirmMs - now + 100) };
  }

  private async createMirror(uuid: string, value: unknown): Promise<void> {
    const { client, cdb, log, mirrorNamespace } = this.deps;
    const parsed = parseClusterEntry(value);
    if ("problem" in parsed) {
      // No EdgeCluster can carry it: say so where a person looks (an Event on the mirror namespace) and count it.
      if (this.unmirrored.get(uuid) !== parsed.problem) {
        const message = `ConfigDB cluster ${uuid} cannot be mirrored as an EdgeCluster in "${mirrorNamespace}": its 'Edge cluster configuration' entry is invalid at ${parsed.problem}; fix the entry in the ConfigDB`;
        log.error({ uuid }, message);
        const ns = await client.getOrNull<KubeObject>(Core.namespaces, mirrorNamespace).catch(() => null);
        if (ns) await this.deps.events.record(Core.namespaces, ns, "Warning", "EntryNotMirrored", message);
        // And in the cluster's own setup status, where ACS looks (the Clusters API's status): not ready, and why.
        await cdb.patchEntry(App.EdgeClusterSetupStatus, uuid, { ready: false, [NOT_MIRRORED_KEY]: message });
        this.unmirrored.set(uuid, parsed.problem);
      }
      return;
    }
    if (this.unmirrored.delete(uuid)) await cdb.patchEntry(App.EdgeClusterSetupStatus, uuid, { [NOT_MIRRORED_KEY]: null });
    const { entry } = parsed;
    // Decide on fresh answers, not caches: the entry must still exist and no EdgeCluster may hold the UUID yet (one
    // applied with kubectl records its UUID in status before it writes the entry).
    const fresh = await cdb.getEntry(App.EdgeClusterConfiguration, uuid);
    if (!fresh) return;
    const all = (await client.list<EdgeCluster>(EdgeClusterType, this.deps.watchNamespace)).items;
    if (all.some((ec) => uuidOf(ec) === uuid)) return;
    const taken = new Set(all.filter((ec) => ec.metadata.namespace === mirrorNamespace).map((ec) => ec.metadata.name));
    const name = taken.has(dnsLabelFor(entry.name, uuid)) ? dnsLabelWithSuffix(entry.name, uuid) : dnsLabelFor(entry.name, uuid);
    let created: EdgeCluster;
    try {
      created = await client.create<EdgeCluster>(EdgeClusterType, {
        metadata: {
          name, namespace: mirrorNamespace,
          labels: { [ORIGIN_LABEL]: ORIGIN_CONFIGDB, [MANAGED_BY_LABEL]: MANAGED_BY },
          annotations: { [REGISTERED_ANNOTATION]: uuid },
        },
        spec: { name: entry.name, uuid, ...specFieldsFromEntry(entry) },
      });
    } catch (err) {
      if (isAlreadyExists(err)) throw new Error(`EdgeCluster "${mirrorNamespace}/${name}" appeared while mirroring ConfigDB cluster ${uuid}; trying again`);
      throw err;
    }
    // The new EdgeCluster's first pass reads this version of the entry: handing it over again as a change would only
    // run the whole setup a second time.
    this.forwarded.set(uuid, fresh.etag);
    log.info({ uuid, name, namespace: mirrorNamespace }, "mirrored a ConfigDB edge cluster as an EdgeCluster");
    await this.deps.events.record(EdgeClusterType, created, "Normal", "MirroredFromConfigDB",
      `created from ConfigDB entry ${uuid} (cluster "${entry.name}"); the ConfigDB entry owns this cluster's spec`);
  }

  /** Copies the 'Edge cluster status' entry into the status of the EdgeCluster provisioned with this UUID. */
  private async copyStatus(uuid: string): Promise<void> {
    const { statuses } = this;
    if (!statuses.synced || !statuses.accessible) return;
    const ec = this.clustersWith(uuid).find((e) => e.status?.uuid === uuid && !e.metadata.deletionTimestamp);
    if (!ec) return;
    const found = statuses.get(uuid);
    if (found && found.value === undefined) return;
    const parsed = found ? statusEntry.safeParse(found.value) : undefined;
    if (parsed && !parsed.success) {
      const issue = parsed.error.issues[0]!;
      await this.deps.events.record(EdgeClusterType, ec, "Warning", "InvalidStatusEntry",
        `the 'Edge cluster status' entry is invalid at "${issue.path.join(".") || "(entry)"}": ${issue.message}`);
      return;
    }
    const want = parsed?.data ?? null;
    if (isDeepStrictEqual(want, entryOf(ec.status))) return;
    try {
      await updateStatus<EdgeClusterStatus, EdgeCluster>(this.deps.client, EdgeClusterType, ec.metadata.name, ec.metadata.namespace, (s, obj) => {
        if (obj.status?.uuid !== uuid || isDeepStrictEqual(want, entryOf(s))) return;
        if (want) applyEntry(s, want, obj.metadata.generation);
        else clearEntry(s, obj.metadata.generation);
      }, { from: ec });
    } catch (err) {
      await this.deps.events.record(EdgeClusterType, ec, "Warning", "InvalidStatusEntry", `the 'Edge cluster status' entry cannot be used: ${messageOf(err)}`);
    }
  }

  private async setSynced(ec: EdgeCluster, status: "True" | "False", reason: string, message: string): Promise<void> {
    await updateStatus<EdgeClusterStatus, EdgeCluster>(this.deps.client, EdgeClusterType, ec.metadata.name, ec.metadata.namespace, (s, obj) => {
      s.conditions = setCondition(s.conditions, { type: T.ConfigDBSynced, status, reason, message }, obj.metadata.generation);
      summarizeReady(s, obj.metadata.generation);
    }, { from: ec });
  }
}

function heldByEmptyList(ec: EdgeCluster): boolean {
  return getCondition(ec.status?.conditions, T.ConfigDBSynced)?.reason === Reason.SuspiciousEmptyList;
}

/** The status entry is gone (deleted in the ConfigDB): what it said is no longer known. */
function clearEntry(s: EdgeClusterStatus, generation?: number): void {
  delete s.hosts;
  delete s.hostCount;
  delete s.kubesealCertificate;
  delete s.gitops;
  s.conditions = setCondition(s.conditions, {
    type: T.Reporting, status: "False", reason: Reason.NoReports,
    message: "the cluster's 'Edge cluster status' entry was deleted from the ConfigDB: edge-sync writes it again on its next report",
  }, generation);
  summarizeReady(s, generation);
}
