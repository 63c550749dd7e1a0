// The EdgeCluster reconciler, in the shape of Flux's source-controller: get the object, then deletion → finalizer
// (added before any side effect) → one ordered list of steps for the mode, and ALWAYS one exit that summarises the
// owned conditions (summarize.ts) and writes status once, diffed against the object as read, under an optimistic
// lock. Steps (scope.ts) change only the status draft. Embedded mode: spec check → identity → name check →
// credentials → repository → bootstrap token → Provisioned → Reporting. ACS mode: spec check → identity → name
// check → ConfigDB entry → credentials → ACS setup → bootstrap token → Provisioned.
// Only changes that need a reconcile reach the work queue (needsReconcile): the controller's own status writes and
// the edge's reports do not.
import type { Logger } from "pino";
import { ConditionType as T, Reason } from "../../api/conditions.js";
import { BOOTSTRAP_REQUEST_ANNOTATION, FINALIZER, FLUX_VERSION_ANNOTATION, RECONCILE_REQUESTED_ANNOTATION } from "../../api/constants.js";
import { EdgeClusterType, type EdgeCluster, type EdgeClusterStatus } from "../../api/edgecluster.js";
import { getCondition, setCondition, type Condition } from "../../runtime/conditions.js";
import { Controller, type ReconcileContext, type ReconcileResult } from "../../runtime/controller.js";
import { DEFAULT_STALL_RETRY_MS, errorOutcome, messageOf } from "../../runtime/errors.js";
import type { EventRecorder } from "../../runtime/events.js";
import { Informer } from "../../runtime/informer.js";
import { Core, objectKey, splitKey, type KubeObject } from "../../runtime/kube.js";
import type { ControllerMetrics } from "../../runtime/metrics.js";
import type { KubeClient } from "../../runtime/rest.js";
import { addFinalizer, patchStatus, removeFinalizer } from "../../runtime/status.js";
import type { AcsBackend } from "../acs/acs-backend.js";
import type { ClusterManagerConfig } from "../config.js";
import { CrashPoint, crashPoint } from "../crash-points.js";
import { credentialsSecretName } from "../credentials.js";
import type { FluxReleases } from "../fleet/flux-releases.js";
import type { ChartValuesSchema } from "../chart-values-schema.js";
import type { RepoStore } from "../git/repo-store.js";
import { acsCredentialsStep, acsNameCheckStep, acsSetupStep, configDbEntryStep } from "./acs-steps.js";
import { bootstrapStep, checkSpec, identityStep, nameCheckStep, provisionedStep } from "./common-steps.js";
import { checkEmbeddedSpec, credentialsStep, repositoryStep, reportingStep } from "./embedded-steps.js";
import { bootstrapSecretName, clusterNameOf } from "./names.js";
import { IdentityIndex, identityUuidOf } from "./identity-index.js";
import { OwnWrites } from "./own-writes.js";
import type { ReconcileScope, Scratch, Step } from "./scope.js";
import { reconcilingMessage, summarizePass, summarizeReady, type PassOutcome } from "./summarize.js";

export { MAX_VALUES_BYTES } from "./common-steps.js";
export { markSilentEdge } from "./embedded-steps.js";
export { bootstrapSecretName, clusterNameOf } from "./names.js";

export const CONTROLLER_NAME = "cluster-manager";

export interface EdgeClusterControllerDeps {
  client: KubeClient;
  log: Logger;
  config: ClusterManagerConfig;
  repos: RepoStore;
  events: EventRecorder;
  metrics?: ControllerMetrics;
  concurrency?: number;
  resyncMs?: number;
  /** A stalled EdgeCluster is reconciled again after this long even without a change (--stall-retry-interval). */
  stallRetryMs?: number;
  /** ACS mode: the ConfigDB, Auth and Git backends (absent in embedded mode). */
  acs?: AcsBackend;
  /** Whether the cluster's credentials Secret is known to exist (the credential index), to spare a request. */
  credentialsKnown?: (uuid: string) => boolean;
  /** The Flux releases a cluster's repository may carry (default: this checkout's config/flux). */
  fluxReleases?: FluxReleases;
  /** Embedded mode: the published edge chart's values schema, checked before a commit (none: not checked). */
  valuesSchema?: ChartValuesSchema;
}

