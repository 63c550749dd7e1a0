import type { Logger } from "../runtime/logger.js";
import { silentLogger } from "../runtime/logger.js";
import { AcsProtocolError, AcsUnavailableError, httpErrorFor } from "./errors.js";
import { negotiateLoginFor, type KeytabCredentials } from "./negotiate.js";

/**
 * HTTP client for one ACS service (acs-contract.md §3): logs in with `POST <base>/token` (HTTP Basic with username
 * and Kerberos password, or Negotiate with a keytab: negotiate.ts) for a Bearer token, sends it on every request,
 * refreshes it ahead of its expiry, and on a 401 fetches a new token once and retries the request once.
 */

/** A password kept elsewhere (a mounted Secret file, runtime/credential-file.ts): read on use, again after a refusal. */
export interface PasswordSource {
  value(): Promise<string>;
  invalidate(): void;
}

export interface PasswordCredentials {
  username: string;
  password: string | PasswordSource;
}

/** A password (HTTP Basic) or a keytab (Negotiate). */
export type AcsCredentials = PasswordCredentials | KeytabCredentials;

/** The name an account logs in with, for logs and messages. */
export function loginName(credentials: AcsCredentials): string {
  return "keytabFile" in credentials ? credentials.principal : credentials.username;
}

/** Where the service lives: a fixed URL, or a source (Directory discovery) that can be told to look again. */
export interface BaseUrlSource {
  get(): Promise<string>;
  /** The cached location stopped answering: look it up again next time. */
  forget(): void;
}

export interface ServiceClientOptions {
  /** Short service name used in errors and logs, e.g. "configdb". */
  service: string;
  baseUrl: string | BaseUrlSource;
  credentials: AcsCredentials;
  logger?: Logger;
  /** Log in again this long before the token expires (capped at half the token's lifetime). Default 5 minutes. */
  refreshAheadMs?: number;
  /** Per-request time limit. Default 30 s. */
  timeoutMs?: number;
  /** Clock, for tests of token refresh. */
  now?: () => number;
}

export interface AcsRequest {
  method: string;
  /** Path relative to the service base, e.g. `v2/app/<app>/object/<obj>` (a leading slash is ignored). */
  path: string;
  /** Sent as the JSON request body. */
  json?: unknown;
  /** Content type of the JSON body; default `application/json`. */
  contentType?: string;
  headers?: Record<string, string>;
  /** Statuses returned to the caller instead of thrown; default: every 2xx. */
  accept?: readonly number[];
}

export interface AcsResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON; throws AcsProtocolError if it is not JSON. */
  json<T = unknown>(): T;
}

interface Token {
  token: string;
  expiry: number;
  refreshAt: number;
}

const DEFAULT_REFRESH_AHEAD_MS = 5 * 60_000;
const DEFAULT_TIMEOUT_MS = 30_000;

export class ServiceClient {
  readonly service: string;
  private readonly source: BaseUrlSource;
  private readonly credentials: AcsCredentials;
  private readonly log: Logger;
  private readonly refreshAheadMs: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private current: Token | undefined;
  private loginInFlight: Promise<Token> | undefined;

  constructor(options: ServiceClientOptions) {
    this.service = options.service;
    this.source = typeof options.baseUrl === "string" ? fixedUrl(options.baseUrl) : options.baseUrl;
    this.credentials = options.credentials;
    this.log = (options.logger ?? silentLogger).child({ service: options.service });
    this.refreshAheadMs = options.refreshAheadMs ?? DEFAULT_REFRESH_AHEAD_MS;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.now = options.now ?? Date.now;
  }

  /** The service's base URL, always ending in a slash. */
  async baseUrl(): Promise<string> {
    const url = await this.source.get();
    return url.endsWith("/") ? url : `${url}/`;
  }

  /** A Bearer token for this service, logging in when there is none or it is close to expiry. */
  async token(): Promise<string> {
    const current = this.current;
    if (current && this.now() < current.refreshAt) return current.token;
    if (!this.loginInFlight) {
      this.loginInFlight = this.login().finally(() => {
        this.loginInFlight = undefined;
      });
    }
    return (await this.loginInFlight).token;
  }

  /** Drops a token the service refused, so the next `token()` logs in again. */
  invalidateToken(token: string): void {
    if (this.current?.token === token) this.current = undefined;
  }

  async request(req: AcsRequest): Promise<AcsResponse> {
    let token = await this.token();
    let res = await this.send(req, token);
    if (res.status === 401) {
      this.log.info({ method: req.method, path: req.path }, "token refused, logging in again");
      this.invalidateToken(token);
      token = await this.token();
      res = await this.send(req, token);
    }
    const accepted = req.accept ? req.accept.includes(res.status) : res.status >= 200 && res.status < 300;
    if (!accepted) throw httpErrorFor(this.service, req.method, displayPath(req.path), res.status, res.text);
    return res;
  }

