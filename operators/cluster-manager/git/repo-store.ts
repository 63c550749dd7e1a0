import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "../../runtime/logger.js";
import { silentLogger } from "../../runtime/logger.js";
import { isolatedGitEnv, runGit } from "./git-cli.js";
import {
  commitTree, encodeCommit, encodeTree, looseObjectState, objectId, parseTree, readRef, removeLooseObject, syncDirectory,
  type ObjectType, type TreeItem,
} from "./git-objects.js";
import { LARGE_BLOB_MIN, LargeBlobCache } from "./blob-cache.js";
import { ObjectReader, writePack, type GitObject } from "./git-pack.js";
import { RefMovedError, updateRef } from "./git-refs.js";
import {
  BRANCH_REF, canonicalRef, describeRef, isClusterUuid, repoDir, repoId, repoRoot, type RepoRef,
} from "./repo-layout.js";

/**
 * Bare Git repositories in the data directory, written only through this store (no working tree). A sync hashes the
 * files and trees in memory first: when the tree is the branch head's, nothing is written at all. Otherwise the
 * objects the repository lacks and the commit go into one pack, durably (git-pack.ts), and only then is the branch
 * moved, compare-and-swap under git's ref lock (git-refs.ts). A crash at any point leaves either the old head or the
 * new one, each naming only objects already synced to disk, and a rerun with the same content finds the tree already
 * committed: no duplicate commits. No git process runs to create a repository, commit, or read the head and files
 * (unless an operator's `git gc` deltified objects: those are read through git).
 */

export interface Committer {
  name: string;
  email: string;
}

export interface SyncResult {
  /** The branch head after the call. */
  commit: string;
  /** Whether a new commit was made. */
  changed: boolean;
  /** The branch head before the call (null: the repository had no commit). */
  previous: string | null;
}

/** A commit message, or one chosen by the head the commit goes on (null: the first commit). */
export type CommitMessage = string | ((previous: string | null) => string);

/** The points between steps of a sync, in order: the new objects (tree and commit) are stored, the branch moved. */
export type SyncStep = "objects-written" | "ref-updated";

export interface RepoStoreOptions {
  dataDir: string;
  committer?: Partial<Committer>;
  logger?: Logger;
  /**
   * Called after each step of a sync. For tests: throwing simulates a crash at that point, and writing to the
   * repository from here simulates a concurrent writer.
   */
  onSyncStep?: (step: SyncStep, ref: RepoRef) => void | Promise<void>;
}

export class RepoNotFoundError extends Error {
  constructor(readonly ref: RepoRef) {
    super(`${describeRef(ref)} does not exist`);
    this.name = "RepoNotFoundError";
  }
}

export const DEFAULT_COMMITTER: Committer = { name: "graft cluster-manager", email: "cluster-manager@graft.invalid" };

const MAX_REF_UPDATE_ATTEMPTS = 5;

const REFLOG_MESSAGE = "graft sync";

interface TreeEntry {
  path: string;
  mode: "100644" | "100755";
  /** Either the content, or a file on disk to read it from. */
  content?: string | Buffer;
  sourcePath?: string;
}

export class RepoStore {
  readonly dataDir: string;
  private readonly committer: Committer;
  private readonly log: Logger;
  private readonly onSyncStep: RepoStoreOptions["onSyncStep"];
  private readonly locks = new Map<string, Promise<unknown>>();
  /**
   * Repositories this store made or found whole, not checked again by ensure (two stats per call, twice per pass).
   * Forgotten when removed, and when a write to one fails, so the next call looks again.
   */
  private readonly knownRepos = new Set<string>();
  /** Per repository root, the one sweep of crash leftovers this process makes before it first creates a repository there. */
  private readonly sweeps = new Map<string, Promise<void>>();

  constructor(options: RepoStoreOptions) {
    this.dataDir = path.resolve(options.dataDir);
    this.committer = { ...DEFAULT_COMMITTER, ...options.committer };
    this.log = options.logger ?? silentLogger;
    this.onSyncStep = options.onSyncStep;
  }

  // Cluster repositories: <dataDir>/repos/<uuid>.git

  /** Creates the cluster's repository if it does not exist; returns its directory. Safe to call any number of times. */
  ensureRepo(uuid: string): Promise<string> {
    return this.ensure({ kind: "cluster", uuid });
  }

