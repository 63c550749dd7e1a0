import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** Small HTTP helpers shared by the stand-in's services. */

/** ACS accepts only lower-case hyphenated UUIDs in paths (anything else is 410 Gone). */
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export const isUuid = (value: unknown): value is string => typeof value === "string" && UUID_RE.test(value);

export class HttpFailure extends Error {
  constructor(readonly status: number, message = "") {
    super(message);
  }
}

const MAX_BODY_BYTES = 1024 * 1024;

export async function readBody(req: IncomingMessage, maxBytes = MAX_BODY_BYTES): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new HttpFailure(413, "request body too large");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** The request's media type without parameters, lower-cased ("" if none). */
export function mediaType(req: IncomingMessage): string {
  return (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
}

/** Reads a JSON body sent with one of the given media types: 415 for another type, 400 for bad JSON. */
export async function readJson(req: IncomingMessage, types: readonly string[] = ["application/json"]): Promise<unknown> {
  if (!types.includes(mediaType(req))) throw new HttpFailure(415, `content type must be ${types.join(" or ")}`);
  const text = (await readBody(req)).toString("utf8");
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new HttpFailure(400, "request body is not valid JSON");
  }
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(value));
}

/** A bodiless status, or a text/plain message (ACS sends errors as text/plain). */
export function sendStatus(res: ServerResponse, status: number, message = ""): void {
  if (message === "") {
    res.writeHead(status);
    res.end();
    return;
  }
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
  res.end(`${message}\n`);
}

/** Path segments of the request URL (query dropped, empty segments kept out except a trailing one). */
export function pathSegments(req: IncomingMessage): string[] {
  const raw = (req.url ?? "/").split("?")[0]!;
  return raw.split("/").slice(1);
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** Wraps a handler: HttpFailure becomes its status, anything else a 500 with a text body. */
export function guarded(handler: Handler): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handler(req, res).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof HttpFailure) sendStatus(res, err.status, err.message);
      else sendStatus(res, 500, `Server error: ${err instanceof Error ? err.message : String(err)}`);
    });
  };
}

export interface Listening {
  server: Server;
  url: string;
  close(): Promise<void>;
  /** Stops listening and cuts every connection, keeping the port for resume(): the service is down. */
  pause(): Promise<void>;
  /** Listens on the same port again. */
  resume(): Promise<void>;
}

/** Starts a server on a free loopback port. */
export async function listenLoopback(handler: Handler, host = "127.0.0.1"): Promise<Listening> {
  const server = createServer(guarded(handler));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const close = () => new Promise<void>((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
    server.closeAllConnections();
  });
  return {
    server,
    url: `http://${host}:${port}`,
    close,
    pause: close,
    resume: () => new Promise<void>((resolve, reject) => {
      if (server.listening) return resolve();
      server.once("error", reject);
      server.listen(port, host, () => { server.off("error", reject); resolve(); });
    }),
  };
}
