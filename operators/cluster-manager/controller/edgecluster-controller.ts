// The EdgeCluster reconciler. Each step is idempotent and recorded before the next, so a crash at any point resumes
// without duplicates. Embedded mode: identity → name check → credentials → repository → bootstrap token. ACS mode:
// identity → name check → ConfigDB entry (acs/entry-sync.ts) → ACS setup (acs/cluster-setup.ts) → bootstrap token.
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { ConditionType as T, Reason } from "../../api/conditions.js";
import { BOOTSTRAP_REQUEST_ANNOTATION, FINALIZER, MANAGED_BY, MANAGED_BY_LABEL, CLUSTER_UUID_LABEL, RECONCILE_REQUESTED_ANNOTATION } from "../../api/constants.js";
import { EdgeClusterType, type EdgeCluster, type EdgeClusterStatus } from "../../api/edgecluster.js";
import { removeCondition, setCondition, type Condition, type ConditionInput } from "../../runtime/conditions.js";
import { Controller, type ReconcileContext, type ReconcileResult } from "../../runtime/controller.js";
import { GenericError, StallingError, messageOf, reasonOf } from "../../runtime/errors.js";
import type { EventRecorder } from "../../runtime/events.js";
import { Informer } from "../../runtime/informer.js";
import { Core, objectKey, splitKey, type KubeObject } from "../../runtime/kube.js";
import type { ControllerMetrics } from "../../runtime/metrics.js";
import type { KubeClient } from "../../runtime/rest.js";
import { addFinalizer, removeFinalizer, updateStatus } from "../../runtime/status.js";
import { bootstrapCommandSecretName, issueBootstrapToken } from "../bootstrap-tokens.js";
import { urlsFor, type ClusterManagerConfig } from "../config.js";
import { CrashPoint, crashPoint } from "../crash-points.js";
import { credentialsSecretName, ensureCredentials } from "../credentials.js";
import { generateClusterRepo } from "../git/repo-content.js";
import type { RepoStore } from "../git/repo-store.js";
import { SEALED_SECRETS_DIR } from "../seal-endpoint.js";
import { withReady } from "./summarize.js";
import type { AcsBackend } from "../acs/acs-backend.js";
import { syncClusterEntry } from "../acs/entry-sync.js";

export const CONTROLLER_NAME = "cluster-manager";
export const MAX_VALUES_BYTES = 256 * 1024;

export interface EdgeClusterControllerDeps {
  client: KubeClient;
  log: Logger;
  config: ClusterManagerConfig;
  repos: RepoStore;
  events: EventRecorder;
  metrics?: ControllerMetrics;
  concurrency?: number;
  resyncMs?: number;
  /** ACS mode: the ConfigDB, Auth and Git backends (absent in embedded mode). */
  acs?: AcsBackend;
}

type Status = EdgeClusterStatus;

export const clusterNameOf = (ec: EdgeCluster) => ec.spec.name ?? ec.metadata.name;
export const bootstrapSecretName = (ec: EdgeCluster) => bootstrapCommandSecretName(ec.metadata.name);

/** Runs a step, giving its failure the step's condition reason and a message saying what could not be done. */
async function failsAs<T>(reason: string, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new GenericError(reason, `${what}: ${messageOf(err)}`, { cause: err });
  }
}

/** Reporting goes False once a bootstrapped edge has not reported for the timeout. */
export function markSilentEdge(s: Status, timeoutMs: number, generation?: number, now = Date.now()) {
  if (!s.lastReportTime) return;
  const silentFor = now - Date.parse(s.lastReportTime);
  if (silentFor <= timeoutMs) return;
  s.conditions = setCondition(s.conditions, {
    type: T.Reporting, status: "False", reason: Reason.ReportsStopped,
    message: `no report from edge-sync since ${s.lastReportTime}: check edge-sync on the edge cluster (kubectl -n <edge namespace> logs deploy/edge-sync)`,
  }, generation);
}