  /** Makes `main` hold exactly `files` (path → content), committing only if that differs from the current head. */
  syncFiles(uuid: string, files: Map<string, string | Buffer>, message: string): Promise<SyncResult> {
    return this.syncContent({ kind: "cluster", uuid }, files, message);
  }

  /**
   * Read-modify-write of the cluster's files: update gets the files at the branch head and returns the files to
   * commit. If another writer moves the branch meanwhile, update runs again on the new head, so no change is lost.
   */
  updateFiles(uuid: string, update: (current: Map<string, Buffer>) => Map<string, string | Buffer> | Promise<Map<string, string | Buffer>>,
    message: CommitMessage): Promise<SyncResult> {
    return this.update({ kind: "cluster", uuid }, update, message);
  }

  /** The cluster's files at the branch head (empty while the repository has no commit). */
  async readFiles(uuid: string): Promise<Map<string, Buffer>> {
    const ref = canonicalRef({ kind: "cluster", uuid });
    const dir = repoDir(this.dataDir, ref);
    if (!(await isBareRepo(dir))) throw new RepoNotFoundError(ref);
    const head = await readHead(dir);
    return head ? readFilesAt(dir, head.commit) : new Map();
  }

  /** Removes the cluster's repository; false if there was none. */
  deleteRepo(uuid: string): Promise<boolean> {
    return this.remove({ kind: "cluster", uuid });
  }

