import type { IncomingMessage, ServerResponse } from "node:http";
import type { ConfigDbModel } from "./configdb-model.js";
import { preconditionFrom } from "./configdb-model.js";
import { isUuid, mediaType, pathSegments, readJson, sendJson, sendStatus, type Handler } from "./http-util.js";
import { authenticateRequest, type ServiceTokens } from "./identity.js";

/**
 * ConfigDB v2 REST routes (acs-contract.md §2), in the order ACS checks things: authentication (401), UUID path parts
 * (410), content type (415), then the model's answer.
 */

const MERGE_PATCH = "application/merge-patch+json";

export function configDbHandler(model: ConfigDbModel, tokens: ServiceTokens): Handler {
  return async (req, res) => {
    if (!(await authenticateRequest(tokens, req, res))) return;
    const parts = pathSegments(req);
    if (parts.at(-1) === "") parts.pop();
    const [version, kind, ...rest] = parts;
    if (version !== "v2") return sendStatus(res, 404);

    if (kind === "app" && rest[1] === "object" && rest.length === 2) return appList(model, req, res, rest[0]!);
    if (kind === "app" && rest[1] === "object" && rest.length === 3) return entry(model, req, res, rest[0]!, rest[2]!);
    if (kind === "object" && rest.length === 0) return objects(model, req, res);
    if (kind === "object" && rest.length === 1) return objectDelete(model, req, res, rest[0]!);
    if (kind === "class" && rest[1] === "direct" && rest[2] === "member" && rest.length <= 4) {
      return membership(model, req, res, rest[0]!, rest[3]);
    }
    return sendStatus(res, 404);
  };
}

function appList(model: ConfigDbModel, req: IncomingMessage, res: ServerResponse, app: string): void {
  if (req.method !== "GET") return sendStatus(res, 405);
  if (!isUuid(app)) return sendStatus(res, 410);
  const list = model.list(app);
  if (!list) return sendStatus(res, 404);
  sendJson(res, 200, list);
}

async function entry(model: ConfigDbModel, req: IncomingMessage, res: ServerResponse, app: string, obj: string): Promise<void> {
  if (!isUuid(app) || !isUuid(obj)) return sendStatus(res, 410);
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
    case "PUT":
      return sendStatus(res, model.put(app, obj, await readJson(req), precondition));
    case "PATCH": {
      if (mediaType(req) !== MERGE_PATCH) return sendStatus(res, 415);
      return sendStatus(res, model.patch(app, obj, await readJson(req, [MERGE_PATCH]), precondition));
    }
    case "DELETE":
      return sendStatus(res, model.delete(app, obj, precondition));
    default:
      return sendStatus(res, 405);
  }
}

async function objects(model: ConfigDbModel, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method === "GET") return sendJson(res, 200, model.objectList());
  if (req.method !== "POST") return sendStatus(res, 405);
  const { status, registration } = model.createObject(await readJson(req));
  if (registration) sendJson(res, status, registration);
  else sendStatus(res, status);
}

function objectDelete(model: ConfigDbModel, req: IncomingMessage, res: ServerResponse, obj: string): void {
  if (req.method !== "DELETE") return sendStatus(res, 405);
  if (!isUuid(obj)) return sendStatus(res, 410);
  sendStatus(res, model.deleteObject(obj));
}

function membership(model: ConfigDbModel, req: IncomingMessage, res: ServerResponse, klass: string, obj?: string): void {
  if (!isUuid(klass) || (obj !== undefined && !isUuid(obj))) return sendStatus(res, 410);
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
