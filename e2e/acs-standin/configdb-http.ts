import type { IncomingMessage, ServerResponse } from "node:http";
import type { ConfigDbModel } from "./configdb-model.js";
import { preconditionFrom } from "./configdb-model.js";
import { isUuid, mediaType, readJson, sendJson, sendStatus, type Handler } from "./http-util.js";
import { authenticateV2, type ServiceTokens } from "./identity.js";
import type { AccessControl } from "./acl.js";
import { AcsPerm } from "./acs-uuids.js";
import { App } from "../../operators/api/constants.js";
import { Meta } from "./configdb-model.js";

/**
 * ConfigDB v2 REST routes (acs-contract.md §2), in the order ACS checks things: authentication (401), UUID path parts
 * (410), permission (403, acl.ts: ReadConfig/WriteConfig on the application; CreateObject on the class, or
 * CreateSpecificObject when the caller chooses the UUID; DeleteObject on the object; ReadMembers on a class to read its
 * members; WriteMembers on the class and WriteMemberships on the member to change membership), content type (415),
 * then the model's answer. A new object's registration records its creator as owner (the Mine target).
 */

const MERGE_PATCH = "application/merge-patch+json";

/** An accepted PUT or PATCH of an entry, with the body as the client sent it. */
export interface ConfigDbWrite {
  method: "PUT" | "PATCH";
  app: string;
  object: string;
  body: unknown;
  upn: string;
}

export function configDbHandler(model: ConfigDbModel, tokens: ServiceTokens, acl: AccessControl, writes: ConfigDbWrite[] = []): Handler {
  return async (req, res) => {
    const v2 = await authenticateV2(tokens, acl, req, res);
    if (!v2) return;
    const { caller, may, kind, rest } = v2;

    if (kind === "app" && rest[1] === "object" && rest.length === 2) return appList(model, req, res, rest[0]!, may);
    if (kind === "app" && rest[1] === "object" && rest.length === 3) {
      const logWrite = (method: ConfigDbWrite["method"], body: unknown) => writes.push({ method, app: rest[0]!, object: rest[2]!, body, upn: caller });
      return entry(model, req, res, rest[0]!, rest[2]!, may, logWrite);
    }
    if (kind === "object" && rest.length === 0) return objects(model, req, res, may, acl.principalOf(caller) ?? Meta.Unowned);
    if (kind === "object" && rest.length === 1) return objectDelete(model, req, res, rest[0]!, may);
    if (kind === "class" && rest[1] === "direct" && rest[2] === "member" && rest.length <= 4) {
      return membership(model, req, res, rest[0]!, rest[3], may);
    }
    return sendStatus(res, 404);
  };
}

type May = (permission: string, target: string) => boolean;

function appList(model: ConfigDbModel, req: IncomingMessage, res: ServerResponse, app: string, may: May): void {
  if (req.method !== "GET") return sendStatus(res, 405);
  if (!isUuid(app)) return sendStatus(res, 410);
  if (!may(AcsPerm.ReadConfig, app)) return sendStatus(res, 403);
  const list = model.list(app);
  if (!list) return sendStatus(res, 404);
  sendJson(res, 200, list);
}

