// Idempotent ACS writes within the grants of ACS's Cluster Manager role (acs-contract.md §7). Where the role may read
// (most entries) a write looks first and says whether it changed anything; where it may not (Git repository
// configuration, class membership, Kerberos identities, grants) the write itself is idempotent in ACS — a PUT of
// the same value, an identical grant answered with the existing one's UUID — so a step repeated after a crash
// neither duplicates nor needs a read the role lacks.
import { isDeepStrictEqual } from "node:util";
import type { AuthClient, Grant } from "../../acs/auth.js";
import type { ConfigDbClient } from "../../acs/configdb.js";
import { AcsHttpError } from "../../acs/errors.js";
import { App } from "../../api/constants.js";

/** PUTs the entry unless it already holds exactly this value. */
export async function ensureEntry(cdb: ConfigDbClient, app: string, obj: string, value: unknown): Promise<boolean> {
  const current = await cdb.getEntry(app, obj);
  if (current && isDeepStrictEqual(current.value, value)) return false;
  await cdb.putEntry(app, obj, value);
  return true;
}

/** Deletes the entry if present. */
export function removeEntry(cdb: ConfigDbClient, app: string, obj: string): Promise<boolean> {
  return cdb.deleteEntry(app, obj);
}

/** PUTs an entry the role may write but not read; true when it was created (201). */
export async function putBlind(cdb: ConfigDbClient, app: string, obj: string, value: unknown): Promise<boolean> {
  return (await cdb.putEntry(app, obj, value)) === "created";
}

/** Adds the membership (a PUT of a membership that exists changes nothing; the role cannot read memberships). */
export async function ensureMember(cdb: ConfigDbClient, group: string, obj: string): Promise<void> {
  await cdb.addClassMember(group, obj);
}

/** Removes the membership; an object or group that no longer exists has none to remove. */
export async function removeMember(cdb: ConfigDbClient, group: string, obj: string): Promise<void> {
  await cdb.removeClassMember(group, obj).catch(ignoreStatus(404, undefined));
}

export class KerberosIdentityConflict extends Error {
  constructor(readonly principal: string, readonly krbName: string, readonly holder: string | null) {
    super(holder
      ? `Kerberos identity "${krbName}" is already mapped to ACS principal ${holder}: remove that mapping (or the orphaned account) in the Auth service`
      : `the Auth service refused to map Kerberos identity "${krbName}" to account ${principal} (409): the name is held by another principal, or the account has another name; remove the stale mapping in the Auth service`);
    this.name = "KerberosIdentityConflict";
  }
}

/**
 * Maps the account to its Kerberos name (setting the mapping it already has succeeds). A 409 means the name is held
 * by another principal or the account has another name; the role cannot read identities, so it cannot say which.
 */
export async function ensureKerberos(auth: AuthClient, principal: string, krbName: string): Promise<void> {
  try {
    await auth.setKerberos(principal, krbName);
  } catch (err) {
    if (err instanceof AcsHttpError && err.status === 409) throw new KerberosIdentityConflict(principal, krbName, null);
    throw err;
  }
}

export async function removeKerberos(auth: AuthClient, principal: string): Promise<boolean> {
  return auth.deleteKerberos(principal);
}

/** Adds the grant; the Auth service answers an identical one with its UUID, so a retry never adds a second. */
export async function ensureGrant(auth: AuthClient, grant: Grant): Promise<{ uuid: string; created: boolean }> {
  return auth.addGrant(grant);
}

/**
 * Removes the grant. The role may not search grants (no ReadACL on Git Pull), but asking for the identical grant
 * again returns the existing one's UUID, which it may delete (ManageACL for Git Pull). Returns whether one went.
 */
export async function removeGrant(auth: AuthClient, grant: Grant): Promise<boolean> {
  const { uuid } = await auth.addGrant(grant);
  return auth.deleteGrant(uuid);
}

export type ObjectRemoval = "deleted" | "gone" | "marked-deleted" | "left";

/**
 * Removes an object the way ACS's own cluster manager does: DELETE where the role may; otherwise mark it deleted in
 * its Registration; where even that is refused (ACS's role has neither right), it is left and the caller says so.
 */
export async function removeObject(cdb: ConfigDbClient, obj: string): Promise<ObjectRemoval> {
  try {
    return (await cdb.deleteObject(obj)) ? "deleted" : "gone";
  } catch (err) {
    if (!(err instanceof AcsHttpError && err.status === 403)) throw err;
  }
  try {
    await cdb.patchEntry(App.Registration, obj, { deleted: true });
    return "marked-deleted";
  } catch (err) {
    if (err instanceof AcsHttpError && err.status === 403) return "left";
    throw err;
  }
}

/** Deletes an entry the role can read but may be refused to delete (403: left, and said so by the caller). */
export async function removeEntryIfPermitted(cdb: ConfigDbClient, app: string, obj: string): Promise<"deleted" | "gone" | "left"> {
  if (!(await cdb.getEntry(app, obj))) return "gone";
  try {
    return (await cdb.deleteEntry(app, obj)) ? "deleted" : "gone";
  } catch (err) {
    if (err instanceof AcsHttpError && err.status === 403) return "left";
    throw err;
  }
}

function ignoreStatus<T>(status: number, fallback: T) {
  return (err: unknown): T => {
    if (err instanceof AcsHttpError && err.status === status) return fallback;
    throw err;
  };
}
