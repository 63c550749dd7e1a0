// The Negotiate (GSSAPI, RFC 4559) login to an ACS service (acs-contract.md §3), for accounts that hold a keytab
// rather than a password: a Kerberos ticket for `HTTP@<service host>` from the keytab, sent to `POST /token` as
// `Authorization: Negotiate <base64>`, and the service's reply checked (mutual authentication), as ACS's own clients
// do. Tickets live in a private in-memory credential cache per keytab identity, shared by that identity's clients;
// after the service refuses a ticket the next login starts from a fresh cache, so a re-keyed service or a rotated
// keytab (read again from its file) does not keep failing.
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { gssErrorText, loadKerberosAddon, withKerberosEnv } from "../kerberos/gssapi.js";
import { AcsError } from "./errors.js";

export interface KeytabCredentials {
  /** The Kerberos principal the keytab holds keys for, with its realm (e.g. `op1krbkeys/line-a@EXAMPLE.COM`). */
  principal: string;
  /** The keytab file (a mounted Secret): read by the Kerberos library at each login that needs a new ticket. */
  keytabFile: string;
  /** Kerberos settings for the library (e.g. KRB5_CONFIG), beside the process environment. */
  env?: Record<string, string | undefined>;
}

/** A Negotiate login could not be made on this side: no usable keytab, no ticket, or a service that failed mutual authentication. */
export class AcsLoginError extends AcsError {
  override name = "AcsLoginError";

  constructor(readonly service: string, message: string) {
    super(`${service}: cannot log in: ${message}`);
  }
}

/** One login in progress: the header to send, then the service's answer to check. */
export interface NegotiateExchange {
  authorization: string;
  /** Checks the `WWW-Authenticate: Negotiate …` reply of an accepted login (the service proving who it is). */
  complete(wwwAuthenticate: string | null): Promise<void>;
}

let identities = 0;
const logins = new WeakMap<KeytabCredentials, NegotiateLogin>();

/** The login of these credentials (one per credentials object, so every client of one identity shares its tickets). */
export function negotiateLoginFor(credentials: KeytabCredentials): NegotiateLogin {
  let login = logins.get(credentials);
  if (!login) {
    login = new NegotiateLogin(credentials);
    logins.set(credentials, login);
  }
  return login;
}

export class NegotiateLogin {
  private readonly id = ++identities;
  private generation = 0;

  constructor(readonly credentials: KeytabCredentials) {}

  /** Starts a GSSAPI context with `HTTP@<host>`: the first token, as an Authorization header value. */
  async start(service: string, host: string): Promise<NegotiateExchange> {
    const { principal, keytabFile } = this.credentials;
    try {
      await access(keytabFile, constants.R_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "unreadable";
      throw new AcsLoginError(service, `the keytab "${keytabFile}" of "${principal}" cannot be read (${code})`);
    }
    const kerberos = await loadKerberosAddon().catch((err: unknown) => {
      throw new AcsLoginError(service, err instanceof Error ? err.message : String(err));
    });
    const env = {
      ...this.credentials.env,
      KRB5_CLIENT_KTNAME: `FILE:${keytabFile}`,
      KRB5CCNAME: `MEMORY:graft-negotiate-${this.id}-${this.generation}`,
    };
    const target = `HTTP@${host}`;
    const client = await withKerberosEnv(env, async () => {
      const ctx = await kerberos.initializeClient(target, { principal, gssFlag: kerberos.GSS_C_MUTUAL_FLAG });
      await ctx.step("");
      return ctx;
    }).catch((err: unknown) => {
      throw new AcsLoginError(service, `no Kerberos ticket for ${target} as "${principal}" from the keytab "${keytabFile}": ${gssErrorText(err)}`);
    });
    return {
      authorization: `Negotiate ${client.response}`,
      complete: async (wwwAuthenticate) => {
        const reply = /^Negotiate +([A-Za-z0-9+/=]+)\s*$/.exec(wwwAuthenticate ?? "")?.[1];
        if (!reply) throw new AcsLoginError(service, `the service accepted "${principal}" but sent no Negotiate reply to authenticate itself`);
        await withKerberosEnv(env, () => client.step(reply)).catch((err: unknown) => {
          throw new AcsLoginError(service, `the service's Negotiate reply does not authenticate ${target}: ${gssErrorText(err)}`);
        });
        if (!client.contextComplete) throw new AcsLoginError(service, `the Negotiate exchange with ${target} did not complete in one round`);
      },
    };
  }

  /** The service refused a ticket: the next login gets new ones (and reads the keytab again). */
  renew(): void {
    this.generation += 1;
  }
}
