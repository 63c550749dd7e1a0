// A KerberosKey's ACS account (spec.account, acs-contract.md §12): found by the principal's Kerberos identity or
// created in its class, named, put in its groups, given its Sparkplug address and mapped to the principal — in that
// order, each step idempotent, so a pass cut short anywhere is finished by the next. Released in reverse when the key
// goes (or its spec.account does): identity, registration, groups and Sparkplug address; the object itself is never
// deleted (ACS's edge krbkeys role may not, and other records may name it). Works within exactly the grants ACS gives
// its edge krbkeys role (§7): ReadKerberos/ManageKerberos, CreateObject on EdgeService, WriteMemberships on what it
// owns, WriteMembers on the edge groups, Read/WriteConfig on General information and Sparkplug address.
//
// Creation is the one step that is not naturally idempotent: the role may only CreateObject (the ConfigDB chooses the
// UUID) and may find an account only by its Kerberos identity (it may not list a class's members nor read
// Registration). So the key is marked "creating" before the POST, and the moment the answer arrives the UUID is
// recorded in two places at once — the key's annotation and the account's Kerberos identity in Auth — either of
// which the next pass finds. The window that remains is between the ConfigDB committing the object and the first of
// those two landing: a crash there leaves an unnamed, ungrouped, unmapped object that krbkeys cannot find with its
// grants; the next pass sees the mark, says so (Warning AccountMayBeOrphaned, with the time) and creates another.
import { App } from "../../api/constants.js";
import { KerberosKeyReason as Reason, type AccountStatus, type KerberosKeySpec } from "../../api/kerberoskey.js";
import type { AuthClient } from "../../acs/auth.js";
import type { ConfigDbClient } from "../../acs/configdb.js";
import { AcsHttpError, acsFailure } from "../../acs/errors.js";
import { requiredPermission } from "../../acs/permissions.js";
import { StallingError, WaitingError } from "../../runtime/errors.js";
import type { Logger } from "../../runtime/logger.js";
import { AccountCrashPoint, accountCrashPoint } from "./crash-points.js";

export type AccountSpec = NonNullable<KerberosKeySpec["account"]>;

export interface AccountEvent {
  type?: "Normal" | "Warning";
  reason: string;
  note: string;
}

export interface EdgeAccountsOptions {
  configdb: ConfigDbClient;
  auth: AuthClient;
  /** The edge cluster's UUID: its Sparkplug address gives the group of accounts whose spec names none. */
  clusterUuid?: string;
  log: Logger;
}

/** What a pass needs to know about the key besides its spec.account. */
export interface AccountTarget {
  /** spec.principal with the realm. */
  principal: string;
  /** The account UUID recorded earlier (annotation), if any. */
  recordedUuid?: string;
  /** When an earlier pass marked the key as creating an account and recorded no UUID after it (annotation). */
  creationMarkedAt?: string;
  /** What the last successful pass set up (status.account). */
  previous?: AccountStatus;
  /** Marks the key as about to ask the ConfigDB for an account (before the POST). */
  markCreation(at: string): Promise<void>;
  /** Clears that mark: the ConfigDB answered that it made nothing. */
  clearCreationMark(): Promise<void>;
  /** Records the UUID on the key and clears the creation mark (the annotations). */
  recordUuid(uuid: string): Promise<void>;
  /** An event to record at once, whatever becomes of the rest of the pass. */
  event(e: AccountEvent): Promise<void>;
}

export interface AccountOutcome {
  status: AccountStatus;
  events: AccountEvent[];
}

/** Statuses a step may meet without failing: the role may not act there, or there is nothing left to undo. */
const TOLERATED_REGISTRATION = [403, 404];

export class EdgeAccounts {
  constructor(private readonly o: EdgeAccountsOptions) {}

