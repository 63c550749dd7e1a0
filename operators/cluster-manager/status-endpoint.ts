// The edge status endpoint (embedded mode): the ConfigDB v2 subset edge-sync speaks, for the 'Edge cluster status'
// application only. Entries live in the EdgeCluster's status: hosts, the Sealed Secrets certificate and the GitOps
// report (gitops-report.ts).
//   GET   /v2/app/<app>/object/<uuid>  → 200 entry JSON (404 before the first report)
//   PATCH same, application/merge-patch+json → 204 (creates the entry)
//   PUT   same, application/json → 201 created / 204 replaced
// Only the cluster's own edge-sync token is accepted (another cluster's → 403).
import { X509Certificate } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { z } from "zod";
import { App } from "../api/constants.js";
import { ConditionType as T, Reason } from "../api/conditions.js";
import { EdgeClusterType, host, type EdgeCluster, type EdgeClusterStatus } from "../api/edgecluster.js";
import { setCondition } from "../runtime/conditions.js";
import type { KubeClient } from "../runtime/rest.js";
import { updateStatus } from "../runtime/status.js";
import type { CredentialIndex } from "./credential-index.js";
import { summarizeReady } from "./controller/summarize.js";
import { applyGitops, gitopsEntry, gitopsEntryOf } from "./gitops-report.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ROUTE = /^\/v2\/app\/([^/]+)\/object\/([^/]+)$/;
export const MAX_STATUS_BODY = 1024 * 1024;

/**
 * The members of an 'Edge cluster status' entry graft reads. ACS's ConfigDB holds no ConfigSchema for the application
 * (acs-service-setup dumps), so an entry may carry more (edge-sync's `deployments` in ACS mode): the ConfigDB mirror
 * reads it with unknown members dropped; this endpoint, which only graft's edge-sync writes to, refuses them.
 */
export const statusEntry = z.object({
  hosts: z.array(host).max(10_000).optional(),
  kubeseal_cert: z.string().max(64 * 1024).optional(),
  gitops: gitopsEntry.optional(),
});
const strictStatusEntry = statusEntry.strict();
export type StatusEntry = z.infer<typeof statusEntry>;

