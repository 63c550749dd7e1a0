// Large file contents the repository store has recently written or read, by object id and by text. The same large
// file (Flux's install manifest, ~230 KiB) is in every cluster's repository: without this each pass over a cluster
// encoded and hashed it to compare trees, read and inflated it from the pack to see what the head holds, and decoded
// it to a string again — about 0.7 MiB of short-lived buffers and strings and ~1.5 ms of CPU per pass, on every
// resync of every cluster and on each first report. Entries are checked contents (hashed to their id); bounded in
// bytes, least recently used first out. The Buffers handed out are shared: callers read them, never write into them.
import { objectId } from "./git-objects.js";

/** Files smaller than this are cheap to read and hash each time: only larger ones are kept. */
export const LARGE_BLOB_MIN = 16 * 1024;

interface Entry {
  content: Buffer;
  text?: string;
}

export class LargeBlobCache {
  private readonly byId = new Map<string, Entry>();
  private readonly idOfText = new Map<string, string>();
  /** The text each cached content decodes to, so a file read from a repository is decoded once. */
  private readonly textOf = new WeakMap<Buffer, string>();
  private bytes = 0;

  constructor(readonly maxBytes = 8 * 2 ** 20) {}

  /** A large text as a blob: its bytes (the cached Buffer when the text was seen before) and its id. */
  encode(text: string): { content: Buffer; id: string } {
    const known = this.idOfText.get(text);
    const hit = known === undefined ? undefined : this.touch(known);
    if (hit) return { content: hit.content, id: known! };
    const content = Buffer.from(text);
    const id = objectId("blob", content);
    const read = this.touch(id);
    if (read) {
      // Read from a repository before this text was seen: the two are the same file.
      read.text ??= text;
      this.idOfText.set(text, id);
      return { content: read.content, id };
    }
    this.store(id, { content, text });
    return { content, id };
  }

  /** The content of a large blob by id, if cached. */
  content(id: string): Buffer | undefined {
    return this.touch(id)?.content;
  }

  /**
   * Keeps a large blob's content read from a repository if it hashes to id (a damaged copy is handed back as read,
   * never cached); returns the Buffer to use.
   */
  remember(id: string, content: Buffer): Buffer {
    const cached = this.touch(id);
    if (cached) return cached.content;
    if (content.length >= LARGE_BLOB_MIN && objectId("blob", content) === id) this.store(id, { content });
    return content;
  }

  /** A file's text: decoded once per cached content, the original string when the content came from encode(). */
  text(content: Buffer): string {
    const known = this.textOf.get(content);
    if (known !== undefined) return known;
    const text = content.toString("utf8");
    if (content.length >= LARGE_BLOB_MIN) this.textOf.set(content, text);
    return text;
  }

  get size(): { entries: number; bytes: number } {
    return { entries: this.byId.size, bytes: this.bytes };
  }

  private touch(id: string): Entry | undefined {
    const entry = this.byId.get(id);
    if (!entry) return undefined;
    this.byId.delete(id);
    this.byId.set(id, entry);
    return entry;
  }

  private store(id: string, entry: Entry): void {
    if (entry.content.length > this.maxBytes) return;
    this.byId.set(id, entry);
    if (entry.text !== undefined) {
      this.idOfText.set(entry.text, id);
      this.textOf.set(entry.content, entry.text);
    }
    this.bytes += entry.content.length;
    for (const [oldest, old] of this.byId) {
      if (this.bytes <= this.maxBytes) break;
      this.byId.delete(oldest);
      if (old.text !== undefined) this.idOfText.delete(old.text);
      this.bytes -= old.content.length;
    }
  }
}
