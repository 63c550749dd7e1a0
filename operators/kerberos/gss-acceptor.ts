// The server side of `Authorization: Negotiate` (RFC 4559) for a service graft serves: a client's GSSAPI token is
// verified with the service's own keytab (keys of HTTP/<host>@REALM, a mounted Secret), and the client's Kerberos
// principal and the reply token (mutual authentication: the service proving who it is) come back. A token the keytab
// cannot verify — garbage, a ticket for another service, one made with an older key — is a refusal with GSSAPI's
// reason, never an exception, so the caller answers 401. MIT's replay cache is kept in the temporary directory (the
// manager's root filesystem is read-only; /tmp is its writable emptyDir).
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { gssErrorText, loadKerberosAddon, withKerberosEnv } from "./gssapi.js";
import { parseKeytab } from "./keytab.js";

export type AcceptResult = { principal: string; reply: string } | { refused: string };

export interface NegotiateAcceptor {
  /** The service principals the keytab held at start (what clients must ask tickets for). */
  readonly principals: string[];
  /** Verifies one client token (the base64 after `Negotiate `). */
  accept(token: string): Promise<AcceptResult>;
}

export interface AcceptorOptions {
  /** The service keytab, read by the Kerberos library at every exchange (so a re-keyed Secret needs no restart). */
  keytabFile: string;
  /** Kerberos settings for the library (e.g. KRB5_CONFIG), beside the process environment. */
  env?: Record<string, string | undefined>;
}

/** Checks the keytab once (readable, a keytab, with keys) and returns its acceptor; throws a clear error otherwise. */
export function negotiateAcceptor(opts: AcceptorOptions): NegotiateAcceptor {
  let bytes: Buffer;
  try {
    bytes = readFileSync(opts.keytabFile);
  } catch (err) {
    throw new Error(`the Negotiate acceptor keytab "${opts.keytabFile}" cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let principals: string[];
  try {
    principals = [...new Set(parseKeytab(bytes).map((e) => e.principal))];
  } catch (err) {
    throw new Error(`the Negotiate acceptor keytab "${opts.keytabFile}" is ${err instanceof Error ? err.message : String(err)}`);
  }
  if (principals.length === 0) throw new Error(`the Negotiate acceptor keytab "${opts.keytabFile}" holds no keys`);
  const env = { KRB5RCACHEDIR: tmpdir(), ...opts.env, KRB5_KTNAME: `FILE:${opts.keytabFile}` };
  return {
    principals,
    accept: async (token) => {
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(token)) return { refused: "the Negotiate token is not base64" };
      let kerberos;
      try {
        kerberos = await loadKerberosAddon();
      } catch (err) {
        return { refused: err instanceof Error ? err.message : String(err) };
      }
      return withKerberosEnv(env, async (): Promise<AcceptResult> => {
        try {
          // No service name: any key in the keytab may accept, as the keytab holds only this service's.
          const server = await kerberos.initializeServer("");
          await server.step(token);
          if (!server.contextComplete || !server.username) return { refused: "the exchange needs more than one round" };
          return { principal: server.username, reply: server.response };
        } catch (err) {
          return { refused: gssErrorText(err) };
        }
      });
    },
  };
}