type Status = EdgeClusterStatus;

const status = (c: Condition[] | undefined, type: string) => getCondition(c, type)?.status;
const annotation = (o: KubeObject, key: string) => o.metadata.annotations?.[key];

/**
 * Whether an update of an EdgeCluster needs a reconcile: a new generation, a reconcile or bootstrap request,
 * a FluxRollout assigning a Flux release, deletion, our finalizer gone, a label change, or what the edge's reports change that the reconciler acts on
 * (Bootstrapped or Reporting changing status: the Reporting timer is armed from the first report). Status writes
 * that only restate the same (the reconciler's own, each steady report) do not.
 */
export function needsReconcile(obj: EdgeCluster, old: EdgeCluster): boolean {
  const m = obj.metadata;
  const o = old.metadata;
  if (m.generation !== o.generation || m.deletionTimestamp !== o.deletionTimestamp) return true;
  if (annotation(obj, RECONCILE_REQUESTED_ANNOTATION) !== annotation(old, RECONCILE_REQUESTED_ANNOTATION)) return true;
  if (annotation(obj, BOOTSTRAP_REQUEST_ANNOTATION) !== annotation(old, BOOTSTRAP_REQUEST_ANNOTATION)) return true;
  if (annotation(obj, FLUX_VERSION_ANNOTATION) !== annotation(old, FLUX_VERSION_ANNOTATION)) return true;
  if (!m.deletionTimestamp && !m.finalizers?.includes(FINALIZER) && JSON.stringify(m.finalizers) !== JSON.stringify(o.finalizers)) return true;
  if (JSON.stringify(m.labels ?? {}) !== JSON.stringify(o.labels ?? {})) return true;
  const now = obj.status?.conditions;
  const before = old.status?.conditions;
  if (status(now, T.Bootstrapped) !== status(before, T.Bootstrapped) || status(now, T.Reporting) !== status(before, T.Reporting)) return true;
  // Status wiped (e.g. restored from a backup without it): provision again.
  return !!old.status?.uuid && !obj.status?.uuid;
}

/** Step notes folded into the one Event announcing a first provisioning. */
const PROVISIONING_NOTES = new Set(["IdentityAssigned", "CredentialsCreated", "RepositoryCreated", "RepositoryUpdated"]);

export class EdgeClusterReconciler {
  readonly informer: Informer<EdgeCluster>;
  readonly controller: Controller;
  private readonly steps: Step[];
  private readonly ownWrites = new OwnWrites<EdgeCluster>();
  /** Clusters by name and UUID, for the name check, the requeue of rivals and lookups by UUID. */
  readonly identities: IdentityIndex;

  constructor(private readonly deps: EdgeClusterControllerDeps) {
    this.informer = new Informer<EdgeCluster>(deps.client, EdgeClusterType, deps.log, { namespace: deps.config.watchNamespace });
    this.identities = new IdentityIndex(this.informer);
    this.controller = new Controller({
      name: CONTROLLER_NAME, log: deps.log, metrics: deps.metrics,
      concurrency: deps.concurrency ?? 4, resyncMs: deps.resyncMs, stallRetryMs: deps.stallRetryMs,
      watches: [{
        informer: this.informer as unknown as Informer<KubeObject>,
        predicate: (obj, old) => needsReconcile(obj as EdgeCluster, old as EdgeCluster),
        // A change to one cluster can settle a name conflict of another: requeue those sharing its name or UUID.
        keysFor: (o) => this.keysSharingIdentity(o as EdgeCluster),
      }],
      reconcile: (key, ctx) => this.reconcile(key, ctx),
    });
    const common = { spec: checkSpec, identity: identityStep(deps), nameCheck: nameCheckStep(this.identities), bootstrap: bootstrapStep(deps, CONTROLLER_NAME) };
    this.steps = deps.acs
      ? [common.spec, common.identity, acsNameCheckStep(deps.acs, common.nameCheck), configDbEntryStep(deps, deps.acs), acsCredentialsStep(deps),
        acsSetupStep(deps, deps.acs), common.bootstrap, provisionedStep]
      : [common.spec, checkEmbeddedSpec, common.identity, common.nameCheck, credentialsStep(deps), repositoryStep(deps),
        common.bootstrap, provisionedStep, reportingStep(deps)];
  }

