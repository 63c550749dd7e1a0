// GET /v1/bootstrap/<token> and /v1/bootstrap/<token>.sh: the one-time bootstrap script. A token is looked up in the
// in-memory index; one this replica has not seen yet (its Secret watch lags the replica that issued it) gets one
// rate-limited list of the credentials Secrets before it is called unknown. A known token is marked used (durably,
// with an optimistic lock) before the script is sent, so it works exactly once.
//
// The plain link answers refusals with their status (404, 410, 503) and a one-line reason. The `.sh` form, which the
// printed `curl -fsSL … | sh -` fetches, answers them with 200 and a script that prints the same reason to stderr
// and exits 1: curl -f would drop a 410's text and sh would run nothing and succeed.
import type { FluxReleases } from "./fleet/flux-releases.js";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { EdgeCluster } from "../api/edgecluster.js";
import { refusalScript } from "../bootstrap/refusal-script.js";
import { Core } from "../runtime/kube.js";
import type { KubeClient } from "../runtime/rest.js";
import { renderBootstrapScript } from "./bootstrap-script.js";
import { TOKEN_PATTERN, bootstrapCommandSecretName, bootstrapLink, findTokenSecret, redeemBootstrapToken, renewalHint } from "./bootstrap-tokens.js";
import type { ClusterManagerConfig } from "./config.js";
import type { CredentialIndex } from "./credential-index.js";

const PREFIX = "/v1/bootstrap/";

export interface BootstrapEndpointDeps {
  client: KubeClient;
  index: CredentialIndex;
  config: ClusterManagerConfig & { fluxInstallPath?: string; fluxReleases?: FluxReleases };
  log: Logger;
  /** Finds the EdgeCluster of a UUID (from the reconciler's informer). */
  clusterByUuid: (uuid: string) => EdgeCluster | undefined;
  /** API lookups of tokens missing from the index: at most burst at once, refilled at perSecond (default 10, 5). */
  lookupRate?: { burst: number; perSecond: number };
}

type Answer = { status: 200; script: string } | { status: number; text: string; retryAfter?: number };

const UNKNOWN = "unknown bootstrap token: check the URL, or get a new bootstrap command with: graft bootstrap-command <edgecluster>";

export function createBootstrapHandler(deps: BootstrapEndpointDeps) {
  const lookups = new TokenBucket(deps.lookupRate?.burst ?? 10, deps.lookupRate?.perSecond ?? 5);

  async function answer(method: string, token: string): Promise<Answer> {
    if (method !== "GET") return { status: 405, text: "method not allowed: use GET" };
    if (!TOKEN_PATTERN.test(token)) return { status: 404, text: UNKNOWN };
    let where = deps.index.secretForBootstrapToken(token);
    if (!where) {
      if (!lookups.take()) {
        return { status: 503, text: "cannot check this bootstrap link right now (too many unknown links being checked): try again in a few seconds", retryAfter: 2 };
      }
      try {
        where = await findTokenSecret(deps.client, deps.config.watchNamespace, token);
      } catch (err) {
        // The index may lag the API server, so an unknown token is not refused unchecked; without the API it is unknowable.
        deps.log.warn({ err: (err as Error).message }, "could not look a bootstrap token up");
        return { status: 503, text: "cannot check this bootstrap link right now (the Kubernetes API server did not answer): try again in a moment", retryAfter: 5 };
      }
      if (!where) return { status: 404, text: UNKNOWN };
    }
    const ec = deps.clusterByUuid(where.uuid);
    const clusterGone = { status: 410, text: `the edge cluster this bootstrap link was issued for (uuid ${where.uuid}) has been deleted` };
    if (!ec) return clusterGone;
    if (ec.metadata.deletionTimestamp) return { ...clusterGone, text: `the edge cluster "${ec.metadata.namespace}/${ec.metadata.name}" this bootstrap link was issued for is being deleted` };
    const result = await redeemBootstrapToken(deps.client, where.namespace, where.name, token);
    switch (result.outcome) {
      case "unknown":
        return { status: 404, text: UNKNOWN };
      case "cluster-gone":
        return clusterGone;
      case "used":
        return { status: 410, text: `this bootstrap link was already used at ${result.usedAt} and works only once: ${renewalHint(ec)}` };
      case "expired":
        return { status: 410, text: `this bootstrap link expired at ${result.expiredAt}: ${renewalHint(ec)}` };
      case "superseded":
        return { status: 410, text: `a newer bootstrap link was issued for this cluster at ${result.supersededAt}, which replaces this one: use the newest link, or ${renewalHint(ec)}` };
      case "ok": {
        const link = bootstrapLink(deps.config, where.uuid, token);
        const script = renderBootstrapScript(deps.config, ec, result.credentials, `${link.url}.sh`);
        deps.log.info({ cluster: ec.metadata.name, namespace: ec.metadata.namespace }, "bootstrap script served");
        // The command Secret is spent: remove the token from it so it does not linger in clear.
        await deps.client.patch(Core.secrets, bootstrapCommandSecretName(ec.metadata.name), ec.metadata.namespace,
          { stringData: { command: "", url: "" }, metadata: { annotations: { "factoryplus.app.amrc.co.uk/used-at": new Date().toISOString() } } })
          .catch(() => undefined);
        return { status: 200, script };
      }
    }
  }

  return async (req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> => {
    if (!path.startsWith(PREFIX)) return false;
    const rest = path.slice(PREFIX.length);
    const forShell = rest.endsWith(".sh");
    const token = forShell ? rest.slice(0, -3) : rest;
    let a: Answer;
    try {
      a = await answer(req.method ?? "", token);
    } catch (err) {
      deps.log.error({ err: (err as Error).message }, "bootstrap request failed");
      a = { status: 500, text: "the cluster-manager could not serve this bootstrap link (internal error): try again in a moment; if it persists, get a new link with: graft bootstrap-command <edgecluster>" };
    }
    const headers: Record<string, string | number> = { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" };
    if ("script" in a) {
      res.writeHead(200, headers).end(a.script);
    } else if (forShell) {
      res.writeHead(200, headers).end(refusalScript(a.text, a.status));
    } else {
      if (a.retryAfter) headers["retry-after"] = a.retryAfter;
      res.writeHead(a.status, headers).end(`${a.text}\n`);
    }
    return true;
  };
}

/** A token bucket: take() succeeds while tokens are left; they come back at a steady rate up to the burst size. */
class TokenBucket {
  private tokens: number;
  private at = Date.now();
  constructor(private readonly burst: number, private readonly perSecond: number) {
    this.tokens = burst;
  }
  take(): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.perSecond);
    this.at = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
