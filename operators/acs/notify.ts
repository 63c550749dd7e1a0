import { randomUUID } from "node:crypto";
import WebSocket from "ws";
import { backoffDelay, type BackoffOptions } from "../runtime/backoff.js";
import type { Logger } from "../runtime/logger.js";
import { silentLogger } from "../runtime/logger.js";
import { normaliseEtag } from "./configdb.js";
import type { ServiceClient } from "./service-client.js";

/**
 * Client for the ACS change-notify protocol `notify/v2` (acs-contract.md §2): one WebSocket to the service,
 * authenticated by a first text frame `Bearer <token>` that the server answers with `200`, `400` or `401`, then JSON
 * subscription requests (WATCH a URL, SEARCH the children of a parent URL, CLOSE) each identified by a UUID, and
 * JSON updates `{uuid, status, response?, child?, children?}`: status 201 with the full state first, 200 per change.
 *
 * The server forgets every subscription when the socket drops, and changes made meanwhile are never replayed. So
 * after any disconnect this client reconnects with capped backoff, logs in again when the token is refused, and
 * re-sends every live subscription; each answers with a fresh full state (a "snapshot" event), which is how a
 * consumer that compares it with what it saw last finds the changes it missed.
 */

/** One HTTP response as carried in an update. `etag` is in header form (`"<uuid>"`) when the server sent one. */
export interface NotifyResponse {
  status: number;
  body?: unknown;
  etag: string | null;
}

export type WatchEvent =
  /** The full current state: after subscribing and again after every reconnect. */
  | { type: "snapshot"; response: NotifyResponse }
  | { type: "update"; response: NotifyResponse }
  /** The server ended the subscription for good (4xx: not understood, forbidden, not subscribable). */
  | { type: "closed"; status: number };

/** Children are keyed by child path (for ConfigDB app searches: the object UUID). Removed children are dropped. */
export type Children = ReadonlyMap<string, NotifyResponse>;

export type SearchEvent =
  /** Every child that exists now: after subscribing and again after every reconnect. */
  | { type: "snapshot"; parent: NotifyResponse; children: Children }
  /** One child changed; a 404 (deleted) or 412 (left the filter) response removes it from `children`. */
  | { type: "child"; child: string; response: NotifyResponse; children: Children }
  /** The whole set is not accessible (e.g. parent 403/404); `children` is empty. */
  | { type: "no-access"; parent: NotifyResponse; children: Children }
  | { type: "closed"; status: number };

export type NotifyState = "idle" | "connecting" | "open" | "closed";

export interface NotifySubscription {
  /** Ends the subscription (sends CLOSE when connected); no events are delivered afterwards. */
  close(): void;
}

export interface NotifyClientOptions {
  /** The HTTP client of the service that offers notify/v2 (the ConfigDB): base URL and tokens. */
  http: ServiceClient;
  logger?: Logger;
  /** Delay between reconnect attempts, doubling up to the maximum. Default 500 ms … 30 s. */
  reconnect?: Pick<BackoffOptions, "minMs" | "maxMs">;
  /** A ping every interval; a connection that missed a pong is dropped. Default 30 s, 0 disables. */
  pingIntervalMs?: number;
  onStateChange?: (state: NotifyState) => void;
}

interface WatchSub {
  method: "WATCH";
  url: string;
  listener: (event: WatchEvent) => void;
}

interface SearchSub {
  method: "SEARCH";
  parent: string;
  /** Only children whose body has every key with an equal value (null: the key must be absent), §10. */
  filter?: Record<string, unknown>;
  listener: (event: SearchEvent) => void;
  children: Map<string, NotifyResponse>;
}

type Sub = (WatchSub | SearchSub) & {
  /** The request UUID on the current connection; a new one is coined for every (re)subscription. */
  wireId?: string;
  active: boolean;
  failures: number;
  retryTimer?: NodeJS.Timeout;
};

const DEFAULT_RECONNECT = { minMs: 500, maxMs: 30_000 };
const DEFAULT_PING_INTERVAL_MS = 30_000;
const HANDSHAKE_TIMEOUT_MS = 10_000;
const CLOSE_GRACE_MS = 2_000;