  /** UUIDs of the existing cluster repositories, sorted. */
  async listRepos(): Promise<string[]> {
    const root = repoRoot(this.dataDir, "cluster");
    const names = await readdir(root).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return [] as string[];
      throw err;
    });
    return names.filter((n) => n.endsWith(".git") && isClusterUuid(n.slice(0, -4))).map((n) => n.slice(0, -4)).sort();
  }

  /** The commit `main` points at, null while the repository is empty. */
  headCommit(uuid: string): Promise<string | null> {
    return this.head({ kind: "cluster", uuid });
  }

  // Shared read-only repositories: <dataDir>/shared/<name>.git

  ensureSharedRepo(name: string): Promise<string> {
    return this.ensure({ kind: "shared", name });
  }

  syncSharedFiles(name: string, files: Map<string, string | Buffer>, message: string): Promise<SyncResult> {
    return this.syncContent({ kind: "shared", name }, files, message);
  }

  /** Makes the shared repository hold exactly the files under `directory` (executable bits kept, `.git` skipped). */
  async syncSharedFromDirectory(name: string, directory: string, message: string): Promise<SyncResult> {
    const entries = await readTree(path.resolve(directory));
    return this.sync({ kind: "shared", name }, entries, message);
  }

  sharedHeadCommit(name: string): Promise<string | null> {
    return this.head({ kind: "shared", name });
  }

  deleteSharedRepo(name: string): Promise<boolean> {
    return this.remove({ kind: "shared", name });
  }

  // Any repository

  repoPath(ref: RepoRef): string {
    return repoDir(this.dataDir, canonicalRef(ref));
  }

  async exists(ref: RepoRef): Promise<boolean> {
    return isBareRepo(this.repoPath(ref));
  }

  private async ensure(rawRef: RepoRef): Promise<string> {
    const ref = canonicalRef(rawRef);
    const dir = repoDir(this.dataDir, ref);
    if (this.knownRepos.has(dir)) return dir;
    return this.withLock(dir, async () => {
      if (await isBareRepo(dir)) {
        this.knownRepos.add(dir);
        return dir;
      }
      if (await pathExists(dir)) {
        throw new Error(`cannot create ${describeRef(ref)}: "${dir}" exists but is not a bare git repository`);
      }
      const root = repoRoot(this.dataDir, ref.kind);
      await this.sweepOnce(root);

      // Built under a temporary name and renamed into place, so the final path only ever holds a complete repository.
      const tmp = await mkdtemp(path.join(root, `.tmp-${repoId(ref)}-`));
      try {
        await initBareRepo(tmp);
        await rename(tmp, dir);
        await syncDirectory(root);
      } catch (err) {
        await rm(tmp, { recursive: true, force: true });
        if (isRenameCollision(err) && await isBareRepo(dir)) return dir;
        throw err;
      }
      this.knownRepos.add(dir);
      // Debug only: the pass's Event (logged at info by the event recorder) tells the same, once per cluster.
      this.log.debug({ repo: repoId(ref), kind: ref.kind }, "created git repository");
      return dir;
    });
  }

  private async remove(rawRef: RepoRef): Promise<boolean> {
    const ref = canonicalRef(rawRef);
    const dir = repoDir(this.dataDir, ref);
    return this.withLock(dir, async () => {
      this.knownRepos.delete(dir);
      if (!(await pathExists(dir))) return false;
      // Renamed away first, so readers see it vanish at once rather than half-deleted.
      const doomed = path.join(repoRoot(this.dataDir, ref.kind), `.deleted-${repoId(ref)}-${randomBytes(4).toString("hex")}`);
      await rename(dir, doomed);
      await rm(doomed, { recursive: true, force: true });
      this.log.info({ repo: repoId(ref), kind: ref.kind }, "deleted git repository");
      return true;
    });
  }

  private async head(rawRef: RepoRef): Promise<string | null> {
    const ref = canonicalRef(rawRef);
    const dir = repoDir(this.dataDir, ref);
    if (!(await isBareRepo(dir))) throw new RepoNotFoundError(ref);
    return (await readHead(dir))?.commit ?? null;
  }

  private syncContent(ref: RepoRef, files: Map<string, string | Buffer>, message: string): Promise<SyncResult> {
    const entries: TreeEntry[] = [...files].map(([file, content]) => ({ path: file, mode: "100644", content }));
    return this.sync(ref, entries, message);
  }

  private async sync(rawRef: RepoRef, entries: TreeEntry[], message: string): Promise<SyncResult> {
    const ref = canonicalRef(rawRef);
    for (const entry of entries) checkRepoPath(entry.path);
    if (message.trim().length === 0) throw new Error("commit message must not be empty");
    return this.inRepo(ref, (dir) => this.withLock(dir, async () => (await this.commitTree(ref, dir, entries, message)) as SyncResult));
  }

  private async update(rawRef: RepoRef, update: (current: Map<string, Buffer>) => Map<string, string | Buffer> | Promise<Map<string, string | Buffer>>,
    message: CommitMessage): Promise<SyncResult> {
    const ref = canonicalRef(rawRef);
    return this.inRepo(ref, (dir) => this.withLock(dir, async () => {
      for (let attempt = 1; ; attempt++) {
        const head = await readHead(dir);
        const next = await update(head ? await readFilesAt(dir, head.commit) : new Map());
        const entries: TreeEntry[] = [...next].map(([file, content]) => ({ path: file, mode: "100644", content }));
        for (const entry of entries) checkRepoPath(entry.path);
        const result = await this.commitTree(ref, dir, entries, message, head);
        if (result !== "moved") return result;
        if (attempt >= MAX_REF_UPDATE_ATTEMPTS) throw new Error(`${describeRef(ref)}: the branch kept moving during an update`);
      }
    }));
  }

  /**
   * Runs work on the repository, made if missing. If work fails and the repository is gone (removed behind the
   * store's back while it was known), it is made again and work runs once more, as it would have from the start.
   */
  private async inRepo<T>(ref: RepoRef, work: (dir: string) => Promise<T>): Promise<T> {
    const dir = await this.ensure(ref);
    try {
      return await work(dir);
    } catch (err) {
      this.knownRepos.delete(dir);
      if (await isBareRepo(dir)) throw err;
      return work(await this.ensure(ref));
    }
  }

  /**
   * Stores the tree and moves the branch to a commit of it. With expectedHead, the content was computed from that
   * head, so a moved branch returns "moved" (the caller recomputes) instead of committing over the other change.
   */
  private async commitTree(ref: RepoRef, dir: string, entries: TreeEntry[], messageFor: CommitMessage,
    expectedHead?: { commit: string; tree: string } | null): Promise<SyncResult | "moved"> {
    const { tree, objects } = await buildTree(entries);
    const { name, email } = this.committer;
    for (let attempt = 1; ; attempt++) {
      // The head the caller just read under this store's lock is not read again: only this store moves the branch,
      // and the compare-and-swap below finds any move anyway.
      const head = attempt === 1 && expectedHead !== undefined ? expectedHead : await readHead(dir);
      const previous = head?.commit ?? null;
      if (expectedHead !== undefined && previous !== (expectedHead?.commit ?? null)) return "moved";
      if (head?.tree === tree) return { commit: head.commit, changed: false, previous };
      const message = typeof messageFor === "string" ? messageFor : messageFor(previous);
      if (message.trim().length === 0) throw new Error("commit message must not be empty");

      const content = encodeCommit({ tree, parents: head ? [head.commit] : [], name, email, message });
      const commit = objectId("commit", content);
      const commitObject: GitObject = { type: "commit", content, id: commit };
      await storeMissing(dir, [...objects, commitObject]);
      await this.onSyncStep?.("objects-written", ref);
      try {
        await updateRef(dir, { ref: BRANCH_REF, next: commit, expected: head?.commit ?? null, who: `${name} <${email}>`, message: REFLOG_MESSAGE });
      } catch (err) {
        // Someone moved the branch since we read it: look again (the tree may now be there already).
        if (!(err instanceof RefMovedError)) throw err;
        if (expectedHead !== undefined) return "moved";
        if (attempt < MAX_REF_UPDATE_ATTEMPTS) continue;
        throw err;
      }
      rememberTree(commit, tree);
      await this.onSyncStep?.("ref-updated", ref);
      this.log.debug({ repo: repoId(ref), kind: ref.kind, commit }, "committed repository content");
      return { commit, changed: true, previous };
    }
  }

  /**
   * Removes what a crash left half-made or half-deleted (`.tmp-…`, `.deleted-…`) in a repository root, once per
   * process: listing the root on every creation cost a directory read of every repository per new one. Every creator
   * awaits the same sweep before making its own temporary directory, so the sweep never meets one of this process's.
   */
  private sweepOnce(root: string): Promise<void> {
    let sweep = this.sweeps.get(root);
    if (!sweep) {
      sweep = (async () => {
        await mkdir(root, { recursive: true });
        await removeLeftovers(root);
      })();
      this.sweeps.set(root, sweep);
      sweep.catch(() => this.sweeps.delete(root));
    }
    return sweep;
  }

  /** Serialises work on one repository within this process. */
  private withLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const settled = run.catch(() => undefined);
    this.locks.set(key, settled);
    void settled.then(() => {
      if (this.locks.get(key) === settled) this.locks.delete(key);
    });
    return run;
  }
}