  private keysSharingIdentity(ec: EdgeCluster): string[] {
    const key = objectKey(ec);
    const others = this.identities.sharing(clusterNameOf(ec), identityUuidOf(ec)).map(objectKey).filter((k) => k !== key);
    return [key, ...others];
  }

  async reconcile(key: string, { log }: ReconcileContext): Promise<ReconcileResult | void> {
    const { client, metrics } = this.deps;
    const { namespace, name } = splitKey(key);
    // Embedded mode starts from the cache (own-writes.ts). ACS mode reads afresh: the entry sync's metadata patch
    // is not under an optimistic lock, so the cache could hold a version older than ones it cannot tell apart.
    const cached = this.deps.acs ? undefined : this.ownWrites.resolve(key, this.informer.get(key));
    let ec = cached ?? await client.getOrNull<EdgeCluster>(EdgeClusterType, name, namespace);
    if (!ec) {
      this.ownWrites.forget(key);
      metrics?.forgetObject("EdgeCluster", namespace ?? "", name);
      return;
    }
    if (ec.metadata.deletionTimestamp) return this.finalize(ec, log);
    if (!ec.metadata.finalizers?.includes(FINALIZER)) {
      ec = this.wrote(ec, await addFinalizer(client, EdgeClusterType, ec, FINALIZER));
      crashPoint(CrashPoint.AfterFinalizer);
    }
    const marked = await this.markNewGeneration(ec);
    if (!marked) return;
    return this.runSteps(this.wrote(ec, marked), log);
  }

  /** Remembers a write of this controller (see own-writes.ts); returns the object as written. */
  private wrote(before: EdgeCluster, after: EdgeCluster): EdgeCluster {
    this.ownWrites.record(objectKey(before), before, after);
    return after;
  }

  /**
   * A new generation of a cluster handled before says so at once (Reconciling=True, Ready=False), so nobody reads
   * the previous generation's Ready while this one is worked on.
   */
  private async markNewGeneration(ec: EdgeCluster): Promise<EdgeCluster | null> {
    const read: Status = ec.status ?? {};
    if (read.observedGeneration === undefined || read.observedGeneration === ec.metadata.generation) return ec;
    const draft = structuredClone(read);
    draft.conditions = setCondition(draft.conditions, { type: T.Reconciling, status: "True", reason: Reason.Progressing, message: reconcilingMessage(ec, read) }, ec.metadata.generation);
    summarizeReady(draft, ec.metadata.generation);
    return patchStatus(this.deps.client, EdgeClusterType, ec, read, draft, this.statusOptions(objectKey(ec)));
  }

  /** Ready derived again after a conflict; versions read meanwhile are older than the one written. */
  private statusOptions(key: string) {
    return {
      finish: (s: object, obj: EdgeCluster) => summarizeReady(s as Status, obj.metadata.generation),
      onReread: (fresh: EdgeCluster) => this.ownWrites.record(key, fresh, fresh),
    };
  }

