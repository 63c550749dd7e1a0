// Type Random: the principals have random keys and the Secret holds a keytab for all of them. A new key is minted
// only when the stored keytab does not get a ticket from the KDC, a principal is missing, or a rotation is asked
// for; an unreachable KDC is never taken for a bad keytab (verifyKeytab throws KdcUnreachableError instead).
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { KerberosKeyReason as Reason } from "../api/kerberoskey.js";
import { withPrivateDir, writeKeytabFile } from "../kerberos/keytab.js";
import { verifyKeytab } from "../kerberos/verify.js";
import { enableIfDisabled, type KeyContext, type KeyEvent, type KeyOutcome } from "./key-context.js";
import { joinKeytab, keepNewestVersions, splitKeytab } from "./keytab-bytes.js";

/** Key versions a keepOldKeys keytab holds per principal: the new one and the one before, for tickets still in use. */
export const KEPT_KEY_VERSIONS = 2;

function isKeytab(bytes: Buffer): boolean {
  try {
    splitKeytab(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Why the stored keytab needs replacing, or undefined when it gets a ticket for every principal. */
async function keytabProblem(c: KeyContext, keytab: Buffer | undefined): Promise<string | undefined> {
  const slot = c.slot!;
  if (!keytab) return `${slot.description} holds no keytab`;
  if (!isKeytab(keytab)) return `${slot.description} does not hold a keytab`;
  return withPrivateDir(async (dir) => {
    const path = await writeKeytabFile(dir, keytab);
    for (const p of c.principals) {
      const check = await verifyKeytab(path, p, c.env);
      if (!check.valid) return `the keytab in ${slot.description} was refused for "${p}": ${check.reason}`;
    }
    return undefined;
  });
}

export async function reconcileRandom(c: KeyContext): Promise<KeyOutcome> {
  const slot = c.slot!;
  const { secret, value } = await slot.read();
  slot.assertOwned(secret);
  const events: KeyEvent[] = [];

  const missing: string[] = [];
  for (const p of c.principals) {
    const info = await c.kadmin.getPrincipal(p);
    if (info) await enableIfDisabled(c, info, events);
    else missing.push(p);
  }

  const why = missing.length > 0 ? `no principal ${missing.map((p) => `"${p}"`).join(", ")} in the KDC`
    : c.rotateRequested ? "rotation requested"
      : await keytabProblem(c, value);
  if (!why) {
    return { rotated: false, reason: Reason.KeyVerified, message: `the keytab in ${slot.description} is valid`, events };
  }

  await slot.assertWritable(secret);
  for (const p of missing) {
    await c.kadmin.addPrincipalRandkey(p);
    events.push({ reason: "PrincipalCreated", note: `created principal "${p}" with a random key` });
  }
  const keepOld = c.spec.keepOldKeys === true && value !== undefined && isKeytab(value);
  const minted = await withPrivateDir(async (dir) => {
    const path = join(dir, "keytab");
    // kadmin's ktadd appends to an existing keytab, which is how the previous keys are kept.
    if (keepOld) await writeKeytabFile(dir, joinKeytab(splitKeytab(value!).filter((e) => c.principals.includes(e.entry.principal))));
    for (const p of c.principals) {
      await c.kadmin.ktadd(p, path);
      // Handed over at once: when p is the operator itself, the next kadmin call already needs the new key.
      await c.minted(await readFile(path));
    }
    return readFile(path);
  });
  const keytab = keepOld ? keepNewestVersions(minted, KEPT_KEY_VERSIONS) : minted;
  await slot.write(keytab, secret);
  c.log.info({ principals: c.principals, why }, "rotated keys");
  events.push({ reason: Reason.KeyRotated, note: `new keys for ${c.principals.map((p) => `"${p}"`).join(", ")} written to ${slot.description}: ${why}` });
  return { rotated: true, reason: Reason.KeyRotated, message: `a new keytab was written to ${slot.description} (${why})`, events };
}
