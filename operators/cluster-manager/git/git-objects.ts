import { createHash } from "node:crypto";
import { open, readFile, rm } from "node:fs/promises";
import path from "node:path";
import { inflateSync } from "node:zlib";

/**
 * Git's object format (SHA-1 repositories) in-process: object ids, trees and commits encoded and parsed, loose
 * objects read and checked, refs read from their files. The store writes new objects as packs (git-pack.ts) and moves
 * the branch with git's lock-file protocol (git-refs.ts), running no git process for either; anything it cannot read
 * in-process (objects deltified by a `git gc`) is left to the git CLI by the callers.
 *
 * Loose objects are still read (repositories written by earlier versions, or by git): one already on disk is trusted
 * only once checked (it inflates, its header matches and it hashes to its id); a truncated or corrupt one is written
 * again by the store, in a pack, and the damaged file removed.
 */

export type ObjectType = "blob" | "tree" | "commit";

export interface TreeItem {
  /** "100644" | "100755" for files, "40000" for trees. */
  mode: string;
  name: string;
  id: string;
}

const OBJECT_ID = /^[0-9a-f]{40}$/;

export const isObjectId = (s: string) => OBJECT_ID.test(s);

export function objectId(type: ObjectType, content: Buffer): string {
  return createHash("sha1").update(`${type} ${content.length}\0`).update(content).digest("hex");
}

const loosePath = (gitDir: string, id: string) => path.join(gitDir, "objects", id.slice(0, 2), id.slice(2));

export type LooseState = "absent" | "sound" | "corrupt";

/** Whether the object is stored loose, and if so whether the file holds exactly the object with this id. */
export async function looseObjectState(gitDir: string, id: string): Promise<LooseState> {
  let packed: Buffer;
  try {
    packed = await readFile(loosePath(gitDir, id));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return "absent";
    throw err;
  }
  try {
    const raw = inflateSync(packed);
    const nul = raw.indexOf(0);
    const [, size] = raw.subarray(0, nul).toString("latin1").split(" ");
    return nul > 0 && Number(size) === raw.length - nul - 1 && createHash("sha1").update(raw).digest("hex") === id ? "sound" : "corrupt";
  } catch {
    return "corrupt";
  }
}

/** Removes a damaged loose object (once a sound copy is stored elsewhere). */
export async function removeLooseObject(gitDir: string, id: string): Promise<void> {
  await rm(loosePath(gitDir, id), { force: true });
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