  private async login(retried = false): Promise<Token> {
    const issuedAt = this.now();
    const res = "keytabFile" in this.credentials ? await this.negotiate(this.credentials, retried) : await this.basic(this.credentials, retried);
    if (res === "again") return this.login(true);
    const body = res.json<{ token?: unknown; expiry?: unknown }>();
    if (typeof body?.token !== "string" || body.token === "" || typeof body.expiry !== "number") {
      throw new AcsProtocolError(this.service, "POST", "/token", "expected {token: string, expiry: number}");
    }
    const ahead = Math.min(this.refreshAheadMs, Math.max(0, (body.expiry - issuedAt) / 2));
    const token = { token: body.token, expiry: body.expiry, refreshAt: body.expiry - ahead };
    this.current = token;
    this.log.debug({ username: loginName(this.credentials), expiry: new Date(body.expiry).toISOString() }, "logged in");
    return token;
  }

  /** `POST /token` with HTTP Basic; "again" when a refused password changed in its file meanwhile. */
  private async basic(credentials: PasswordCredentials, retried: boolean): Promise<AcsResponse | "again"> {
    const { password } = credentials;
    const secret = typeof password === "string" ? password : await password.value();
    const basic = Buffer.from(`${credentials.username}:${secret}`, "utf8").toString("base64");
    const res = await this.fetch("POST", "token", { authorization: `Basic ${basic}`, accept: "application/json" });
    if (res.status >= 200 && res.status < 300) return res;
    // A refused password may have been rotated in its file meanwhile: read it again, and try once more if it changed.
    if (res.status === 401 && typeof password !== "string" && !retried) {
      password.invalidate();
      if ((await password.value()) !== secret) return "again";
    }
    throw httpErrorFor(this.service, "POST", "/token", res.status, res.text);
  }

  /** `POST /token` with Negotiate for `HTTP@<service host>`; "again" (with fresh tickets) after a first refusal. */
  private async negotiate(credentials: KeytabCredentials, retried: boolean): Promise<AcsResponse | "again"> {
    const login = negotiateLoginFor(credentials);
    const host = new URL(await this.locate()).hostname.replace(/^\[(.*)\]$/, "$1");
    const exchange = await login.start(this.service, host);
    const res = await this.fetch("POST", "token", { authorization: exchange.authorization, accept: "application/json" });
    if (res.status >= 200 && res.status < 300) {
      await exchange.complete(res.headers.get("www-authenticate"));
      return res;
    }
    if (res.status === 401 && !retried) {
      this.log.info({ principal: credentials.principal }, "Negotiate login refused, trying again with new tickets");
      login.renew();
      return "again";
    }
    throw httpErrorFor(this.service, "POST", `/token (Negotiate as "${credentials.principal}")`, res.status, res.text);
  }

  /** The base URL, or AcsUnavailableError when it cannot be found. */
  private async locate(): Promise<string> {
    try {
      return await this.baseUrl();
    } catch (err) {
      if (err instanceof AcsUnavailableError) throw err;
      throw new AcsUnavailableError(this.service, `cannot locate the service: ${errorText(err)}`, { cause: err });
    }
  }

  private send(req: AcsRequest, token: string): Promise<AcsResponse> {
    const headers: Record<string, string> = { accept: "application/json", ...req.headers, authorization: `Bearer ${token}` };
    let body: string | undefined;
    if (req.json !== undefined) {
      body = JSON.stringify(req.json);
      headers["content-type"] = req.contentType ?? "application/json";
    }
    return this.fetch(req.method, req.path, headers, body);
  }

  private async fetch(method: string, path: string, headers: Record<string, string>, body?: string): Promise<AcsResponse> {
    const shown = displayPath(path);
    const url = new URL(path.replace(/^\/+/, ""), await this.locate());
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, { method, headers, body, redirect: "manual", signal: AbortSignal.timeout(this.timeoutMs) });
      text = await res.text();
    } catch (err) {
      this.source.forget();
      throw new AcsUnavailableError(this.service, `${method} ${shown}: ${errorText(err)}`, { cause: err });
    }
    const service = this.service;
    return {
      status: res.status,
      headers: res.headers,
      text,
      json<T>(): T {
        try {
          return JSON.parse(text) as T;
        } catch {
          throw new AcsProtocolError(service, method, shown, `body is not JSON (status ${res.status})`);
        }
      },
    };
  }
}

function fixedUrl(url: string): BaseUrlSource {
  return { get: () => Promise.resolve(url), forget: () => undefined };
}

function displayPath(path: string): string {
  return `/${path.replace(/^\/+/, "")}`;
}

function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : "";
  return `${err.message}${cause}`;
}