async function entry(model: ConfigDbModel, req: IncomingMessage, res: ServerResponse, app: string, obj: string, may: May,
  logWrite: (method: ConfigDbWrite["method"], body: unknown) => void): Promise<void> {
  const logged = (method: ConfigDbWrite["method"], body: unknown, status: number) => {
    if (status < 300) logWrite(method, body);
    return status;
  };
  if (!isUuid(app) || !isUuid(obj)) return sendStatus(res, 410);
  if (!may(req.method === "GET" ? AcsPerm.ReadConfig : AcsPerm.WriteConfig, app)) return sendStatus(res, 403);
  const precondition = preconditionFrom(req.headers);
  switch (req.method) {
    case "GET": {
      const current = model.get(app, obj);
      const check = precondition(current?.etag ?? null);
      // ACS answers a GET whose If-None-Match matches with 304, as HTTP caching expects.
      if (check === 412) {
        res.writeHead(304, current ? { etag: `"${current.etag}"` } : {});
        res.end();
        return;
      }
      if (check) return sendStatus(res, check);
      if (!current) return sendStatus(res, 404);
      return sendJson(res, 200, current.value, { etag: `"${current.etag}"` });
    }
    case "PUT": {
      const value = await readJson(req);
      return sendStatus(res, logged("PUT", value, model.put(app, obj, value, precondition)));
    }
    case "PATCH": {
      if (mediaType(req) !== MERGE_PATCH) return sendStatus(res, 415);
      const patch = await readJson(req, [MERGE_PATCH]);
      if (app === App.Registration) return sendStatus(res, registrationPatch(model, obj, patch));
      return sendStatus(res, logged("PATCH", patch, model.patch(app, obj, patch, precondition)));
    }
    case "DELETE":
      return sendStatus(res, model.delete(app, obj, precondition));
    default:
      return sendStatus(res, 405);
  }
}

async function objects(model: ConfigDbModel, req: IncomingMessage, res: ServerResponse, may: May, owner: string): Promise<void> {
  if (req.method === "GET") return may(AcsPerm.ReadConfig, App.Registration) ? sendJson(res, 200, model.objectList()) : sendStatus(res, 403);
  if (req.method !== "POST") return sendStatus(res, 405);
  const spec = await readJson(req);
  const { class: klass, uuid } = (typeof spec === "object" && spec !== null ? spec : {}) as { class?: unknown; uuid?: unknown };
  if (isUuid(klass) && !may(uuid === undefined ? AcsPerm.CreateObject : AcsPerm.CreateSpecificObject, klass)) return sendStatus(res, 403);
  const { status, registration } = model.createObject(spec, owner);
  if (registration) sendJson(res, status, registration);
  else sendStatus(res, status);
}

function objectDelete(model: ConfigDbModel, req: IncomingMessage, res: ServerResponse, obj: string, may: May): void {
  if (req.method !== "DELETE") return sendStatus(res, 405);
  if (!isUuid(obj)) return sendStatus(res, 410);
  if (!may(AcsPerm.DeleteObject, obj)) return sendStatus(res, 403);
  sendStatus(res, model.deleteObject(obj));
}

function membership(model: ConfigDbModel, req: IncomingMessage, res: ServerResponse, klass: string, obj: string | undefined, may: May): void {
  if (!isUuid(klass) || (obj !== undefined && !isUuid(obj))) return sendStatus(res, 410);
  const allowed = req.method === "GET" ? may(AcsPerm.ReadMembers, klass)
    : may(AcsPerm.WriteMembers, klass) && obj !== undefined && may(AcsPerm.WriteMemberships, obj);
  if (!allowed) return sendStatus(res, 403);
  if (obj === undefined) {
    if (req.method !== "GET") return sendStatus(res, 405);
    const members = model.membersOf(klass);
    return members ? sendJson(res, 200, members) : sendStatus(res, 404);
  }
  switch (req.method) {
    case "GET":
      return sendStatus(res, model.isMember(klass, obj) ? 204 : 404);
    case "PUT":
      return sendStatus(res, model.addMember(klass, obj));
    case "DELETE":
      return sendStatus(res, model.removeMember(klass, obj));
    default:
      return sendStatus(res, 405);
  }
}

/** A merge patch of an object's registration: only `deleted` may change (the class and owner have their own APIs). */
function registrationPatch(model: ConfigDbModel, obj: string, patch: unknown): number {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return 422;
  const keys = Object.keys(patch);
  const { deleted } = patch as { deleted?: unknown };
  if (keys.some((k) => k !== "deleted") || typeof deleted !== "boolean") return 422;
  return model.markDeleted(obj, deleted);
}