/**
 * The files of a new repository: what git needs to take a directory for a bare repository (HEAD, objects/, refs/),
 * the directories the store writes into, and the store's settings. Not `git init --bare`'s sample hooks, nor the
 * directories git makes when it needs them (objects/info, refs/tags): every directory is an inode and a block to
 * allocate, and making repositories is most of a new cluster's file-system work.
 */
async function initBareRepo(dir: string): Promise<void> {
  for (const sub of ["objects", "objects/pack", "refs", "refs/heads"]) await mkdir(path.join(dir, sub));
  await writeFile(path.join(dir, "HEAD"), `ref: ${BRANCH_REF}\n`);
  await writeFile(path.join(dir, "config"), [
    "[core]", "\trepositoryformatversion = 0", "\tfilemode = true", "\tbare = true", "\tlogallrefupdates = true",
    "[http]", "\treceivepack = false",
    "[receive]", "\tdenyNonFastForwards = true", "",
  ].join("\n"));
}

interface Dir {
  files: Map<string, { mode: string; id: string }>;
  dirs: Map<string, Dir>;
}

/** Large files (Flux's install manifest) written and read by every cluster's repository: encoded, hashed and read once. */
const largeBlobs = new LargeBlobCache();

function blobOf(text: string): { content: Buffer; id?: string } {
  return text.length < LARGE_BLOB_MIN ? { content: Buffer.from(text) } : largeBlobs.encode(text);
}

/**
 * A file's text from the content readFiles/updateFiles gave: a large file shared by many repositories is decoded
 * once (the same string each time), not once per read.
 */
export function fileText(content: Buffer): string {
  return largeBlobs.text(content);
}

