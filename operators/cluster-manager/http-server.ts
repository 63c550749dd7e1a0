// The cluster-manager's public HTTP listener: Git smart HTTP (/uuid/…, /shared/…), bootstrap scripts
// (/v1/bootstrap/…), the edge status and sealing endpoints — each handler claims the paths it serves. Nothing else is
// here: /metrics and the probes are on the health address. Slow or idle clients are cut off: headers must arrive
// within headersTimeoutMs, a whole request within requestTimeoutMs, and a connection idle for idleTimeoutMs closes.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "pino";

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean>;

export interface PublicServer {
  readonly port: number;
  close(): Promise<void>;
}

export interface ListenerTimeouts {
  /** Time to receive a request's headers (default 10 s). */
  headersTimeoutMs?: number;
  /** Time to receive a whole request (default 5 min: a large clone's upload-pack request). */
  requestTimeoutMs?: number;
  /** A connection with no traffic for this long is closed (default 60 s); also bounds a kept-alive idle one. */
  idleTimeoutMs?: number;
}

export async function startPublicServer(handlers: RouteHandler[],
  opts: { host: string; port: number; log: Logger; timeouts?: ListenerTimeouts }): Promise<PublicServer> {
  const t = opts.timeouts ?? {};
  const headersTimeout = t.headersTimeoutMs ?? 10_000;
  const server: Server = createServer({
    headersTimeout,
    requestTimeout: t.requestTimeoutMs ?? 5 * 60_000,
    keepAliveTimeout: Math.min(5_000, t.idleTimeoutMs ?? 60_000),
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
  server.timeout = t.idleTimeoutMs ?? 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address();
  return {
    port: typeof addr === "object" && addr ? addr.port : opts.port,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
