// Checks a credential by asking the KDC for a ticket with it (kinit into a private in-memory ccache that vanishes
// when kinit exits). A wrong credential and an unreachable KDC are different answers: only the first may lead a
// caller to rotate.
import { randomBytes } from "node:crypto";
import { BAD_CREDENTIAL_RE, causeLine, UNREACHABLE_RE } from "./classify.js";
import { KdcUnreachableError, KerberosError } from "./errors.js";
import { qualifyPrincipal, realmOf } from "./principal.js";
import { runTool, type ToolResult } from "./run-tool.js";

export type CredentialCheck = { valid: true } | { valid: false; reason: string };

export interface VerifyOptions {
  timeoutMs?: number;
}

function checkedPrincipal(principal: string): string {
  const realm = realmOf(principal);
  if (!realm) throw new Error(`principal "${principal}" must include its realm`);
  return qualifyPrincipal(principal, realm);
}

function privateCcache(): string {
  return `MEMORY:graft-verify-${randomBytes(8).toString("hex")}`;
}

function judge(res: ToolResult, principal: string): CredentialCheck {
  if (res.code === 0) return { valid: true };
  const cause = causeLine(res.stderr) || "no error output";
  if (UNREACHABLE_RE.test(res.stderr)) {
    throw new KdcUnreachableError(`checking the credentials of "${principal}": the KDC cannot be reached: ${cause}`, res.stderr);
  }
  if (BAD_CREDENTIAL_RE.test(res.stderr)) return { valid: false, reason: cause };
  throw new KerberosError(`checking the credentials of "${principal}" failed: ${cause}`, res.stderr);
}

/** Asks the KDC for a ticket as `principal` with the keys in the keytab file. Throws KdcUnreachableError when it cannot ask. */
export async function verifyKeytab(
  keytabPath: string, principal: string, env: Record<string, string | undefined> = {}, opts: VerifyOptions = {},
): Promise<CredentialCheck> {
  const p = checkedPrincipal(principal);
  const res = await runTool("kinit", ["-c", privateCcache(), "-k", "-t", keytabPath, p], { env, timeoutMs: opts.timeoutMs });
  return judge(res, p);
}

/** Asks the KDC for a ticket as `principal` with the password (fed on stdin). Throws KdcUnreachableError when it cannot ask. */
export async function verifyPassword(
  principal: string, password: string, env: Record<string, string | undefined> = {}, opts: VerifyOptions = {},
): Promise<CredentialCheck> {
  const p = checkedPrincipal(principal);
  if (password === "" || /[\r\n\0]/.test(password)) return { valid: false, reason: "the password is empty or contains line breaks" };
  const res = await runTool("kinit", ["-c", privateCcache(), p], { env, input: `${password}\n`, timeoutMs: opts.timeoutMs });
  return judge(res, p);
}
