import { spawn } from "node:child_process";
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { stat } from "node:fs/promises";
import path from "node:path";
import { Transform, type TransformCallback } from "node:stream";
import { createGunzip } from "node:zlib";
import type { Logger } from "../../runtime/logger.js";
import { silentLogger } from "../../runtime/logger.js";
import { CgiHeaderParser } from "./cgi-response.js";
import { isolatedGitEnv } from "./git-cli.js";
import { isClusterUuid, isSharedRepoName, repoDir, repoId, repoRoot, type RepoRef } from "./repo-layout.js";

/**
 * Read-only Git smart HTTP in front of `git http-backend`, for Flux on the edge clusters.
 *
 * Routes (relative to wherever the handler is mounted): `/uuid/<cluster uuid>/…` (the ACS shape) and
 * `/shared/<name>/…`. Only the three smart-protocol endpoints exist: `GET info/refs?service=…`,
 * `POST git-upload-pack` and `POST git-receive-pack`; pushes are always refused (the cluster-manager writes through
 * the repo store, never over HTTP). Every id and path part is matched against a strict pattern on the raw URL, so
 * encoded or backslashed traversal never reaches git, and git never sees a path taken from the request.
 *
 * Credentials are checked before anything says whether a repository exists (an unknown cluster UUID is a 401 like a
 * wrong password, never a 404). At most maxConcurrent `git http-backend` processes run at once; a request beyond
 * that gets 503 with Retry-After at once. Request bodies are streamed into git (gzip decoded on the way), never held
 * whole, and cut off at maxBodyBytes.
 */

export interface GitAuthRequest {
  repo: RepoRef;
  username: string;
  password: string;
}

/** Decides whether these HTTP Basic credentials may read this repository. */
export type { RepoRef };

export type GitAuthorizer = (request: GitAuthRequest) => Promise<boolean>;

export interface GitHttpOptions {
  dataDir: string;
  authorize: GitAuthorizer;
  logger?: Logger;
  /** Largest request body accepted, counted after gzip decoding. Default 16 MiB. */
  maxBodyBytes?: number;
  /** Most `git http-backend` processes run at once; more requests get 503. Default 32. */
  maxConcurrent?: number;
  /** Retry-After (seconds) of that 503. Default 2. */
  retryAfterSeconds?: number;
}

/**
 * Handles the request if `pathname` (default: the path of `req.url`) is a git path and resolves true once a response
 * is under way; resolves false, leaving the response untouched, for any other path.
 */
export type GitRequestHandler = (req: IncomingMessage, res: ServerResponse, pathname?: string) => Promise<boolean>;

export const AUTH_REALM = "graft";
const DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024;

type Service = "info/refs" | "git-upload-pack" | "git-receive-pack";

export type GitRoute =
  | { kind: "not-git" }
  | { kind: "not-found" }
  | { kind: "repo"; repo: RepoRef; service: Service };

/** Maps a raw (undecoded) path to a repository and endpoint; pure, so the routing rules can be tested alone. */
export function routeGitPath(pathname: string): GitRoute {
  const prefix = /^\/(uuid|shared)(?:\/|$)/.exec(pathname);
  if (!prefix) return { kind: "not-git" };
  const match = /^\/(uuid|shared)\/([^/]+)\/(info\/refs|git-upload-pack|git-receive-pack)$/.exec(pathname);
  if (!match) return { kind: "not-found" };
  const [, kind, id, service] = match as unknown as [string, string, string, Service];
  if (kind === "uuid") {
    const uuid = id.toLowerCase();
    return isClusterUuid(uuid) ? { kind: "repo", repo: { kind: "cluster", uuid }, service } : { kind: "not-found" };
  }
  return isSharedRepoName(id) ? { kind: "repo", repo: { kind: "shared", name: id }, service } : { kind: "not-found" };
}

