// What a key handler (Random, Password, PresetPassword, Disabled) is given and what it reports back.
import type { Logger } from "pino";
import type { KerberosKeySpec } from "../api/kerberoskey.js";
import type { KadminClient, PrincipalInfo } from "../kerberos/kadmin.js";
import type { SecretSlot } from "./secret-slot.js";

export interface KeyContext {
  spec: KerberosKeySpec;
  /** spec.principal then spec.additionalPrincipals, each with the realm. */
  principals: string[];
  /** Where the key is stored; absent only for Disabled keys without spec.secret. */
  slot?: SecretSlot;
  kadmin: KadminClient;
  /** Environment for kinit (KRB5_CONFIG). */
  env: Record<string, string | undefined>;
  /** A new rotate-requested annotation value asks for a new key even though the current one works. */
  rotateRequested: boolean;
  /** Called with every keytab minted, before it is stored: the operator keeps its own new keys. */
  minted(keytab: Buffer): Promise<void>;
  log: Logger;
}

export interface KeyEvent {
  reason: string;
  note: string;
}

export interface KeyOutcome {
  /** True when a key or password was set in the KDC. */
  rotated: boolean;
  /** Ready's reason and message when all went well. */
  reason: string;
  message: string;
  /** Normal events, one per change made. */
  events: KeyEvent[];
}

/** Makes sure a principal may get tickets again (a Disabled key, or an earlier spec, may have switched it off). */
export async function enableIfDisabled(c: KeyContext, info: PrincipalInfo, events: KeyEvent[]): Promise<void> {
  if (info.enabled) return;
  await c.kadmin.enable(info.principal);
  events.push({ reason: "PrincipalEnabled", note: `principal "${info.principal}" may get tickets again` });
}
