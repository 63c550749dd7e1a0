import { createHash, randomBytes } from "node:crypto";
import { open, readdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { crc32, deflateSync, inflateSync } from "node:zlib";
import { isObjectId, objectId, readLooseObject, syncDirectory, type ObjectType } from "./git-objects.js";

/**
 * Git pack files (version 2, with a version 2 index) written and read in-process. A commit's new objects go into one
 * pack instead of one loose file each: two files to write and sync and one directory to sync, where loose objects
 * took a file and a directory sync per object. The pack and its index are each written under a temporary name,
 * synced and renamed into place, the index last (git uses a pack only once its index exists), then the directory is
 * synced: a crash leaves either a whole, checksummed pack or none, never one a ref could name half of.
 *
 * The reader knows whole objects only, which is all this writer makes; a delta (from an operator's `git gc` or
 * repack) reads as "not here", and the callers fall back to the git CLI.
 */

const TYPE_CODE: Record<ObjectType, number> = { commit: 1, tree: 2, blob: 3 };
const CODE_TYPE: Record<number, ObjectType> = { 1: "commit", 2: "tree", 3: "blob" };
const IDX_MAGIC = Buffer.from([0xff, 0x74, 0x4f, 0x63]);

export interface GitObject {
  type: ObjectType;
  content: Buffer;
  /** Its id, when the caller has hashed it already. */
  id?: string;
}

/**
 * Compressed bodies of recently packed large objects, by id: the same large file (Flux's install manifest, ~230 KiB)
 * goes into every cluster's repository, and compressing it took most of a new cluster's CPU. Bounded in bytes.
 */
const deflated = new Map<string, Buffer>();
let deflatedBytes = 0;
const DEFLATE_CACHE_MIN = 16 * 1024;
const DEFLATE_CACHE_MAX_BYTES = 8 * 2 ** 20;

/**
 * zlib's default state is about 256 KiB (a 32 KiB window and a 64 Ki-entry hash), allocated and freed for every
 * object: a new cluster's few small files cost megabytes of malloc churn, which the C heap kept as resident memory.
 * A window just larger than the object (plus zlib's look-ahead) and a hash sized to it compress it as well, with a
 * few KiB; every inflater accepts a stream with a smaller window than its own.
 */
function deflateSized(content: Buffer): Buffer {
  const windowBits = Math.min(15, Math.max(9, Math.ceil(Math.log2(content.length + 262))));
  return deflateSync(content, { windowBits, memLevel: Math.max(1, Math.min(8, windowBits - 6)) });
}

function deflateObject(id: string, content: Buffer): Buffer {
  if (content.length < DEFLATE_CACHE_MIN) return deflateSized(content);
  const hit = deflated.get(id);
  if (hit) {
    deflated.delete(id);
    deflated.set(id, hit);
    return hit;
  }
  const body = deflateSized(content);
  deflated.set(id, body);
  deflatedBytes += body.length;
  for (const [oldest, b] of deflated) {
    if (deflatedBytes <= DEFLATE_CACHE_MAX_BYTES) break;
    deflated.delete(oldest);
    deflatedBytes -= b.length;
  }
  return body;
}

const packDir = (gitDir: string) => path.join(gitDir, "objects", "pack");

/** The pack entry header: type and inflated size, 4 bits then 7 per byte, little end first. */
function entryHeader(type: ObjectType, size: number): Buffer {
  const bytes: number[] = [];
  let byte = (TYPE_CODE[type] << 4) | (size & 0x0f);
  let rest = Math.floor(size / 16);
  while (rest > 0) {
    bytes.push(byte | 0x80);
    byte = rest & 0x7f;
    rest = Math.floor(rest / 128);
  }
  bytes.push(byte);
  return Buffer.from(bytes);
}

/** Writes the objects as one pack (durably, see above); returns the pack's name. Duplicates are written once. */
export async function writePack(gitDir: string, objects: GitObject[]): Promise<string> {
  const unique = new Map<string, GitObject>();
  for (const o of objects) unique.set(o.id ?? objectId(o.type, o.content), o);
  const header = Buffer.alloc(12);
  header.write("PACK", 0, "latin1");
  header.writeUInt32BE(2, 4);
  header.writeUInt32BE(unique.size, 8);
  // The entries are copied once, into the pack; checksums are taken part by part.
  const parts: Buffer[] = [header];
  const sha = createHash("sha1").update(header);
  const index: Array<{ id: Buffer; offset: number; crc: number }> = [];
  let offset = header.length;
  for (const [id, o] of unique) {
    const head = entryHeader(o.type, o.content.length);
    const body = deflateObject(id, o.content);
    index.push({ id: Buffer.from(id, "hex"), offset, crc: crc32(body, crc32(head)) });
    parts.push(head, body);
    sha.update(head).update(body);
    offset += head.length + body.length;
  }
  if (offset >= 2 ** 31) throw new Error("pack too large for a version 2 index without large offsets");
  const checksum = sha.digest();
  parts.push(checksum);
  const pack = Buffer.concat(parts, offset + checksum.length);

  index.sort((a, b) => Buffer.compare(a.id, b.id));
  const fanout = Buffer.alloc(256 * 4);
  for (let b = 0, i = 0; b < 256; b++) {
    while (i < index.length && index[i]!.id[0]! <= b) i++;
    fanout.writeUInt32BE(i, b * 4);
  }
  const crcs = Buffer.alloc(index.length * 4);
  const offsets = Buffer.alloc(index.length * 4);
  index.forEach((e, i) => {
    crcs.writeUInt32BE(e.crc, i * 4);
    offsets.writeUInt32BE(e.offset, i * 4);
  });
  const version = Buffer.alloc(4);
  version.writeUInt32BE(2);
  const idxBody = Buffer.concat([IDX_MAGIC, version, fanout, ...index.map((e) => e.id), crcs, offsets, checksum]);
  const idx = Buffer.concat([idxBody, createHash("sha1").update(idxBody).digest()]);

  const name = `pack-${checksum.toString("hex")}`;
  const dir = packDir(gitDir);
  const written: string[] = [];
  try {
    for (const [ext, data] of [["pack", pack], ["idx", idx]] as const) {
      const tmp = path.join(dir, `tmp_${ext}_${randomBytes(6).toString("hex")}`);
      written.push(tmp);
      const fh = await open(tmp, "wx", 0o444);
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
    await rename(written[0]!, path.join(dir, `${name}.pack`));
    await rename(written[1]!, path.join(dir, `${name}.idx`));
    await syncDirectory(dir);
  } catch (err) {
    for (const tmp of written) await rm(tmp, { force: true });
    throw err;
  }
  return name;
}

interface PackIndex {
  fanout: Uint32Array;
  ids: Buffer;
  offsets: Buffer;
  count: number;
  /** Object offsets in ascending order, to find where each object's entry ends. */
  sortedOffsets: number[];
  packSize: number;
}

/** Parsed indexes by path: a pack file never changes once in place (its name is its checksum). */
const indexCache = new Map<string, PackIndex>();
const INDEX_CACHE_MAX = 4096;

async function loadIndex(idxPath: string): Promise<PackIndex | null> {
  const cached = indexCache.get(idxPath);
  if (cached) return cached;
  const fh = await open(idxPath, "r").catch(() => null);
  if (!fh) return null;
  let data: Buffer;
  try {
    data = await fh.readFile();
  } finally {
    await fh.close();
  }
  if (data.length < 8 + 1024 || !data.subarray(0, 4).equals(IDX_MAGIC) || data.readUInt32BE(4) !== 2) return null;
  const fanout = new Uint32Array(256);
  for (let i = 0; i < 256; i++) fanout[i] = data.readUInt32BE(8 + i * 4);
  const count = fanout[255]!;
  const idsAt = 8 + 1024;
  const offsetsAt = idsAt + count * 20 + count * 4;
  const offsets = data.subarray(offsetsAt, offsetsAt + count * 4);
  const sortedOffsets: number[] = [];
  for (let i = 0; i < count; i++) {
    const o = offsets.readUInt32BE(i * 4);
    // A large-offset entry (packs over 2 GiB) is not something this reader follows.
    if (o & 0x80000000) return null;
    sortedOffsets.push(o);
  }
  sortedOffsets.sort((a, b) => a - b);
  const packSize = (await stat(idxPath.replace(/\.idx$/, ".pack")).catch(() => null))?.size;
  if (packSize === undefined) return null;
  const index = { fanout, ids: data.subarray(idsAt, idsAt + count * 20), offsets, count, sortedOffsets, packSize };
  if (indexCache.size >= INDEX_CACHE_MAX) indexCache.delete(indexCache.keys().next().value!);
  indexCache.set(idxPath, index);
  return index;
}

function findOffset(index: PackIndex, id: Buffer): number | undefined {
  let lo = id[0]! === 0 ? 0 : index.fanout[id[0]! - 1]!;
  let hi = index.fanout[id[0]!]!;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const cmp = Buffer.compare(index.ids.subarray(mid * 20, mid * 20 + 20), id);
    if (cmp === 0) return index.offsets.readUInt32BE(mid * 4);
    if (cmp < 0) lo = mid + 1;
    else hi = mid;
  }
  return undefined;
}

/**
 * The objects of one repository as this process can read them: its packs (listed once, when the reader is made) and
 * its loose objects. Made per operation, so packs added later by another writer are seen by the next one.
 */
export class ObjectReader {
  /** Small packs read whole, once per reader (a sync reads every object of one). */
  private readonly whole = new Map<string, Buffer>();

  private constructor(private readonly gitDir: string, private readonly packs: Array<{ path: string; index: PackIndex }>) {}

  static async open(gitDir: string): Promise<ObjectReader> {
    const dir = packDir(gitDir);
    const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return [] as string[];
      throw err;
    });
    const packs: Array<{ path: string; index: PackIndex }> = [];
    for (const n of names.filter((n) => n.startsWith("pack-") && n.endsWith(".idx"))) {
      const index = await loadIndex(path.join(dir, n));
      if (index) packs.push({ path: path.join(dir, n.replace(/\.idx$/, ".pack")), index });
    }
    return new ObjectReader(gitDir, packs);
  }

  /**
   * Hands the buffers of the packs read whole back for other readers; nothing read so far refers to them. A reader
   * released is still usable (it reads the packs again). Not calling it only costs the garbage collector.
   */
  release(): void {
    for (const pack of this.whole.values()) {
      if (packBuffers.length < PACK_BUFFERS_KEPT) packBuffers.push(Buffer.from(pack.buffer, pack.byteOffset, WHOLE_PACK_MAX));
    }
    this.whole.clear();
  }

  /** Whether a pack holds the object (whole or as a delta: git can read either). */
  inPack(id: string): boolean {
    const key = Buffer.from(id, "hex");
    return this.packs.some((p) => findOffset(p.index, key) !== undefined);
  }

  /** The object, from a pack (packs first, as git looks) or loose; null when only git can read it, or it is absent. */
  async read(id: string): Promise<GitObject | null> {
    if (!isObjectId(id)) throw new Error(`invalid object id "${id}"`);
    const key = Buffer.from(id, "hex");
    for (const p of this.packs) {
      const offset = findOffset(p.index, key);
      if (offset === undefined) continue;
      return readPackEntry(await this.entryBytes(p.path, p.index, offset), p.path, id);
    }
    const loose = await readLooseObject(this.gitDir, id);
    return loose && loose.type in TYPE_CODE ? { type: loose.type as ObjectType, content: loose.content } : null;
  }

  /** The bytes of the pack entry at offset (up to where the next entry, or the checksum, starts). */
  private async entryBytes(packPath: string, index: PackIndex, offset: number): Promise<Buffer> {
    const end = index.sortedOffsets.find((o) => o > offset) ?? index.packSize - 20;
    if (index.packSize <= WHOLE_PACK_MAX) {
      let pack = this.whole.get(packPath);
      if (!pack) this.whole.set(packPath, (pack = await readWhole(packPath, index.packSize)));
      return pack.subarray(offset, end);
    }
    const fh = await open(packPath, "r");
    try {
      const entry = Buffer.alloc(end - offset);
      await fh.read(entry, 0, entry.length, offset);
      return entry;
    } finally {
      await fh.close();
    }
  }
}