export class NotifyClient {
  private readonly http: ServiceClient;
  private readonly log: Logger;
  private readonly backoff: BackoffOptions;
  private readonly pingIntervalMs: number;
  private readonly onStateChange?: (state: NotifyState) => void;
  private readonly subs = new Set<Sub>();
  private readonly byWireId = new Map<string, Sub>();
  private ws: WebSocket | undefined;
  private authenticated = false;
  private currentState: NotifyState = "idle";
  private failedAttempts = 0;
  /** Consecutive connections the server accepted but whose token it refused (401/400). */
  private refusedLogins = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private awaitingPong = false;

  constructor(options: NotifyClientOptions) {
    this.http = options.http;
    this.log = (options.logger ?? silentLogger).child({ service: options.http.service, api: "notify/v2" });
    this.backoff = { ...(options.reconnect ?? DEFAULT_RECONNECT), jitter: 0.2 };
    this.pingIntervalMs = options.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS;
    this.onStateChange = options.onStateChange;
  }

  get state(): NotifyState {
    return this.currentState;
  }

  /** Watches one resource, e.g. `v2/app/<app>/object/<obj>` (relative to the service, no leading slash). */
  watch(url: string, listener: (event: WatchEvent) => void): NotifySubscription {
    return this.add({ method: "WATCH", url: relative(url), listener, active: true, failures: 0 });
  }

  /**
   * Watches every child of a parent path ending in "/", e.g. `v2/app/<app>/object/`; with a filter only the children
   * matching it (a child that stops matching arrives as a 412 and leaves `children`).
   */
  search(parent: string, listener: (event: SearchEvent) => void, options: { filter?: Record<string, unknown> } = {}): NotifySubscription {
    const path = relative(parent);
    if (!path.endsWith("/")) throw new Error(`notify/v2 SEARCH parent "${parent}" must end with "/"`);
    return this.add({ method: "SEARCH", parent: path, filter: options.filter, listener, children: new Map(), active: true, failures: 0 });
  }

  /** Watches one ConfigDB entry. */
  watchEntry(app: string, obj: string, listener: (event: WatchEvent) => void): NotifySubscription {
    return this.watch(`v2/app/${app}/object/${obj}`, listener);
  }

  /** Watches every entry of a ConfigDB application; children are keyed by object UUID. */
  searchApp(app: string, listener: (event: SearchEvent) => void, options: { filter?: Record<string, unknown> } = {}): NotifySubscription {
    return this.search(`v2/app/${app}/object/`, listener, options);
  }

