// Type Disabled: the principals may not get tickets. They are never deleted (their keys and kvno stay, so turning
// the key back on later does not break what still holds the old keytab), and the Secret is left alone.
import { KerberosKeyReason as Reason } from "../api/kerberoskey.js";
import type { KadminClient } from "../kerberos/kadmin.js";
import type { KeyContext, KeyEvent, KeyOutcome } from "./key-context.js";

/** Disables each existing principal that is still enabled; returns an event per change. */
export async function disablePrincipals(kadmin: KadminClient, principals: string[], why: string): Promise<KeyEvent[]> {
  const events: KeyEvent[] = [];
  for (const p of principals) {
    const info = await kadmin.getPrincipal(p);
    if (!info || !info.enabled) continue;
    await kadmin.disable(p);
    events.push({ reason: Reason.PrincipalDisabled, note: `principal "${p}" may no longer get tickets: ${why} (it is not deleted)` });
  }
  return events;
}

export async function reconcileDisabled(c: KeyContext): Promise<KeyOutcome> {
  const events = await disablePrincipals(c.kadmin, c.principals, "the key is of type Disabled");
  const names = c.principals.map((p) => `"${p}"`).join(", ");
  return { rotated: false, reason: Reason.PrincipalDisabled, message: `${names} may not get tickets`, events };
}
