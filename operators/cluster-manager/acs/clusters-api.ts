// The ACS Clusters service HTTP API (acs-contract.md §8) that ACS's admin UI calls, served by graft in ACS mode:
// - POST /token: a Bearer token for this service (callers log in with Basic or Negotiate, as at every ACS service);
// - GET /ping: who this service is;
// - POST /v1/cluster/<uuid>/bootstrap-url (Manage clusters): a JSON string, the URL of a single-use bootstrap script
//   (graft's one-time token, the `.sh` form: the script is served once, then a script saying why it is refused),
//   404 until the cluster is set up;
// - GET /v1/cluster/<uuid>/status (Manage clusters): the setup status entry; 404 for an unknown cluster;
// - PUT|DELETE /v1/cluster/<uuid>/secret/<namespace>/<name>/<key>[?dryrun] (Manage secrets): seal a value into the
//   cluster's repository (secrets-api.ts).
// Callers authenticate with Basic (checked by asking the ACS Auth service for a token with those credentials, so the
// KDC decides), with Negotiate when the manager has an acceptor keytab (the GSSAPI token verified with it, the reply
// token sent back for mutual authentication; the Kerberos name is the caller, looked up at the Auth service), or with
// a Bearer token from /token (accepted by every replica, bearer-tokens.ts); otherwise 401 with
// `WWW-Authenticate: Basic realm="Factory+"` (and `Negotiate` first when it is accepted). The ACL check asks the Auth
// service for the caller's ACL (the Cluster Manager role holds ReadACL on the Clusters permissions) and passes when
// Manage clusters is granted on the cluster or on the Null UUID.
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "pino";
import type { AuthClient } from "../../acs/auth.js";
import type { ConfigDbClient } from "../../acs/configdb.js";
import { ServiceClient } from "../../acs/service-client.js";
import { App, Perm, Service } from "../../api/constants.js";
import { ConditionType as T } from "../../api/conditions.js";
import type { EdgeCluster } from "../../api/edgecluster.js";
import type { NegotiateAcceptor } from "../../kerberos/gss-acceptor.js";
import type { KubeClient } from "../../runtime/rest.js";
import { issueBootstrapToken } from "../bootstrap-tokens.js";
import { urlsFor, type ClusterManagerConfig } from "../config.js";
import { credentialsSecretName } from "../credentials.js";
import type { BearerTokens } from "./bearer-tokens.js";
import type { AcsGitRepos } from "./git-sync.js";
import { handleSecret } from "./secrets-api.js";

const NULL_UUID = "00000000-0000-0000-0000-000000000000";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const TOKEN_LIFETIME_MS = 60 * 60_000;
/** Basic credentials found good are not re-checked at the Auth service for this long. */
const BASIC_CACHE_MS = 60_000;

export interface ClustersApiDeps {
  config: ClusterManagerConfig;
  client: KubeClient;
  cdb: ConfigDbClient;
  /** The manager's own Auth connection: reads callers' ACLs. */
  auth: AuthClient;
  /** The Auth service's base URL (a caller's Basic credentials are checked by logging in there). */
  authUrl: () => Promise<string>;
  clusterByUuid: (uuid: string) => EdgeCluster | undefined;
  /** The cluster repositories on the ACS Git server (sealed secrets are committed there). */
  git: AcsGitRepos;
  /** Issues and checks the /token Bearer tokens. */
  tokens: BearerTokens;
  log: Logger;
  version: string;
  /** Verifies Negotiate tokens with the manager's acceptor keytab; absent: Negotiate is not offered. */
  negotiate?: NegotiateAcceptor;
}

/**
 * Who called: an ACS principal UUID (Basic: the Auth service's whoami) or a Kerberos name (Negotiate: the Auth
 * service maps it to its principal when the ACL is read).
 */
type Caller = { principal: string; kerberos?: undefined }
  | { kerberos: string; principal?: undefined; /** read while logging in: this request's ACL */ acl?: Ace[] };
