// The KerberosKey reconciler: checks the stored key against the KDC and replaces it only when it does not work (or
// a rotation is asked for), then records kvno, last rotation and conditions in status. Failures never rotate: an
// unreachable KDC leaves everything as it was and says so in Ready. Deleting a KerberosKey deletes nothing (as in
// ACS): principals and Secrets stay; only a Secret krbkeys made for a key whose spec.secret moved away is deleted. A key with spec.account also gets its ACS account set up (account/edge-account.ts)
// once its key works; such a key holds a finalizer until that account is released again.
import type { Logger } from "pino";
import { RECONCILE_REQUESTED_ANNOTATION } from "../../api/constants.js";
import {
  ACCOUNT_CREATING_ANNOTATION, ACCOUNT_FINALIZER, ACCOUNT_UUID_ANNOTATION, KerberosKeyCondition as C, KerberosKeyReason as Reason, KerberosKeyType, KeyType,
  ROTATE_REQUESTED_ANNOTATION, type AccountStatus, type KerberosKey, type KerberosKeyStatus, type PrincipalStatus,
} from "../../api/kerberoskey.js";
import { AccountCrashPoint, accountCrashPoint } from "../account/crash-points.js";
import type { AccountEvent, EdgeAccounts } from "../account/edge-account.js";
import type { KadminClient } from "../../kerberos/kadmin.js";
import { removeCondition, setCondition } from "../../runtime/conditions.js";
import { Controller, type ReconcileContext, type ReconcileResult } from "../../runtime/controller.js";
import { GenericError, StallingError, WaitingError, messageOf, reasonOf } from "../../runtime/errors.js";
import type { EventRecorder } from "../../runtime/events.js";
import { Informer, type InformerEvent } from "../../runtime/informer.js";
import { Core, objectKey, splitKey, type KubeObject } from "../../runtime/kube.js";
import type { ControllerMetrics } from "../../runtime/metrics.js";
import type { KubeClient } from "../../runtime/rest.js";
import { addFinalizer, removeFinalizer, updateStatus } from "../../runtime/status.js";
import { disablePrincipals, reconcileDisabled } from "../disabled-key.js";
import type { KeyContext, KeyOutcome } from "../key-context.js";
import { resolveKey, type ResolvedKey } from "../key-spec.js";
import type { OperatorKeytab } from "../operator-keytab.js";
import { reconcilePassword, reconcilePresetPassword } from "../password-key.js";
import { reconcileRandom } from "../random-key.js";
import { asReconcileError } from "../reconcile-errors.js";
import { retirePreviousSecret } from "../retired-secret.js";
import { SecretSlot } from "../secret-slot.js";
import { withReady } from "./summarize.js";

export const CONTROLLER_NAME = "krbkeys";
/**
 * The finalizer ACS's kopf-based krbkeys puts on KerberosKeys. graft's krbkeys takes over that operator's role and
 * adds no finalizer of its own, so it lets go of this one when the object is deleted; otherwise the object would
 * hang in deletion forever.
 */
export const KOPF_FINALIZER = "kopf.zalando.org/KopfFinalizerMarker";

export interface KerberosKeyControllerDeps {
  client: KubeClient;
  kadmin: KadminClient;
  realm: string;
  /** Environment for kinit (KRB5_CONFIG). */
  env: Record<string, string | undefined>;
  operatorKeytab?: OperatorKeytab;
  /** ACS accounts for keys with spec.account; without it (no ACS connection) spec.account is kept but not acted on. */
  accounts?: EdgeAccounts;
  events: EventRecorder;
  log: Logger;
  metrics?: ControllerMetrics;
  /** Namespace whose KerberosKeys (and Secrets) are watched; all when absent. */
  namespace?: string;
  concurrency?: number;
  resyncMs?: number;
  minRetryMs?: number;
  maxRetryMs?: number;
  /** Server-side timeout of the watches, after which they resume: the progress a liveness check sees when idle. */
  watchTimeoutSeconds?: number;
}