  /** Closes the connection and ends every subscription. */
  async close(): Promise<void> {
    if (this.currentState === "closed") return;
    this.setState("closed");
    clearTimeout(this.reconnectTimer);
    this.stopPing();
    for (const sub of this.subs) this.deactivate(sub);
    this.subs.clear();
    this.byWireId.clear();
    const ws = this.ws;
    this.ws = undefined;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
      ws.once("close", () => {
        clearTimeout(force);
        resolve();
      });
      if (ws.readyState === WebSocket.CONNECTING) ws.terminate();
      else ws.close(1000);
    });
  }

  private add(sub: Sub): NotifySubscription {
    if (this.currentState === "closed") throw new Error("notify/v2 client is closed");
    this.subs.add(sub);
    if (this.currentState === "idle") void this.connect();
    else if (this.authenticated) this.subscribe(sub);
    return {
      close: () => {
        if (!sub.active) return;
        this.deactivate(sub);
        this.subs.delete(sub);
        // The wire id stays mapped until the server's 410 so late updates are recognised and dropped.
        if (sub.wireId && this.authenticated) this.send({ uuid: sub.wireId, method: "CLOSE" });
      },
    };
  }

  private deactivate(sub: Sub): void {
    sub.active = false;
    clearTimeout(sub.retryTimer);
  }

  private setState(state: NotifyState): void {
    if (this.currentState === state) return;
    this.currentState = state;
    this.log.debug({ state }, "notify connection state");
    this.onStateChange?.(state);
  }

  private async connect(): Promise<void> {
    this.setState("connecting");
    let url: URL;
    let token: string;
    try {
      url = notifyUrl(await this.http.baseUrl());
      token = await this.http.token();
    } catch (err) {
      this.log.warn({ err: errorText(err) }, "cannot prepare notify connection");
      this.scheduleReconnect();
      return;
    }
    if (this.currentState === "closed") return;

    const ws = new WebSocket(url, { handshakeTimeout: HANDSHAKE_TIMEOUT_MS });
    this.ws = ws;
    this.authenticated = false;
    ws.on("open", () => {
      // The server is up again: the outage's backoff no longer applies. A token it then refuses (a restarted
      // ConfigDB has forgotten every token) is replaced at once; only refusals in a row back off.
      this.failedAttempts = this.refusedLogins;
      ws.send(`Bearer ${token}`);
    });
    ws.on("message", (data, isBinary) => {
      if (ws !== this.ws) return;
      if (isBinary) return this.protocolFailure("binary frame from server");
      const text = frameText(data);
      if (this.authenticated) this.onUpdate(text);
      else this.onAuthAnswer(text, token);
    });
    ws.on("pong", () => {
      if (ws === this.ws) this.awaitingPong = false;
    });
    ws.on("error", (err) => this.log.warn({ err: err.message }, "notify connection error"));
    ws.on("close", () => this.onClose(ws));
  }

  private onAuthAnswer(answer: string, token: string): void {
    if (answer === "200") {
      this.authenticated = true;
      this.failedAttempts = 0;
      this.refusedLogins = 0;
      this.setState("open");
      this.startPing();
      for (const sub of this.subs) this.subscribe(sub);
      return;
    }
    this.refusedLogins += 1;
    if (answer === "401") {
      this.log.info("notify refused the token, logging in again");
      this.http.invalidateToken(token);
    } else {
      this.log.warn({ answer: answer.slice(0, 40) }, "notify authentication failed");
    }
    this.ws?.close();
  }

  private onClose(ws: WebSocket): void {
    if (ws !== this.ws) return;
    this.ws = undefined;
    this.authenticated = false;
    this.stopPing();
    this.byWireId.clear();
    for (const sub of this.subs) {
      sub.wireId = undefined;
      clearTimeout(sub.retryTimer);
    }
    if (this.currentState === "closed") return;
    this.log.info("notify connection closed, reconnecting");
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.currentState === "closed") return;
    this.setState("connecting");
    this.failedAttempts += 1;
    const delay = backoffDelay(this.failedAttempts, this.backoff);
    this.log.debug({ attempt: this.failedAttempts, delayMs: delay }, "notify reconnect scheduled");
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.connect(), delay);
  }

  private startPing(): void {
    this.stopPing();
    if (this.pingIntervalMs <= 0) return;
    this.awaitingPong = false;
    this.pingTimer = setInterval(() => {
      const ws = this.ws;
      if (!ws) return;
      if (this.awaitingPong) {
        this.log.warn("notify connection missed a pong, dropping it");
        ws.terminate();
        return;
      }
      this.awaitingPong = true;
      ws.ping();
    }, this.pingIntervalMs);
  }

  private stopPing(): void {
    clearInterval(this.pingTimer);
    this.pingTimer = undefined;
  }

  private subscribe(sub: Sub): void {
    if (!sub.active) return;
    const uuid = randomUUID();
    sub.wireId = uuid;
    this.byWireId.set(uuid, sub);
    if (sub.method === "WATCH") this.send({ uuid, method: "WATCH", request: { url: sub.url } });
    else this.send({ uuid, method: "SEARCH", parent: sub.parent, ...(sub.filter ? { filter: sub.filter } : {}) });
  }

  private send(request: object): void {
    this.ws?.send(JSON.stringify(request));
  }

  private onUpdate(text: string): void {
    let update: Record<string, unknown>;
    try {
      update = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return this.protocolFailure("update is not JSON");
    }
    if (!isRecord(update) || typeof update.uuid !== "string" || typeof update.status !== "number") {
      return this.protocolFailure("update lacks uuid or status");
    }
    const sub = this.byWireId.get(update.uuid);
    if (!sub) return;
    const status = update.status;

    if (status >= 200 && status < 300) {
      if (!sub.active) return;
      sub.failures = 0;
      try {
        if (sub.method === "WATCH") this.deliverWatch(sub, status, update);
        else this.deliverSearch(sub, update);
      } catch (err) {
        this.log.error({ err: errorText(err), subscription: describe(sub) }, "notify listener failed");
      }
      return;
    }
    if (status < 400) {
      // The spec requires dropping the connection on a 1xx/3xx subscription status it does not define.
      return this.protocolFailure(`undefined subscription status ${status}`);
    }

    this.byWireId.delete(update.uuid);
    sub.wireId = undefined;
    if (!sub.active) return;
    if (status >= 500) {
      sub.failures += 1;
      const delay = backoffDelay(sub.failures, this.backoff);
      this.log.warn({ status, subscription: describe(sub), delayMs: delay }, "server ended subscription, re-subscribing");
      sub.retryTimer = setTimeout(() => {
        if (this.authenticated) this.subscribe(sub);
      }, delay);
      return;
    }
    this.log.warn({ status, subscription: describe(sub) }, "server refused subscription");
    this.deactivate(sub);
    this.subs.delete(sub);
    const closed = { type: "closed" as const, status };
    if (sub.method === "WATCH") sub.listener(closed);
    else sub.listener(closed);
  }

  private deliverWatch(sub: WatchSub, status: number, update: Record<string, unknown>): void {
    const response = parseResponse(update.response);
    if (!response) return this.protocolFailure("WATCH update without a response");
    sub.listener(status === 201 ? { type: "snapshot", response } : { type: "update", response });
  }

  private deliverSearch(sub: SearchSub, update: Record<string, unknown>): void {
    const parent = parseResponse(update.response) ?? { status: 204, etag: null };
    if (isRecord(update.children)) {
      sub.children = new Map();
      for (const [child, raw] of Object.entries(update.children)) {
        const response = parseResponse(raw);
        if (response && present(response)) sub.children.set(child, response);
      }
      sub.listener({ type: "snapshot", parent, children: new Map(sub.children) });
    } else if (typeof update.child === "string") {
      const response = parseResponse(update.response);
      if (!response) return this.protocolFailure("SEARCH child update without a response");
      if (present(response)) sub.children.set(update.child, response);
      else sub.children.delete(update.child);
      sub.listener({ type: "child", child: update.child, response, children: new Map(sub.children) });
    } else {
      sub.children = new Map();
      sub.listener({ type: "no-access", parent, children: new Map() });
    }
  }

  private protocolFailure(problem: string): void {
    this.log.warn({ problem }, "notify protocol violation, reconnecting");
    this.ws?.terminate();
  }
}