type Ace = { permission: string; target: string };

/** A Negotiate caller's Bearer tokens carry its Kerberos name under this prefix (principal UUIDs never hold a colon). */
const KERBEROS_SUBJECT = "krb:";
const subjectOf = (c: Caller) => c.kerberos !== undefined ? `${KERBEROS_SUBJECT}${c.kerberos}` : c.principal;
const callerOf = (subject: string): Caller => subject.startsWith(KERBEROS_SUBJECT)
  ? { kerberos: subject.slice(KERBEROS_SUBJECT.length) } : { principal: subject };
const nameOf = (c: Caller) => c.kerberos ?? c.principal;

export function createClustersApiHandler(deps: ClustersApiDeps) {
  const basicSeen = new Map<string, { caller: Caller; until: number }>();
  const challenges = deps.negotiate ? ["Negotiate", 'Basic realm="Factory+"'] : 'Basic realm="Factory+"';

  /** A Negotiate login: the client's Kerberos name (when it has an ACS account) and the reply token. */
  async function negotiate(token: string): Promise<{ caller: Caller; reply: string } | null> {
    if (!deps.negotiate) return null;
    const accepted = await deps.negotiate.accept(token);
    if ("refused" in accepted) {
      deps.log.debug({ reason: accepted.refused }, "refused a Negotiate token");
      return null;
    }
    // The principal lookup: the Kerberos name must map to an ACS account (as a Basic login's whoami must).
    const acl = await deps.auth.aclByKerberos(accepted.principal);
    if (acl === null) {
      deps.log.info({ kerberos: accepted.principal }, "refused a Negotiate login: the Kerberos principal has no ACS account");
      return null;
    }
    return { caller: { kerberos: accepted.principal, acl }, reply: accepted.reply };
  }

  async function authenticate(req: IncomingMessage, res: ServerResponse): Promise<Caller | null> {
    const header = req.headers.authorization ?? "";
    const [scheme, credentials] = header.split(" ", 2) as [string, string | undefined];
    if (scheme === "Bearer" && credentials) {
      const subject = await deps.tokens.verify(credentials);
      return subject ? callerOf(subject) : null;
    }
    if (scheme === "Negotiate" && credentials) {
      const login = await negotiate(credentials.trim());
      if (login) res.setHeader("www-authenticate", `Negotiate ${login.reply}`);
      return login?.caller ?? null;
    }
    if (scheme !== "Basic" || !credentials) return null;
    const key = createHash("sha256").update(credentials).digest("hex");
    const seen = basicSeen.get(key);
    if (seen && seen.until > Date.now()) return seen.caller;
    const decoded = Buffer.from(credentials, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon <= 0) return null;
    // The Auth service checks the password (against the KDC) when it issues a token; whoami names the principal.
    const probe = new ServiceClient({
      service: "auth", baseUrl: await deps.authUrl(),
      credentials: { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) },
    });
    try {
      const res = await probe.request({ method: "GET", path: "v2/whoami", accept: [200, 401, 403, 404] });
      if (res.status !== 200) return null;
      const principal = res.json<{ uuid?: unknown }>()?.uuid;
      if (typeof principal !== "string") return null;
      const caller = { principal };
      basicSeen.set(key, { caller, until: Date.now() + BASIC_CACHE_MS });
      return caller;
    } catch {
      return null;
    }
  }

  async function mayManage(caller: Caller, cluster: string, permission: string = Perm.ManageClusters): Promise<boolean> {
    const acl = caller.kerberos === undefined ? await deps.auth.acl(caller.principal)
      : caller.acl ?? (await deps.auth.aclByKerberos(caller.kerberos)) ?? [];
    return acl.some((ace) => ace.permission === permission && (ace.target === cluster || ace.target === NULL_UUID));
  }

  return async (req: IncomingMessage, res: ServerResponse, path: string): Promise<boolean> => {
    const parts = path.split("/").slice(1);
    const ours = path === "/token" || path === "/ping" || (parts[0] === "v1" && parts[1] === "cluster");
    if (!ours) return false;
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" }).end(JSON.stringify(value));
      return true;
    };
    const text = (status: number, message: string) => {
      res.writeHead(status, { "content-type": "text/plain; charset=utf-8" }).end(`${message}\n`);
      return true;
    };
    const caller = await authenticate(req, res);
    if (!caller) {
      res.writeHead(401, { "www-authenticate": challenges }).end();
      return true;
    }
    if (path === "/token") {
      if (req.method !== "POST") return text(405, "use POST");
      return json(200, await deps.tokens.issue(subjectOf(caller), TOKEN_LIFETIME_MS));
    }
    if (path === "/ping") {
      return json(200, { service: Service.Clusters, version: deps.version, software: { vendor: "graft", application: "graft cluster-manager", revision: deps.version } });
    }
    const [, , uuid, what, ...rest] = parts;
    if (!uuid || !UUID.test(uuid)) return text(410, "the cluster must be named by its lower-case UUID");
    if (what === "secret" && rest.length === 3) {
      if (req.method !== "PUT" && req.method !== "DELETE") return text(405, "use PUT or DELETE");
      if (!(await mayManage(caller, uuid, Perm.ManageSecrets))) return text(403, "Manage secrets is needed on this cluster");
      const [namespace, name, key] = rest.map((p) => decodeURIComponent(p)) as [string, string, string];
      const dryRun = new URL(req.url ?? "/", "http://x").searchParams.has("dryrun");
      const answer = await handleSecret({ cdb: deps.cdb, git: deps.git, log: deps.log },
        { method: req.method, cluster: uuid, namespace, name, key, dryRun, caller: nameOf(caller) }, req);
      if (answer.status === 204) {
        res.writeHead(204).end();
        return true;
      }
      return text(answer.status, answer.message);
    }
    if (rest.length > 0) return text(404, "not found");
    if (what === "bootstrap-url") {
      if (req.method !== "POST") return text(405, "use POST");
      if (!(await mayManage(caller, uuid))) return text(403, "Manage clusters is needed on this cluster");
      const ec = deps.clusterByUuid(uuid);
      const ready = ec?.status?.uuid === uuid && ec.status.conditions?.some((c) => c.type === T.Provisioned && c.status === "True");
      if (!ec || !ready) return text(404, "the cluster is not set up yet");
      const { token, expiresAt } = await issueBootstrapToken(deps.client, ec.metadata.namespace!, credentialsSecretName(uuid), deps.config.bootstrapTokenTtlMs);
      deps.log.info({ cluster: uuid, expiresAt }, "issued a one-time bootstrap URL through the Clusters API");
      // The `.sh` form: the admin UI copies `curl <url> | sh -`, and a refused link must then print why and fail, where
      // the plain link's 410 text would be run by sh as commands.
      return json(200, `${urlsFor(deps.config, uuid).bootstrap}/${token}.sh`);
    }
    if (what === "status") {
      if (req.method !== "GET") return text(405, "use GET");
      if (!(await mayManage(caller, uuid))) return text(403, "Manage clusters is needed on this cluster");
      const status = await deps.cdb.getEntry(App.EdgeClusterSetupStatus, uuid);
      return status ? json(200, status.value) : text(404, "unknown cluster");
    }
    return text(404, "not found");
  };
}

/**
 * Advertises graft as the Clusters service in the ACS Directory (`PUT /v1/service/<uuid>/advertisment`, ACS's
 * spelling); needs AdvertiseService on the Clusters service, which ACS's Cluster Manager role holds.
 */
export async function advertiseClustersService(directory: ServiceClient, url: string): Promise<void> {
  await directory.request({ method: "PUT", path: `v1/service/${Service.Clusters}/advertisment`, json: { url }, accept: [204] });
}