export class EdgeClusterReconciler {
  readonly informer: Informer<EdgeCluster>;
  readonly controller: Controller;

  constructor(private readonly deps: EdgeClusterControllerDeps) {
    this.informer = new Informer<EdgeCluster>(deps.client, EdgeClusterType, deps.log, { namespace: deps.config.watchNamespace });
    this.controller = new Controller({
      name: CONTROLLER_NAME, log: deps.log, metrics: deps.metrics,
      concurrency: deps.concurrency ?? 4, resyncMs: deps.resyncMs,
      // A change to one cluster can settle a name conflict of another: requeue those sharing its name.
      watches: [{ informer: this.informer as unknown as Informer<KubeObject>, keysFor: (o) => this.keysSharingName(o as EdgeCluster) }],
      reconcile: (key, ctx) => this.reconcile(key, ctx),
    });
  }

  private keysSharingName(ec: EdgeCluster): string[] {
    const name = clusterNameOf(ec);
    const others = this.informer.list().filter((o) => o !== ec && clusterNameOf(o) === name).map(objectKey);
    return [objectKey(ec), ...others];
  }

  async reconcile(key: string, { log }: ReconcileContext): Promise<ReconcileResult | void> {
    const { client, metrics } = this.deps;
    const { namespace, name } = splitKey(key);
    let ec = await client.getOrNull<EdgeCluster>(EdgeClusterType, name, namespace);
    if (!ec) {
      metrics?.forgetObject("EdgeCluster", namespace ?? "", name);
      return;
    }
    if (ec.metadata.deletionTimestamp) return this.finalize(ec, log);
    if (!ec.metadata.finalizers?.includes(FINALIZER)) {
      ec = await addFinalizer(client, EdgeClusterType, ec, FINALIZER);
      crashPoint(CrashPoint.AfterFinalizer);
    }
    const generation = ec.metadata.generation;
    const status = ec.status ?? {};
    if (status.observedGeneration !== generation) {
      await this.patchStatus(ec, (s) => {
        s.conditions = setCondition(s.conditions, {
          type: T.Reconciling, status: "True", reason: Reason.Progressing,
          message: `reconciling new generation ${generation}`,
        }, generation);
      });
    }
    try {
      const result = await this.provision(ec, log);
      return result;
    } catch (err) {
      await this.recordFailure(ec, err);
      throw err;
    }
  }

