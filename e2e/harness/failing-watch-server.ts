// A stand-in API server for the one fault a real kube-apiserver will not produce on demand: every watch fails (an
// HTTP 500, an ERROR event, or a stream closed at once) while lists succeed. It counts the requests it gets, and
// hands out a kubeconfig pointing at itself. Everything else is 404.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import * as k8s from "@kubernetes/client-node";

export type WatchFault = "http-500" | "error-event" | "closed-at-once";

export interface FailingWatchServer {
  readonly kubeConfig: k8s.KubeConfig;
  readonly counts: { lists: number; watches: number };
  close(): Promise<void>;
}

export async function startFailingWatchServer(fault: WatchFault): Promise<FailingWatchServer> {
  const counts = { lists: 0, watches: 0 };
  const status = (code: number, message: string) => ({ kind: "Status", apiVersion: "v1", status: "Failure", code, reason: "InternalError", message });
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    if (!/^\/api\/v1\/(namespaces\/[^/]+\/)?configmaps$/.test(url.pathname)) {
      res.writeHead(404, { "content-type": "application/json" }).end(JSON.stringify(status(404, "not found")));
      return;
    }
    if (url.searchParams.get("watch") !== "true") {
      counts.lists++;
      res.writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ kind: "ConfigMapList", apiVersion: "v1", metadata: { resourceVersion: "100" }, items: [] }));
      return;
    }
    counts.watches++;
    switch (fault) {
      case "http-500":
        res.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify(status(500, "watch refused")));
        return;
      case "error-event":
        res.writeHead(200, { "content-type": "application/json" })
          .end(`${JSON.stringify({ type: "ERROR", object: status(500, "etcd is unhappy") })}\n`);
        return;
      case "closed-at-once":
        res.writeHead(200, { "content-type": "application/json" }).end();
        return;
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: "stub", server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
    users: [{ name: "stub", token: "stub" }],
    contexts: [{ name: "stub", cluster: "stub", user: "stub" }],
    currentContext: "stub",
  });
  return {
    kubeConfig, counts,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
