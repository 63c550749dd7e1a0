import type { AuthModel } from "./auth-model.js";
import { isUuid, readJson, sendJson, sendStatus, type Handler } from "./http-util.js";
import { authenticateV2, type ServiceTokens } from "./identity.js";
import type { AccessControl } from "./acl.js";
import { AcsPerm, AcsTarget } from "./acs-uuids.js";

/**
 * Auth service v2 routes (acs-contract.md §3), each behind the permission ACS checks (acl.ts):
 * - `/v2/grant` GET (ManageACL on Null) and POST (ManageACL on the grant's permission); `/v2/grant/:uuid` GET
 *   (ReadACL on its permission) and DELETE (ManageACL on its permission); `/v2/grant/find` (ReadACL on the filter's
 *   permission, which it must name).
 * - `/v2/principal/:uuid/kerberos` GET (ReadKerberos on the principal), PUT with a JSON string and DELETE
 *   (ManageKerberos); `/v2/identity/kerberos/:name` (ReadKerberos on the principal it names).
 * - `/v2/acl/:principal` and `/v2/acl/kerberos/:name`: the effective ACL, limited to the permissions the caller holds
 *   ReadACL on (a caller always sees its own).
 * - `/v2/whoami` (`{uuid, kerberos}` of the caller, 404 if it has no principal) and `/v2/whoami/uuid`: anyone.
 */

export function authHandler(model: AuthModel, tokens: ServiceTokens, acl: AccessControl): Handler {
  return async (req, res) => {
    const v2 = await authenticateV2(tokens, acl, req, res);
    if (!v2) return;
    const { caller, may, kind, rest } = v2;
    const method = req.method ?? "";

    if (kind === "grant" && rest.length === 0) {
      if (method === "GET") {
        if (!may(AcsPerm.ManageACL, AcsTarget.Null)) return sendStatus(res, 403);
        return sendJson(res, 200, model.listGrants().map((g) => g.uuid));
      }
      if (method !== "POST") return sendStatus(res, 405);
      const body = await readJson(req);
      const permission = (body as { permission?: unknown } | null)?.permission;
      if (isUuid(permission) && !may(AcsPerm.ManageACL, permission)) return sendStatus(res, 403);
      const { status, uuid } = model.addGrant(body);
      return uuid ? sendJson(res, status, { uuid }) : sendStatus(res, status);
    }
    if (kind === "grant" && rest[0] === "find" && rest.length === 1) {
      if (method !== "POST") return sendStatus(res, 405);
      const filter = await readJson(req);
      const permission = (filter as { permission?: unknown } | null)?.permission;
      if (!isUuid(permission) ? !may(AcsPerm.ReadACL, AcsTarget.Null) : !may(AcsPerm.ReadACL, permission)) return sendStatus(res, 403);
      const found = model.findGrants(filter);
      return found === 422 ? sendStatus(res, 422) : sendJson(res, 200, found);
    }
    if (kind === "grant" && rest.length === 1) {
      const uuid = rest[0]!;
      if (!isUuid(uuid)) return sendStatus(res, 410);
      const grant = model.getGrant(uuid);
      if (method === "GET") {
        if (grant && !may(AcsPerm.ReadACL, grant.permission)) return sendStatus(res, 403);
        return grant ? sendJson(res, 200, grant) : sendStatus(res, 404);
      }
      if (method === "DELETE") {
        if (grant && !may(AcsPerm.ManageACL, grant.permission)) return sendStatus(res, 403);
        return sendStatus(res, model.deleteGrant(uuid));
      }
      return sendStatus(res, 405);
    }
    if (kind === "principal" && rest.length === 2) {
      const [principal, idKind] = rest as [string, string];
      if (!isUuid(principal)) return sendStatus(res, 410);
      if (idKind !== "kerberos") return sendStatus(res, 404);
      if (!may(method === "GET" ? AcsPerm.ReadKerberos : AcsPerm.ManageKerberos, principal)) return sendStatus(res, 403);
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
      if (!may(AcsPerm.ReadKerberos, principal ?? AcsTarget.Null)) return sendStatus(res, 403);
      return principal ? sendJson(res, 200, principal) : sendStatus(res, 404);
    }
    if (kind === "acl" && method === "GET" && (rest.length === 1 || (rest.length === 2 && rest[0] === "kerberos"))) {
      const principal = rest.length === 1 ? rest[0]! : model.principalOf(decodeURIComponent(rest[1]!));
      if (rest.length === 1 && !isUuid(principal)) return sendStatus(res, 410);
      if (!principal) return sendStatus(res, 404);
      const own = acl.principalOf(caller) === principal;
      return sendJson(res, 200, acl.effectiveAcl(principal).filter((ace) => own || may(AcsPerm.ReadACL, ace.permission)));
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