/** The blobs and trees of the files, hashed in memory; the root tree's id. Nothing is written. */
async function buildTree(entries: TreeEntry[]): Promise<{ tree: string; objects: GitObject[] }> {
  const root: Dir = { files: new Map(), dirs: new Map() };
  const objects: GitObject[] = [];
  const add = (type: ObjectType, content: Buffer, known?: string) => {
    const id = known ?? objectId(type, content);
    objects.push({ type, content, id });
    return id;
  };
  const contents = await Promise.all(entries.map(async (entry) => entry.sourcePath !== undefined ? { content: await readFile(entry.sourcePath) }
    : typeof entry.content === "string" ? blobOf(entry.content) : { content: entry.content ?? Buffer.alloc(0) }));
  entries.forEach((entry, i) => {
    const parts = entry.path.split("/");
    const name = parts.pop()!;
    let dir = root;
    for (const part of parts) {
      if (dir.files.has(part)) throw new Error(`invalid file path "${entry.path}": "${part}" is also a file`);
      let next = dir.dirs.get(part);
      if (!next) dir.dirs.set(part, (next = { files: new Map(), dirs: new Map() }));
      dir = next;
    }
    if (dir.dirs.has(name)) throw new Error(`invalid file path "${entry.path}": it is also a directory`);
    dir.files.set(name, { mode: entry.mode, id: add("blob", contents[i]!.content, contents[i]!.id) });
  });
  const treeOf = (dir: Dir): string => {
    const items: TreeItem[] = [...dir.files].map(([name, f]) => ({ name, ...f }));
    for (const [name, sub] of dir.dirs) items.push({ mode: "40000", name, id: treeOf(sub) });
    return add("tree", encodeTree(items));
  };
  return { tree: treeOf(root), objects };
}

/**
 * Stores, as one pack, the objects the repository does not hold soundly yet (a packed copy is trusted: packs are
 * checksummed and synced before they appear; a loose copy is checked). A damaged loose copy is removed once the
 * pack holding its replacement is in place.
 */
async function storeMissing(gitDir: string, objects: GitObject[]): Promise<void> {
  const reader = await ObjectReader.open(gitDir);
  // Loose objects live in objects/<first two hex digits>/: only those directories can hold one.
  const looseDirs = new Set((await readdir(path.join(gitDir, "objects"))).filter((n) => n.length === 2));
  const missing: GitObject[] = [];
  const damaged: string[] = [];
  const seen = new Set<string>();
  for (const o of objects) {
    const id = o.id ?? objectId(o.type, o.content);
    if (seen.has(id) || reader.inPack(id)) continue;
    seen.add(id);
    const loose = looseDirs.has(id.slice(0, 2)) ? await looseObjectState(gitDir, id) : "absent";
    if (loose === "sound") continue;
    if (loose === "corrupt") damaged.push(id);
    missing.push(o);
  }
  if (missing.length === 0) return;
  await writePack(gitDir, missing);
  for (const id of damaged) await removeLooseObject(gitDir, id);
}

/** Every file of a commit's tree: path → content, read in-process; deltified objects are read with the git CLI. */
async function readFilesAt(gitDir: string, commit: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const reader = await ObjectReader.open(gitDir);
  const walk = async (treeId: string, prefix: string): Promise<boolean> => {
    const tree = await reader.read(treeId);
    if (tree?.type !== "tree") return false;
    for (const item of parseTree(tree.content)) {
      const file = prefix + item.name;
      if (item.mode === "40000") {
        if (!(await walk(item.id, `${file}/`))) return false;
      } else if (item.mode !== "160000") {
        const cached = largeBlobs.content(item.id);
        if (cached) {
          files.set(file, cached);
          continue;
        }
        const blob = await reader.read(item.id);
        if (blob?.type !== "blob") return false;
        files.set(file, largeBlobs.remember(item.id, blob.content));
      }
    }
    return true;
  };
  try {
    let tree = treeOfCommit.get(commit);
    if (!tree) {
      const head = await reader.read(commit);
      tree = head?.type === "commit" ? commitTree(head.content) : undefined;
    }
    if (tree && await walk(tree, "")) return files;
  } finally {
    reader.release();
  }
  return readFilesWithGit(gitDir, commit);
}

/** Every file of a commit's tree: path → content (one `git cat-file --batch` for all blobs). */
async function readFilesWithGit(gitDir: string, commit: string): Promise<Map<string, Buffer>> {
  const listing = (await runGit(["ls-tree", "-r", "-z", "--full-tree", commit], { gitDir })).stdout;
  const blobs = listing.split("\0").filter(Boolean).map((line) => {
    const tab = line.indexOf("\t");
    const [, type, oid] = line.slice(0, tab).split(" ");
    return { path: line.slice(tab + 1), type, oid: oid! };
  }).filter((b) => b.type === "blob");
  const files = new Map<string, Buffer>();
  if (blobs.length === 0) return files;
  const out = await catFileBatch(gitDir, blobs.map((b) => b.oid));
  blobs.forEach((b, i) => files.set(b.path, out[i]!));
  return files;
}

