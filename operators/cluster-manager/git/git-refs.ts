import { randomBytes } from "node:crypto";
import { appendFile, link, mkdir, open, rename, rm, stat, type FileHandle } from "node:fs/promises";
import path from "node:path";
import { readRef, syncDirectory } from "./git-objects.js";

/**
 * Moving a branch in-process with git's own lock-file protocol, so git (an operator's, or another replica's store)
 * and this store exclude each other: `<ref>.lock` is created exclusively, the ref is compared under it (compare and
 * swap), the new id written and synced, a reflog line appended, and the lock renamed over the ref, then the directory
 * synced. Readers see the old id or the new one, never a partial file. Running `git update-ref` did the same but cost
 * a process per commit, and starting a process stalls Node's event loop for many milliseconds on a busy host.
 *
 * A lock is held for the few milliseconds of one update; one older than STALE_LOCK_MS was left by a crash and is
 * broken (taken away by rename, and given back if it turns out to be someone's fresh lock), so a crash mid-update
 * never blocks the branch for good.
 */

export class RefMovedError extends Error {
  constructor(readonly ref: string, readonly expected: string | null, readonly found: string | null) {
    super(`${ref} moved: expected ${expected ?? "no ref"}, found ${found ?? "no ref"}`);
    this.name = "RefMovedError";
  }
}

export const STALE_LOCK_MS = 60_000;
/** How long to wait for a live lock before giving up (git's core.filesRefLockTimeout is 100 ms). */
const LOCK_WAIT_MS = 1_000;

export interface RefUpdate {
  ref: string;
  next: string;
  /** The id the ref must hold now; null: it must not exist yet. */
  expected: string | null;
  /** Reflog identity and message (`Name <email>`). */
  who: string;
  message: string;
}

export async function updateRef(gitDir: string, u: RefUpdate): Promise<void> {
  const file = path.join(gitDir, u.ref);
  const lock = `${file}.lock`;
  await mkdir(path.dirname(file), { recursive: true });
  const fh = await takeLock(lock);
  let closed = false;
  let renamed = false;
  try {
    const found = await readRef(gitDir, u.ref);
    if (found !== u.expected) throw new RefMovedError(u.ref, u.expected, found);
    await fh.writeFile(`${u.next}\n`);
    await fh.sync();
    await fh.close();
    closed = true;
    await appendReflog(gitDir, u);
    await rename(lock, file);
    renamed = true;
    await syncDirectory(path.dirname(file));
  } finally {
    if (!closed) await fh.close();
    if (!renamed) await rm(lock, { force: true });
  }
}

async function appendReflog(gitDir: string, u: RefUpdate): Promise<void> {
  const log = path.join(gitDir, "logs", u.ref);
  await mkdir(path.dirname(log), { recursive: true });
  const when = `${Math.floor(Date.now() / 1000)} +0000`;
  await appendFile(log, `${u.expected ?? "0".repeat(40)} ${u.next} ${u.who} ${when}\t${u.message.replace(/\n/g, " ")}\n`);
}

async function takeLock(lock: string): Promise<FileHandle> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
    try {
      return await open(lock, "wx", 0o644);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const held = await stat(lock).catch(() => null);
    if (held && Date.now() - held.mtimeMs > STALE_LOCK_MS) {
      await breakStaleLock(lock, held.ino);
      continue;
    }
    if (Date.now() > deadline) throw new Error(`cannot lock "${lock}": another writer holds it`);
    await new Promise((r) => setTimeout(r, wait));
  }
}

/** Takes the stale lock away; if what was taken is not the stale file (a new writer locked meanwhile), puts it back. */
async function breakStaleLock(lock: string, staleIno: number): Promise<void> {
  const aside = `${lock}.stale-${randomBytes(4).toString("hex")}`;
  try {
    await rename(lock, aside);
  } catch {
    return;
  }
  const taken = await stat(aside).catch(() => null);
  if (taken && taken.ino !== staleIno) await link(aside, lock).catch(() => undefined);
  await rm(aside, { force: true });
}