/** `<base>/notify/v2` with the scheme turned into ws/wss. */
export function notifyUrl(baseUrl: string): URL {
  const url = new URL("notify/v2", baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`);
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  return url;
}

/** 404: the child is gone; 412: it left the filtered set. Everything else is a child that exists (maybe 403). */
function present(response: NotifyResponse): boolean {
  return response.status !== 404 && response.status !== 412;
}

function parseResponse(raw: unknown): NotifyResponse | undefined {
  if (!isRecord(raw) || typeof raw.status !== "number") return undefined;
  const response: NotifyResponse = { status: raw.status, etag: normaliseEtag(headerValue(raw.headers, "etag")) };
  if ("body" in raw) response.body = raw.body;
  return response;
}

/** Headers may be an object or an array of pairs (as in the Fetch spec); names are case-insensitive. */
function headerValue(headers: unknown, name: string): string | undefined {
  const pairs: unknown[] = Array.isArray(headers) ? headers : isRecord(headers) ? Object.entries(headers) : [];
  for (const pair of pairs) {
    if (Array.isArray(pair) && typeof pair[0] === "string" && pair[0].toLowerCase() === name && typeof pair[1] === "string") {
      return pair[1];
    }
  }
  return undefined;
}

function relative(path: string): string {
  return path.replace(/^\/+/, "");
}

function describe(sub: Sub): string {
  if (sub.method === "WATCH") return `WATCH ${sub.url}`;
  return sub.filter ? `SEARCH ${sub.parent} filter ${JSON.stringify(sub.filter)}` : `SEARCH ${sub.parent}`;
}

function frameText(data: WebSocket.RawData): string {
  if (Buffer.isBuffer(data)) return data.toString("utf8");
  if (Array.isArray(data)) return Buffer.concat(data).toString("utf8");
  return Buffer.from(data).toString("utf8");
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
