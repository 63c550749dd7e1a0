// Where the birth/death sequence number survives restarts. Sparkplug requires every MQTT CONNECT to carry a
// bdSeq one more than the previous CONNECT's, so the value is reserved (stored) before the CONNECT is sent.
import { mkdir, readFile, rename, writeFile, open } from "node:fs/promises";
import { dirname } from "node:path";
import { isValidSparkplugCounter, nextBdSeq } from "./sequence.js";

export interface BdSeqStore {
  /** The bdSeq last reserved, or undefined when none was ever stored. */
  current(): Promise<number | undefined>;
  /** Reserves and stores the bdSeq for a new MQTT CONNECT: the stored value plus one (255 → 0), or 0 at first. */
  next(): Promise<number>;
  /** Human-readable location, for logs. */
  readonly description: string;
}

/** Reads a stored bdSeq; undefined (start again at 0) for text that is not a counter value. */
export function parseStoredBdSeq(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (!/^\d{1,3}$/.test(trimmed)) return undefined;
  const value = Number(trimmed);
  return isValidSparkplugCounter(value) ? value : undefined;
}

/** Keeps the bdSeq in a small text file, replaced atomically (write to a temporary file, fsync, rename). */
export class FileBdSeqStore implements BdSeqStore {
  readonly description: string;

  constructor(private readonly path: string) {
    this.description = `file "${path}"`;
  }

  async current(): Promise<number | undefined> {
    try {
      return parseStoredBdSeq(await readFile(this.path, "utf8"));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new Error(`reading bdSeq from "${this.path}": ${(err as Error).message}`);
    }
  }

  async next(): Promise<number> {
    const value = nextBdSeq(await this.current());
    const tmp = `${this.path}.tmp-${process.pid}`;
    try {
      await mkdir(dirname(this.path), { recursive: true });
      await writeFile(tmp, `${value}\n`, { mode: 0o644 });
      const handle = await open(tmp, "r+");
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, this.path);
    } catch (err) {
      throw new Error(`storing bdSeq in "${this.path}": ${(err as Error).message}`);
    }
    return value;
  }
}

/** Keeps the bdSeq in memory only: for callers that accept starting again at 0 after a restart. */
export class MemoryBdSeqStore implements BdSeqStore {
  readonly description = "memory";
  private value: number | undefined;

  constructor(initial?: number) {
    this.value = initial;
  }

  async current(): Promise<number | undefined> {
    return this.value;
  }

  async next(): Promise<number> {
    this.value = nextBdSeq(this.value);
    return this.value;
  }
}