export function createGitHttpHandler(options: GitHttpOptions): GitRequestHandler {
  const log = options.logger ?? silentLogger;
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const slots = { free: options.maxConcurrent ?? 32, retryAfter: options.retryAfterSeconds ?? 2 };

  return async (req, res, pathname) => {
    const rawUrl = req.url ?? "/";
    const queryStart = rawUrl.indexOf("?");
    const route = routeGitPath(pathname ?? (queryStart === -1 ? rawUrl : rawUrl.slice(0, queryStart)));
    if (route.kind === "not-git") return false;

    try {
      await serve(req, res, route, queryStart === -1 ? "" : rawUrl.slice(queryStart + 1), options, maxBodyBytes, slots, log);
    } catch (err) {
      log.error({ err: errorSummary(err), method: req.method }, "git request failed");
      if (!res.headersSent) reply(res, 500, "internal error");
      else res.destroy();
    }
    return true;
  };
}

async function serve(req: IncomingMessage, res: ServerResponse, route: GitRoute, query: string,
  options: GitHttpOptions, maxBodyBytes: number, slots: { free: number; retryAfter: number }, log: Logger): Promise<void> {
  if (route.kind !== "repo") return reply(res, 404, "repository not found");
  const { repo, service } = route;
  const method = req.method ?? "";

  const wantMethod = service === "info/refs" ? "GET" : "POST";
  if (method !== wantMethod) {
    res.setHeader("Allow", wantMethod);
    return reply(res, 405, `method ${method} not allowed here`);
  }

  let rpc: "git-upload-pack" | "git-receive-pack";
  if (service === "info/refs") {
    const requested = new URLSearchParams(query).get("service");
    if (requested !== "git-upload-pack" && requested !== "git-receive-pack") {
      return reply(res, 404, "only the smart HTTP protocol is served");
    }
    rpc = requested;
  } else {
    rpc = service;
  }
  if (rpc === "git-receive-pack") return reply(res, 403, "pushing is not allowed: this repository is read-only");

  const credentials = parseBasicAuth(req.headers.authorization);
  if (!credentials) return challenge(res, "authentication required");
  let allowed: boolean;
  try {
    allowed = await options.authorize({ repo, username: credentials.username, password: credentials.password });
  } catch (err) {
    log.error({ err: errorSummary(err), repo: repoId(repo) }, "git authorization check failed");
    return reply(res, 503, "authorization is unavailable, try again later");
  }
  if (!allowed) {
    log.info({ repo: repoId(repo), kind: repo.kind, username: credentials.username }, "git access refused");
    return challenge(res, "invalid credentials for this repository");
  }
  const user = credentials.username;
  // Only now, to someone allowed to read it, may the answer say the repository is missing.
  const gitDir = repoDir(options.dataDir, repo);
  if (!(await isRepository(gitDir))) return reply(res, 404, "repository not found");

  let body: NodeJS.ReadableStream | null = null;
  if (method === "POST") {
    const opened = openBody(req, maxBodyBytes);
    if ("error" in opened) return reply(res, opened.status, opened.error);
    if (req.headers["content-type"] !== `application/x-${rpc}-request`) {
      req.resume();
      return reply(res, 415, `expected Content-Type application/x-${rpc}-request`);
    }
    body = opened.body;
  }

  if (slots.free <= 0) {
    req.resume();
    res.setHeader("Retry-After", String(slots.retryAfter));
    return reply(res, 503, "too many git requests in progress: try again shortly");
  }
  slots.free--;
  try {
    await runBackend();
  } finally {
    slots.free++;
  }

  async function runBackend() {
  await runHttpBackend(res, {
    env: {
      GIT_PROJECT_ROOT: repoRoot(options.dataDir, repo.kind),
      GIT_HTTP_EXPORT_ALL: "1",
      // Above our own limit, so ours (413 before any answer) trips first.
      GIT_HTTP_MAX_REQUEST_BUFFER: String(maxBodyBytes + 1024 * 1024),
      PATH_INFO: `/${path.basename(gitDir)}/${service}`,
      QUERY_STRING: service === "info/refs" ? `service=${rpc}` : "",
      REQUEST_METHOD: method,
      CONTENT_TYPE: req.headers["content-type"] ?? "",
      REMOTE_USER: printable(user),
      REMOTE_ADDR: req.socket.remoteAddress ?? "",
      GATEWAY_INTERFACE: "CGI/1.1",
      SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
      SERVER_SOFTWARE: "graft",
      ...gitProtocolHeader(req.headers["git-protocol"]),
    },
    body,
    maxBodyBytes,
  }, log, repo);
  }
}

