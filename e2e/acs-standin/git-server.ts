import { spawn } from "node:child_process";
import { stat } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import path from "node:path";
import { App, Perm } from "../../operators/api/constants.js";
import { CgiHeaderParser } from "../../operators/cluster-manager/git/cgi-response.js";
import { isolatedGitEnv, runGit } from "../../operators/cluster-manager/git/git-cli.js";
import type { AccessControl } from "./acl.js";
import type { ConfigDbModel } from "./configdb-model.js";
import { readBody, sendStatus, type Handler } from "./http-util.js";
import { authenticateRequest, type ServiceTokens } from "./identity.js";

/**
 * The ACS Git server's smart HTTP (acs-contract.md §3): `/uuid/<repo uuid>/…` over `git http-backend`.
 * Callers authenticate with Basic (username + password) or a Bearer token from this service's `/token`. A repository
 * exists while a 'Git repository configuration' entry exists for its UUID; its bare repository is created on first
 * use with default branch `main`. Fetching needs the Git Pull permission on the repo UUID, pushing Git Push.
 */

const ROUTE_RE = /^\/uuid\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\/(info\/refs|git-upload-pack|git-receive-pack)$/;
const MAX_PACK_BYTES = 64 * 1024 * 1024;

export interface GitStandinDeps {
  dataDir: string;
  tokens: ServiceTokens;
  configDb: ConfigDbModel;
  acl: AccessControl;
}

export function gitHandler(deps: GitStandinDeps): Handler {
  const creating = new Map<string, Promise<void>>();

  const ensureRepo = (uuid: string): Promise<void> => {
    let pending = creating.get(uuid);
    if (!pending) {
      pending = createIfAbsent(repoPath(deps.dataDir, uuid));
      creating.set(uuid, pending);
      pending.catch(() => creating.delete(uuid));
    }
    return pending;
  };

  return async (req, res) => {
    const caller = await authenticateRequest(deps.tokens, req, res);
    if (!caller) return;
    const [pathname, query = ""] = (req.url ?? "/").split("?") as [string, string?];
    const route = ROUTE_RE.exec(pathname);
    if (!route) return sendStatus(res, 404, "not found");
    const [, uuid, endpoint] = route as unknown as [string, string, string];

    const wantMethod = endpoint === "info/refs" ? "GET" : "POST";
    if (req.method !== wantMethod) return sendStatus(res, 405, `use ${wantMethod}`);
    const rpc = endpoint === "info/refs" ? new URLSearchParams(query).get("service") : endpoint;
    if (rpc !== "git-upload-pack" && rpc !== "git-receive-pack") return sendStatus(res, 404, "only smart HTTP is served");

    if (!deps.configDb.get(App.GitRepoConfig, uuid)) return sendStatus(res, 404, "repository not found");
    const permission = rpc === "git-receive-pack" ? Perm.GitPush : Perm.GitPull;
    if (!deps.acl.permitted(caller, permission, uuid)) {
      return sendStatus(res, 403, "permission denied");
    }
    await ensureRepo(uuid);
    const body = req.method === "POST" ? await readBody(req, MAX_PACK_BYTES) : null;
    await runHttpBackend(res, {
      GIT_PROJECT_ROOT: deps.dataDir,
      GIT_HTTP_EXPORT_ALL: "1",
      PATH_INFO: `/${uuid}.git/${endpoint}`,
      QUERY_STRING: endpoint === "info/refs" ? `service=${rpc}` : "",
      REQUEST_METHOD: req.method,
      CONTENT_TYPE: req.headers["content-type"] ?? "",
      ...(body ? { CONTENT_LENGTH: String(body.length) } : {}),
      ...(typeof req.headers["content-encoding"] === "string" ? { HTTP_CONTENT_ENCODING: req.headers["content-encoding"] } : {}),
      ...(typeof req.headers["git-protocol"] === "string" ? { HTTP_GIT_PROTOCOL: req.headers["git-protocol"] } : {}),
      REMOTE_USER: caller,
      REMOTE_ADDR: req.socket.remoteAddress ?? "",
      GATEWAY_INTERFACE: "CGI/1.1",
      SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
    }, body);
  };
}

export function repoPath(dataDir: string, uuid: string): string {
  return path.join(dataDir, `${uuid}.git`);
}

async function createIfAbsent(dir: string): Promise<void> {
  const exists = await stat(path.join(dir, "HEAD")).then(() => true, () => false);
  if (exists) return;
  await runGit(["init", "--quiet", "--bare", "--initial-branch=main", dir]);
  await runGit(["config", "http.receivepack", "true"], { gitDir: dir });
}

function runHttpBackend(res: ServerResponse, env: Record<string, string>, body: Buffer | null): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn("git", ["http-backend"], { env: isolatedGitEnv(env), stdio: ["pipe", "pipe", "ignore"] });
    const parser = new CgiHeaderParser();
    let headersSent = false;
    child.on("error", () => {
      if (!res.headersSent) sendStatus(res, 500, "cannot run git http-backend");
    });
    child.stdout.on("data", (chunk: Buffer) => {
      if (headersSent) {
        res.write(chunk);
        return;
      }
      const parsed = parser.push(chunk);
      if (!parsed) return;
      headersSent = true;
      res.writeHead(parsed.head.status, parsed.head.headers);
      if (parsed.rest.length > 0) res.write(parsed.rest);
    });
    child.on("close", () => {
      if (!headersSent && !res.headersSent) sendStatus(res, 500, "git http-backend failed");
      else res.end();
      resolve();
    });
    res.on("close", () => {
      if (!res.writableFinished) child.kill("SIGTERM");
    });
    child.stdin.on("error", () => undefined);
    child.stdin.end(body ?? undefined);
  });
}
