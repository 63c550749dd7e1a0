import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type RawData, type WebSocket } from "ws";
import type { ConfigDbModel, EntryChange, StoredEntry } from "./configdb-model.js";
import type { AccessControl } from "./acl.js";
import { AcsPerm } from "./acs-uuids.js";
import type { ServiceTokens } from "./identity.js";
import { matchesFilter, parseSearchFilter, type SearchFilter } from "./search-filter.js";

/**
 * The ConfigDB's notify/v2 WebSocket (acs-contract.md §2, the ACS "Standard change-notify API"):
 * - the first client frame must be the text `Bearer <token>` (a ConfigDB token); the server answers `200`, or `400`
 *   (binary or malformed frame) / `401` (unknown token) and closes;
 * - then JSON requests `{uuid, method, ...}`; WATCH needs `request: {url}`, SEARCH a `parent` ending in "/";
 *   anything else gets subscription status 400, a path the ConfigDB cannot watch 404; CLOSE answers 410;
 * - supported: WATCH `v2/app/<app>/object/<obj>` (response `{status: 200, body, headers: {etag}}` or
 *   `{status: 404}`; the etag header carries the bare UUID, as ACS sends it), WATCH `v2/app/<app>/object/`
 *   (the list of object UUIDs) and SEARCH `v2/app/<app>/object/` (first `{status: 201, response: {status: 204},
 *   children: {<obj>: <entry response>}}`, then `{status: 200, child: <obj>, response}` per change, 404 when deleted).
 *   A SEARCH `filter` (search-filter.ts) limits the children to matching entries; an entry that stops matching
 *   arrives as a child with response `{status: 412}`, one that starts matching as an ordinary child update.
 * - every update starts with status 201 (full state) and continues with 200; an update identical to the previous
 *   one of the same subscription is not sent again (as ACS does).
 * - ACLs (acs-contract.md §7), checked for every update as ACS does: a WATCH or SEARCH of an application's entries
 *   needs ReadConfig on that application; without it each update keeps its status and carries only
 *   `response: {status: 403}` (no body, children or child).
 */

const TOKEN_FRAME_RE = /^Bearer ([A-Za-z0-9+/]+)$/;
const ENTRY_RE = /^v2\/app\/([^/]+)\/object\/([^/]+)$/;
const LIST_RE = /^v2\/app\/([^/]+)\/object\/$/;

type Update = Record<string, unknown>;

interface Subscription {
  initial(): Update;
  /** The update a change produces for this subscription, if any. */
  onChange(change: EntryChange): Update | undefined;
}

export class NotifyServer {
  private readonly wss = new WebSocketServer({ noServer: true });
  private readonly authenticated = new Set<WebSocket>();
  private refusing = false;

  constructor(private readonly model: ConfigDbModel, private readonly tokens: ServiceTokens, private readonly acl: AccessControl) {
    this.wss.on("connection", (ws) => {
      new Session(ws, this.model, this.tokens, this.acl, () => this.authenticated.add(ws));
      ws.on("close", () => this.authenticated.delete(ws));
    });
  }

  attach(server: Server): void {
    server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if ((req.url ?? "").split("?")[0] !== "/notify/v2") return refuse(socket, "404 Not Found");
      if (this.refusing) return refuse(socket, "503 Service Unavailable");
      this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit("connection", ws, req));
    });
  }

  /** Cuts every notify connection abruptly (no close frame), as a network failure would; returns how many. */
  dropConnections(options: { refuseNew?: boolean } = {}): number {
    if (options.refuseNew) this.refusing = true;
    let dropped = 0;
    for (const ws of this.wss.clients) {
      ws.terminate();
      dropped += 1;
    }
    return dropped;
  }

  allowConnections(): void {
    this.refusing = false;
  }

  /** Open connections that have completed authentication. */
  authenticatedConnections(): number {
    return this.authenticated.size;
  }

  close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    return new Promise((resolve) => this.wss.close(() => resolve()));
  }
}

class Session {
  private authenticated = false;
  /** The caller's Kerberos name, once the token frame named it. */
  private upn = "";
  private readonly subs = new Map<string, { sub: Subscription; last?: string }>();
  private readonly unlisten: () => void;

  constructor(
    private readonly ws: WebSocket,
    private readonly model: ConfigDbModel,
    private readonly tokens: ServiceTokens,
    private readonly acl: AccessControl,
    private readonly onAuthenticated: () => void,
  ) {
    this.unlisten = model.onChange((change) => this.onModelChange(change));
    ws.on("message", (data, isBinary) => this.onMessage(data, isBinary));
    ws.on("close", () => {
      this.unlisten();
      this.subs.clear();
    });
    ws.on("error", () => undefined);
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (!this.authenticated) return this.authenticate(isBinary ? null : text(data));
    let request: Record<string, unknown>;
    try {
      request = JSON.parse(text(data)) as Record<string, unknown>;
    } catch {
      // ACS ends the whole session when a request cannot be parsed.
      this.ws.close();
      return;
    }
    if (typeof request !== "object" || request === null || typeof request.uuid !== "string" || request.uuid === "") {
      this.ws.close();
      return;
    }
    const uuid = request.uuid;
    if (request.method === "CLOSE") {
      if (this.subs.delete(uuid)) this.send({ status: 410, uuid });
      return;
    }
    const opened = this.open(request);
    if (typeof opened === "number") return this.send({ status: opened, uuid });
    this.subs.set(uuid, { sub: opened });
    this.deliver(uuid, opened.initial());
  }

