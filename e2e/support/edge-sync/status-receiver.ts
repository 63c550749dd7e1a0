// A small ConfigDB v2 stand-in for edge-sync's tests (acs-contract.md §2, §3): entries under
// /v2/app/:app/object/:obj with GET, PATCH (merge-patch, creating absent entries unless told not to) and PUT
// (If-None-Match), bearer tokens bound to objects, an optional password login at /token and an optional Directory
// answer at /v1/service/:uuid. It can go down and come back on the same port, and counts what it accepted.
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface ReceiverOptions {
  /** Static bearer tokens → the object UUID each may write. */
  tokens?: Record<string, string>;
  /** Password logins: username → { password, object it may write }. */
  logins?: Record<string, { password: string; object: string }>;
  /** Lifetime of login tokens (ms). */
  tokenTtlMs?: number;
  /** false: PATCH of an absent entry answers 404 (a server without create-on-PATCH). Default true. */
  createOnPatch?: boolean;
  /** Directory answers: service UUID → URL ("self" for this receiver's own base URL). */
  directory?: Record<string, string>;
}

export interface ReceivedPatch {
  app: string;
  obj: string;
  body: Record<string, unknown>;
}

export class StatusReceiver {
  readonly entries = new Map<string, Record<string, unknown>>();
  readonly patches: ReceivedPatch[] = [];
  readonly puts: ReceivedPatch[] = [];
  /** Requests refused with 401. */
  unauthorised = 0;
  logins = 0;
  private server?: Server;
  private port = 0;
  private readonly issued = new Map<string, { object: string; expiry: number }>();

  constructor(private readonly opts: ReceiverOptions = {}) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.server !== undefined;
  }

  entry(app: string, obj: string): Record<string, unknown> | undefined {
    return this.entries.get(`${app}/${obj}`);
  }

  /** Forgets every login token, so the next request with one gets 401. */
  revokeLoginTokens(): void {
    this.issued.clear();
  }

  /** Listens on a free port the first time, then on the same port again. */
  async start(): Promise<void> {
    if (this.server) return;
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: Error) => {
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(`internal error: ${err.message}\n`);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    const addr = server.address();
    this.port = typeof addr === "object" && addr ? addr.port : this.port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const body = await readBody(req);
    const text = (code: number, msg: string): void => { res.writeHead(code, { "content-type": "text/plain" }).end(`${msg}\n`); };

    if (req.method === "POST" && path === "/token") return this.login(req, res);
    const dir = /^\/v1\/service\/([^/]+)$/.exec(path);
    if (req.method === "GET" && dir && this.opts.directory) {
      const url = this.opts.directory[dir[1]!];
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(url ? [{ url: url === "self" ? this.url : url }] : []));
      return;
    }
    const m = /^\/v2\/app\/([^/]+)\/object\/([^/]+)$/.exec(path);
    if (!m) return text(404, "not found");
    const [app, obj] = [m[1]!, m[2]!];
    if (!UUID.test(app) || !UUID.test(obj)) return text(410, "not a UUID");
    const allowed = this.objectFor(req.headers.authorization);
    if (allowed === undefined) {
      this.unauthorised++;
      return text(401, "unauthorised");
    }
    if (allowed !== obj) return text(403, "forbidden");
    const key = `${app}/${obj}`;
    const current = this.entries.get(key);

    if (req.method === "GET") {
      if (!current) return text(404, "no such entry");
      res.writeHead(200, { "content-type": "application/json", etag: `"${randomUUID()}"` }).end(JSON.stringify(current));
      return;
    }
    if (req.method === "PATCH") {
      if (req.headers["content-type"] !== "application/merge-patch+json") return text(415, "use application/merge-patch+json");
      const patch = parseObject(body);
      if (!patch) return text(422, "body is not a JSON object");
      if (!current && this.opts.createOnPatch === false) return text(404, "no such entry");
      this.entries.set(key, mergePatch(current ?? {}, patch) as Record<string, unknown>);
      this.patches.push({ app, obj, body: patch });
      res.writeHead(204).end();
      return;
    }
    if (req.method === "PUT") {
      const value = parseObject(body);
      if (!value) return text(422, "body is not a JSON object");
      if (req.headers["if-none-match"] === "*" && current) return text(412, "entry exists");
      this.entries.set(key, value);
      this.puts.push({ app, obj, body: value });
      res.writeHead(current ? 204 : 201).end();
      return;
    }
    return text(405, "method not allowed");
  }

  private objectFor(authorization: string | undefined): string | undefined {
    const token = /^Bearer (.+)$/.exec(authorization ?? "")?.[1];
    if (!token) return undefined;
    const fixed = this.opts.tokens?.[token];
    if (fixed) return fixed;
    const issued = this.issued.get(token);
    return issued && issued.expiry > Date.now() ? issued.object : undefined;
  }

  private login(req: IncomingMessage, res: ServerResponse): void {
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    const [user, ...rest] = basic ? Buffer.from(basic, "base64").toString("utf8").split(":") : [];
    const account = user ? this.opts.logins?.[user] : undefined;
    if (!account || account.password !== rest.join(":")) {
      this.unauthorised++;
      res.writeHead(401, { "content-type": "text/plain" }).end("bad credentials\n");
      return;
    }
    this.logins++;
    const token = randomBytes(16).toString("hex");
    const expiry = Date.now() + (this.opts.tokenTtlMs ?? 3_600_000);
    this.issued.set(token, { object: account.object, expiry });
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token, expiry }));
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!patch || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === "object" && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}
