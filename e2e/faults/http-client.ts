// A raw HTTP client for fault tests: the path goes on the wire exactly as given (fetch would normalise "..", and
// refuses some headers), and a server that answers before reading a large body still yields its status.
import { request } from "node:http";

export interface RawResponse {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

export function rawRequest(base: string, method: string, path: string, headers: Record<string, string> = {},
  body?: Buffer | string): Promise<RawResponse> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request({ host: hostname, port, method, path, headers: { connection: "close", ...headers } }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), headers: res.headers }));
      res.on("error", reject);
    });
    // The server may answer (e.g. 413) and close while the body is still being sent: the answer is what counts.
    req.on("error", (err) => { if (!answered) reject(err); });
    req.end(body);
  });
}

export const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