  private async provision(ec: EdgeCluster, log: Logger): Promise<ReconcileResult | void> {
    const { client, config, repos, events } = this.deps;
    const generation = ec.metadata.generation;
    const clusterName = clusterNameOf(ec);
    const group = `${config.organisationPrefix}-${clusterName}`;

    // Helm keeps a release in a Secret of at most 1 MiB on the edge: refuse values that could never be installed.
    const valuesSize = Buffer.byteLength(JSON.stringify(ec.spec.values ?? {}));
    if (valuesSize > MAX_VALUES_BYTES) {
      throw new StallingError(Reason.InvalidSpec, `spec.values is ${valuesSize} bytes as JSON: at most ${MAX_VALUES_BYTES} are accepted (Helm stores a release in a 1 MiB Secret on the edge)`);
    }

    // 1. Identity, recorded before any side effect.
    let uuid = ec.status?.uuid;
    if (uuid && ec.spec.uuid && ec.spec.uuid !== uuid) {
      throw new StallingError(Reason.UUIDMismatch, `spec.uuid "${ec.spec.uuid}" differs from the UUID "${uuid}" this cluster was provisioned with: a cluster's UUID cannot change`);
    }
    if (!uuid) {
      uuid = ec.spec.uuid ?? randomUUID();
      const assigned = uuid;
      ec = await this.patchStatus(ec, (s) => {
        s.uuid = assigned;
        s.clusterName = clusterName;
      });
      await events.record(EdgeClusterType, ec, "Normal", "IdentityAssigned", `cluster "${clusterName}" has UUID ${uuid}`);
      crashPoint(CrashPoint.AfterIdentity);
    }

    // 2. Name and Sparkplug group must be unique: the older cluster keeps them.
    const rival = this.olderRival(ec, clusterName, uuid);
    if (rival) {
      const message = `cluster name "${clusterName}" (Sparkplug group "${group}") or UUID is already used by EdgeCluster "${objectKey(rival)}": choose another spec.name`;
      await this.patchStatus(ec, (s) => {
        s.conditions = setCondition(s.conditions, { type: T.Provisioned, status: "False", reason: Reason.NameConflict, message }, generation);
        s.conditions = removeCondition(s.conditions, T.Reconciling);
        s.conditions = withReady(s.conditions, generation);
        s.observedGeneration = generation;
      });
      await events.record(EdgeClusterType, ec, "Warning", Reason.NameConflict, message);
      return;
    }

    if (this.deps.acs) return this.provisionAcs(ec, log, this.deps.acs, uuid, clusterName);

    // 3. Credentials, in a central Secret named after the UUID.
    const { secret, created } = await failsAs(Reason.CredentialsFailed, "cannot create the cluster's credentials Secret",
      () => ensureCredentials(client, ec.metadata.namespace!, uuid, clusterName,
        { ...ec, apiVersion: `${EdgeClusterType.group}/${EdgeClusterType.version}`, kind: EdgeClusterType.kind }));
    if (created) {
      await events.record(EdgeClusterType, ec, "Normal", "CredentialsCreated", `created Secret "${secret.metadata.name}" with the cluster's Git and edge-sync credentials`);
      crashPoint(CrashPoint.AfterCredentials);
    }

    // 4. The cluster's Git repository, committed only when its content changes.
    const urls = urlsFor(config, uuid);
    const repoExisted = (await repos.headCommit(uuid).catch(() => null)) !== null;
    await failsAs(Reason.RepositoryFailed, "cannot create the cluster's Git repository", () => repos.ensureRepo(uuid));
    crashPoint(CrashPoint.AfterRepository);
    const chart = ec.spec.chart ?? config.defaultChart;
    const files = generateClusterRepo({
      uuid, name: clusterName, namespace: ec.spec.namespace, selfUrl: urls.git, helmChartsUrl: urls.helmCharts,
      chart: { name: chart, values: this.chartValues(chart, group, ec.spec.namespace, urls.central) },
      values: ec.spec.values, bare: ec.spec.bare,
    });
    // Sealed secrets are committed by the seal endpoint; regenerating the manifests keeps them.
    const sync = await failsAs(Reason.RepositoryFailed, "cannot commit to the cluster's Git repository", () => repos.updateFiles(uuid, (current) => {
      const next = new Map<string, string | Buffer>(files);
      for (const [path, content] of current) if (path.startsWith(`${SEALED_SECRETS_DIR}/`)) next.set(path, content);
      return next;
    }, repoExisted
      ? `Update cluster "${clusterName}" (generation ${generation})`
      : `Set up cluster "${clusterName}"`));
    if (sync.changed) {
      await events.record(EdgeClusterType, ec, "Normal", repoExisted ? "RepositoryUpdated" : "RepositoryCreated",
        `committed ${sync.commit.slice(0, 12)} to ${urls.git}`);
      crashPoint(CrashPoint.AfterCommit);
    }

    // 5–6. A bootstrap token when asked for; Provisioned, Ready derived, generation observed.
    return this.finishProvisioning(ec, log, {
      uuid, clusterName, sparkplugGroup: group, repository: urls.git, commit: sync.commit, credentialsSecret: secret.metadata.name,
      message: `repository ${urls.git} at ${sync.commit.slice(0, 12)}; credentials in Secret "${secret.metadata.name}"`,
      eventMessage: `cluster "${clusterName}" is provisioned`,
      reportTimeoutMs: config.reportTimeoutMs,
    });
  }

