// Moving a branch in-process, against the real git CLI: git reads the ref and its reflog; a stale expectation is
// refused; a live lock is respected; a lock a crash left behind is broken.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { readRef } from "./git-objects.js";
import { RefMovedError, STALE_LOCK_MS, updateRef } from "./git-refs.js";

const exec = promisify(execFile);
const REF = "refs/heads/main";
const who = "graft test <test@graft.invalid>";

async function repoWithCommits(t: { after: (fn: () => Promise<void>) => void }): Promise<{ dir: string; commits: string[] }> {
  const dir = await mkdtemp(path.join(tmpdir(), "graft-git-refs-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await git(dir, ["init", "--bare", "--quiet"]);
  const tree = (await git(dir, ["mktree"], "")).trim();
  const commits = [];
  for (const m of ["one", "two", "three"]) commits.push((await git(dir, ["commit-tree", tree, "-m", m])).trim());
  return { dir, commits };
}

async function git(gitDir: string, args: string[], input?: string): Promise<string> {
  const env = {
    PATH: process.env.PATH, HOME: "/nonexistent", GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t",
  };
  const child = exec("git", [`--git-dir=${gitDir}`, ...args], { env });
  if (input !== undefined) child.child.stdin?.end(input);
  return (await child).stdout;
}

test("the branch moves only from the expected id; git reads the ref and the reflog", async (t) => {
  const { dir, commits: [a, b, c] } = await repoWithCommits(t);
  await updateRef(dir, { ref: REF, next: a!, expected: null, who, message: "first" });
  await updateRef(dir, { ref: REF, next: b!, expected: a!, who, message: "second" });
  await assert.rejects(updateRef(dir, { ref: REF, next: c!, expected: a!, who, message: "stale" }), RefMovedError);
  await assert.rejects(updateRef(dir, { ref: REF, next: c!, expected: null, who, message: "stale" }), RefMovedError);
  assert.equal((await git(dir, ["rev-parse", "main"])).trim(), b);
  assert.equal((await git(dir, ["reflog", "show", "--format=%H %gs", "main"])).trim(), `${b} second\n${a} first`);
  await assert.rejects(stat(path.join(dir, `${REF}.lock`)), "no lock is left behind, refused or not");
});

test("a live lock is waited for and then refused; a lock a crash left behind is broken", async (t) => {
  const { dir, commits: [a, b] } = await repoWithCommits(t);
  await updateRef(dir, { ref: REF, next: a!, expected: null, who, message: "first" });
  const lock = path.join(dir, `${REF}.lock`);
  await writeFile(lock, "held by another writer\n");
  await assert.rejects(updateRef(dir, { ref: REF, next: b!, expected: a!, who, message: "blocked" }), /another writer holds it/);
  assert.equal(await readRef(dir, REF), a, "the branch did not move");
  assert.equal((await stat(lock)).isFile(), true, "another writer's lock is left alone");

  const old = new Date(Date.now() - STALE_LOCK_MS - 5_000);
  await utimes(lock, old, old);
  await updateRef(dir, { ref: REF, next: b!, expected: a!, who, message: "after a crash" });
  assert.equal((await git(dir, ["rev-parse", "main"])).trim(), b);
  await assert.rejects(stat(lock), "the stale lock is gone");
  await git(dir, ["fsck", "--strict"]);
});
