// Closing the one crash window of account creation. ACS's Cluster Manager role may only CreateObject (the ConfigDB
// chooses the UUID), so a crash after the ConfigDB made an account but before graft recorded its UUID leaves an
// object graft does not know about. After such a crash (the setup status still marks the creation in flight) graft
// looks for it before creating another: an account of class EdgeService that graft owns, that has no General
// information name (graft names an account right after recording it) and that no cluster's setup status mentions.
// Such an account is unused by anyone — a crash's leftover, or one a teardown had to leave — and is adopted.
// Looking needs two read rights ACS's role lacks (ReadMembers on the account class, ReadConfig on 'Registration',
// config/acs/cluster-manager-adopt.yaml); without them graft says so and creates a new account as before.
// An adoption waits until no creation of this process is in flight (and holds new ones back), so an account still
// being created is never taken; creations run side by side.
import type { AuthClient } from "../../acs/auth.js";
import type { ConfigDbClient } from "../../acs/configdb.js";
import { AcsHttpError } from "../../acs/errors.js";
import { App, Class } from "../../api/constants.js";

export const ADOPTION_DUMP = "config/acs/cluster-manager-adopt.yaml";

export type OrphanSearch =
  | { kind: "found"; uuid: string }
  | { kind: "none" }
  /** The role may not look; `missing` names the permission. */
  | { kind: "cannot-look"; missing: string };

const UUID_IN_TEXT = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

export class AccountAdoption {
  private me?: string;
  /** Creations in flight, and those waiting for them to finish. */
  private creating = 0;
  private creationsDone: Array<() => void> = [];
  /** Adoptions running or queued, and creations waiting for them to finish. */
  private adoptions = 0;
  private adoptionsDone: Array<() => void> = [];
  private adoptionQueue: Promise<unknown> = Promise.resolve();

  constructor(private readonly cdb: ConfigDbClient, private readonly auth: AuthClient) {}

  /** Runs an account creation (the POST and the recording of its answer); creations may overlap. */
  async creation<T>(fn: () => Promise<T>): Promise<T> {
    while (this.adoptions > 0) await new Promise<void>((resolve) => this.adoptionsDone.push(resolve));
    this.creating++;
    try {
      return await fn();
    } finally {
      if (--this.creating === 0) for (const wake of this.creationsDone.splice(0)) wake();
    }
  }

  /** Runs fn (which may call findOrphan and record what it adopts) with no creation in flight and one adoption at a time. */
  adoption<T>(fn: () => Promise<T>): Promise<T> {
    this.adoptions++;
    const run = this.adoptionQueue.catch(() => undefined).then(async () => {
      while (this.creating > 0) await new Promise<void>((resolve) => this.creationsDone.push(resolve));
      return fn();
    }).finally(() => {
      if (--this.adoptions === 0) for (const wake of this.adoptionsDone.splice(0)) wake();
    });
    this.adoptionQueue = run;
    return run;
  }

  /** An account a crash (or a teardown) left behind, unused by any cluster; call inside adoption(). */
  async findOrphan(): Promise<OrphanSearch> {
    let members: string[];
    try {
      members = await this.cdb.listClassMembers(Class.EdgeAccount);
    } catch (err) {
      if (refused(err)) return { kind: "cannot-look", missing: `ReadMembers on class EdgeService (${Class.EdgeAccount})` };
      throw err;
    }
    const recorded = await this.recordedUuids();
    for (const uuid of members.filter((m) => !recorded.has(m)).sort()) {
      if (await this.cdb.getEntry(App.GeneralInfo, uuid)) continue;
      let registration: { owner?: unknown; deleted?: unknown } | undefined;
      try {
        registration = (await this.cdb.getEntry<{ owner?: unknown; deleted?: unknown }>(App.Registration, uuid))?.value;
      } catch (err) {
        if (refused(err)) return { kind: "cannot-look", missing: `ReadConfig on 'Registration' (${App.Registration})` };
        throw err;
      }
      if (registration?.owner === (await this.self()) && registration.deleted !== true) return { kind: "found", uuid };
    }
    return { kind: "none" };
  }

  /** Every UUID any cluster's setup status mentions (its accounts, and those a teardown in progress lists as left). */
  private async recordedUuids(): Promise<Set<string>> {
    const found = new Set<string>();
    for (const cluster of await this.cdb.listObjects(App.EdgeClusterSetupStatus)) {
      const entry = await this.cdb.getEntry(App.EdgeClusterSetupStatus, cluster);
      for (const uuid of JSON.stringify(entry?.value ?? null).match(UUID_IN_TEXT) ?? []) found.add(uuid);
    }
    return found;
  }

  private async self(): Promise<string> {
    this.me ??= (await this.auth.whoami()).uuid;
    return this.me;
  }
}

function refused(err: unknown): boolean {
  return err instanceof AcsHttpError && err.status === 403;
}