  /**
   * The last steps of both modes: a bootstrap token when the annotation asks for one, then Provisioned with the
   * status fields, Ready derived, the generation observed, and an Event the first time.
   */
  private async finishProvisioning(ec: EdgeCluster, log: Logger, p: {
    uuid: string; clusterName: string; sparkplugGroup: string; repository: string; commit: string; credentialsSecret: string;
    /** The Provisioned condition's message, and the start of the Event announcing it. */
    message: string; eventMessage: string;
    /** Conditions set together with Provisioned (Synced in ACS mode). */
    also?: ConditionInput[];
    /** Embedded mode: Reporting goes False after this long without a report. */
    reportTimeoutMs?: number;
  }): Promise<ReconcileResult | void> {
    const generation = ec.metadata.generation;
    const request = ec.metadata.annotations?.[BOOTSTRAP_REQUEST_ANNOTATION];
    let bootstrap = ec.status?.bootstrap;
    if (request && request !== bootstrap?.lastRequest) {
      // The script is rendered from status: give it the repository and group before the token exists.
      ec = await this.patchStatus(ec, (s) => {
        s.repository = p.repository;
        s.sparkplugGroup = p.sparkplugGroup;
      });
      bootstrap = await this.issueBootstrap(ec, request, p.uuid, p.credentialsSecret);
      log.info({ request }, "issued a bootstrap token");
    }

    const wasProvisioned = ec.status?.conditions?.some((c) => c.type === T.Provisioned && c.status === "True");
    const reconcileRequest = ec.metadata.annotations?.[RECONCILE_REQUESTED_ANNOTATION];
    ec = await this.patchStatus(ec, (s) => {
      s.uuid = p.uuid;
      s.clusterName = p.clusterName;
      s.sparkplugGroup = p.sparkplugGroup;
      s.repository = p.repository;
      s.commit = p.commit;
      s.credentialsSecret = p.credentialsSecret;
      if (bootstrap) s.bootstrap = bootstrap;
      if (reconcileRequest) s.lastHandledReconcileAt = reconcileRequest;
      s.conditions = setCondition(s.conditions, { type: T.Provisioned, status: "True", reason: Reason.Provisioned, message: p.message }, generation);
      for (const c of p.also ?? []) s.conditions = setCondition(s.conditions, c, generation);
      s.conditions = removeCondition(removeCondition(s.conditions, T.Reconciling), T.Stalled);
      if (p.reportTimeoutMs !== undefined) markSilentEdge(s, p.reportTimeoutMs, generation);
      s.conditions = withReady(s.conditions, generation);
      s.observedGeneration = generation;
    });
    if (!wasProvisioned) {
      await this.deps.events.record(EdgeClusterType, ec, "Normal", Reason.Provisioned,
        `${p.eventMessage}; get its bootstrap command with: graft bootstrap-command -n ${ec.metadata.namespace} ${ec.metadata.name}`);
      crashPoint(CrashPoint.AfterProvisioned);
    }
    this.deps.metrics?.recordConditions("EdgeCluster", ec.metadata.namespace ?? "", ec.metadata.name, ec.status?.conditions ?? []);
    if (p.reportTimeoutMs === undefined) return;
    // Come back when the edge would count as silent, so Reporting goes False without any other trigger.
    const last = ec.status?.lastReportTime ? Date.parse(ec.status.lastReportTime) : undefined;
    if (last !== undefined) return { requeueAfterMs: Math.max(1000, last + p.reportTimeoutMs - Date.now() + 1000) };
  }