type Status = KerberosKeyStatus;
type Handler = (c: KeyContext) => Promise<KeyOutcome>;

const HANDLERS: Record<string, Handler> = {
  [KeyType.Random]: reconcileRandom,
  [KeyType.Password]: reconcilePassword,
  [KeyType.PresetPassword]: reconcilePresetPassword,
  [KeyType.Disabled]: reconcileDisabled,
};

interface Overlap {
  other: KerberosKey;
  reason: string;
  what: string;
}

interface Reconciled {
  resolved: ResolvedKey;
  outcome: KeyOutcome;
  principals: PrincipalStatus[];
  /** The account as set up now; null when a previous one was released; undefined when untouched. */
  account?: AccountStatus | null;
}

/** A failure and the negative-polarity condition it belongs to. */
class PhaseError extends Error {
  constructor(readonly condition: string, readonly error: unknown) {
    super("phase failed");
  }
}

/** What, besides the spec, makes a KerberosKey worth reconciling again; status-only updates are not. */
function fingerprint(kk: KerberosKey): string {
  const a = kk.metadata.annotations ?? {};
  return JSON.stringify([kk.metadata.generation, a[ROTATE_REQUESTED_ANNOTATION], a[RECONCILE_REQUESTED_ANNOTATION],
    // krbkeys' own account finalizer is not news (adding it would otherwise run every key with an account twice).
    kk.metadata.deletionTimestamp, kk.metadata.finalizers?.filter((f) => f !== ACCOUNT_FINALIZER)]);
}

/** Sets a status field, or removes it when there is no value (so an unchanged status compares equal). */
function put<K extends keyof Status>(s: Status, field: K, value: Status[K] | undefined): void {
  if (value === undefined) delete s[field];
  else s[field] = value;
}

export class KerberosKeyReconciler {
  readonly keys: Informer<KerberosKey>;
  readonly secrets: Informer<KubeObject>;
  readonly controller: Controller;
  private readonly seen = new Map<string, string>();

  constructor(private readonly deps: KerberosKeyControllerDeps) {
    const { client, log, namespace } = deps;
    const watchTimeoutSeconds = deps.watchTimeoutSeconds ?? 300;
    this.keys = new Informer<KerberosKey>(client, KerberosKeyType, log, { namespace, watchTimeoutSeconds });
    this.secrets = new Informer<KubeObject>(client, Core.secrets, log, { namespace, watchTimeoutSeconds });
    this.controller = new Controller({
      name: CONTROLLER_NAME, log, metrics: deps.metrics,
      concurrency: deps.concurrency ?? 2, resyncMs: deps.resyncMs, minRetryMs: deps.minRetryMs, maxRetryMs: deps.maxRetryMs,
      watches: [
        // KerberosKey events are filtered in onKeyEvent: a status write of our own is no reason to ask the KDC again.
        { informer: this.keys as unknown as Informer<KubeObject>, keysFor: () => [] },
        { informer: this.secrets, keysFor: (s) => this.keysUsingSecret(s) },
      ],
      reconcile: (key, ctx) => this.reconcile(key, ctx),
    });
    this.keys.on((event, kk) => this.onKeyEvent(event, kk));
  }

  private onKeyEvent(event: InformerEvent, kk: KerberosKey): void {
    const key = objectKey(kk);
    if (event === "delete") {
      this.seen.delete(key);
    } else {
      const fp = fingerprint(kk);
      if (this.seen.get(key) === fp) return;
      this.seen.set(key, fp);
    }
    this.controller.queue.add(key);
    // A key that lost a conflict may be free to proceed once another key changes or goes away.
    for (const other of this.keys.list()) {
      const stalled = other.status?.conditions?.find((c) => c.type === C.Stalled && c.status === "True");
      if (stalled?.reason === Reason.PrincipalConflict || stalled?.reason === Reason.SecretConflict) this.controller.queue.add(objectKey(other));
    }
  }