  async ensure(account: AccountSpec, target: AccountTarget): Promise<AccountOutcome> {
    if (account.aces && account.aces.length > 0) {
      throw new StallingError(Reason.Unsupported, "spec.account.aces is not supported by graft's krbkeys (ACS's edge krbkeys role may not grant them either): grant the permissions centrally and remove the field");
    }
    const events: AccountEvent[] = [];
    const uuid = await this.findOrCreate(account, target, events);
    await this.step("marking the account as not deleted", () => this.setRegistration(uuid, false));
    accountCrashPoint(AccountCrashPoint.AfterRegistration);
    if (account.name !== undefined) {
      await this.step(`naming account ${uuid}`, () => this.o.configdb.patchEntry(App.GeneralInfo, uuid, { name: account.name }));
      accountCrashPoint(AccountCrashPoint.AfterName);
    }
    let sparkplug: AccountStatus["sparkplug"];
    if (account.sparkplug) {
      sparkplug = { group_id: account.sparkplug.group ?? await this.clusterGroup(), node_id: account.sparkplug.node };
      const address = sparkplug;
      await this.step(`writing the Sparkplug address of account ${uuid}`, () => this.o.configdb.putEntry(App.SparkplugAddress, uuid, address));
      accountCrashPoint(AccountCrashPoint.AfterSparkplug);
    } else if (target.previous?.sparkplug) {
      await this.step(`removing the Sparkplug address of account ${uuid}`, () => this.o.configdb.deleteEntry(App.SparkplugAddress, uuid));
    }
    const groups = [...new Set(account.groups ?? [])];
    for (const group of groups) {
      await this.step(`adding account ${uuid} to group ${group}`, () => this.o.configdb.addClassMember(group, uuid));
    }
    for (const group of (target.previous?.groups ?? []).filter((g) => !groups.includes(g))) {
      await this.step(`removing account ${uuid} from group ${group}`, () => this.removeMember(group, uuid));
      events.push({ reason: "AccountGroupLeft", note: `account ${uuid} left group ${group} (no longer in spec.account.groups)` });
    }
    accountCrashPoint(AccountCrashPoint.AfterGroups);
    await this.mapPrincipal(uuid, target.principal, events);
    accountCrashPoint(AccountCrashPoint.AfterMapped);
    const status: AccountStatus = { uuid };
    if (groups.length > 0) status.groups = groups;
    if (sparkplug) status.sparkplug = sparkplug;
    return { status, events };
  }

  /** Undoes what ensure() set up for the account (status.account), except the object itself. */
  async release(previous: AccountStatus, principal: string): Promise<AccountEvent[]> {
    const { uuid } = previous;
    const mapped = await this.step(`reading the Kerberos identity of account ${uuid}`, () => this.o.auth.getKerberos(uuid));
    if (mapped === principal) {
      await this.step(`removing the Kerberos identity of account ${uuid}`, () => this.o.auth.deleteKerberos(uuid));
      accountCrashPoint(AccountCrashPoint.ReleaseAfterIdentity);
    }
    await this.step(`marking account ${uuid} as deleted`, () => this.setRegistration(uuid, true));
    for (const group of previous.groups ?? []) {
      await this.step(`removing account ${uuid} from group ${group}`, () => this.removeMember(group, uuid));
    }
    accountCrashPoint(AccountCrashPoint.ReleaseAfterGroups);
    if (previous.sparkplug) {
      await this.step(`removing the Sparkplug address of account ${uuid}`, () => this.o.configdb.deleteEntry(App.SparkplugAddress, uuid));
    }
    return [{ reason: "AccountReleased", note: `account ${uuid} no longer maps "${principal}" and left its groups; the object itself is kept` }];
  }

  private async findOrCreate(account: AccountSpec, target: AccountTarget, events: AccountEvent[]): Promise<string> {
    if (account.uuid !== undefined && account.class === undefined) return account.uuid;
    if (target.recordedUuid) return target.recordedUuid;
    const known = await this.step(`looking up the account of "${target.principal}"`, () => this.o.auth.findPrincipalByKerberos(target.principal));
    if (known) {
      await target.recordUuid(known);
      return known;
    }
    const klass = account.class!;
    if (target.creationMarkedAt !== undefined) {
      await target.event({
        type: "Warning", reason: "AccountMayBeOrphaned",
        note: `a pass that asked the ConfigDB for an account at ${target.creationMarkedAt} stopped before recording its UUID; ` +
          `if the ConfigDB made it, an unnamed account of class ${klass} owned by krbkeys, with no groups or Kerberos identity, ` +
          "is left over (krbkeys' grants find accounts only by Kerberos identity): creating the account again",
      });
    } else {
      await target.markCreation(new Date().toISOString());
      accountCrashPoint(AccountCrashPoint.AfterCreationMarked);
    }
    const created = await this.step(`creating an account of class ${klass}`, async () => {
      try {
        return await this.o.configdb.createObject(klass, account.uuid);
      } catch (err) {
        // A 4xx is the ConfigDB saying it made nothing; after a 5xx or a lost answer the mark stays.
        if (err instanceof AcsHttpError && err.status < 500) await target.clearCreationMark();
        throw err;
      }
    }, requiredPermission("configdb", "POST", "v2/object", { class: klass, uuid: account.uuid }));
    accountCrashPoint(AccountCrashPoint.AfterCreated);
    await this.recordCreated(created.uuid, target, events);
    accountCrashPoint(AccountCrashPoint.AfterRecorded);
    events.push({ reason: "AccountCreated", note: `account ${created.uuid} (class ${klass}) created for "${target.principal}"` });
    return created.uuid;
  }