  /**
   * ACS mode after identity and name checks: the ConfigDB entry (acs/entry-sync.ts, which also holds the conflict
   * rule), the Secret holding bootstrap-token hashes, the ACS setup steps (acs/cluster-setup.ts), a bootstrap token
   * when asked for, then Provisioned and Synced.
   */
  private async provisionAcs(ec: EdgeCluster, log: Logger, acs: AcsBackend, uuid: string, clusterName: string): Promise<ReconcileResult | void> {
    const { client, events } = this.deps;
    const event = (target: EdgeCluster, reason: string, message: string) => events.record(EdgeClusterType, target, "Normal", reason, message);

    const synced = await syncClusterEntry({ client, cdb: acs.cdb, log, event }, ec, uuid, clusterName);
    if (synced.kind === "held") {
      // Nothing to retry on a timer: the entry coming back (or going for good) is seen by the ConfigDB sync.
      const before = ec.status?.conditions?.find((c) => c.type === T.Synced);
      ec = await this.patchStatus(ec, (s) => {
        // The ConfigDB sync's hold on an empty list says more than "entry missing": keep it.
        const current = s.conditions?.find((c) => c.type === T.Synced);
        if (!(current?.reason === Reason.SuspiciousEmptyList && synced.reason === Reason.EntryMissing)) {
          s.conditions = setCondition(s.conditions, { type: T.Synced, status: "False", reason: synced.reason, message: synced.message }, ec.metadata.generation);
        }
        s.conditions = removeCondition(s.conditions, T.Reconciling);
      });
      const after = ec.status?.conditions?.find((c) => c.type === T.Synced);
      if (after?.reason !== before?.reason || after?.message !== before?.message) {
        await events.record(EdgeClusterType, ec, "Warning", synced.reason, synced.message);
      }
      return;
    }
    ec = synced.ec;
    const generation = ec.metadata.generation;
    const syncedCondition = { type: T.Synced, status: "True" as const, reason: Reason.Synced, message: synced.message };
    ec = await this.patchStatus(ec, (s) => {
      s.conditions = setCondition(s.conditions, syncedCondition, generation);
    });

    // Bootstrap tokens are kept hashed in the cluster's credentials Secret, as in embedded mode (its Git password
    // and edge-sync token are not used in ACS mode: the edge authenticates with Kerberos).
    const { secret } = await ensureCredentials(client, ec.metadata.namespace!, uuid, clusterName,
      { ...ec, apiVersion: `${EdgeClusterType.group}/${EdgeClusterType.version}`, kind: EdgeClusterType.kind });

    const result = await acs.setup.setup({ uuid, name: clusterName, entry: synced.entry, log, event: (reason, message) => event(ec, reason, message) });

    return this.finishProvisioning(ec, log, {
      uuid, clusterName, sparkplugGroup: result.sparkplugGroup, repository: result.repository, commit: result.commit,
      credentialsSecret: secret.metadata.name,
      message: `ACS setup ready: accounts ${result.accounts.flux} (flux) and ${result.accounts.krbkeys} (krbkeys); repository ${result.repository} at ${result.commit.slice(0, 12)}`,
      eventMessage: `cluster "${clusterName}" is provisioned in ACS`,
      also: [syncedCondition],
    });
  }

  private chartValues(chart: string, group: string, namespace: string, centralUrl: string): Record<string, unknown> {
    return {
      cluster: { name: "{{name}}", uuid: "{{uuid}}", sparkplugGroup: group, namespace },
      central: { url: centralUrl },
      mode: "embedded",
      ...(this.deps.config.chartValues[chart] ?? {}),
    };
  }

  /** The oldest other EdgeCluster with the same name or UUID, if it is older than this one. */
  private olderRival(ec: EdgeCluster, clusterName: string, uuid: string): EdgeCluster | undefined {
    const age = (o: EdgeCluster) => `${o.metadata.creationTimestamp ?? ""}|${objectKey(o)}`;
    return this.informer.list()
      .filter((o) => o.metadata.uid !== ec.metadata.uid && !o.metadata.deletionTimestamp)
      .filter((o) => clusterNameOf(o) === clusterName || (o.status?.uuid ?? o.spec.uuid) === uuid)
      .filter((o) => age(o) < age(ec))
      .sort((a, b) => (age(a) < age(b) ? -1 : 1))[0];
  }