  private keysUsingSecret(secret: KubeObject): string[] {
    return this.keys.list()
      .filter((kk) => kk.metadata.namespace === secret.metadata.namespace && kk.spec?.secret?.split("/")[0] === secret.metadata.name)
      .map(objectKey);
  }

  private resolvedOrNull(kk: KerberosKey): ResolvedKey | null {
    try {
      return resolveKey(kk, this.deps.realm);
    } catch {
      return null;
    }
  }

  /** Other live KerberosKeys sharing a principal or a Secret key with this one, and what they share. */
  private overlapping(kk: KerberosKey, mine = this.resolvedOrNull(kk)): Overlap[] {
    const found: Overlap[] = [];
    if (!mine) return found;
    for (const other of this.keys.list()) {
      if (other.metadata.uid === kk.metadata.uid || other.metadata.deletionTimestamp) continue;
      const theirs = this.resolvedOrNull(other);
      if (!theirs) continue;
      const principal = mine.principals.find((p) => theirs.principals.includes(p));
      if (principal) {
        found.push({ other, reason: Reason.PrincipalConflict, what: `principal "${principal}"` });
      } else if (mine.secret && theirs.secret && kk.metadata.namespace === other.metadata.namespace
        && mine.secret.name === theirs.secret.name && mine.secret.key === theirs.secret.key) {
        found.push({ other, reason: Reason.SecretConflict, what: `Secret key "${mine.secret.name}/${mine.secret.key}"` });
      }
    }
    return found;
  }

  async reconcile(key: string, { log }: ReconcileContext): Promise<ReconcileResult | void> {
    const { client, metrics } = this.deps;
    const { namespace, name } = splitKey(key);
    const kk = await client.getOrNull<KerberosKey>(KerberosKeyType, name, namespace);
    if (!kk) {
      metrics?.forgetObject(KerberosKeyType.kind, namespace ?? "", name);
      return;
    }
    if (kk.metadata.deletionTimestamp) {
      let current = kk;
      if (current.metadata.finalizers?.includes(ACCOUNT_FINALIZER)) {
        current = await this.releaseOnDeletion(current, log);
      }
      if (current.metadata.finalizers?.includes(KOPF_FINALIZER)) {
        await removeFinalizer(client, KerberosKeyType, current, KOPF_FINALIZER);
        log.info("released the finalizer ACS's krbkeys left; principals and Secrets are kept");
      }
      return;
    }
    const generation = kk.metadata.generation;
    if (kk.status?.observedGeneration !== generation) {
      await this.patchStatus(kk, (s) => {
        s.conditions = setCondition(s.conditions, {
          type: C.Reconciling, status: "True", reason: Reason.Progressing, message: `reconciling new generation ${generation}`,
        }, generation);
        s.conditions = removeCondition(s.conditions, C.Stalled);
      });
    }
    let done: Reconciled;
    try {
      done = await this.reconcileKey(kk, log);
      done.account = await this.reconcileAccount(kk, done.resolved).catch((err) => {
        throw new PhaseError(C.AccountFailed, err);
      });
    } catch (err) {
      const [condition, cause] = err instanceof PhaseError ? [err.condition, err.error] : [C.KeyFailed, err];
      const mapped = asReconcileError(cause);
      await this.recordFailure(kk, mapped, log, condition);
      throw mapped;
    }
    await this.recordSuccess(kk, done);
  }

