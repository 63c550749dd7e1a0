import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { pathSegments, sendJson, sendStatus } from "./http-util.js";
import type { AccessControl } from "./acl.js";
import type { NegotiateAcceptor } from "./negotiate.js";

/**
 * Who is calling: Basic credentials are checked against the stand-in's own password store (usernames without a realm
 * get `@<realm>` appended) and, for principals of the realm that store does not hold, against an external checker
 * when one is given (a real KDC, see kdc-passwords.ts). With a real KDC the stand-in also accepts `Negotiate`
 * (negotiate.ts): the ticket's client principal is the caller, as a Basic login of that name would be. Each service
 * issues its own Bearer tokens from `POST /token`, valid only at that service and only until their expiry.
 */

/** Whether `password` is right for the full principal name `upn`; may throw an HttpFailure (e.g. 503, KDC down). */
export type PasswordCheck = (upn: string, password: string) => Promise<boolean>;

export class Realm {
  private readonly passwords = new Map<string, string>();

  /** Set when the stand-in holds a service keytab: Negotiate logins are accepted. */
  negotiate?: NegotiateAcceptor;

  constructor(readonly name: string, private readonly external?: PasswordCheck) {}

  /** The full principal name: `user` becomes `user@REALM`. */
  upn(username: string): string {
    return username.includes("@") ? username : `${username}@${this.name}`;
  }

  setPassword(username: string, password: string): string {
    const upn = this.upn(username);
    this.passwords.set(upn, password);
    return upn;
  }

  /** The principal if the password is right, else null. Users in the local store never reach the external checker. */
  async verify(username: string, password: string): Promise<string | null> {
    const upn = this.upn(username);
    const local = this.passwords.get(upn);
    if (local !== undefined) return local === password ? upn : null;
    if (!this.external || !upn.endsWith(`@${this.name}`)) return null;
    return (await this.external(upn, password)) ? upn : null;
  }
}

/** The header syntax ACS accepts (`<scheme> <credentials>`). */
const AUTH_HEADER_RE = /^([A-Za-z]+) +([A-Za-z0-9._~+/=-]+)$/;

export class ServiceTokens {
  private readonly tokens = new Map<string, { upn: string; expiry: number }>();
  /** Tokens issued so far (each `POST /token` that succeeded). */
  logins = 0;
  private readonly callers = new WeakMap<IncomingMessage, string>();
  private readonly negotiateReplies = new WeakMap<IncomingMessage, string>();

  constructor(readonly service: string, private readonly realm: Realm, private readonly lifetimeMs: () => number) {}

  issue(upn: string): { token: string; expiry: number } {
    // Base64 without padding: the characters ACS's notify/v2 token pattern allows.
    const token = randomBytes(48).toString("base64");
    const expiry = Date.now() + this.lifetimeMs();
    this.tokens.set(token, { upn, expiry });
    this.logins += 1;
    return { token, expiry };
  }

  /** The principal a token was issued to, or null if unknown, revoked or expired. */
  verify(token: string): string | null {
    const entry = this.tokens.get(token);
    if (!entry) return null;
    if (entry.expiry <= Date.now()) {
      this.tokens.delete(token);
      return null;
    }
    return entry.upn;
  }

  revokeAll(): void {
    this.tokens.clear();
  }

  /** Who a request that has been authenticated came from (null if it was not, or failed). */
  lastCaller(req: IncomingMessage): string | null {
    return this.callers.get(req) ?? null;
  }

  /** The reply token of a request authenticated with Negotiate (mutual authentication), if it was. */
  negotiateReply(req: IncomingMessage): string | undefined {
    return this.negotiateReplies.get(req);
  }

  /** The caller's principal from `Authorization: Basic`, `Negotiate` or `Bearer`, or null. */
  async authenticate(req: IncomingMessage): Promise<string | null> {
    const upn = await this.identify(req);
    if (upn) this.callers.set(req, upn);
    return upn;
  }

  private async identify(req: IncomingMessage): Promise<string | null> {
    const match = AUTH_HEADER_RE.exec(req.headers.authorization ?? "");
    if (!match) return null;
    const [, scheme, credentials] = match as unknown as [string, string, string];
    if (scheme === "Bearer") return this.verify(credentials);
    if (scheme === "Negotiate") {
      const accepted = await this.realm.negotiate?.accept(credentials);
      if (!accepted) return null;
      this.negotiateReplies.set(req, accepted.reply);
      return accepted.upn;
    }
    if (scheme !== "Basic") return null;
    const decoded = /^([^:]+):(.+)$/s.exec(Buffer.from(credentials, "base64").toString("utf8"));
    return decoded ? this.realm.verify(decoded[1]!, decoded[2]!) : null;
  }
}

/**
 * The 401 names Basic only, also where Negotiate is accepted: Negotiate clients send it unasked, and git (libcurl)
 * given a password would pick an offered Negotiate over Basic and then fail for want of a ticket.
 */
export function challenge(res: ServerResponse): void {
  res.writeHead(401, { "www-authenticate": 'Basic realm="Factory+"' });
  res.end();
}

/**
 * Authenticates a request, answering 401 itself when that fails, and serves `POST /token`. Returns the principal
 * for the service's own routes, or null when the request has been answered.
 */
export async function authenticateRequest(tokens: ServiceTokens, req: IncomingMessage, res: ServerResponse): Promise<string | null> {
  const upn = await tokens.authenticate(req);
  if (!upn) {
    challenge(res);
    return null;
  }
  if (req.method === "POST" && (req.url ?? "").split("?")[0] === "/token") {
    const reply = tokens.negotiateReply(req);
    if (reply) res.setHeader("www-authenticate", `Negotiate ${reply}`);
    sendJson(res, 200, tokens.issue(upn));
    return null;
  }
  return upn;
}

/** An authenticated v2 request: the caller, a permission check bound to it, and the path after `/v2/<kind>`. */
export interface V2Request {
  caller: string;
  may: (permission: string, target: string) => boolean;
  kind: string | undefined;
  rest: string[];
}

/**
 * Authenticates a request to a v2 API (401 answered here) and splits its path (a trailing slash ignored); anything
 * outside `/v2/` is answered 404. Undefined when the request has been answered.
 */
export async function authenticateV2(tokens: ServiceTokens, acl: AccessControl, req: IncomingMessage, res: ServerResponse): Promise<V2Request | undefined> {
  const caller = await authenticateRequest(tokens, req, res);
  if (!caller) return undefined;
  const parts = pathSegments(req);
  if (parts.at(-1) === "") parts.pop();
  const [version, kind, ...rest] = parts;
  if (version !== "v2") {
    sendStatus(res, 404);
    return undefined;
  }
  return { caller, may: (permission, target) => acl.permitted(caller, permission, target), kind, rest };
}