/**
 * The request body as a stream, gzip decoded and limited to maxBodyBytes (a larger declared length is refused at
 * once). http-backend reads an upload-pack request whole before it answers, so a body over the limit is normally
 * refused with 413 before any response starts; otherwise the response is cut.
 */
function openBody(req: IncomingMessage, maxBodyBytes: number):
  { body: NodeJS.ReadableStream } | { status: number; error: string } {
  const encoding = (req.headers["content-encoding"] ?? "identity").toLowerCase();
  if (!["identity", "gzip", "x-gzip"].includes(encoding)) {
    return { status: 415, error: `unsupported content encoding "${encoding}"` };
  }
  const declared = req.headers["content-length"];
  if (declared !== undefined && !(Number(declared) <= maxBodyBytes)) {
    return { status: 413, error: `request body larger than ${maxBodyBytes} bytes` };
  }
  const limit = new ByteLimit(maxBodyBytes);
  // The request is piped in rather than made part of a pipeline: a failing pipeline destroys its streams, and
  // destroying the request would take the socket (and our error response) with it.
  if (encoding === "identity") {
    req.pipe(limit);
  } else {
    const gunzip = createGunzip();
    gunzip.on("error", (err) => limit.destroy(err));
    req.pipe(gunzip).pipe(limit);
  }
  // pipe() does not pass on an aborted request; without this the read would wait forever.
  req.once("close", () => {
    if (!req.complete) limit.destroy(new Error("request aborted"));
  });
  return { body: limit };
}

interface BackendRun {
  env: Record<string, string>;
  body: NodeJS.ReadableStream | null;
  maxBodyBytes: number;
}

function runHttpBackend(res: ServerResponse, run: BackendRun, log: Logger, repo: RepoRef): Promise<void> {
  return new Promise((resolve) => {
    // Its own process group, so stopping it also stops the upload-pack it runs (which would go on writing).
    const child = spawn("git", ["http-backend"], { env: isolatedGitEnv(run.env), stdio: ["pipe", "pipe", "pipe"], detached: true });
    const stopGit = () => {
      try {
        if (child.pid) process.kill(-child.pid, "SIGTERM");
      } catch {
        child.kill("SIGTERM");
      }
    };
    const parser = new CgiHeaderParser();
    let headersDone = false;
    let failed = false;
    // http-backend writes its response headers before it reads the request. They are held back until the whole body
    // has gone through the size limit, so a body over it still gets a proper 413 instead of a cut 200.
    let bodyDone = !run.body;
    let held: { status: number; headers: OutgoingHttpHeaders; rest: Buffer } | undefined;
    const release = () => {
      if (!held || failed) return;
      headersDone = true;
      res.writeHead(held.status, held.headers);
      if (held.rest.length > 0) res.write(held.rest);
      held = undefined;
      child.stdout.resume();
    };
    const stderr: string[] = [];

    const fail = (status: number, message: string) => {
      if (failed) return;
      failed = true;
      stopGit();
      if (!res.headersSent) reply(res, status, message);
      else res.destroy();
    };

    child.stderr.on("data", (chunk: Buffer) => {
      if (stderr.join("").length < 4096) stderr.push(chunk.toString("utf8"));
    });
    child.on("error", (err) => {
      log.error({ err: errorSummary(err) }, "cannot run git http-backend");
      fail(500, "internal error");
    });

    child.stdout.on("data", (chunk: Buffer) => {
      if (failed) return;
      if (headersDone) {
        if (!res.write(chunk)) {
          child.stdout.pause();
          res.once("drain", () => child.stdout.resume());
        }
        return;
      }
      let parsed;
      try {
        parsed = parser.push(chunk);
      } catch (err) {
        log.error({ err: errorSummary(err) }, "bad response from git http-backend");
        return fail(502, "internal error");
      }
      if (!parsed) return;
      held = { status: parsed.head.status, headers: parsed.head.headers, rest: parsed.rest };
      if (bodyDone) release();
      else child.stdout.pause();
    });

    child.on("close", (code, signal) => {
      release();
      if (!failed) {
        if (code !== 0) {
          log.warn({ repo: repoId(repo), code, signal, stderr: stderr.join("").trim() }, "git http-backend failed");
        }
        if (!headersDone) reply(res, 500, "internal error");
        // A failure after the headers: cut the response so the client sees an incomplete transfer, not a clean end.
        else if (code !== 0) res.destroy();
        else res.end();
      }
      resolve();
    });

    // The client went away before the response was complete: stop git.
    res.on("close", () => {
      if (!res.writableFinished) stopGit();
    });

    // git may stop reading early (its response then says why).
    child.stdin.on("error", () => undefined);
    if (!run.body) {
      child.stdin.end();
    } else {
      run.body.on("error", (err: unknown) => {
        if (err instanceof BodyTooLargeError) fail(413, `request body larger than ${run.maxBodyBytes} bytes`);
        else if (isZlibError(err)) fail(400, "request body is not valid gzip");
        else fail(400, "request body could not be read");
      });
      run.body.on("end", () => {
        bodyDone = true;
        release();
      });
      run.body.pipe(child.stdin);
    }
  });
}

