// The edge's ConfigDB v2 client (acs-contract.md §2, §3): just enough to keep one entry up to date, speaking the
// same protocol to the ACS ConfigDB and to cluster-manager's status endpoint. Authentication is pluggable: a
// static bearer token (embedded mode), a password login or a keytab (Negotiate) login at the service (ACS mode),
// with one re-login on 401; credentials kept in files are read again when refused (operators/runtime/credential-file.ts;
// a keytab by the Kerberos library, at each login that needs a new ticket).
import { AcsHttpError } from "../acs/errors.js";
import type { KeytabCredentials } from "../acs/negotiate.js";
import { ServiceClient } from "../acs/service-client.js";
import { CredentialFile } from "../runtime/credential-file.js";

export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "HttpError";
  }
}

/** Supplies the Authorization header for one service. */
export interface AuthProvider {
  header(): Promise<string>;
  /** The server refused the last credential: the next header() must not reuse it. */
  invalidate(): void;
}

/** Where a service lives: preset, or looked up in the Directory. */
export interface ServiceLocator {
  url(): Promise<string>;
  /** The service could not be reached at the last URL: look it up again next time. */
  invalidate(): void;
}

export interface HttpOptions {
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 15_000;
const trimSlash = (url: string) => url.replace(/\/+$/, "");

/** fetch with a timeout and errors a person can act on (the URL and the network cause, never a header). */
async function send(url: string, init: RequestInit, timeoutMs: number): Promise<Response> {
  try {
    return await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs), redirect: "error" });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const cause = e.name === "TimeoutError" ? `no answer within ${timeoutMs} ms` : e.cause?.code ?? e.cause?.message ?? e.message;
    throw new Error(`cannot reach "${url}": ${cause}`);
  }
}

async function errorFrom(res: Response, what: string): Promise<HttpError> {
  const text = (await res.text().catch(() => "")).trim().slice(0, 300);
  return new HttpError(res.status, `${what}: HTTP ${res.status}${text ? `: ${text}` : ""}`);
}

export class PresetUrl implements ServiceLocator {
  constructor(private readonly base: string) {}
  url(): Promise<string> {
    return Promise.resolve(trimSlash(this.base));
  }
  invalidate(): void {}
}

/** Looks a service up in the ACS Directory: GET <directory>/v1/service/<uuid> → [{url, …}]. */
export class DirectoryLocator implements ServiceLocator {
  private cached?: string;

  constructor(private readonly opts: { directoryUrl: string; service: string; auth?: AuthProvider } & HttpOptions) {}

  async url(): Promise<string> {
    this.cached ??= await this.lookup();
    return this.cached;
  }

  invalidate(): void {
    this.cached = undefined;
  }

  private async lookup(): Promise<string> {
    const target = `${trimSlash(this.opts.directoryUrl)}/v1/service/${this.opts.service}`;
    const res = await authorised(target, { method: "GET", headers: { accept: "application/json" } }, this.opts.auth, this.opts.timeoutMs);
    if (!res.ok) throw await errorFrom(res, `looking up service "${this.opts.service}" in the Directory`);
    const body = (await res.json().catch(() => undefined)) as unknown;
    const url = Array.isArray(body) ? body.map((e: { url?: unknown }) => e?.url).find((u): u is string => typeof u === "string" && u !== "") : undefined;
    if (!url) throw new Error(`the Directory at "${this.opts.directoryUrl}" knows no URL for service "${this.opts.service}"`);
    return trimSlash(url);
  }
}

