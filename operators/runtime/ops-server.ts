// The operational HTTP endpoints of every component: /healthz (alive), /readyz (ready for work) and /metrics
// (Prometheus). A component that serves metrics on an address of their own starts a second one without health.
import { createServer, type Server } from "node:http";
import type { Registry } from "prom-client";

export interface OpsServerOptions {
  host?: string;
  port: number;
  registry?: Registry;
  /** Extra readiness checks: name → ok? */
  readiness?: Record<string, () => boolean>;
  liveness?: Record<string, () => boolean>;
  /** false: no /healthz, /livez and /readyz here (a metrics-only listener). Default true. */
  health?: boolean;
}

export interface OpsServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startOpsServer(opts: OpsServerOptions): Promise<OpsServer> {
  const check = (checks: Record<string, () => boolean> = {}) => {
    const failed = Object.entries(checks).filter(([, fn]) => !fn()).map(([n]) => n);
    return failed.length ? { code: 503, body: `not ok: ${failed.join(", ")}\n` } : { code: 200, body: "ok\n" };
  };
  const server: Server = createServer(async (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const health = opts.health ?? true;
    if (health && (path === "/healthz" || path === "/livez")) {
      const r = check(opts.liveness);
      res.writeHead(r.code, { "content-type": "text/plain" }).end(r.body);
    } else if (health && path === "/readyz") {
      const r = check(opts.readiness);
      res.writeHead(r.code, { "content-type": "text/plain" }).end(r.body);
    } else if (path === "/metrics" && opts.registry) {
      res.writeHead(200, { "content-type": opts.registry.contentType }).end(await opts.registry.metrics());
    } else {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found\n");
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host ?? "0.0.0.0", () => resolve());
  });
  const addr = server.address();
  return {
    port: typeof addr === "object" && addr ? addr.port : opts.port,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

/** Parses "host:port" or ":port" flags. */
export function parseAddr(addr: string): { host: string; port: number } {
  const i = addr.lastIndexOf(":");
  const host = i > 0 ? addr.slice(0, i).replace(/^\[|\]$/g, "") : "0.0.0.0";
  const port = Number(addr.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid address "${addr}": expected host:port`);
  return { host, port };
}