  /** The steps in order, then the one exit: summarise, write status once, record Events, requeue as decided. */
  private async runSteps(ec: EdgeCluster, log: Logger): Promise<ReconcileResult | void> {
    const key = objectKey(ec);
    const read: Status = ec.status ?? {};
    const notes: Array<{ reason: string; message: string; type: "Normal" | "Warning" }> = [];
    const scratch: Scratch = {};
    const scope: ReconcileScope = {
      ec, read, status: structuredClone(read), scratch, log,
      note: (reason, message, type = "Normal") => notes.push({ reason, message, type }),
      flush: async () => {
        const written = await patchStatus(this.deps.client, EdgeClusterType, scope.ec, scope.read, scope.status, this.statusOptions(key));
        if (!written) throw new Error(`EdgeCluster "${objectKey(scope.ec)}" disappeared`);
        scope.ec = this.wrote(scope.ec, written);
        scope.read = written.status ?? {};
        Object.assign(scope.status, structuredClone(scope.read));
      },
    };
    let outcome: PassOutcome = { kind: "success" };
    let failure: unknown;
    let requeueAfterMs: number | undefined;
    try {
      for (const step of this.steps) {
        const r = await step(scope);
        if (r === "continue") continue;
        if (r === "done") outcome = { kind: "held" };
        else {
          outcome = { kind: "requeue" };
          requeueAfterMs = r.requeueAfterMs;
        }
        break;
      }
    } catch (err) {
      failure = err;
      outcome = { kind: "error", error: errorOutcome(err, { stallRetryMs: this.deps.stallRetryMs ?? DEFAULT_STALL_RETRY_MS }) };
    }

    summarizePass(scope.ec, read, scope.status, outcome);
    let written: EdgeCluster | null;
    try {
      written = await patchStatus(this.deps.client, EdgeClusterType, scope.ec, scope.read, scope.status, this.statusOptions(key));
    } catch (err) {
      // The pass's own failure says more than the failed status write; either way the key is retried.
      if (failure) log.warn({ err: messageOf(err) }, "could not record the pass in status");
      throw failure ?? err;
    }
    if (!written) return;
    this.wrote(scope.ec, written);
    await this.recordEvents(written, read, notes, outcome, scratch);
    this.deps.metrics?.recordConditions("EdgeCluster", written.metadata.namespace ?? "", written.metadata.name, written.status?.conditions ?? []);
    if (failure) throw failure;
    if (requeueAfterMs !== undefined) return { requeueAfterMs };
    if (scratch.requeueAfterMs !== undefined) return { requeueAfterMs: scratch.requeueAfterMs };
  }

  /**
   * Events after the status write: a first provisioning (or a recovery) as one Event telling what was set up and
   * what to run next, other steps' notes one each, and a failure only when Ready's reason or message changed.
   */
  private async recordEvents(ec: EdgeCluster, read: Status, notes: Array<{ reason: string; message: string; type: "Normal" | "Warning" }>,
    outcome: PassOutcome, scratch: Scratch): Promise<void> {
    const { events } = this.deps;
    const record = (type: "Normal" | "Warning", reason: string, message: string) => events.record(EdgeClusterType, ec, type, reason, message);
    const nowProvisioned = getCondition(ec.status?.conditions, T.Provisioned)?.status === "True";
    const wasProvisioned = getCondition(read.conditions, T.Provisioned)?.status === "True";
    const announce = outcome.kind === "success" && nowProvisioned && !wasProvisioned;
    const folded = announce ? notes.filter((n) => PROVISIONING_NOTES.has(n.reason)) : [];
    for (const n of notes) if (!folded.includes(n)) await record(n.type, n.reason, n.message);
    if (announce) {
      const what = this.deps.acs ? "is provisioned in ACS" : "is provisioned";
      const done = folded.map((n) => n.message).join("; ");
      await record("Normal", Reason.Provisioned,
        `cluster "${scratch.clusterName}" ${what}${done ? ` (${done})` : ""}; get its bootstrap command with: graft bootstrap-command -n ${ec.metadata.namespace} ${ec.metadata.name}`);
      crashPoint(CrashPoint.AfterProvisioned);
    }
    if (outcome.kind === "error") {
      const before = getCondition(read.conditions, T.Ready);
      const after = getCondition(ec.status?.conditions, T.Ready);
      if (before?.reason !== after?.reason || before?.message !== after?.message || before?.status !== after?.status) {
        await record(outcome.error.eventType, outcome.error.reason, outcome.error.message);
      }
    }
  }

