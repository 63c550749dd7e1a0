// The cluster-manager's public HTTP listener: Git smart HTTP (/uuid/…, /shared/…), bootstrap scripts
// (/v1/bootstrap/…) and, later, the edge status endpoint — each handler claims the paths it serves.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Logger } from "pino";

export type RouteHandler = (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean>;

export interface PublicServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startPublicServer(handlers: RouteHandler[], opts: { host: string; port: number; log: Logger }): Promise<PublicServer> {
  const server: Server = createServer((req, res) => {
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
  server.requestTimeout = 5 * 60_000;
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