  /**
   * Sets up spec.account (finalizer first, so a deletion always finds what to undo), or releases the account an
   * earlier spec had. Runs after the key itself: an account is no use to a principal without a working key.
   */
  private async reconcileAccount(kk: KerberosKey, resolved: ResolvedKey): Promise<AccountStatus | null | undefined> {
    const { accounts, client, events } = this.deps;
    const account = resolved.spec.account;
    const previous = accountToRelease(kk);
    if (!accounts) return undefined;
    const principal = resolved.principals[0]!;
    if (!account) {
      // Released once: status.account goes with the status written after it; an account known only by its annotation
      // (a pass cut short before writing status) with the finalizer.
      if (!previous || (!kk.status?.account && !kk.metadata.finalizers?.includes(ACCOUNT_FINALIZER))) return undefined;
      for (const e of await accounts.release(previous, principal)) await events.record(KerberosKeyType, kk, "Normal", e.reason, e.note);
      const current = await client.get<KerberosKey>(KerberosKeyType, kk.metadata.name, kk.metadata.namespace);
      await removeFinalizer(client, KerberosKeyType, current, ACCOUNT_FINALIZER);
      return null;
    }
    // Status writes earlier in this pass moved the resourceVersion on: lock on the current one.
    const current = await client.get<KerberosKey>(KerberosKeyType, kk.metadata.name, kk.metadata.namespace);
    const held = await addFinalizer(client, KerberosKeyType, current, ACCOUNT_FINALIZER);
    if (!current.metadata.finalizers?.includes(ACCOUNT_FINALIZER)) accountCrashPoint(AccountCrashPoint.AfterFinalizer);
    const annotate = (annotations: Record<string, string | null>) =>
      client.patch(KerberosKeyType, kk.metadata.name, kk.metadata.namespace, { metadata: { annotations } });
    const record = (e: AccountEvent) => events.record(KerberosKeyType, kk, e.type ?? "Normal", e.reason, e.note);
    const outcome = await accounts.ensure(account, {
      principal,
      recordedUuid: held.metadata.annotations?.[ACCOUNT_UUID_ANNOTATION],
      creationMarkedAt: held.metadata.annotations?.[ACCOUNT_CREATING_ANNOTATION],
      previous: kk.status?.account,
      markCreation: async (at) => { await annotate({ [ACCOUNT_CREATING_ANNOTATION]: at }); },
      clearCreationMark: async () => { await annotate({ [ACCOUNT_CREATING_ANNOTATION]: null }); },
      recordUuid: async (uuid) => { await annotate({ [ACCOUNT_UUID_ANNOTATION]: uuid, [ACCOUNT_CREATING_ANNOTATION]: null }); },
      event: record,
    });
    for (const e of outcome.events) await record(e);
    return outcome.status;
  }

  /** A deleted key's account is released before the finalizer goes; a failure keeps it (and says why). */
  private async releaseOnDeletion(kk: KerberosKey, log: Logger): Promise<KerberosKey> {
    const { accounts, client, events, realm } = this.deps;
    const previous = accountToRelease(kk);
    if (previous) {
      try {
        if (!accounts) {
          throw new StallingError(Reason.AcsNotConfigured,
            `account ${previous.uuid} cannot be released: krbkeys has no ACS connection; configure one, or remove the finalizer ${ACCOUNT_FINALIZER} by hand`);
        }
        const principal = this.resolvedOrNull(kk)?.principals[0] ?? kk.spec.principal;
        for (const e of await accounts.release(previous, principal.includes("@") ? principal : `${principal}@${realm}`)) {
          await events.record(KerberosKeyType, kk, e.type ?? "Normal", e.reason, e.note);
        }
      } catch (err) {
        const mapped = asReconcileError(err);
        await this.recordFailure(kk, mapped, log, C.AccountFailed);
        throw mapped;
      }
    }
    const fresh = await client.get<KerberosKey>(KerberosKeyType, kk.metadata.name, kk.metadata.namespace);
    return removeFinalizer(client, KerberosKeyType, fresh, ACCOUNT_FINALIZER);
  }

