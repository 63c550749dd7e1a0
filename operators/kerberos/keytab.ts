// Keytab files as graft handles them: written only inside private (0700) temp dirs, read back as bytes for a
// Secret, and parsed (MIT keytab format version 0x502) so callers can see which principals and kvnos they hold.
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Runs fn with a fresh private temp dir that is removed afterwards, whatever happens. */
export async function withPrivateDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "graft-krb-"));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Writes keytab bytes to `<dir>/<name>` readable only by this user and returns the path. */
export async function writeKeytabFile(dir: string, bytes: Uint8Array, name = "keytab"): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes, { mode: 0o600 });
  return path;
}

export interface KeytabEntry {
  /** `name/instance@REALM` */
  principal: string;
  kvno: number;
  enctype: number;
  timestamp: Date;
}

/** Lists the entries of an MIT (v0x502) keytab; throws on anything that is not one. Deleted (hole) entries are skipped. */
export function parseKeytab(bytes: Uint8Array): KeytabEntry[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 2 || buf.readUInt16BE(0) !== 0x0502) throw new Error("not a keytab: the version header is not 0x0502");
  const entries: KeytabEntry[] = [];
  let off = 2;
  while (off + 4 <= buf.length) {
    const size = buf.readInt32BE(off);
    off += 4;
    if (size === 0) break;
    if (size < 0) { off += -size; continue; }
    if (off + size > buf.length) throw new Error("not a keytab: an entry runs past the end of the file");
    entries.push(parseEntry(buf.subarray(off, off + size)));
    off += size;
  }
  return entries;
}

function parseEntry(e: Buffer): KeytabEntry {
  let p = 0;
  const u16 = () => { const v = e.readUInt16BE(p); p += 2; return v; };
  const u32 = () => { const v = e.readUInt32BE(p); p += 4; return v; };
  const str = () => { const n = u16(); const s = e.toString("utf8", p, p + n); p += n; return s; };
  const count = u16();
  const realm = str();
  const components: string[] = [];
  for (let i = 0; i < count; i++) components.push(str());
  u32(); // name type
  const timestamp = new Date(u32() * 1000);
  let kvno = e.readUInt8(p);
  p += 1;
  const enctype = u16();
  const keyLength = u16();
  p += keyLength; // the key bytes themselves are never looked at
  // A 32-bit kvno follows when the entry has room for it; it supersedes the 8-bit one unless zero.
  if (p + 4 <= e.length) {
    const kvno32 = e.readUInt32BE(p);
    if (kvno32 !== 0) kvno = kvno32;
  }
  return { principal: `${components.join("/")}@${realm}`, kvno, enctype, timestamp };
}
