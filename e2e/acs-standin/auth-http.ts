import type { AuthModel } from "./auth-model.js";
import { isUuid, pathSegments, readJson, sendJson, sendStatus, type Handler } from "./http-util.js";
import { authenticateRequest, type ServiceTokens } from "./identity.js";

/**
 * Auth service v2 routes (acs-contract.md §3): `/v2/grant` (GET list, POST add), `/v2/grant/find`,
 * `/v2/grant/:uuid` (GET, DELETE), `/v2/principal/:uuid/kerberos` (GET, PUT with a JSON string, DELETE),
 * `/v2/identity/kerberos/:name`, `/v2/whoami` (`{uuid, kerberos}` of the caller, 404 if it has no principal) and
 * `/v2/whoami/uuid`. Any authenticated caller may use them (the stand-in checks ACLs only for Git).
 */

export function authHandler(model: AuthModel, tokens: ServiceTokens): Handler {
  return async (req, res) => {
    const caller = await authenticateRequest(tokens, req, res);
    if (!caller) return;
    const parts = pathSegments(req);
    if (parts.at(-1) === "") parts.pop();
    const [version, kind, ...rest] = parts;
    if (version !== "v2") return sendStatus(res, 404);
    const method = req.method ?? "";

    if (kind === "grant" && rest.length === 0) {
      if (method === "GET") return sendJson(res, 200, model.listGrants().map((g) => g.uuid));
      if (method !== "POST") return sendStatus(res, 405);
      const { status, uuid } = model.addGrant(await readJson(req));
      return uuid ? sendJson(res, status, { uuid }) : sendStatus(res, status);
    }
    if (kind === "grant" && rest[0] === "find" && rest.length === 1) {
      if (method !== "POST") return sendStatus(res, 405);
      const found = model.findGrants(await readJson(req));
      return found === 422 ? sendStatus(res, 422) : sendJson(res, 200, found);
    }
    if (kind === "grant" && rest.length === 1) {
      const uuid = rest[0]!;
      if (!isUuid(uuid)) return sendStatus(res, 410);
      if (method === "GET") {
        const grant = model.getGrant(uuid);
        return grant ? sendJson(res, 200, grant) : sendStatus(res, 404);
      }
      if (method === "DELETE") return sendStatus(res, model.deleteGrant(uuid));
      return sendStatus(res, 405);
    }
    if (kind === "principal" && rest.length === 2) {
      const [principal, idKind] = rest as [string, string];
      if (!isUuid(principal)) return sendStatus(res, 410);
      if (idKind !== "kerberos") return sendStatus(res, 404);
      if (method === "GET") {
        const name = model.getKerberos(principal);
        return name === undefined ? sendStatus(res, 404) : sendJson(res, 200, name);
      }
      if (method === "PUT") return sendStatus(res, model.setKerberos(principal, await readJson(req)));
      if (method === "DELETE") return sendStatus(res, model.deleteKerberos(principal));
      return sendStatus(res, 405);
    }
    if (kind === "identity" && rest[0] === "kerberos" && rest.length === 2 && method === "GET") {
      const principal = model.principalOf(decodeURIComponent(rest[1]!));
      return principal ? sendJson(res, 200, principal) : sendStatus(res, 404);
    }
    if (kind === "whoami" && method === "GET" && rest.length <= 1) {
      const principal = model.principalOf(caller);
      if (!principal) return sendStatus(res, 404);
      if (rest[0] === "uuid") return sendJson(res, 200, principal);
      if (rest.length === 0) return sendJson(res, 200, { kerberos: caller, uuid: principal });
    }
    return sendStatus(res, 404);
  };
}