/** Packs up to this size are read whole by a reader. */
const WHOLE_PACK_MAX = 256 * 1024;

/**
 * Buffers small packs are read into, handed back by ObjectReader.release(): a pass over a cluster reads its ~75 KiB
 * pack, and a new buffer each time left tens of MiB of dead buffers resident between garbage collections at 1000
 * clusters. Nothing read from a pack refers to its bytes (objects are inflated copies), so a released buffer is free.
 */
const packBuffers: Buffer[] = [];
const PACK_BUFFERS_KEPT = 16;

async function readWhole(file: string, size: number): Promise<Buffer> {
  const buffer = packBuffers.pop() ?? Buffer.allocUnsafeSlow(WHOLE_PACK_MAX);
  const fh = await open(file, "r");
  try {
    for (let done = 0; done < size;) {
      const { bytesRead } = await fh.read(buffer, done, size - done, done);
      if (bytesRead === 0) throw new Error(`"${file}" is shorter than its index says`);
      done += bytesRead;
    }
    return buffer.subarray(0, size);
  } catch (err) {
    packBuffers.push(buffer);
    throw err;
  } finally {
    await fh.close();
  }
}

/** A whole object from its pack entry's bytes; null for a delta. */
function readPackEntry(entry: Buffer, packPath: string, id: string): GitObject | null {
  const type = CODE_TYPE[(entry[0]! >> 4) & 0x07];
  if (!type) return null;
  let size = entry[0]! & 0x0f;
  let pos = 1;
  for (let shift = 4; entry[pos - 1]! & 0x80; shift += 7) size += (entry[pos++]! & 0x7f) * 2 ** shift;
  const content = inflateSync(entry.subarray(pos));
  if (content.length !== size || objectId(type, content) !== id) throw new Error(`object ${id} in "${packPath}" is corrupt`);
  return { type, content };
}
