// PUT/DELETE /v1/cluster/<uuid>/secret/<namespace>/<name>/<key> (the ACS route): seals a value with the edge
// cluster's current certificate and commits the SealedSecret into the cluster's repository, one file per Secret.
// The caller authenticates with a Kubernetes bearer token and needs `update` on the `edgeclusters/secrets`
// subresource of that EdgeCluster (checked with TokenReview + SubjectAccessReview).
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import { GROUP } from "../api/constants.js";
import type { EdgeCluster } from "../api/edgecluster.js";
import type { KubeClient } from "../runtime/rest.js";
import { CertificateError, SealInputError, SEALING_SCOPES, checkSecretKey, mergeSealedSecret, parseCertificate, removeKey, sealValue, type SealingScope } from "../seal/seal.js";
import { SealedSecretFileError, parseSealedSecretYaml, sealedSecretToYaml } from "../seal/sealed-secret-file.js";
import type { RepoStore } from "./git/repo-store.js";

const ROUTE = /^\/v1\/cluster\/([0-9a-f-]{36})\/secret\/([a-z0-9-]{1,63})\/([a-z0-9.-]{1,253})\/([-._a-zA-Z0-9]{1,253})$/;
export const SEALED_SECRETS_DIR = "edo/sealed-secrets";
export const MAX_SECRET_VALUE = 1024 * 1024;

export const sealedSecretPath = (namespace: string, name: string) => `${SEALED_SECRETS_DIR}/${namespace}/${name}.yaml`;

export interface SealEndpointDeps {
  client: KubeClient;
  repos: RepoStore;
  log: Logger;
  clusterByUuid: (uuid: string) => EdgeCluster | undefined;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

interface TokenReview { status?: { authenticated?: boolean; user?: { username?: string; groups?: string[]; uid?: string; extra?: Record<string, string[]> }; error?: string } }
interface AccessReview { status?: { allowed?: boolean; reason?: string } }

async function authorise(client: KubeClient, req: IncomingMessage, ec: EdgeCluster, verb: string): Promise<string> {
  const token = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? "")?.[1];
  if (!token) throw new HttpError(401, "a Kubernetes bearer token is required");
  const review = await client.request<TokenReview>("/apis/authentication.k8s.io/v1/tokenreviews", {
    method: "POST", body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token } },
  });
  const user = review.status?.user;
  if (!review.status?.authenticated || !user?.username) throw new HttpError(401, "the bearer token is not valid");
  const access = await client.request<AccessReview>("/apis/authorization.k8s.io/v1/subjectaccessreviews", {
    method: "POST",
    body: {
      apiVersion: "authorization.k8s.io/v1", kind: "SubjectAccessReview",
      spec: {
        user: user.username, groups: user.groups, uid: user.uid, extra: user.extra,
        resourceAttributes: { group: GROUP, resource: "edgeclusters", subresource: "secrets", verb, namespace: ec.metadata.namespace, name: ec.metadata.name },
      },
    },
  });
  if (!access.status?.allowed) {
    throw new HttpError(403, `"${user.username}" may not ${verb} edgeclusters/secrets of "${ec.metadata.namespace}/${ec.metadata.name}"`);
  }
  return user.username;
}

async function readValue(req: IncomingMessage): Promise<Buffer> {
  if (Number(req.headers["content-length"] ?? 0) > MAX_SECRET_VALUE) throw new HttpError(413, `value too large: a Secret holds at most ${MAX_SECRET_VALUE} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_SECRET_VALUE) throw new HttpError(413, `value too large: a Secret holds at most ${MAX_SECRET_VALUE} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

export function createSealHandler(deps: SealEndpointDeps) {
  return async (req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> => {
    if (!path.startsWith("/v1/cluster/")) return false;
    const send = (status: number, body: string, type = "text/plain; charset=utf-8") => {
      res.writeHead(status, { "content-type": type }).end(body.endsWith("\n") ? body : `${body}\n`);
      return true;
    };
    try {
      const m = ROUTE.exec(path);
      if (!m) return send(404, "not found: expected /v1/cluster/<uuid>/secret/<namespace>/<name>/<key>");
      const [, uuid, namespace, name, key] = m as unknown as [string, string, string, string, string];
      if (req.method !== "PUT" && req.method !== "DELETE") return send(405, "method not allowed: use PUT or DELETE");
      const ec = deps.clusterByUuid(uuid);
      if (!ec) return send(404, `no edge cluster with UUID ${uuid}`);
      const user = await authorise(deps.client, req, ec, "update");
      checkSecretKey(key);
      const query = new URL(req.url ?? "/", "http://x").searchParams;
      const dryRun = query.get("dryRun") === "true" || query.get("dryRun") === "All";
      const file = sealedSecretPath(namespace, name);

      if (req.method === "PUT") {
        const scope = (query.get("scope") ?? "strict") as SealingScope;
        if (!SEALING_SCOPES.includes(scope)) throw new HttpError(400, `unknown scope "${scope}": use ${SEALING_SCOPES.join(", ")}`);
        const value = await readValue(req);
        const cert = parseCertificate(ec.status?.kubesealCertificate?.pem);
        const encryptedValue = sealValue(cert, value, scope, namespace, name);
        let yaml = "";
        const change = (current: Map<string, Buffer>) => {
          const existing = current.has(file) ? parseSealedSecretYaml(current.get(file)!.toString("utf8"), file) : null;
          yaml = sealedSecretToYaml(mergeSealedSecret(existing, { name, namespace, scope, key, encryptedValue }));
          return new Map<string, string | Buffer>(current).set(file, yaml);
        };
        if (dryRun) change(await deps.repos.readFiles(uuid));
        else await deps.repos.updateFiles(uuid, change, `Seal key "${key}" of Secret ${namespace}/${name} (by ${user})`);
        deps.log.info({ cluster: ec.metadata.name, secret: `${namespace}/${name}`, key, user, dryRun }, "sealed a secret value");
        return send(200, yaml, "application/yaml");
      }

      let found = true;
      const change = (current: Map<string, Buffer>) => {
        const text = current.get(file);
        const existing = text ? parseSealedSecretYaml(text.toString("utf8"), file) : null;
        found = !!existing && key in existing.spec.encryptedData;
        if (!found) return current;
        const next = new Map<string, string | Buffer>(current);
        const kept = removeKey(existing!, key);
        if (kept) next.set(file, sealedSecretToYaml(kept));
        else next.delete(file);
        return next;
      };
      if (dryRun) change(await deps.repos.readFiles(uuid));
      else await deps.repos.updateFiles(uuid, change, `Remove key "${key}" of Secret ${namespace}/${name} (by ${user})`);
      return found ? send(200, dryRun ? "would remove the key" : "removed") : send(404, `Secret ${namespace}/${name} has no sealed key "${key}"`);
    } catch (err) {
      if (err instanceof HttpError) return send(err.status, err.message);
      if (err instanceof CertificateError) return send(409, `cannot seal for this cluster: ${err.message}`);
      if (err instanceof SealInputError || err instanceof SealedSecretFileError) return send(422, err.message);
      throw err;
    }
  };
}
