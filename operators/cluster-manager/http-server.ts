// The cluster-manager's public HTTP listener: Git smart HTTP (/uuid/…, /shared/…), bootstrap scripts
// (/v1/bootstrap/…), the edge status and sealing endpoints — each handler claims the paths it serves. Nothing else is
// here: /metrics and the probes are on the health address. The listener is bounded: at most maxConnections open at
// once (more are closed as soon as they are accepted, before a byte is read), headers must arrive within
// headersTimeoutMs, a whole request within requestTimeoutMs, a kept-alive connection waits keepAliveTimeoutMs for its
// next request, and any connection idle for idleTimeoutMs closes.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "pino";

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean>;

export const DEFAULT_MAX_CONNECTIONS = 4096;
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 5_000;

export interface PublicServer {
  readonly port: number;
  /** Connections closed on accept because maxConnections were open. */
  readonly drops: number;
  close(): Promise<void>;
}

export interface ListenerLimits {
  /** Connections open at once (default 4096: each edge holds one head watch, up to half of them); one more is closed on accept, and counted in drops. */
  maxConnections?: number;
  /** A kept-alive connection with no next request after this long is closed (default 5 s). */
  keepAliveTimeoutMs?: number;
  /** Time to receive a request's headers (default 10 s). */
  headersTimeoutMs?: number;
  /** Time to receive a whole request (default 5 min: a large clone's upload-pack request). */
  requestTimeoutMs?: number;
  /** A connection with no traffic for this long is closed (default 60 s); also bounds a kept-alive idle one. */
  idleTimeoutMs?: number;
}

export async function startPublicServer(handlers: RouteHandler[],
  opts: { host: string; port: number; log: Logger; limits?: ListenerLimits; onDrop?: () => void }): Promise<PublicServer> {
  const t = opts.limits ?? {};
  const headersTimeout = t.headersTimeoutMs ?? 10_000;
  const idleTimeout = t.idleTimeoutMs ?? 60_000;
  const server: Server = createServer({
    headersTimeout,
    requestTimeout: t.requestTimeoutMs ?? 5 * 60_000,
    keepAliveTimeout: Math.min(t.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS, idleTimeout),
    // How often Node checks the headers and request deadlines: often enough for the shortest of them.
    connectionsCheckingInterval: Math.min(30_000, Math.max(100, headersTimeout / 2)),
  }, (req, res) => {
    void (async () => {
      // Handlers route on the path exactly as sent: a URL parser would resolve "../" first, so a traversal attempt
      // would reach some other handler (or none) instead of being refused by the one it targets.
      const url = req.url ?? "/";
      const path = url.split("?", 1)[0]!;
      if (!path.startsWith("/")) {
        res.writeHead(400, { "content-type": "text/plain" }).end("bad request URL\n");
        return;
      }
      try {
        for (const h of handlers) if (await h(req, res, path)) return;
        res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
      } catch (err) {
        opts.log.error({ err: (err as Error).message, path: path.replace(/\/v1\/bootstrap\/.*/, "/v1/bootstrap/[token]") }, "request failed");
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end("internal error\n");
      }
    })();
  });
  server.timeout = idleTimeout;
  // Node closes a connection beyond the cap at accept ('drop'); the client sees the connection close unanswered.
  server.maxConnections = t.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  let drops = 0;
  let lastDropLog = 0;
  server.on("drop", () => {
    drops++;
    opts.onDrop?.();
    const now = Date.now();
    if (now - lastDropLog < 10_000) return;
    lastDropLog = now;
    opts.log.warn({ maxConnections: server.maxConnections, dropped: drops }, "public listener at its connection cap; closing new connections");
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address();
  return {
    port: typeof addr === "object" && addr ? addr.port : opts.port,
    get drops() { return drops; },
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