class BodyTooLargeError extends Error {}

class ByteLimit extends Transform {
  private seen = 0;
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) callback(new BodyTooLargeError());
    else callback(null, chunk);
  }
}

function parseBasicAuth(header: string | undefined): { username: string; password: string } | null {
  const match = header === undefined ? null : /^Basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(header);
  if (!match) return null;
  const decoded = Buffer.from(match[1] as string, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon <= 0) return null;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** Protocol v2 negotiation: http-backend turns HTTP_GIT_PROTOCOL into GIT_PROTOCOL for upload-pack. */
function gitProtocolHeader(value: string | string[] | undefined): Record<string, string> {
  if (typeof value !== "string" || !/^[A-Za-z0-9=:,._-]{1,256}$/.test(value)) return {};
  return { HTTP_GIT_PROTOCOL: value };
}

async function isRepository(dir: string): Promise<boolean> {
  try {
    return (await stat(path.join(dir, "HEAD"))).isFile();
  } catch {
    return false;
  }
}

function challenge(res: ServerResponse, message: string): void {
  res.setHeader("WWW-Authenticate", `Basic realm="${AUTH_REALM}"`);
  reply(res, 401, message);
}

function reply(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-cache" });
  res.end(`${message}\n`);
}

/** Drops control characters, which an environment variable (or a log line) should not carry. */
function printable(text: string): string {
  return [...text].filter((ch) => { const c = ch.charCodeAt(0); return c >= 0x20 && c !== 0x7f; }).join("");
}

function isZlibError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === "string" && code.startsWith("Z_");
}

function errorSummary(err: unknown): { message: string; name?: string } {
  return err instanceof Error ? { name: err.name, message: err.message } : { message: String(err) };
}

export interface GitServer {
  server: Server;
  /** Base URL, e.g. `http://127.0.0.1:34567`; repositories are at `<url>/uuid/<uuid>` and `<url>/shared/<name>`. */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** A stand-alone server with only the git routes (everything else 404), for tests and simple wiring. */
export async function startGitServer(options: GitHttpOptions & { host?: string; port?: number }): Promise<GitServer> {
  const handle = createGitHttpHandler(options);
  const server = createServer((req, res) => {
    void handle(req, res).then((handled) => {
      if (!handled) reply(res, 404, "not found");
    });
  });
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  return {
    server,
    url: `http://${urlHost}:${port}`,
    port,
    close: () => new Promise<void>((resolve, reject) => {
      server.close((err) => (err ? reject(err) : resolve()));
      server.closeAllConnections();
    }),
  };
}
