// Types Password and PresetPassword. Password: the operator generates a random password, sets it in the KDC and
// stores it in the Secret; a new one only when the stored one does not get a ticket (or a rotation is asked for).
// PresetPassword: a person stores the password; the operator sets it in the KDC when it does not get a ticket.
import { generatePassword } from "../kerberos/password.js";
import { KerberosKeyReason as Reason } from "../api/kerberoskey.js";
import type { PrincipalInfo } from "../kerberos/kadmin.js";
import { verifyPassword } from "../kerberos/verify.js";
import { WaitingError } from "../runtime/errors.js";
import { enableIfDisabled, type KeyContext, type KeyEvent, type KeyOutcome } from "./key-context.js";

/** How long a PresetPassword key waits before looking for its Secret again (a Secret change also wakes it). */
export const PRESET_RETRY_MS = 30_000;

/** A stored password as text; a trailing line break (from `kubectl create secret --from-file`) is not part of it. */
function passwordOf(value: Buffer | undefined): string | undefined {
  const text = value?.toString("utf8").replace(/\r?\n$/, "");
  return text ? text : undefined;
}

async function passwordProblem(c: KeyContext, info: PrincipalInfo | null, password: string | undefined): Promise<string | undefined> {
  const slot = c.slot!;
  if (!info) return `no principal "${c.principals[0]}" in the KDC`;
  if (!password) return `${slot.description} holds no password`;
  const check = await verifyPassword(info.principal, password, c.env);
  return check.valid ? undefined : `the password in ${slot.description} was refused for "${info.principal}": ${check.reason}`;
}

async function setPassword(c: KeyContext, info: PrincipalInfo | null, password: string, events: KeyEvent[]): Promise<void> {
  const principal = c.principals[0]!;
  if (info) {
    await c.kadmin.changePassword(principal, password);
  } else {
    await c.kadmin.addPrincipalWithPassword(principal, password);
    events.push({ reason: "PrincipalCreated", note: `created principal "${principal}"` });
  }
}

export async function reconcilePassword(c: KeyContext): Promise<KeyOutcome> {
  const slot = c.slot!;
  const { secret, value } = await slot.read();
  slot.assertOwned(secret);
  const events: KeyEvent[] = [];
  const info = await c.kadmin.getPrincipal(c.principals[0]!);
  if (info) await enableIfDisabled(c, info, events);

  const why = c.rotateRequested && info ? "rotation requested" : await passwordProblem(c, info, passwordOf(value));
  if (!why) return { rotated: false, reason: Reason.KeyVerified, message: `the password in ${slot.description} is valid`, events };

  await slot.assertWritable(secret);
  const password = generatePassword();
  await setPassword(c, info, password, events);
  await slot.write(Buffer.from(password, "utf8"), secret);
  c.log.info({ principal: c.principals[0], why }, "set a new password");
  events.push({ reason: Reason.KeyRotated, note: `new password for "${c.principals[0]}" written to ${slot.description}: ${why}` });
  return { rotated: true, reason: Reason.KeyRotated, message: `a new password was written to ${slot.description} (${why})`, events };
}

export async function reconcilePresetPassword(c: KeyContext): Promise<KeyOutcome> {
  const slot = c.slot!;
  const { value } = await slot.read();
  const password = passwordOf(value);
  if (!password) {
    throw new WaitingError(Reason.PresetPasswordMissing,
      `waiting for the password in ${slot.description}: store it there (kubectl create secret generic ${slot.name} --from-literal=${slot.key}=…)`,
      PRESET_RETRY_MS);
  }
  const events: KeyEvent[] = [];
  const info = await c.kadmin.getPrincipal(c.principals[0]!);
  if (info) await enableIfDisabled(c, info, events);

  const why = await passwordProblem(c, info, password);
  if (!why) return { rotated: false, reason: Reason.KeyVerified, message: `the password in ${slot.description} is valid`, events };

  await setPassword(c, info, password, events);
  c.log.info({ principal: c.principals[0], why }, "set the preset password");
  events.push({ reason: Reason.PasswordSet, note: `set the password of "${c.principals[0]}" from ${slot.description}: ${why}` });
  return { rotated: true, reason: Reason.PasswordSet, message: `the password from ${slot.description} was set in the KDC (${why})`, events };
}