  /**
   * Records a new account's UUID in both places the next pass looks, side by side: the key's annotation and the
   * account's Kerberos identity. One of them landing is enough; the pass fails (and is retried) if the annotation did
   * not, and a refused identity is left to mapPrincipal, which says why.
   */
  private async recordCreated(uuid: string, target: AccountTarget, events: AccountEvent[]): Promise<void> {
    const [mapped, recorded] = await Promise.allSettled([
      this.o.auth.setKerberos(uuid, target.principal),
      target.recordUuid(uuid),
    ]);
    if (mapped.status === "fulfilled") {
      events.push({ reason: "AccountMapped", note: `"${target.principal}" now acts as account ${uuid}` });
    } else {
      this.o.log.warn({ uuid, err: String(mapped.reason) }, "mapping the principal to the new account failed; retried after the other steps");
    }
    if (recorded.status === "rejected") {
      const found = mapped.status === "fulfilled" ? "; it is found by its Kerberos identity next time" : "";
      throw new Error(`recording the UUID of the new account ${uuid} on the key failed${found}: ${String(recorded.reason)}`);
    }
  }

  private async mapPrincipal(uuid: string, principal: string, events: AccountEvent[]): Promise<void> {
    const current = await this.step(`reading the Kerberos identity of account ${uuid}`, () => this.o.auth.getKerberos(uuid));
    if (current === principal) return;
    if (current !== null) {
      throw new StallingError(Reason.AccountConflict, `account ${uuid} is already mapped to "${current}", not "${principal}": change spec.account or the account's identity centrally`);
    }
    try {
      await this.o.auth.setKerberos(uuid, principal);
    } catch (err) {
      if (err instanceof AcsHttpError && err.status === 409) {
        throw new StallingError(Reason.AccountConflict, `"${principal}" is mapped to another account than ${uuid}: remove that mapping centrally or record its UUID in spec.account.uuid`);
      }
      throw acsFailure(err, `mapping "${principal}" to account ${uuid}`);
    }
    events.push({ reason: "AccountMapped", note: `"${principal}" now acts as account ${uuid}` });
  }

  /** The Sparkplug group of the cluster this krbkeys serves (its Sparkplug address entry). */
  private async clusterGroup(): Promise<string> {
    const cluster = this.o.clusterUuid;
    if (!cluster) {
      throw new StallingError(Reason.InvalidSpec, "spec.account.sparkplug has no group and krbkeys knows no cluster UUID (--cluster-uuid) to take it from: set spec.account.sparkplug.group");
    }
    const entry = await this.step(`reading the Sparkplug address of cluster ${cluster}`,
      () => this.o.configdb.getEntry<{ group_id?: unknown }>(App.SparkplugAddress, cluster));
    const group = entry?.value?.group_id;
    if (typeof group !== "string" || group === "") {
      throw new WaitingError(Reason.SparkplugGroupUnknown, `cluster ${cluster} has no Sparkplug group_id in the ConfigDB yet (the cluster manager writes it); waiting`, 30_000);
    }
    return group;
  }

  private async setRegistration(uuid: string, deleted: boolean): Promise<void> {
    try {
      await this.o.configdb.patchEntry(App.Registration, uuid, { deleted });
    } catch (err) {
      // ACS's edge krbkeys role holds no WriteConfig on Registration: ACS's own krbkeys is refused here too and goes on.
      if (err instanceof AcsHttpError && TOLERATED_REGISTRATION.includes(err.status)) {
        this.o.log.debug({ uuid, status: err.status }, "registration not changed");
        return;
      }
      throw err;
    }
  }

  private async removeMember(group: string, uuid: string): Promise<void> {
    try {
      await this.o.configdb.removeClassMember(group, uuid);
    } catch (err) {
      if (err instanceof AcsHttpError && err.status === 404) return;
      throw err;
    }
  }

  /** Runs one ACS request; a failure becomes the controller's error class, saying what was being done. */
  private async step<T>(what: string, fn: () => Promise<T>, needs?: string): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw acsFailure(err, what, needs);
    }
  }
}