export interface StatusEndpointDeps {
  client: KubeClient;
  index: CredentialIndex;
  log: Logger;
  clusterByUuid: (uuid: string) => EdgeCluster | undefined;
  /** Called after each accepted report (for metrics and tests). */
  onReport?: (uuid: string, method: string) => void;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export function entryOf(status: EdgeClusterStatus | undefined): StatusEntry | null {
  if (!status?.hosts && !status?.kubesealCertificate && !status?.gitops) return null;
  return {
    ...(status.hosts ? { hosts: status.hosts } : {}),
    ...(status.kubesealCertificate ? { kubeseal_cert: status.kubesealCertificate.pem } : {}),
    ...(status.gitops ? { gitops: gitopsEntryOf(status.gitops) } : {}),
  };
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!patch || typeof patch !== "object" || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === "object" && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function certificateStatus(pem: string) {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    throw new HttpError(422, "kubeseal_cert is not a PEM X.509 certificate");
  }
  return { pem, fingerprint: cert.fingerprint256, notAfter: new Date(cert.validTo).toISOString() };
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > MAX_STATUS_BODY) throw new HttpError(413, `request body too large: at most ${MAX_STATUS_BODY} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_STATUS_BODY) throw new HttpError(413, `request body too large: at most ${MAX_STATUS_BODY} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch (err) {
    throw new HttpError(422, `body is not valid JSON: ${(err as Error).message}`);
  }
}

function validate(value: unknown): StatusEntry {
  const r = strictStatusEntry.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  throw new HttpError(422, `invalid status entry at "${issue.path.join(".") || "(root)"}": ${issue.message}`);
}

export function createStatusHandler(deps: StatusEndpointDeps) {
  return async (req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> => {
    if (!path.startsWith("/v2/")) return false;
    const send = (status: number, body?: unknown, headers: Record<string, string> = {}) => {
      if (body === undefined) res.writeHead(status, headers).end();
      else if (typeof body === "string") res.writeHead(status, { "content-type": "text/plain; charset=utf-8", ...headers }).end(`${body}\n`);
      else res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
      return true;
    };
    try {
      const m = ROUTE.exec(path);
      if (!m) return send(404, "not found");
      const [, app, uuid] = m as unknown as [string, string, string];
      if (!UUID.test(app) || !UUID.test(uuid)) return send(410, "path parts must be UUIDs");
      if (app !== App.EdgeClusterStatus) return send(404, `application ${app} is not served here: only 'Edge cluster status' (${App.EdgeClusterStatus})`);
      const auth = req.headers.authorization ?? "";
      const token = /^Bearer (\S+)$/i.exec(auth)?.[1];
      const owner = token ? deps.index.clusterForSyncToken(token) : undefined;
      if (!owner) return send(401, "a valid edge-sync bearer token is required", { "www-authenticate": 'Bearer realm="graft"' });
      if (owner !== uuid) return send(403, "this token may only report the status of its own cluster");
      const ec = deps.clusterByUuid(uuid);
      if (!ec) return send(404, `no edge cluster with UUID ${uuid}`);

      if (req.method === "GET") {
        const entry = entryOf(ec.status);
        return entry ? send(200, entry) : send(404, "no status reported yet");
      }
      if (req.method !== "PATCH" && req.method !== "PUT") return send(405, "method not allowed", { allow: "GET, PATCH, PUT" });
      const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
      const wanted = req.method === "PATCH" ? "application/merge-patch+json" : "application/json";
      if (type !== wanted) return send(415, `${req.method} needs Content-Type ${wanted}`);
      const body = parseJson(await readBody(req));
      if (req.method === "PATCH" && (!body || typeof body !== "object" || Array.isArray(body))) throw new HttpError(422, "a merge patch must be a JSON object");
      if (req.method === "PUT") validate(body);

      let created = false;
      const updated = await updateStatus<EdgeClusterStatus, EdgeCluster>(deps.client, EdgeClusterType, ec.metadata.name, ec.metadata.namespace, (s, obj) => {
        if (obj.status?.uuid !== uuid) throw new HttpError(404, `no edge cluster with UUID ${uuid}`);
        const current = entryOf(s);
        created = current === null;
        const next = validate(req.method === "PATCH" ? mergePatch(current ?? {}, body) : body);
        applyEntry(s, next, obj.metadata.generation);
      }, { from: ec });
      if (!updated) return send(404, `no edge cluster with UUID ${uuid}`);
      deps.onReport?.(uuid, req.method);
      return send(req.method === "PUT" && created ? 201 : 204);
    } catch (err) {
      if (err instanceof HttpError) return send(err.status, err.message);
      throw err;
    }
  };
}

/** Writes a status entry into EdgeCluster status: hosts, certificate, GitOps report, Bootstrapped and Reporting (shared with ACS mode). */
export function applyEntry(s: EdgeClusterStatus, entry: StatusEntry, generation?: number) {
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
  if (entry.hosts) {
    s.hosts = entry.hosts;
    s.hostCount = entry.hosts.length;
  } else {
    delete s.hosts;
    delete s.hostCount;
  }
  if (entry.kubeseal_cert) s.kubesealCertificate = certificateStatus(entry.kubeseal_cert);
  else delete s.kubesealCertificate;
  applyGitops(s, entry.gitops, now);
  s.lastReportTime = now;
  s.conditions = setCondition(s.conditions, { type: T.Bootstrapped, status: "True", reason: Reason.Bootstrapped, message: "edge-sync has reported from the edge cluster" }, generation);
  s.conditions = setCondition(s.conditions, { type: T.Reporting, status: "True", reason: Reason.Reporting, message: `last report at ${now}` }, generation);
  summarizeReady(s, generation);
}