function catFileBatch(gitDir: string, oids: string[]): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", ["--git-dir", gitDir, "cat-file", "--batch"], { env: isolatedGitEnv(), stdio: ["pipe", "pipe", "pipe"] });
    const chunks: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => chunks.push(c));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`git cat-file --batch failed: ${stderr.trim()}`));
      const all = Buffer.concat(chunks);
      const out: Buffer[] = [];
      let pos = 0;
      for (let i = 0; i < oids.length; i++) {
        const nl = all.indexOf(0x0a, pos);
        const size = Number(all.subarray(pos, nl).toString().split(" ")[2]);
        out.push(all.subarray(nl + 1, nl + 1 + size));
        pos = nl + 1 + size + 1;
      }
      resolve(out);
    });
    child.stdin.end(`${oids.join("\n")}\n`);
  });
}

/**
 * The tree of each commit recently made or read (a commit id names its content, so the pair never changes): a pass
 * reads the head twice, and each read otherwise loaded the repository's pack to parse one commit.
 */
const treeOfCommit = new Map<string, string>();
const TREE_OF_COMMIT_MAX = 4096;

function rememberTree(commit: string, tree: string): void {
  treeOfCommit.delete(commit);
  treeOfCommit.set(commit, tree);
  if (treeOfCommit.size > TREE_OF_COMMIT_MAX) treeOfCommit.delete(treeOfCommit.keys().next().value!);
}

async function readHead(gitDir: string): Promise<{ commit: string; tree: string } | null> {
  const commit = await readRef(gitDir, BRANCH_REF);
  if (commit === null) return null;
  const known = treeOfCommit.get(commit);
  if (known) return { commit, tree: known };
  const reader = await ObjectReader.open(gitDir);
  const object = await reader.read(commit).finally(() => reader.release());
  const head = object?.type === "commit" ? { commit, tree: commitTree(object.content) } : await readHeadWithGit(gitDir);
  if (head) rememberTree(head.commit, head.tree);
  return head;
}

async function readHeadWithGit(gitDir: string): Promise<{ commit: string; tree: string } | null> {
  const out = (await runGit(["for-each-ref", "--format=%(objectname) %(tree)", BRANCH_REF], { gitDir })).stdout.trim();
  if (out === "") return null;
  const [commit, tree] = out.split(" ");
  if (!commit || !tree) throw new Error(`unexpected output from git for-each-ref: "${out}"`);
  return { commit, tree };
}

/** Regular files under `root`, recursively; `.git` directories are skipped, anything else but a directory refused. */
async function readTree(root: string): Promise<TreeEntry[]> {
  const entries: TreeEntry[] = [];
  async function walk(relative: string): Promise<void> {
    const absolute = path.join(root, relative);
    for (const child of await readdir(absolute, { withFileTypes: true })) {
      const childRelative = relative ? `${relative}/${child.name}` : child.name;
      if (child.name === ".git") continue;
      if (child.isDirectory()) {
        await walk(childRelative);
      } else if (child.isFile()) {
        const info = await stat(path.join(root, childRelative));
        const mode = (info.mode & 0o111) !== 0 ? "100755" : "100644";
        entries.push({ path: childRelative, mode, sourcePath: path.join(root, childRelative) });
      } else {
        throw new Error(`cannot add "${childRelative}" from "${root}": only regular files and directories are supported`);
      }
    }
  }
  await walk("");
  return entries;
}

function checkRepoPath(file: string): void {
  const bad = file.length === 0 || file.startsWith("/") || /[\0\n\r]/.test(file)
    || file.split("/").some((part) => part === "" || part === "." || part === ".." || part.toLowerCase() === ".git");
  if (bad) throw new Error(`invalid file path "${file.replace(/[\0\n\r]/g, "?")}": expected a relative path without '.', '..' or '.git' parts`);
}

/** (One failed stat for a missing repository: every failure costs an Error with its stack.) */
async function isBareRepo(dir: string): Promise<boolean> {
  try {
    if (!(await stat(path.join(dir, "HEAD"))).isFile()) return false;
    return (await stat(path.join(dir, "objects"))).isDirectory();
  } catch {
    return false;
  }
}

async function pathExists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** Temporary and half-deleted repository directories a crash may have left. */
async function removeLeftovers(root: string): Promise<void> {
  for (const name of await readdir(root)) {
    if (name.startsWith(".tmp-") || name.startsWith(".deleted-")) {
      await rm(path.join(root, name), { recursive: true, force: true });
    }
  }
}

function isRenameCollision(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === "EEXIST" || code === "ENOTEMPTY";
}
