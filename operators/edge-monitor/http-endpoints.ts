// The monitor's HTTP endpoints: /healthz (alive), /readyz (connected and born) and /metrics (Prometheus).
// Health and metrics may share one address or use two; each listener serves the paths given to its address.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { parseListenAddress } from "./config.js";

export interface EndpointOptions {
  healthAddr: string;
  metricsAddr: string;
  isReady: () => boolean;
  registry: Registry;
}

export interface RunningEndpoints {
  /** The bound address of each listener ("127.0.0.1:0" resolves to the port the OS chose). */
  readonly health: AddressInfo;
  readonly metrics: AddressInfo;
  close(): Promise<void>;
}

type Handler = () => Promise<{ status: number; type: string; body: string }>;

export async function startEndpoints(opts: EndpointOptions): Promise<RunningEndpoints> {
  const health: Record<string, Handler> = {
    "/healthz": async () => ({ status: 200, type: "text/plain", body: "ok\n" }),
    "/readyz": async () => opts.isReady()
      ? { status: 200, type: "text/plain", body: "ok\n" }
      : { status: 503, type: "text/plain", body: "not ready: no Sparkplug session with the broker\n" },
  };
  const metrics: Record<string, Handler> = {
    "/metrics": async () => ({ status: 200, type: opts.registry.contentType, body: await opts.registry.metrics() }),
  };
  const byAddress = new Map<string, Record<string, Handler>>();
  byAddress.set(opts.healthAddr, { ...health });
  byAddress.set(opts.metricsAddr, { ...byAddress.get(opts.metricsAddr), ...metrics });

  const servers = new Map<string, Server>();
  try {
    for (const [address, routes] of byAddress) servers.set(address, await listen(address, routes));
  } catch (err) {
    await Promise.all([...servers.values()].map(closeServer));
    throw err;
  }
  return {
    health: servers.get(opts.healthAddr)!.address() as AddressInfo,
    metrics: servers.get(opts.metricsAddr)!.address() as AddressInfo,
    close: async () => {
      await Promise.all([...servers.values()].map(closeServer));
    },
  };
}

function listen(address: string, routes: Record<string, Handler>): Promise<Server> {
  const parsed = parseListenAddress(address);
  if (!parsed) return Promise.reject(new Error(`listen address "${address}" is not [host]:port`));
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    const handler = routes[path];
    if (!handler || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(handler ? 405 : 404, { "content-type": "text/plain" }).end(handler ? "method not allowed\n" : "not found\n");
      return;
    }
    handler().then(
      (r) => res.writeHead(r.status, { "content-type": r.type }).end(req.method === "HEAD" ? undefined : r.body),
      (err: Error) => res.writeHead(500, { "content-type": "text/plain" }).end(`${err.message}\n`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once("error", (err) => reject(new Error(`listening on "${address}": ${err.message}`)));
    server.listen(parsed.port, parsed.host, () => resolve(server));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
