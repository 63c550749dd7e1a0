// The edge's head watch (embedded mode): edge-sync holds `GET /v1/cluster/<uuid>/head?after=<commit>` open on the
// public listener it reports to, with the same edge-sync token, and is answered as soon as the cluster's repository
// head (status.commit: the last commit graft made) is not `after` — or, when nothing moved, after holdMs with the
// same commit, and it asks again. edge-sync then asks its Flux to fetch at once instead of at the next poll: no
// connection ever goes from the centre to an edge.
//   200 {"commit": "<sha1>"}       the head (changed, or unchanged after the hold)
//   401/403                         no token, or another cluster's token
//   404                             no such cluster here
//   503 + Retry-After               maxHeld requests are held already (the listener keeps room for everything else),
//                                   or MAX_HELD_PER_CLUSTER for this cluster
// Any replica answers: each one's informer sees the status write that moves status.commit; nothing is shared between
// them. Cost per held request: one socket, one timer and one entry in a per-cluster set; no API or git reads.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { EdgeCluster } from "../api/edgecluster.js";
import type { Informer } from "../runtime/informer.js";
import type { CredentialIndex } from "./credential-index.js";

const ROUTE = /^\/v1\/cluster\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/head$/;
const COMMIT = /^[0-9a-f]{40}$/;

/** How long an unchanged head is held by default: well inside the listener's 60 s idle timeout. */
export const DEFAULT_HEAD_HOLD_MS = 40_000;
/**
 * Watches one cluster's token may hold at once: its edge-sync's, one a restarted edge-sync left behind until it
 * closes, and room for a rolling update. One leaked token cannot take every edge's place.
 */
export const MAX_HELD_PER_CLUSTER = 4;
/** How long a client at the cap is told to wait before asking again (it adds its own jitter). */
export const HEAD_RETRY_AFTER_S = 30;

export interface HeadEndpointDeps {
  index: CredentialIndex;
  clusters: Informer<EdgeCluster>;
  clusterByUuid: (uuid: string) => EdgeCluster | undefined;
  log: Logger;
  holdMs?: number;
  /** Requests held at once; more are answered 503 at once. */
  maxHeld: number;
}

export interface HeadEndpoint {
  handler: (req: IncomingMessage, res: ServerResponse, path: string) => Promise<boolean>;
  /** Requests held now (a gauge). */
  readonly held: number;
}

export function createHeadEndpoint(deps: HeadEndpointDeps): HeadEndpoint {
  const holdMs = deps.holdMs ?? DEFAULT_HEAD_HOLD_MS;
  const waiting = new Map<string, Set<() => void>>();
  let held = 0;
  const headOf = (uuid: string) => deps.clusterByUuid(uuid)?.status?.commit;

  deps.clusters.on((event, ec, old) => {
    const uuid = ec.status?.uuid;
    if (!uuid || event === "delete" || ec.status?.commit === old?.status?.commit) return;
    const set = waiting.get(uuid);
    if (set) for (const wake of [...set]) wake();
  });

  const handler = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> => {
    const m = ROUTE.exec(path);
    if (!m) return false;
    const uuid = m[1]!;
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      const text = typeof body === "string" ? `${body}\n` : JSON.stringify(body);
      const type = typeof body === "string" ? "text/plain; charset=utf-8" : "application/json";
      res.writeHead(status, { "content-type": type, "cache-control": "no-store", ...headers }).end(text);
      return true;
    };
    if (req.method !== "GET") return send(405, "method not allowed", { allow: "GET" });
    const token = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
    const owner = token ? deps.index.clusterForSyncToken(token) : undefined;
    if (!owner) return send(401, "a valid edge-sync bearer token is required", { "www-authenticate": 'Bearer realm="graft"' });
    if (owner !== uuid) return send(403, "this token may only watch its own cluster's repository");
    if (!deps.clusterByUuid(uuid)) return send(404, `no edge cluster with UUID ${uuid}`);
    const after = new URL(req.url ?? "/", "http://x").searchParams.get("after") ?? "";
    if (after !== "" && !COMMIT.test(after)) return send(400, "after must be a 40-character commit id");

    const head = headOf(uuid);
    if (head && head !== after) return send(200, { commit: head });
    const busy = held >= deps.maxHeld ? "too many head watches held"
      : (waiting.get(uuid)?.size ?? 0) >= MAX_HELD_PER_CLUSTER ? `this cluster holds ${MAX_HELD_PER_CLUSTER} head watches already` : undefined;
    if (busy) return send(503, `${busy}; ask again later`, { "retry-after": String(HEAD_RETRY_AFTER_S) });

    held++;
    await new Promise<void>((resolve) => {
      let set = waiting.get(uuid);
      if (!set) waiting.set(uuid, (set = new Set()));
      const timer = setTimeout(done, holdMs);
      res.once("close", done);
      set.add(done);
      function done() {
        if (!set!.delete(done)) return;
        if (set!.size === 0) waiting.delete(uuid);
        clearTimeout(timer);
        res.off("close", done);
        held--;
        resolve();
      }
    });
    if (!res.destroyed && !res.writableEnded) send(200, headOf(uuid) ? { commit: headOf(uuid) } : {});
    return true;
  };
  return { handler, get held() { return held; } };
}
