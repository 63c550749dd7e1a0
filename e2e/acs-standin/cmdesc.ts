// The Command Escalation service of the stand-in (ACS acs-cmdesc, v1 API): `POST /v1/address/<group>/<node>[/<device>]`
// with a JSON body `{name, type, value}` asks for a Sparkplug command; 415 without a JSON body, 403 when the caller
// may not send that command there (cmdesc-acl.ts). The stand-in does not talk to MQTT: it records each permitted
// request (who, where, what) so a test can see what was asked, and answers 200.
import type { IncomingMessage, ServerResponse } from "node:http";
import { HttpFailure, readJson, sendStatus } from "./http-util.js";
import { authenticateRequest, type ServiceTokens } from "./identity.js";
import type { CommandCheck } from "./cmdesc-acl.js";

export interface CommandRequest {
  /** The Kerberos principal that asked. */
  upn: string;
  group: string;
  node: string;
  device?: string;
  command: { name?: unknown; type?: unknown; value?: unknown };
  at: number;
}

export class CommandLog {
  readonly requests: CommandRequest[] = [];
  /** Requests answered 403: the caller holds no permission for that command at that address. */
  readonly refused: Array<Omit<CommandRequest, "at">> = [];
  /** When set, every request is answered with this status instead (e.g. 503 for an outage). */
  failWith?: number;
}

export function commandEscalationHandler(tokens: ServiceTokens, log: CommandLog, permitted: CommandCheck) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const upn = await authenticateRequest(tokens, req, res);
    if (!upn) return;
    const parts = (req.url ?? "/").split("?")[0]!.split("/").slice(1).map(decodeURIComponent);
    const [version, kind, group, node, device, ...rest] = parts;
    if (req.method !== "POST" || version !== "v1" || kind !== "address" || !group || !node || rest.length > 0) {
      return sendStatus(res, 404);
    }
    const body = await readJson(req);
    if (typeof body !== "object" || body === null || Array.isArray(body)) throw new HttpFailure(422, "the command must be an object");
    if (log.failWith) return sendStatus(res, log.failWith);
    if (!permitted(upn, { group, node, ...(device ? { device } : {}) }, body as CommandRequest["command"])) {
      log.refused.push({ upn, group, node, command: body as CommandRequest["command"] });
      return sendStatus(res, 403);
    }
    log.requests.push({ upn, group, node, ...(device ? { device } : {}), command: body as CommandRequest["command"], at: Date.now() });
    sendStatus(res, 200);
  };
}
