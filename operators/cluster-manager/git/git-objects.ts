import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { deflate, deflateSync, inflateSync } from "node:zlib";

/**
 * Git's object format (SHA-1 repositories) read and written in-process: blobs, trees and commits as loose objects,
 * refs read from their files. The store writes every object this way instead of running git for it: starting a
 * process blocks Node's event loop until the child has exec'ed (many milliseconds on a busy host), which dominated
 * provisioning. Moving a branch stays with `git update-ref` (locking, compare-and-swap, reflog), and anything not
 * stored loose (after a `git gc`) is left to the git CLI by the callers.
 *
 * Objects are durable before anything can point at them: written under a temporary name, fsynced, renamed into
 * place and the directory fsynced, so a crash or power loss never leaves a ref naming a missing or half-written
 * object. An object already on disk is checked (it inflates, its header matches and it hashes to its id) before it
 * is trusted; a truncated or corrupt one is written again.
 */

export type ObjectType = "blob" | "tree" | "commit";

export interface TreeItem {
  /** "100644" | "100755" for files, "40000" for trees. */
  mode: string;
  name: string;
  id: string;
}

const OBJECT_ID = /^[0-9a-f]{40}$/;
/** Above this size an object is compressed on the thread pool rather than inline. */
const INLINE_DEFLATE_MAX = 256 * 1024;

export const isObjectId = (s: string) => OBJECT_ID.test(s);

export function objectId(type: ObjectType, content: Buffer): string {
  return createHash("sha1").update(`${type} ${content.length}\0`).update(content).digest("hex");
}

const loosePath = (gitDir: string, id: string) => path.join(gitDir, "objects", id.slice(0, 2), id.slice(2));

/** Stores the object unless a sound copy already exists loose; returns its id. */
export async function writeObject(gitDir: string, type: ObjectType, content: Buffer): Promise<string> {
  const id = objectId(type, content);
  const file = loosePath(gitDir, id);
  if (await isSoundLooseObject(file, id)) return id;
  const raw = Buffer.concat([Buffer.from(`${type} ${content.length}\0`), content]);
  const packed = raw.length > INLINE_DEFLATE_MAX ? await promisify(deflate)(raw) : deflateSync(raw);
  const dir = path.dirname(file);
  await mkdir(dir, { recursive: true });
  // Written whole under a temporary name, synced, then renamed (over a corrupt copy, if any): a reader never sees
  // half an object, and the rename is made durable before the caller goes on to point a ref at it.
  const tmp = path.join(dir, `tmp_obj_${randomBytes(6).toString("hex")}`);
  try {
    const fh = await open(tmp, "wx", 0o444);
    try {
      await fh.writeFile(packed);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
    await syncDirectory(dir);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  return id;
}

/** Whether the loose object file exists and holds exactly the object with this id. */
async function isSoundLooseObject(file: string, id: string): Promise<boolean> {
  let packed: Buffer;
  try {
    packed = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw err;
  }
  try {
    const raw = inflateSync(packed);
    const nul = raw.indexOf(0);
    const [, size] = raw.subarray(0, nul).toString("latin1").split(" ");
    return nul > 0 && Number(size) === raw.length - nul - 1 && createHash("sha1").update(raw).digest("hex") === id;
  } catch {
    return false;
  }
}

/** Makes a rename or a new file in the directory durable. */
export async function syncDirectory(dir: string): Promise<void> {
  const fh = await open(dir, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** A loose object's type and content; null when the object is not stored loose (packed, or absent). */
export async function readLooseObject(gitDir: string, id: string): Promise<{ type: string; content: Buffer } | null> {
  if (!isObjectId(id)) throw new Error(`invalid object id "${id}"`);
  let packed: Buffer;
  try {
    packed = await readFile(loosePath(gitDir, id));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  const raw = inflateSync(packed);
  const nul = raw.indexOf(0);
  const [type, size] = raw.subarray(0, nul).toString("latin1").split(" ");
  const content = raw.subarray(nul + 1);
  if (!type || Number(size) !== content.length) throw new Error(`object ${id} in "${gitDir}" is corrupt`);
  return { type, content };
}

/** A tree object in git's canonical entry order (a subtree sorts as if its name ended in '/'). */
export function encodeTree(items: TreeItem[]): Buffer {
  const key = (i: TreeItem) => Buffer.from(i.mode === "40000" ? `${i.name}/` : i.name, "utf8");
  const sorted = [...items].sort((a, b) => Buffer.compare(key(a), key(b)));
  return Buffer.concat(sorted.flatMap((i) => [Buffer.from(`${i.mode} ${i.name}\0`, "utf8"), Buffer.from(i.id, "hex")]));
}

export function parseTree(content: Buffer): TreeItem[] {
  const items: TreeItem[] = [];
  let pos = 0;
  while (pos < content.length) {
    const space = content.indexOf(0x20, pos);
    const nul = content.indexOf(0, space);
    if (space < 0 || nul < 0 || nul + 21 > content.length) throw new Error("corrupt tree object");
    items.push({
      mode: content.subarray(pos, space).toString("latin1"),
      name: content.subarray(space + 1, nul).toString("utf8"),
      id: content.subarray(nul + 1, nul + 21).toString("hex"),
    });
    pos = nul + 21;
  }
  return items;
}

export interface CommitInput {
  tree: string;
  parents: string[];
  name: string;
  email: string;
  message: string;
  /** Seconds since the epoch; now by default. */
  time?: number;
}

export function encodeCommit(c: CommitInput): Buffer {
  const when = `${c.time ?? Math.floor(Date.now() / 1000)} +0000`;
  const who = `${c.name} <${c.email}> ${when}`;
  const message = c.message.endsWith("\n") ? c.message : `${c.message}\n`;
  return Buffer.from([`tree ${c.tree}`, ...c.parents.map((p) => `parent ${p}`), `author ${who}`, `committer ${who}`, "", message].join("\n"), "utf8");
}

/** The tree id a commit object names. */
export function commitTree(content: Buffer): string {
  const m = /^tree ([0-9a-f]{40})\n/.exec(content.subarray(0, 46).toString("latin1"));
  if (!m) throw new Error("corrupt commit object: no tree line");
  return m[1]!;
}

/**
 * The object a ref points at, from its loose file or packed-refs; null when the ref does not exist. The loose file
 * is replaced by rename under git's lock, so it is read whole, old or new.
 */
export async function readRef(gitDir: string, ref: string): Promise<string | null> {
  const loose = await readFile(path.join(gitDir, ref), "latin1").catch(notFoundAsNull);
  if (loose !== null) {
    const id = loose.trim();
    if (!isObjectId(id)) throw new Error(`ref "${ref}" in "${gitDir}" does not hold an object id`);
    return id;
  }
  const packed = await readFile(path.join(gitDir, "packed-refs"), "latin1").catch(notFoundAsNull);
  for (const line of packed?.split("\n") ?? []) {
    const [id, name] = line.split(" ");
    if (name === ref && id && isObjectId(id)) return id;
  }
  return null;
}

function notFoundAsNull(err: NodeJS.ErrnoException): null {
  if (err.code === "ENOENT") return null;
  throw err;
}

