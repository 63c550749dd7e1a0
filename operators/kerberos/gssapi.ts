// GSSAPI through the `kerberos` addon (MIT's libgssapi_krb5), loaded only when a Negotiate login is first made, so
// a process that never uses one never loads the native code. MIT's library takes its keytabs, credential cache and
// configuration from environment variables read when a context is made; `withKerberosEnv` sets them for one GSSAPI
// exchange at a time (a process-wide queue) and puts the previous values back afterwards, so several identities (a
// client keytab, the stand-in's service keytab) can share one process. Child processes do not inherit them: every
// spawn takes its environment from childProcessEnv (operators/runtime/child-env.ts).
import type * as Kerberos from "kerberos";
import { setProcessEnvForNow } from "../runtime/child-env.js";
import { KerberosError } from "./errors.js";

/** The part of the addon graft uses. */
export type KerberosAddon = Pick<typeof Kerberos, "initializeClient" | "initializeServer" | "GSS_C_MUTUAL_FLAG">;

let addon: Promise<KerberosAddon> | undefined;

/** The addon; a clear error when it is not installed or its libraries are missing. */
export function loadKerberosAddon(): Promise<KerberosAddon> {
  const loading = addon ?? import("kerberos").then(
    (mod): KerberosAddon => mod,
    (err: unknown) => {
      addon = undefined;
      const why = err instanceof Error ? err.message : String(err);
      throw new KerberosError(`the GSSAPI addon (npm package "kerberos") cannot be loaded: ${why.split("\n")[0]}; ` +
        "it needs MIT Kerberos' GSSAPI library (Debian package libgssapi-krb5-2)");
    },
  );
  addon = loading;
  return loading;
}

let queue: Promise<unknown> = Promise.resolve();

/**
 * Runs `fn` with these environment variables set (undefined: unset), one call at a time in this process; child
 * processes started meanwhile get the environment without them (childProcessEnv).
 */
export function withKerberosEnv<T>(vars: Record<string, string | undefined>, fn: () => Promise<T>): Promise<T> {
  const run = async () => {
    const restore = setProcessEnvForNow(vars);
    try {
      return await fn();
    } finally {
      restore();
    }
  };
  const result = queue.then(run, run);
  queue = result.catch(() => undefined);
  return result;
}

/** The text of an error the addon raised (GSSAPI major/minor status messages). */
export function gssErrorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, " ").trim();
}
