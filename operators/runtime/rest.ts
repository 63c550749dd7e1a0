// A small REST client over the API server; TLS and credentials from a KubeConnection (kubeconfig.ts). Typed client-node
// APIs hide content types and status codes; reconcilers need both (merge-patch vs apply, 404/409 handling).
import { Agent as HttpsAgent, request as httpsRequest, type RequestOptions } from "node:https";
import { Agent as HttpAgent, request as httpRequest, type ClientRequest } from "node:http";
import { apiVersionOf, resourcePath, type KubeObject, type ResourceType } from "./kube.js";
import type { KubeConnection } from "./kubeconfig.js";

export class ApiError extends Error {
  constructor(readonly status: number, readonly reason: string, message: string, readonly details?: unknown) {
    super(message);
    this.name = "ApiError";
  }
}

export const isNotFound = (e: unknown) => e instanceof ApiError && e.status === 404;
export const isConflict = (e: unknown) => e instanceof ApiError && e.status === 409;
export const isAlreadyExists = (e: unknown) => e instanceof ApiError && e.status === 409 && e.reason === "AlreadyExists";
export const isGone = (e: unknown) => e instanceof ApiError && e.status === 410;
/** The status code of an API server refusal, or undefined for any other failure (network, timeout). */
export const statusOf = (e: unknown): number | undefined => (e instanceof ApiError ? e.status : undefined);
/** A short reason for a failed API request: the status and the API server's message, never a request body. */
export const describeApiError = (e: unknown): string =>
  e instanceof ApiError ? `API server answered ${e.status}: ${e.message}` : e instanceof Error ? e.message : String(e);

export type PatchType = "merge" | "json" | "apply" | "strategic";
const patchContentType: Record<PatchType, string> = {
  merge: "application/merge-patch+json",
  json: "application/json-patch+json",
  apply: "application/apply-patch+yaml",
  strategic: "application/strategic-merge-patch+json",
};

export interface RequestArgs {
  method?: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  /** Idle time on the connection after which the request fails (default 30 s). */
  timeoutMs?: number;
  /** Aborts the request wherever it is (connecting, sending, waiting for or reading the answer). */
  signal?: AbortSignal;
}

export interface ListResult<T> {
  items: T[];
  metadata: { resourceVersion: string; continue?: string };
}

/**
 * Connections to the API server are kept open and reused. client-node hands out a new Agent per request, which
 * would cost a TLS handshake (and a new TLS context) for every call. The agent keys its pool by host and TLS
 * options (CA, client certificate, verification), so changed credentials get their own connections.
 */
const keepAlive = { keepAlive: true, maxSockets: 64, maxFreeSockets: 16 };
const sharedAgents = { http: new HttpAgent(keepAlive), https: new HttpsAgent(keepAlive) };
/** Watches hold their connection for minutes: a pool of their own, so they never take the requests' sockets. */
const watchKeepAlive = { keepAlive: true, maxFreeSockets: 16 };
const watchAgents = { http: new HttpAgent(watchKeepAlive), https: new HttpsAgent(watchKeepAlive) };

export interface WatchStream {
  /** Resolves when the watch ends cleanly (the server closed it, it was idle too long, or abort()); rejects on failure. */
  done: Promise<void>;
  abort(): void;
}

/**
 * A request sent on a kept-alive connection the server had just closed fails with ECONNRESET before the server read
 * it; Node's documentation advises sending it again on a new connection.
 */
const resentOnFreshConnection = (req: ClientRequest, err: unknown) =>
  req.reusedSocket && (err as NodeJS.ErrnoException).code === "ECONNRESET";

function abortError(method: string, path: string, signal: AbortSignal): Error {
  const reason = signal.reason instanceof Error ? `: ${signal.reason.message}` : "";
  return Object.assign(new Error(`${method} ${path}: aborted${reason}`), { name: "AbortError" });
}

export class KubeClient {
  constructor(readonly kc: KubeConnection) {}

  /** A JSON request: the parsed body on 2xx, an ApiError carrying the API server's Status otherwise. */
  async request<T = unknown>(path: string, args: RequestArgs = {}): Promise<T> {
    const text = await this.requestText(path, { ...args, accept: "application/json" });
    try {
      return (text ? JSON.parse(text) : undefined) as T;
    } catch {
      throw new ApiError(500, "InvalidResponse", `${args.method ?? "GET"} ${path}: the API server's answer is not JSON`);
    }
  }

