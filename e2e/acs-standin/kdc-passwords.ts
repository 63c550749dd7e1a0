import { KdcUnreachableError } from "../../operators/kerberos/errors.js";
import { qualifyPrincipal } from "../../operators/kerberos/principal.js";
import { verifyPassword } from "../../operators/kerberos/verify.js";
import { HttpFailure } from "./http-util.js";
import type { PasswordCheck } from "./identity.js";

/**
 * Checks Basic passwords against a real KDC, as ACS services do for Kerberos principals: `kinit` with the password
 * (on stdin, into a throwaway in-memory ccache). A wrong password or unknown principal is a plain "no" (401); a KDC
 * that cannot be reached is a 503, so a test never mistakes an outage for a bad credential.
 */

export interface StandinKdc {
  /** The KDC's realm; the stand-in's realm becomes this one. */
  realm: string;
  /** Environment for the Kerberos client tools (at least KRB5_CONFIG pointing at the KDC). */
  env: Record<string, string>;
  /** kadmin.local on the KDC's database: with it the stand-in makes its service keytab and accepts Negotiate. */
  kadminLocal?(query: string): Promise<string>;
}

export function kdcPasswordCheck(kdc: StandinKdc): PasswordCheck {
  return async (upn, password) => {
    let principal: string;
    try {
      principal = qualifyPrincipal(upn, kdc.realm);
    } catch {
      return false; // not a name the KDC could hold
    }
    try {
      return (await verifyPassword(principal, password, kdc.env)).valid;
    } catch (err) {
      if (err instanceof KdcUnreachableError) throw new HttpFailure(503, `cannot check the password of "${principal}": the KDC cannot be reached`);
      throw err;
    }
  };
}