  private authenticate(frame: string | null): void {
    const match = frame === null ? null : TOKEN_FRAME_RE.exec(frame);
    if (!match) return this.refuse("400");
    const upn = this.tokens.verify(match[1]!);
    if (!upn) return this.refuse("401");
    this.upn = upn;
    this.authenticated = true;
    this.onAuthenticated();
    this.ws.send("200");
  }

  private refuse(status: string): void {
    this.ws.send(status);
    this.ws.close();
  }

  /** The subscription, or the status refusing it. */
  private open(request: Record<string, unknown>): Subscription | number {
    if (request.method === "WATCH") {
      const req = request.request as { url?: unknown; method?: unknown } | undefined;
      if (typeof req !== "object" || req === null || typeof req.url !== "string") return 400;
      if (req.method !== undefined && req.method !== "GET") return 404;
      const entry = ENTRY_RE.exec(req.url);
      if (entry) return this.readable(decodeURIComponent(entry[1]!), this.watchEntry(decodeURIComponent(entry[1]!), decodeURIComponent(entry[2]!)));
      const list = LIST_RE.exec(req.url);
      if (list) return this.readable(decodeURIComponent(list[1]!), this.watchList(decodeURIComponent(list[1]!)));
      return 404;
    }
    if (request.method === "SEARCH") {
      if (typeof request.parent !== "string" || !request.parent.endsWith("/")) return 400;
      const list = LIST_RE.exec(request.parent);
      if (!list) return 404;
      const filter = request.filter === undefined ? {} : parseSearchFilter(request.filter);
      if (!filter) return 400;
      return this.readable(decodeURIComponent(list[1]!), this.searchApp(decodeURIComponent(list[1]!), filter));
    }
    return 400;
  }

  /** The subscription with ACS's per-update ACL check: ReadConfig on the app, else only `response: {status: 403}`. */
  private readable(app: string, sub: Subscription): Subscription {
    const check = (update: Update | undefined): Update | undefined => {
      if (!update || this.acl.permitted(this.upn, AcsPerm.ReadConfig, app)) return update;
      return { status: update.status, response: { status: 403 } };
    };
    return { initial: () => check(sub.initial())!, onChange: (change) => check(sub.onChange(change)) };
  }

  private watchEntry(app: string, obj: string): Subscription {
    return {
      initial: () => ({ status: 201, response: entryResponse(this.model.get(app, obj)) }),
      onChange: (change) =>
        change.app === app && change.object === obj ? { status: 200, response: entryResponse(change.entry) } : undefined,
    };
  }

  private watchList(app: string): Subscription {
    const response = () => {
      const list = this.model.list(app);
      return list ? { status: 200, body: list } : { status: 404 };
    };
    return {
      initial: () => ({ status: 201, response: response() }),
      onChange: (change) => (change.app === app ? { status: 200, response: response() } : undefined),
    };
  }

  private searchApp(app: string, filter: SearchFilter): Subscription {
    // The children this subscription has reported as present, so a change can tell "left the set" from "never in it".
    const members = new Set<string>();
    return {
      initial: () => {
        const entries = this.model.entriesOf(app);
        if (!entries) return { status: 201, response: { status: 404 } };
        members.clear();
        const children: Record<string, Update> = {};
        for (const [obj, entry] of entries) {
          if (!matchesFilter(entry.value, filter)) continue;
          members.add(obj);
          children[obj] = entryResponse(entry);
        }
        return { status: 201, response: { status: 204 }, children };
      },
      onChange: (change) => {
        if (change.app !== app) return undefined;
        const obj = change.object;
        if (change.entry && matchesFilter(change.entry.value, filter)) {
          members.add(obj);
          return { status: 200, child: obj, response: entryResponse(change.entry) };
        }
        if (!members.delete(obj)) return undefined;
        return { status: 200, child: obj, response: change.entry ? { status: 412 } : { status: 404 } };
      },
    };
  }

  private onModelChange(change: EntryChange): void {
    for (const [uuid, { sub }] of this.subs) {
      const update = sub.onChange(change);
      if (update) this.deliver(uuid, update);
    }
  }

  private deliver(uuid: string, update: Update): void {
    const state = this.subs.get(uuid);
    if (!state) return;
    const encoded = JSON.stringify(update);
    if (encoded === state.last) return;
    state.last = encoded;
    this.send({ ...update, uuid });
  }

  private send(update: Update): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(update, null, 2));
  }
}

function entryResponse(entry: StoredEntry | undefined): Update {
  return entry ? { status: 200, body: entry.value, headers: { etag: entry.etag } } : { status: 404 };
}

function refuse(socket: Duplex, statusLine: string): void {
  socket.end(`HTTP/1.1 ${statusLine}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function text(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  return Buffer.from(data).toString("utf8");
}
