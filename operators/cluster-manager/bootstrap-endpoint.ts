// GET /v1/bootstrap/<token>: the one-time bootstrap script. Unknown tokens are refused from the in-memory index
// without a call to the API server; a known token is marked used (durably, with an optimistic lock) before the
// script is sent, so it works exactly once.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { EdgeCluster } from "../api/edgecluster.js";
import type { KubeClient } from "../runtime/rest.js";
import { TOKEN_PATTERN, bootstrapCommandSecretName, redeemBootstrapToken } from "./bootstrap-tokens.js";
import { renderBootstrapScript } from "./bootstrap-script.js";
import type { ClusterManagerConfig } from "./config.js";
import type { CredentialIndex } from "./credential-index.js";
import { Core } from "../runtime/kube.js";

const PREFIX = "/v1/bootstrap/";

export interface BootstrapEndpointDeps {
  client: KubeClient;
  index: CredentialIndex;
  config: ClusterManagerConfig & { fluxInstallPath?: string };
  log: Logger;
  /** Finds the EdgeCluster of a UUID (from the reconciler's informer). */
  clusterByUuid: (uuid: string) => EdgeCluster | undefined;
}

const howToRenew = (ec?: EdgeCluster) => ec
  ? `get a new one with: graft bootstrap-command -n ${ec.metadata.namespace} ${ec.metadata.name}`
  : "get a new one with: graft bootstrap-command <edgecluster>";

export function createBootstrapHandler(deps: BootstrapEndpointDeps) {
  return async (req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> => {
    if (!path.startsWith(PREFIX)) return false;
    const send = (code: number, text: string, type = "text/plain; charset=utf-8") => {
      res.writeHead(code, { "content-type": type, "cache-control": "no-store" }).end(text.endsWith("\n") ? text : `${text}\n`);
      return true;
    };
    if (req.method !== "GET") return send(405, "method not allowed: use GET");
    const token = path.slice(PREFIX.length);
    const where = TOKEN_PATTERN.test(token) ? deps.index.secretForBootstrapToken(token) : undefined;
    if (!where) return send(404, "unknown bootstrap token: check the URL, or get a new bootstrap command with: graft bootstrap-command <edgecluster>");
    const ec = deps.clusterByUuid(where.uuid);
    const result = await redeemBootstrapToken(deps.client, where.namespace, where.name, token);
    switch (result.outcome) {
      case "unknown":
        return send(404, "unknown bootstrap token: check the URL, or get a new bootstrap command with: graft bootstrap-command <edgecluster>");
      case "used":
        return send(410, `this bootstrap link was already used at ${result.usedAt} and works only once: ${howToRenew(ec)}`);
      case "expired":
        return send(410, `this bootstrap link expired at ${result.expiredAt}: ${howToRenew(ec)}`);
      case "ok": {
        if (!ec) return send(404, `edge cluster ${where.uuid} no longer exists`);
        const script = renderBootstrapScript(deps.config, ec, result.credentials);
        deps.log.info({ cluster: ec.metadata.name, namespace: ec.metadata.namespace }, "bootstrap script served");
        // The command Secret is spent: remove the token from it so it does not linger in clear.
        await deps.client.patch(Core.secrets, bootstrapCommandSecretName(ec.metadata.name), ec.metadata.namespace,
          { stringData: { command: "", url: "" }, metadata: { annotations: { "factoryplus.app.amrc.co.uk/used-at": new Date().toISOString() } } })
          .catch(() => undefined);
        return send(200, script);
      }
    }
  };
}
