import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { gssErrorText, loadKerberosAddon, withKerberosEnv } from "../../operators/kerberos/gssapi.js";

/**
 * The stand-in's side of `Authorization: Negotiate` (RFC 4559), as ACS services accept it (acs-contract.md §3): a
 * service keytab for `HTTP/<host>@REALM`, made in the test's real KDC with kadmin.local, and each client token
 * verified with the `kerberos` addon's server API (gss_accept_sec_context). The authenticated client principal then
 * counts exactly as a Basic login of the same name; a token the keytab cannot verify (garbage, expired, for another
 * service, from a stale key) is a plain "no", so the caller answers 401.
 */

/** What of a real KDC the acceptor needs: its realm, its client environment and a kadmin.local runner. */
export interface NegotiateKdc {
  realm: string;
  env: Record<string, string>;
  kadminLocal(query: string): Promise<string>;
}

export interface NegotiateAcceptor {
  /** The service principal this stand-in accepts tickets for. */
  principal: string;
  /** The client principal and the reply token (mutual authentication), or null when the token does not verify. */
  accept(token: string): Promise<{ upn: string; reply: string } | null>;
  /** Tokens refused so far, with GSSAPI's reason (for test diagnostics). */
  refusals: string[];
  close(): Promise<void>;
}

export async function negotiateAcceptor(kdc: NegotiateKdc, host: string): Promise<NegotiateAcceptor> {
  const principal = `HTTP/${host}@${kdc.realm}`;
  const dir = await mkdtemp(path.join(tmpdir(), "graft-standin-keytab-"));
  const keytab = path.join(dir, "http.keytab");
  // One principal per host and realm: a second stand-in on the same KDC reuses it (and its key, -norandkey).
  const added = await kdc.kadminLocal(`addprinc -randkey ${principal}`);
  if (!/created|already exists/i.test(added)) throw new Error(`kadmin.local could not add ${principal}: ${added.trim()}`);
  const extracted = await kdc.kadminLocal(`ktadd -norandkey -k ${keytab} ${principal}`);
  if (!/added to keytab/i.test(extracted)) throw new Error(`kadmin.local could not extract ${principal}: ${extracted.trim()}`);
  const kerberos = await loadKerberosAddon();
  const env = { ...kdc.env, KRB5_KTNAME: `FILE:${keytab}` };
  const refusals: string[] = [];
  return {
    principal,
    refusals,
    accept: (token) => withKerberosEnv(env, async () => {
      try {
        const server = await kerberos.initializeServer(`HTTP@${host}`);
        await server.step(token);
        const reply = server.response;
        if (!server.contextComplete || !server.username) {
          refusals.push("the exchange needs more than one round");
          return null;
        }
        return { upn: server.username, reply };
      } catch (err) {
        refusals.push(gssErrorText(err));
        return null;
      }
    }),
    close: () => rm(dir, { recursive: true, force: true }),
  };
}
