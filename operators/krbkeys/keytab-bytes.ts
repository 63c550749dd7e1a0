// Keytabs as byte strings: split into entries, joined, merged and trimmed without ever looking at key material.
// The entry layout is read by kerberos/keytab.ts; this module only moves whole entries around.
import { parseKeytab, type KeytabEntry } from "../kerberos/keytab.js";

const HEADER = Buffer.from([0x05, 0x02]);

export interface RawEntry {
  entry: KeytabEntry;
  /** The size-prefixed record exactly as stored. */
  raw: Buffer;
}

/** The live entries of an MIT keytab, in file order; throws on anything that is not one. */
export function splitKeytab(bytes: Uint8Array): RawEntry[] {
  parseKeytab(bytes); // validates the header and every record
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: RawEntry[] = [];
  let off = 2;
  while (off + 4 <= buf.length) {
    const size = buf.readInt32BE(off);
    if (size === 0) break;
    if (size < 0) { off += 4 - size; continue; }
    const raw = buf.subarray(off, off + 4 + size);
    const [entry] = parseKeytab(Buffer.concat([HEADER, raw]));
    out.push({ entry: entry!, raw });
    off += 4 + size;
  }
  return out;
}

export function joinKeytab(entries: RawEntry[]): Buffer {
  return Buffer.concat([HEADER, ...entries.map((e) => e.raw)]);
}

/** One keytab holding the entries of all, in order, without exact duplicates. */
export function mergeKeytabs(...keytabs: Uint8Array[]): Buffer {
  const seen = new Set<string>();
  const out: RawEntry[] = [];
  for (const kt of keytabs) {
    for (const e of splitKeytab(kt)) {
      const id = e.raw.toString("base64");
      if (seen.has(id)) continue;
      seen.add(id);
      out.push(e);
    }
  }
  return joinKeytab(out);
}

/** Keeps, for each principal, only the entries of its `versions` highest key version numbers. */
export function keepNewestVersions(bytes: Uint8Array, versions: number): Buffer {
  const entries = splitKeytab(bytes);
  const kept = new Map<string, number[]>();
  for (const { entry } of entries) {
    const list = kept.get(entry.principal) ?? [];
    if (!list.includes(entry.kvno)) list.push(entry.kvno);
    kept.set(entry.principal, list);
  }
  for (const [p, list] of kept) kept.set(p, list.sort((a, b) => b - a).slice(0, versions));
  return joinKeytab(entries.filter(({ entry }) => kept.get(entry.principal)!.includes(entry.kvno)));
}

/** The principals a keytab holds keys for. */
export function principalsIn(bytes: Uint8Array): Set<string> {
  return new Set(parseKeytab(bytes).map((e) => e.principal));
}