  private async reconcileKey(kk: KerberosKey, log: Logger): Promise<Reconciled> {
    const { client, kadmin, env, operatorKeytab, events } = this.deps;
    const resolved = resolveKey(kk, this.deps.realm);
    const rival = this.olderRival(kk, resolved);
    if (rival) {
      throw new StallingError(rival.reason,
        `${rival.what} is already managed by KerberosKey "${objectKey(rival.other)}": two keys would keep replacing each ` +
        "other's key; remove it from one of them");
    }
    try {
      await operatorKeytab?.refresh();
    } catch (err) {
      throw new GenericError(Reason.OperatorKeytabUnreadable, messageOf(err));
    }
    const rotateAt = kk.metadata.annotations?.[ROTATE_REQUESTED_ANNOTATION];
    const ns = kk.metadata.namespace!;
    const ctx: KeyContext = {
      spec: resolved.spec,
      principals: resolved.principals,
      slot: resolved.secret ? new SecretSlot(client, ns, resolved.secret.name, resolved.secret.key, kk.metadata.name) : undefined,
      kadmin, env,
      rotateRequested: rotateAt !== undefined && rotateAt !== kk.status?.lastHandledRotateAt,
      minted: async (keytab) => operatorKeytab?.absorb(keytab),
      log,
    };
    const outcome = await HANDLERS[resolved.spec.type]!(ctx);
    // Only after the key works from its new Secret, and before status.secretRef moves to it (retired-secret.ts).
    const retired = await retirePreviousSecret(client, kk, resolved);
    if (retired) outcome.events.push(retired);

    // Principals dropped from the spec are disabled, never deleted, unless another key now manages them.
    const managedElsewhere = new Set(this.keys.list().filter((o) => o.metadata.uid !== kk.metadata.uid)
      .flatMap((o) => this.resolvedOrNull(o)?.principals ?? []));
    const dropped = (kk.status?.principals ?? []).map((p) => p.principal)
      .filter((p) => !resolved.principals.includes(p) && !managedElsewhere.has(p));
    outcome.events.push(...await disablePrincipals(kadmin, dropped, "it was removed from the KerberosKey's spec"));

    for (const e of outcome.events) await events.record(KerberosKeyType, kk, "Normal", e.reason, e.note);
    const principals: PrincipalStatus[] = [];
    for (const p of resolved.principals) {
      const info = await kadmin.getPrincipal(p);
      principals.push(info ? { principal: p, kvno: info.kvno, enabled: info.enabled } : { principal: p });
    }
    return { resolved, outcome, principals };
  }

  /** The oldest other KerberosKey claiming one of this key's principals or its Secret key, if older than this one. */
  private olderRival(kk: KerberosKey, mine: ResolvedKey): Overlap | undefined {
    const age = (o: KerberosKey) => `${o.metadata.creationTimestamp ?? ""}|${objectKey(o)}`;
    return this.overlapping(kk, mine)
      .filter((f) => age(f.other) < age(kk))
      .sort((a, b) => (age(a.other) < age(b.other) ? -1 : 1))[0];
  }

  private async recordSuccess(kk: KerberosKey, { resolved, outcome, principals, account }: Reconciled): Promise<void> {
    const generation = kk.metadata.generation;
    const annotations = kk.metadata.annotations ?? {};
    const updated = await this.patchStatus(kk, (s) => {
      put(s, "kvno", principals[0]?.kvno);
      s.principals = principals;
      if (outcome.rotated) s.lastRotation = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
      put(s, "secretRef", resolved.secret);
      put(s, "lastHandledRotateAt", annotations[ROTATE_REQUESTED_ANNOTATION] ?? s.lastHandledRotateAt);
      put(s, "lastHandledReconcileAt", annotations[RECONCILE_REQUESTED_ANNOTATION] ?? s.lastHandledReconcileAt);
      if (account !== undefined) put(s, "account", account ?? undefined);
      for (const type of [C.KeyFailed, C.AccountFailed, C.Stalled, C.Reconciling]) s.conditions = removeCondition(s.conditions, type);
      s.conditions = withReady(s.conditions, generation, readyMessage(resolved, outcome, account, this.deps.accounts !== undefined));
      s.observedGeneration = generation;
    });
    this.deps.metrics?.recordConditions(KerberosKeyType.kind, kk.metadata.namespace ?? "", kk.metadata.name, updated.status?.conditions ?? []);
    // A recovery without any change (the KDC is back and the key still works) is worth one event too.
    const before = kk.status?.conditions?.find((c) => c.type === C.Ready);
    if (before?.status === "False" && outcome.events.length === 0) {
      await this.deps.events.record(KerberosKeyType, kk, "Normal", outcome.reason, `recovered from ${before.reason}: ${outcome.message}`);
    }
  }