  private async issueBootstrap(ec: EdgeCluster, request: string, uuid: string, credentialsSecret: string) {
    const { client, config, events } = this.deps;
    const ns = ec.metadata.namespace!;
    const { token, expiresAt } = await issueBootstrapToken(client, ns, credentialsSecret, config.bootstrapTokenTtlMs);
    const url = `${urlsFor(config, uuid).bootstrap}/${token}`;
    const command = `curl -fsSL '${url}' | sh -`;
    const name = bootstrapSecretName(ec);
    await client.apply(Core.secrets, {
      metadata: {
        name, namespace: ns,
        labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [CLUSTER_UUID_LABEL]: uuid },
        ownerReferences: [{ apiVersion: `${EdgeClusterType.group}/${EdgeClusterType.version}`, kind: EdgeClusterType.kind, name: ec.metadata.name, uid: ec.metadata.uid, controller: true }],
      },
      type: "Opaque",
      stringData: { command, url, expiresAt, request },
    } as KubeObject, CONTROLLER_NAME);
    await events.record(EdgeClusterType, ec, "Normal", "BootstrapTokenIssued",
      `one-time bootstrap command written to Secret "${name}" (key "command"), valid until ${expiresAt}`);
    return { lastRequest: request, commandSecret: name, tokenExpiresAt: expiresAt };
  }

  private async recordFailure(ec: EdgeCluster, err: unknown) {
    const generation = ec.metadata.generation;
    const reason = reasonOf(err);
    const message = messageOf(err);
    const stalled = err instanceof StallingError;
    try {
      await this.patchStatus(ec, (s) => {
        if (stalled) {
          s.conditions = setCondition(s.conditions, { type: T.Stalled, status: "True", reason, message }, generation);
          s.conditions = removeCondition(s.conditions, T.Reconciling);
          s.observedGeneration = generation;
        } else {
          s.conditions = setCondition(s.conditions, { type: T.Reconciling, status: "True", reason: Reason.Progressing, message: `retrying after error: ${message}` }, generation);
        }
        if (!s.conditions?.some((c) => c.type === T.Provisioned && c.status === "True")) {
          s.conditions = setCondition(s.conditions, { type: T.Provisioned, status: "False", reason, message }, generation);
        }
        s.conditions = withReady(s.conditions, generation);
      });
      await this.deps.events.record(EdgeClusterType, ec, "Warning", reason, message);
    } catch (statusErr) {
      this.deps.log.warn({ err: messageOf(statusErr) }, "could not record the failure in status");
    }
  }

  private async finalize(ec: EdgeCluster, log: Logger): Promise<void> {
    const { client, repos, events, metrics } = this.deps;
    if (!ec.metadata.finalizers?.includes(FINALIZER)) return;
    const ns = ec.metadata.namespace!;
    const uuid = ec.status?.uuid;
    // Another EdgeCluster may hold the same UUID (a rejected duplicate): never tear down what it owns.
    const sharedWith = uuid && this.informer.list().find((o) => o.metadata.uid !== ec.metadata.uid && o.status?.uuid === uuid
      && o.status?.conditions?.some((c: Condition) => c.type === T.Provisioned && c.status === "True"));
    if (uuid && !sharedWith) {
      if (this.deps.acs) {
        // ACS mode: accounts, grants, identities, entries, the ConfigDB object and the repository.
        await this.deps.acs.setup.teardown(uuid, log, (reason, message) => events.record(EdgeClusterType, ec, "Normal", reason, message));
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

  private async patchStatus(ec: EdgeCluster, mutate: (s: Status) => void): Promise<EdgeCluster> {
    const updated = await updateStatus<Status, EdgeCluster>(this.deps.client, EdgeClusterType, ec.metadata.name, ec.metadata.namespace, mutate);
    if (!updated) throw new Error(`EdgeCluster "${objectKey(ec)}" disappeared`);
    return updated;
  }
}
