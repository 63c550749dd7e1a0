// Edge deployments (ACS mode, acs-contract.md §10): follows this cluster's 'Edge deployment' entries and the Helm chart
// and K8s resource templates through notify/v2 SEARCH, and keeps the Flux objects they describe applied in
// edge-sync's namespace with ACS's field manager and label, so what ACS's edge-sync made is adopted, not duplicated.
//
// Where ACS loses workloads, this does not: a deployment whose entry or template cannot be read or built keeps its
// last good objects (state Held, with the reason); one that never built protects whatever carries its UUID; and
// nothing is pruned until all three sets have been read in full, so an unreachable ConfigDB deletes nothing. Apply
// errors are retried with capped backoff and reported; a periodic resync re-applies everything (drift) and a deleted
// managed object triggers a pass at once.
import type { Logger } from "pino";
import { App } from "../../api/constants.js";
import type { NotifySubscription, SearchEvent, NotifyClient } from "../../acs/notify.js";
import { backoffDelay } from "../../runtime/backoff.js";
import { Informer } from "../../runtime/informer.js";
import type { KubeObject } from "../../runtime/kube.js";
import { silentLogger } from "../../runtime/logger.js";
import type { KubeClient } from "../../runtime/rest.js";
import {
  buildPlan, EDGE_SYNC_MANAGER, kindKey, MANAGED_BY_LABEL, manifestKey, UUID_LABEL,
  type EntryRead, type Manifest, type ResourceKind,
} from "./manifests.js";
import type { DeploymentReport, DeploymentStatus, ReportSink } from "./report.js";
import { ResourceTypes } from "./resource-types.js";

export interface DeploymentSyncOptions {
  client: KubeClient;
  notify: Pick<NotifyClient, "searchApp">;
  clusterUuid: string;
  /** edge-sync's own namespace: where everything is applied and pruned. */
  namespace: string;
  /** `{cluster, realm, directory_url}` (§10). */
  baseValues: Record<string, unknown>;
  /** The ACS Git server's base URL (from the Directory), asked only when a chart template has a source. */
  gitBaseUrl: () => Promise<string>;
  report?: ReportSink;
  log?: Logger;
  /** Re-apply everything this often. Default 5 min; 0 disables. */
  resyncIntervalMs?: number;
  /** Capped exponential backoff after a failed pass. Defaults 1 s and 2 min. */
  minRetryMs?: number;
  maxRetryMs?: number;
  /** Changes within this window are handled in one pass. Default 500 ms. */
  debounceMs?: number;
}

/** One SEARCH subscription's view: undefined children until the first snapshot. */
interface EntrySet {
  children?: ReadonlyMap<string, EntryRead>;
  /** False while the server refuses the whole set; the last children are kept. */
  readable: boolean;
  problem?: string;
}

type Outcome = { state: DeploymentStatus["state"]; message?: string; objects: Manifest[] };

const MANAGED_SELECTOR = `${MANAGED_BY_LABEL}=${EDGE_SYNC_MANAGER}`;
const RESUBSCRIBE_MS = 30_000;

export class DeploymentSync {
  private readonly log: Logger;
  private readonly types: ResourceTypes;
  private readonly sets = {
    deployments: { readable: true } as EntrySet,
    charts: { readable: true } as EntrySet,
    k8s: { readable: true } as EntrySet,
  };
  private readonly subs: NotifySubscription[] = [];
  private readonly lastGood = new Map<string, Manifest[]>();
  private readonly informers = new Map<string, Informer<KubeObject>>();
  private outcomes = new Map<string, Outcome & { name?: string }>();
  private gitBase?: string;
  private timer?: NodeJS.Timeout;
  private resyncTimer?: NodeJS.Timeout;
  private inFlight?: Promise<void>;
  private again = false;
  private failures = 0;
  private stopped = false;
  /** Passes completed, for tests and metrics. */
  passes = 0;

  constructor(private readonly opts: DeploymentSyncOptions) {
    this.log = (opts.log ?? silentLogger).child({ part: "deployments" });
    this.types = new ResourceTypes(opts.client);
  }

