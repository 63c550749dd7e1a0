import type { OutgoingHttpHeaders } from "node:http";

/**
 * Splits a CGI response stream (RFC 3875 §6) into its header block and body: collects bytes until the blank line,
 * then hands over the status, the headers and whatever body bytes arrived with them.
 */

export interface CgiHead {
  status: number;
  headers: OutgoingHttpHeaders;
}

const MAX_HEADER_BYTES = 64 * 1024;

export class CgiHeaderParser {
  private buffered = Buffer.alloc(0);
  private done = false;

  /**
   * Feeds one chunk. Returns null while the header block is incomplete; afterwards the parsed head and the body
   * bytes that followed it. Call only until it returns a result.
   */
  push(chunk: Buffer): { head: CgiHead; rest: Buffer } | null {
    if (this.done) throw new Error("CGI header block already parsed");
    this.buffered = Buffer.concat([this.buffered, chunk]);
    const end = findHeaderEnd(this.buffered);
    if (end === null) {
      if (this.buffered.length > MAX_HEADER_BYTES) throw new Error("CGI response header block is too large");
      return null;
    }
    this.done = true;
    const head = parseHeaderBlock(this.buffered.subarray(0, end.index).toString("latin1"));
    return { head, rest: this.buffered.subarray(end.index + end.length) };
  }
}

function findHeaderEnd(buffer: Buffer): { index: number; length: number } | null {
  const crlf = buffer.indexOf("\r\n\r\n");
  const lf = buffer.indexOf("\n\n");
  if (crlf === -1 && lf === -1) return null;
  if (lf === -1 || (crlf !== -1 && crlf < lf)) return { index: crlf, length: 4 };
  return { index: lf, length: 2 };
}

function parseHeaderBlock(block: string): CgiHead {
  let status = 200;
  const headers: OutgoingHttpHeaders = {};
  for (const line of block.split(/\r?\n/)) {
    if (line.trim() === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Error(`malformed CGI header line "${line.slice(0, 80)}"`);
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === "status") {
      const code = Number.parseInt(value, 10);
      if (!Number.isInteger(code) || code < 100 || code > 599) throw new Error(`invalid CGI status "${value}"`);
      status = code;
    } else {
      const existing = headers[name];
      headers[name] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [String(existing)]), value];
    }
  }
  return { status, headers };
}