/** Sends a request with the provider's credential; on 401 fetches a new one and tries exactly once more. */
async function authorised(url: string, init: RequestInit, auth: AuthProvider | undefined, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Response> {
  const attempt = async () => {
    const headers = new Headers(init.headers);
    if (auth) headers.set("authorization", await auth.header());
    return send(url, { ...init, headers }, timeoutMs);
  };
  const res = await attempt();
  if (res.status !== 401 || !auth) return res;
  await res.body?.cancel();
  auth.invalidate();
  return attempt();
}

/**
 * A bearer token: given directly, or kept in a file (a mounted Secret) that is read again after a 401, so a token
 * rotated in the Secret reaches the running process.
 */
export class StaticToken implements AuthProvider {
  private readonly file?: CredentialFile;

  constructor(private readonly source: { token?: string; file?: string; readFile?: (path: string) => Promise<string> }) {
    if (!source.token && !source.file) throw new Error("a static token needs a token or a token file");
    if (source.file) this.file = new CredentialFile(source.file, "the bearer token", source.readFile);
  }

  async header(): Promise<string> {
    return `Bearer ${this.file ? (await this.file.value()).trim() : this.source.token}`;
  }

  invalidate(): void {
    this.file?.invalidate();
  }
}

/**
 * ACS service login: POST <service>/token with Basic credentials → {token, expiry}; renewed before it expires. A
 * password kept in a file is read again when the login is refused, and the login retried at once if it changed:
 * after krbkeys rotates the password, the first refusal brings the new one in.
 */
export class PasswordLogin implements AuthProvider {
  private token?: { value: string; expiry?: number };
  private pending?: Promise<string>;
  /** Logins performed, for tests and metrics. */
  logins = 0;

  private readonly passwordFile?: CredentialFile;

  constructor(private readonly opts: {
    service: ServiceLocator;
    username: string;
    /** The password itself, or the file (mounted Secret) holding it. */
    password: string | { file: string };
    /** Renew this long before the expiry the server gave. */
    refreshMarginMs?: number;
    now?: () => number;
  } & HttpOptions) {
    if (typeof opts.password !== "string") this.passwordFile = new CredentialFile(opts.password.file, `the password of "${opts.username}"`);
  }

  async header(): Promise<string> {
    const now = (this.opts.now ?? Date.now)();
    const margin = this.opts.refreshMarginMs ?? 60_000;
    if (this.token && (this.token.expiry === undefined || this.token.expiry - margin > now)) return `Bearer ${this.token.value}`;
    this.pending ??= this.login().finally(() => { this.pending = undefined; });
    return `Bearer ${await this.pending}`;
  }

  invalidate(): void {
    this.token = undefined;
  }

  private async login(): Promise<string> {
    const base = await this.opts.service.url();
    const password = await this.password();
    let res = await this.post(base, password);
    if (res.status === 401 && this.passwordFile) {
      this.passwordFile.invalidate();
      const reread = await this.passwordFile.value();
      if (reread !== password) {
        await res.body?.cancel();
        res = await this.post(base, reread);
      }
    }
    if (!res.ok) {
      const err = await errorFrom(res, `logging in to "${base}" as "${this.opts.username}"`);
      if (res.status === 401) {
        // The file may be rotated after this refusal (the kubelet lags behind the Secret): read it on the next login.
        this.passwordFile?.invalidate();
        throw new HttpError(401, `${err.message}: check the service username and password`);
      }
      throw err;
    }
    const body = (await res.json().catch(() => ({}))) as { token?: unknown; expiry?: unknown };
    if (typeof body.token !== "string" || !body.token) throw new Error(`login at "${base}" returned no token`);
    this.logins++;
    this.token = { value: body.token, expiry: typeof body.expiry === "number" ? body.expiry : undefined };
    return body.token;
  }

  private password(): Promise<string> {
    return this.passwordFile ? this.passwordFile.value() : Promise.resolve(this.opts.password as string);
  }

  private post(base: string, password: string): Promise<Response> {
    const basic = Buffer.from(`${this.opts.username}:${password}`, "utf8").toString("base64");
    return send(`${base}/token`, { method: "POST", headers: { authorization: `Basic ${basic}`, accept: "application/json" } },
      this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  }
}

/**
 * ACS service login with a keytab: `POST <service>/token` with Negotiate (GSSAPI) → a Bearer token, renewed ahead of
 * its expiry, as ACS's own services log in (operators/acs/service-client.ts does the exchange). Tickets come from the
 * keytab file and are shared by every login of the same credentials object; a refused login starts from new tickets,
 * so a keytab krbkeys rotated is read again from its file.
 */
export class KeytabLogin implements AuthProvider {
  private readonly client: ServiceClient;
  private last?: string;

  constructor(opts: { service: ServiceLocator; credentials: KeytabCredentials; serviceName?: string } & HttpOptions) {
    this.client = new ServiceClient({
      service: opts.serviceName ?? "configdb", credentials: opts.credentials, timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      baseUrl: { get: () => opts.service.url(), forget: () => opts.service.invalidate() },
    });
  }

  async header(): Promise<string> {
    try {
      this.last = await this.client.token();
    } catch (err) {
      // One error type for every refusal edge-sync's loops classify: a refused login is a refused request.
      if (err instanceof AcsHttpError) throw new HttpError(err.status, err.message);
      throw err;
    }
    return `Bearer ${this.last}`;
  }

  invalidate(): void {
    if (this.last) this.client.invalidateToken(this.last);
  }
}

export class ConfigDbClient {
  constructor(private readonly opts: { service: ServiceLocator; auth: AuthProvider } & HttpOptions) {}

  /** Where the entries live and how requests there authenticate (embedded mode: the manager's head watch shares them). */
  get service(): ServiceLocator {
    return this.opts.service;
  }

  get auth(): AuthProvider {
    return this.opts.auth;
  }

  private async request(method: string, app: string, obj: string, body?: unknown, headers: Record<string, string> = {}): Promise<Response> {
    const base = await this.opts.service.url();
    const url = `${base}/v2/app/${app}/object/${obj}`;
    try {
      return await authorised(url, {
        method,
        headers: { accept: "application/json", ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      }, this.opts.auth, this.opts.timeoutMs);
    } catch (err) {
      if (!(err instanceof HttpError)) this.opts.service.invalidate();
      throw err;
    }
  }

  /** The entry, or undefined when it does not exist. */
  async getEntry(app: string, obj: string): Promise<unknown> {
    const res = await this.request("GET", app, obj);
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok) throw await errorFrom(res, `GET entry ${app}/${obj}`);
    return res.json();
  }

  /**
   * Merge-patches the entry; the protocol creates an absent entry on PATCH (acs-contract.md §2). A 404 means the
   * ConfigDB knows no such object or application.
   */
  async patchEntry(app: string, obj: string, patch: Record<string, unknown>): Promise<void> {
    const what = `PATCH entry ${app}/${obj}`;
    const res = await this.request("PATCH", app, obj, patch, { "content-type": "application/merge-patch+json" });
    if (res.status === 404) {
      await res.body?.cancel();
      throw new HttpError(404, `${what}: the ConfigDB does not know object "${obj}" or application "${app}": register the cluster object first`);
    }
    if (!res.ok) throw await errorFrom(res, what);
    await res.body?.cancel();
  }
}

