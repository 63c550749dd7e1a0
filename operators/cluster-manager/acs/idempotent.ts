// Idempotent ACS writes: each looks first and writes only what is missing, and says whether it changed anything, so
// a step repeated after a crash neither duplicates nor rewrites (and crash points fire only where work was done).
import { isDeepStrictEqual } from "node:util";
import type { AuthClient, Grant } from "../../acs/auth.js";
import type { ConfigDbClient } from "../../acs/configdb.js";
import { AcsHttpError } from "../../acs/errors.js";

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

export async function ensureMember(cdb: ConfigDbClient, group: string, obj: string): Promise<boolean> {
  if (await cdb.isClassMember(group, obj)) return false;
  await cdb.addClassMember(group, obj);
  return true;
}

/** Removes the membership; an object or group that no longer exists has none to remove. */
export async function removeMember(cdb: ConfigDbClient, group: string, obj: string): Promise<boolean> {
  if (!(await cdb.isClassMember(group, obj).catch(ignoreStatus(404, false)))) return false;
  await cdb.removeClassMember(group, obj).catch(ignoreStatus(404, undefined));
  return true;
}

export class KerberosIdentityConflict extends Error {
  constructor(readonly principal: string, readonly krbName: string, readonly holder: string | null) {
    super(holder
      ? `Kerberos identity "${krbName}" is already mapped to ACS principal ${holder}: remove that mapping (or the orphaned account) in the Auth service`
      : `ACS principal ${principal} already has another Kerberos identity; cannot map "${krbName}"`);
    this.name = "KerberosIdentityConflict";
  }
}

/** Maps the account to its Kerberos name unless it already is. A name held by another principal is an error. */
export async function ensureKerberos(auth: AuthClient, principal: string, krbName: string): Promise<boolean> {
  const current = await auth.getKerberos(principal);
  if (current === krbName) return false;
  const holder = await auth.findPrincipalByKerberos(krbName);
  if (current !== null || (holder !== null && holder !== principal)) throw new KerberosIdentityConflict(principal, krbName, holder);
  await auth.setKerberos(principal, krbName);
  return true;
}

export async function removeKerberos(auth: AuthClient, principal: string): Promise<boolean> {
  return auth.deleteKerberos(principal);
}

/** Adds the grant unless an identical one exists (found first, so a retry never adds a second). */
export async function ensureGrant(auth: AuthClient, grant: Grant): Promise<boolean> {
  const found = await auth.findGrants(grant);
  if (found.length > 0) return false;
  return (await auth.addGrant(grant)).created;
}

/** Deletes every grant held by the principal; returns how many went. */
export async function removeGrantsOf(auth: AuthClient, principal: string): Promise<number> {
  let removed = 0;
  for (const uuid of await auth.findGrants({ principal })) if (await auth.deleteGrant(uuid)) removed++;
  return removed;
}

/** Deletes the object's registration; false if it was already gone. */
export async function removeObject(cdb: ConfigDbClient, obj: string): Promise<boolean> {
  return cdb.deleteObject(obj);
}

function ignoreStatus<T>(status: number, fallback: T) {
  return (err: unknown): T => {
    if (err instanceof AcsHttpError && err.status === status) return fallback;
    throw err;
  };
}