  start(): void {
    this.subscribe("deployments", App.EdgeDeployment, { cluster: this.opts.clusterUuid });
    this.subscribe("charts", App.HelmChartTemplate);
    this.subscribe("k8s", App.K8sResourceTemplate);
    const resync = this.opts.resyncIntervalMs ?? 300_000;
    if (resync > 0) this.resyncTimer = setInterval(() => this.schedule(0), resync);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const sub of this.subs.splice(0)) sub.close();
    clearTimeout(this.timer);
    clearInterval(this.resyncTimer);
    await this.inFlight;
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
    await this.opts.report?.stop();
  }

  /** What the last pass found, per deployment UUID. */
  status(): DeploymentReport {
    const report: DeploymentReport = {};
    for (const [uuid, outcome] of this.outcomes) report[uuid] = this.describe(outcome);
    return report;
  }

  private subscribe(which: keyof typeof this.sets, app: string, filter?: Record<string, unknown>): void {
    const set = this.sets[which];
    const sub = this.opts.notify.searchApp(app, (event: SearchEvent) => {
      if (event.type === "snapshot" || event.type === "child") {
        set.children = event.children;
        set.readable = true;
        set.problem = undefined;
      } else {
        // Refused (403/404 on the whole set): keep what was known, and stop pruning until it is readable again.
        set.readable = false;
        set.problem = event.type === "closed" ? `the ConfigDB refused the subscription: ${event.status}` : `the ConfigDB refuses to list it: ${event.parent.status}`;
        this.log.error({ app, problem: set.problem }, "cannot read an application edge deployments depend on; holding what is applied");
        if (event.type === "closed" && !this.stopped) setTimeout(() => { if (!this.stopped) this.subscribe(which, app, filter); }, RESUBSCRIBE_MS).unref();
      }
      this.schedule(this.opts.debounceMs ?? 500);
    }, filter ? { filter } : {});
    this.subs.push(sub);
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.inFlight) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.runNow(), delayMs);
  }

  private runNow(): void {
    this.timer = undefined;
    this.again = false;
    this.inFlight = this.run().then((ok) => {
      this.inFlight = undefined;
      this.afterRun(ok);
    });
  }

  private async run(): Promise<boolean> {
    try {
      return await this.pass();
    } catch (err) {
      this.log.error({ err: (err as Error).message }, "edge deployments pass failed");
      return false;
    } finally {
      this.passes++;
    }
  }

  /** Runs again at once when inputs changed meanwhile, after a backoff delay when the pass failed. */
  private afterRun(ok: boolean): void {
    if (this.stopped) return;
    if (ok) {
      this.failures = 0;
      if (this.again) this.schedule(0);
      return;
    }
    this.failures++;
    const retryInMs = backoffDelay(this.failures, { minMs: this.opts.minRetryMs ?? 1_000, maxMs: this.opts.maxRetryMs ?? 120_000, jitter: 0.2 });
    this.log.warn({ failures: this.failures, retryInMs }, "edge deployments not fully applied; retrying");
    this.schedule(this.again ? Math.min(retryInMs, this.opts.debounceMs ?? 500) : retryInMs);
  }

  /** One level-triggered pass; false when something failed and a retry is due. */
  private async pass(): Promise<boolean> {
    const { deployments, charts, k8s } = this.sets;
    if (!deployments.children || !charts.children || !k8s.children) return true; // not everything read yet: wait
    await this.resolveGitBase(charts.children);
    const plan = buildPlan({
      namespace: this.opts.namespace,
      baseValues: this.opts.baseValues,
      gitUrl: (source) => {
        if (!this.gitBase) throw new Error("the Git server's URL is not known (no Directory entry for the Git service)");
        return new URL(`uuid/${source}`, this.gitBase.endsWith("/") ? this.gitBase : `${this.gitBase}/`).toString();
      },
      deployments: deployments.children, charts: charts.children, k8sTemplates: k8s.children,
    });

    let ok = true;
    const outcomes = new Map<string, Outcome & { name?: string }>();
    const protectedUuids = new Set<string>();
    let protectSources = false;
    for (const d of plan.deployments) {
      if (d.objects) {
        this.lastGood.set(d.uuid, d.objects);
        outcomes.set(d.uuid, { name: d.name, state: "Applied", objects: d.objects });
        continue;
      }
      const held = this.lastGood.get(d.uuid);
      if (held) {
        outcomes.set(d.uuid, { name: d.name, state: "Held", message: `holding the last applied state: ${d.problem}`, objects: held });
      } else {
        // Never built here: whatever carries its UUID (made before a restart, or by ACS) stays, and so do Git sources.
        outcomes.set(d.uuid, { name: d.name, state: "Failed", message: d.problem, objects: [] });
        protectedUuids.add(d.uuid);
        protectSources = true;
      }
    }
    for (const uuid of this.lastGood.keys()) if (!outcomes.has(uuid)) this.lastGood.delete(uuid);

    const desired = new Set<string>();
    for (const [uuid, outcome] of outcomes) {
      for (const obj of outcome.objects) {
        desired.add(manifestKey(obj));
        try {
          const type = await this.types.lookup(obj);
          await this.opts.client.apply(type, obj, EDGE_SYNC_MANAGER);
        } catch (err) {
          ok = false;
          const message = `applying ${obj.kind} "${obj.metadata.name}" failed: ${(err as Error).message}`;
          outcome.state = "Failed";
          outcome.message = outcome.message ? `${outcome.message}; ${message}` : message;
          this.log.error({ deployment: uuid, err: (err as Error).message, kind: obj.kind, name: obj.metadata.name }, "apply failed");
        }
      }
    }

    const unreadable = Object.entries(this.sets).filter(([, s]) => !s.readable);
    if (unreadable.length === 0) {
      ok = (await this.prune(plan.kinds, desired, protectedUuids, protectSources)) && ok;
    } else {
      this.log.warn({ unreadable: unreadable.map(([k, s]) => `${k}: ${s.problem}`) }, "not pruning while an input cannot be read");
    }
    await this.watchKinds(plan.kinds);
    this.outcomes = outcomes;
    this.publish();
    return ok;
  }

  private async prune(kinds: ResourceKind[], desired: Set<string>, protectedUuids: Set<string>, protectSources: boolean): Promise<boolean> {
    let ok = true;
    for (const kind of kinds) {
      if (protectSources && kind.kind === "GitRepository") continue;
      try {
        const type = await this.types.lookup(kind);
        const list = await this.opts.client.list<KubeObject>(type, this.opts.namespace, { labelSelector: MANAGED_SELECTOR });
        for (const obj of list.items) {
          const key = manifestKey({ apiVersion: kind.apiVersion, kind: kind.kind, metadata: obj.metadata });
          if (desired.has(key)) continue;
          const uuid = obj.metadata.labels?.[UUID_LABEL];
          if (uuid && protectedUuids.has(uuid)) continue;
          await this.opts.client.delete(type, obj.metadata.name, this.opts.namespace);
          this.log.info({ kind: kind.kind, name: obj.metadata.name }, "pruned an object no Edge deployment wants any more");
        }
      } catch (err) {
        ok = false;
        this.log.error({ kind: kindKey(kind), err: (err as Error).message }, "pruning failed");
      }
    }
    return ok;
  }

  /** Informers on the managed kinds: readiness for the report, and a pass at once when a managed object is deleted. */
  private async watchKinds(kinds: ResourceKind[]): Promise<void> {
    for (const kind of kinds) {
      const key = kindKey(kind);
      if (this.informers.has(key)) continue;
      let type;
      try {
        type = await this.types.lookup(kind);
      } catch {
        continue;
      }
      const informer = new Informer<KubeObject>(this.opts.client, type, this.log, { namespace: this.opts.namespace, labelSelector: MANAGED_SELECTOR });
      informer.on((event) => {
        if (event === "delete") this.schedule(this.opts.debounceMs ?? 500);
        else this.publish();
      }).start();
      this.informers.set(key, informer);
    }
  }

  private async resolveGitBase(charts: ReadonlyMap<string, EntryRead>): Promise<void> {
    if (this.gitBase) return;
    const needed = [...charts.values()].some((c) => typeof c.body === "object" && c.body !== null && "source" in c.body);
    if (!needed) return;
    try {
      this.gitBase = await this.opts.gitBaseUrl();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "cannot find the Git server for chart sources");
    }
  }

  private publish(): void {
    this.opts.report?.publish(this.status());
  }

  private describe(outcome: Outcome & { name?: string }): DeploymentStatus {
    const releases = outcome.objects.filter((o) => o.kind === "HelmRelease");
    let ready: DeploymentStatus["ready"] = releases.length ? "True" : "Unknown";
    let notReady: string | undefined;
    for (const hr of releases) {
      const live = this.informers.get(kindKey(hr))?.get(`${this.opts.namespace}/${hr.metadata.name}`);
      const cond = (live?.status as { conditions?: Array<{ type: string; status: string; message?: string }> } | undefined)
        ?.conditions?.find((c) => c.type === "Ready");
      if (cond?.status === "False") {
        ready = "False";
        notReady ??= `HelmRelease "${hr.metadata.name}": ${cond.message ?? "not ready"}`;
      } else if (cond?.status !== "True" && ready === "True") ready = "Unknown";
    }
    const message = [outcome.message, ready === "False" ? notReady : undefined].filter(Boolean).join("; ");
    return {
      ...(outcome.name ? { name: outcome.name } : {}),
      state: outcome.state,
      helmReleases: releases.map((r) => r.metadata.name),
      ready,
      ...(message ? { message } : {}),
    };
  }
}