  private async recordFailure(kk: KerberosKey, err: unknown, log: Logger, failed: string = C.KeyFailed): Promise<void> {
    const generation = kk.metadata.generation;
    const reason = reasonOf(err);
    const message = messageOf(err);
    const stalled = err instanceof StallingError;
    const before = kk.status?.conditions?.find((c) => c.type === C.Ready);
    try {
      const updated = await this.patchStatus(kk, (s) => {
        if (stalled) {
          s.conditions = setCondition(s.conditions, { type: C.Stalled, status: "True", reason, message }, generation);
          for (const type of [C.Reconciling, C.KeyFailed, C.AccountFailed]) s.conditions = removeCondition(s.conditions, type);
          s.observedGeneration = generation;
        } else {
          for (const type of [C.KeyFailed, C.AccountFailed]) if (type !== failed) s.conditions = removeCondition(s.conditions, type);
          s.conditions = setCondition(s.conditions, { type: failed, status: "True", reason, message }, generation);
          s.conditions = setCondition(s.conditions, {
            type: C.Reconciling, status: "True", reason: Reason.Progressing, message: `retrying after error: ${message}`,
          }, generation);
          s.conditions = removeCondition(s.conditions, C.Stalled);
        }
        s.conditions = withReady(s.conditions, generation);
      });
      this.deps.metrics?.recordConditions(KerberosKeyType.kind, kk.metadata.namespace ?? "", kk.metadata.name, updated.status?.conditions ?? []);
      // One event when the story changes, not one per retry.
      if (before?.reason !== reason || before?.message !== message) {
        await this.deps.events.record(KerberosKeyType, kk, err instanceof WaitingError ? "Normal" : "Warning", reason, message);
      }
    } catch (statusErr) {
      log.warn({ err: messageOf(statusErr) }, "could not record the failure in status");
    }
  }

  private async patchStatus(kk: KerberosKey, mutate: (s: Status) => void): Promise<KerberosKey> {
    const updated = await updateStatus<Status, KerberosKey>(this.deps.client, KerberosKeyType, kk.metadata.name, kk.metadata.namespace, mutate);
    if (!updated) throw new Error(`KerberosKey "${objectKey(kk)}" disappeared`);
    return updated;
  }
}

/**
 * The account a release undoes: what the last successful pass set up (status.account) or, when a pass was cut short
 * before writing status, the recorded UUID (annotation, or a centrally made spec.account.uuid) with what the spec
 * asks for (groups, Sparkplug address), each of whose removals tolerates finding nothing.
 */
function accountToRelease(kk: KerberosKey): AccountStatus | undefined {
  if (kk.status?.account) return kk.status.account;
  const spec = kk.spec.account;
  const uuid = kk.metadata.annotations?.[ACCOUNT_UUID_ANNOTATION] ?? (spec?.class === undefined ? spec?.uuid : undefined);
  if (!uuid) return undefined;
  const release: AccountStatus = { uuid };
  const groups = [...new Set(spec?.groups ?? [])];
  if (groups.length > 0) release.groups = groups;
  if (spec?.sparkplug) release.sparkplug = { group_id: spec.sparkplug.group ?? "", node_id: spec.sparkplug.node };
  return release;
}

/** Ready's reason and message on success: the key handler's, and what became of spec.account. */
function readyMessage(resolved: ResolvedKey, outcome: KeyOutcome, account: AccountStatus | null | undefined, acs: boolean) {
  if (account) return { reason: outcome.reason, message: `${outcome.message}; account ${account.uuid} is set up` };
  if (resolved.spec.account && !acs) {
    return { reason: outcome.reason, message: `${outcome.message}; spec.account is not acted on: krbkeys has no ACS connection (--directory-url)` };
  }
  return { reason: outcome.reason, message: outcome.message };
}