  /** A request whose body is returned as text (the service proxy, for example, answers with a PEM file). */
  async requestText(path: string, args: RequestArgs & { accept?: string } = {}): Promise<string> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new Error("kubeconfig has no current cluster");
    const url = new URL(cluster.server.replace(/\/$/, "") + path);
    for (const [k, v] of Object.entries(args.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const body = args.body === undefined ? undefined : Buffer.from(JSON.stringify(args.body));
    const method = args.method ?? "GET";
    const opts: RequestOptions = {
      method,
      headers: { accept: args.accept ?? "*/*", ...(body ? { "content-type": args.contentType ?? "application/json", "content-length": body.length } : {}) },
    };
    await this.kc.applyToHTTPSOptions(opts);
    // A proxy needs client-node's own agent; otherwise the shared keep-alive one.
    if (!cluster.proxyUrl) opts.agent = url.protocol === "http:" ? sharedAgents.http : sharedAgents.https;
    const send = url.protocol === "http:" ? httpRequest : httpsRequest;
    const attempt = (retried: boolean): Promise<string> => new Promise<string>((resolve, reject) => {
      if (args.signal?.aborted) return reject(abortError(method, path, args.signal));
      const req = send(url, opts, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve(text);
          let st: { reason?: string; message?: string; details?: unknown } = {};
          try { st = JSON.parse(text) as typeof st; } catch { st = { message: text.trim().slice(0, 200) || undefined }; }
          reject(new ApiError(status, st.reason ?? "Unknown", st.message ?? `${method} ${path}: HTTP ${status}`, st.details));
        });
      });
      req.setTimeout(args.timeoutMs ?? 30_000, () => req.destroy(new Error(`${method} ${path}: timed out`)));
      const onAbort = () => req.destroy(abortError(method, path, args.signal!));
      args.signal?.addEventListener("abort", onAbort, { once: true });
      req.on("close", () => args.signal?.removeEventListener("abort", onAbort));
      req.on("error", (err) => (!retried && resentOnFreshConnection(req, err) ? attempt(true).then(resolve, reject) : reject(err)));
      req.end(body);
    });
    return attempt(false);
  }

  /**
   * A watch request (`watch=true` is added): onEvent gets each event's type and object, parsed line by line straight
   * off the socket. A connection with no data (events or bookmarks) for idleTimeoutMs is taken for dead and closed,
   * which ends the watch cleanly: the caller resumes from the last version it saw.
   */
  watch(path: string, query: RequestArgs["query"], onEvent: (type: string, object: unknown) => void,
    opts: { idleTimeoutMs?: number } = {}): WatchStream {
    let req: ClientRequest | undefined;
    let aborted = false;
    const done = (async () => {
      const cluster = this.kc.getCurrentCluster();
      if (!cluster) throw new Error("kubeconfig has no current cluster");
      const url = new URL(cluster.server.replace(/\/$/, "") + path);
      url.searchParams.set("watch", "true");
      for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
      const reqOpts: RequestOptions = { method: "GET", headers: { accept: "application/json" } };
      await this.kc.applyToHTTPSOptions(reqOpts);
      if (!cluster.proxyUrl) reqOpts.agent = url.protocol === "http:" ? watchAgents.http : watchAgents.https;
      if (aborted) return;
      const send = url.protocol === "http:" ? httpRequest : httpsRequest;
      await new Promise<void>((resolve, reject) => {
        let idle = false;
        const r = (req = send(url, reqOpts, (res) => {
          const status = res.statusCode ?? 0;
          res.setEncoding("utf8");
          if (status !== 200) {
            let text = "";
            res.on("data", (c: string) => (text += c));
            res.on("end", () => {
              let st: { reason?: string; message?: string } = {};
              try { st = JSON.parse(text) as typeof st; } catch { st = { message: text.trim().slice(0, 200) || undefined }; }
              reject(new ApiError(status, st.reason ?? "Unknown", st.message ?? `watch ${path}: HTTP ${status}`));
            });
            return;
          }
          let pending = "";
          res.on("data", (chunk: string) => {
            pending += chunk;
            let nl: number;
            while ((nl = pending.indexOf("\n")) >= 0) {
              const line = pending.slice(0, nl);
              pending = pending.slice(nl + 1);
              if (!line.trim()) continue;
              let event: { type?: string; object?: unknown };
              try {
                event = JSON.parse(line) as typeof event;
              } catch {
                r.destroy(new Error(`watch ${path}: the API server sent a line that is not JSON`));
                return;
              }
              if (event.type) onEvent(event.type, event.object);
            }
          });
          res.on("end", () => resolve());
          res.on("error", (err) => (aborted || idle ? resolve() : reject(err)));
          res.on("close", () => resolve());
        }));
        r.setTimeout(opts.idleTimeoutMs ?? 90_000, () => {
          idle = true;
          r.destroy();
        });
        r.on("error", (err) => (aborted || idle ? resolve() : reject(err)));
        r.end();
      });
    })();
    return {
      done,
      abort: () => {
        aborted = true;
        req?.destroy();
      },
    };
  }

  get<T extends KubeObject>(t: ResourceType, name: string, namespace?: string, signal?: AbortSignal): Promise<T> {
    return this.request<T>(resourcePath(t, namespace, name), { signal });
  }

  async getOrNull<T extends KubeObject>(t: ResourceType, name: string, namespace?: string, signal?: AbortSignal): Promise<T | null> {
    try {
      return await this.get<T>(t, name, namespace, signal);
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  list<T extends KubeObject>(t: ResourceType, namespace?: string, query: RequestArgs["query"] = {}): Promise<ListResult<T>> {
    return this.request<ListResult<T>>(resourcePath(t, namespace), { query });
  }

  /** dryRun: the API server checks everything (admission, RBAC, the namespace) and stores nothing. */
  create<T extends KubeObject>(t: ResourceType, obj: T, signal?: AbortSignal, opts: { dryRun?: boolean } = {}): Promise<T> {
    const body = { apiVersion: apiVersionOf(t), kind: t.kind, ...obj };
    return this.request<T>(resourcePath(t, obj.metadata.namespace), { method: "POST", body, signal, query: dryRunQuery(opts) });
  }

  replace<T extends KubeObject>(t: ResourceType, obj: T, signal?: AbortSignal, opts: { dryRun?: boolean } = {}): Promise<T> {
    const body = { apiVersion: apiVersionOf(t), kind: t.kind, ...obj };
    return this.request<T>(resourcePath(t, obj.metadata.namespace, obj.metadata.name), { method: "PUT", body, signal, query: dryRunQuery(opts) });
  }

  patch<T extends KubeObject>(t: ResourceType, name: string, namespace: string | undefined, patch: unknown,
    opts: { type?: PatchType; subresource?: string; fieldManager?: string; force?: boolean } = {}): Promise<T> {
    const type = opts.type ?? "merge";
    return this.request<T>(resourcePath(t, namespace, name, opts.subresource), {
      method: "PATCH", body: patch, contentType: patchContentType[type],
      query: { fieldManager: opts.fieldManager, force: type === "apply" ? (opts.force ?? true) : undefined },
    });
  }

  /** Server-side apply of a whole object owned by fieldManager. */
  apply<T extends KubeObject>(t: ResourceType, obj: T, fieldManager: string, subresource?: string): Promise<T> {
    const body = { apiVersion: apiVersionOf(t), kind: t.kind, ...obj };
    return this.patch<T>(t, obj.metadata.name, obj.metadata.namespace, body, { type: "apply", fieldManager, subresource });
  }

  /** options: a DeleteOptions body, e.g. `{preconditions: {uid, resourceVersion}}` to delete only what was read. */
  async delete(t: ResourceType, name: string, namespace?: string, query: RequestArgs["query"] = {}, options?: object): Promise<boolean> {
    try {
      const body = options && { apiVersion: "v1", kind: "DeleteOptions", ...options };
      await this.request(resourcePath(t, namespace, name), { method: "DELETE", query, body });
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }
}

const dryRunQuery = (opts: { dryRun?: boolean }) => (opts.dryRun ? { dryRun: "All" } : {});