  /** Tears down what graft created centrally, then releases the finalizer; a failure shows as TeardownFailed. */
  private async finalize(ec: EdgeCluster, log: Logger): Promise<void> {
    if (!ec.metadata.finalizers?.includes(FINALIZER)) return;
    try {
      await this.teardown(ec, log);
    } catch (err) {
      const outcome = errorOutcome(err);
      const read: Status = ec.status ?? {};
      const draft = structuredClone(read);
      draft.conditions = setCondition(draft.conditions, { type: T.TeardownFailed, status: "True", reason: outcome.reason === "ReconcileFailed" ? Reason.TeardownFailed : outcome.reason, message: `cannot tear the cluster down: ${outcome.message}` }, ec.metadata.generation);
      summarizeReady(draft, ec.metadata.generation);
      const changed = getCondition(read.conditions, T.TeardownFailed)?.message !== getCondition(draft.conditions, T.TeardownFailed)?.message;
      try {
        await patchStatus(this.deps.client, EdgeClusterType, ec, read, draft, this.statusOptions(objectKey(ec)));
        if (changed) await this.deps.events.record(EdgeClusterType, ec, "Warning", Reason.TeardownFailed, `cannot tear the cluster down: ${outcome.message}`);
      } catch (statusErr) {
        log.warn({ err: messageOf(statusErr) }, "could not record the teardown failure in status");
      }
      throw err;
    }
  }

  private async teardown(ec: EdgeCluster, log: Logger): Promise<void> {
    const { client, repos, events, metrics } = this.deps;
    const ns = ec.metadata.namespace!;
    const uuid = ec.status?.uuid;
    // Another EdgeCluster may hold the same UUID (a rejected duplicate): never tear down what it owns.
    const sharedWith = uuid && this.informer.list().find((o) => o.metadata.uid !== ec.metadata.uid && o.status?.uuid === uuid
      && o.status?.conditions?.some((c: Condition) => c.type === T.Provisioned && c.status === "True"));
    if (uuid && !sharedWith) {
      if (this.deps.acs) {
        // ACS mode: accounts, grants, identities, entries, the ConfigDB object and the repository; what ACS's
        // Cluster Manager role may not remove is left and said so.
        const { left } = await this.deps.acs.setup.teardown(uuid, log, (reason, message) => events.record(EdgeClusterType, ec, "Normal", reason, message));
        if (left.length > 0) {
          await events.record(EdgeClusterType, ec, "Warning", "AcsLeftBehind", `ACS's Cluster Manager role may not remove these, so they remain in ACS: ${left.join("; ")} (an ACS administrator can remove them, or load config/acs/cluster-manager-kubectl.yaml)`);
        }
      } else if (await repos.deleteRepo(uuid)) await events.record(EdgeClusterType, ec, "Normal", "RepositoryDeleted", `deleted the repository of cluster ${uuid}`);
      if (await client.delete(Core.secrets, credentialsSecretName(uuid), ns)) {
        await events.record(EdgeClusterType, ec, "Normal", "CredentialsDeleted", `deleted Secret "${credentialsSecretName(uuid)}"`);
      }
    }
    await client.delete(Core.secrets, bootstrapSecretName(ec), ns);
    await removeFinalizer(client, EdgeClusterType, ec, FINALIZER);
    metrics?.forgetObject("EdgeCluster", ns, ec.metadata.name);
    log.info({ uuid }, "edge cluster torn down");
  }
}
