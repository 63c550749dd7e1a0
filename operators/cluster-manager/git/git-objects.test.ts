// The in-process object writer against the real git CLI: git computes the same ids, fsck finds nothing wrong, and
// after `git gc` packs everything the store still reads the head and the files (through git) and commits on top.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { encodeTree, objectId, readLooseObject, readRef, writeObject } from "./git-objects.js";
import { RepoStore } from "./repo-store.js";

const exec = promisify(execFile);
const UUID = "3b8f1c2d-4e5f-4a6b-8c7d-9e0f1a2b3c4d";

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "graft-git-objects-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function git(gitDir: string, args: string[], input?: string): Promise<string> {
  const env = { PATH: process.env.PATH, HOME: "/nonexistent", GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" };
  const child = exec("git", [`--git-dir=${gitDir}`, ...args], { env });
  if (input !== undefined) child.child.stdin?.end(input);
  return (await child).stdout;
}

test("blobs and trees get the ids git gives them, in git's entry order", async (t) => {
  const dir = await tempDir(t);
  await git(dir, ["init", "--bare", "--quiet"]);
  const content = "hello: world\n";
  assert.equal(await writeObject(dir, "blob", Buffer.from(content)), (await git(dir, ["hash-object", "--stdin"], content)).trim());
  const blob = objectId("blob", Buffer.from(content));
  // "a.b" sorts before the tree "a" (compared as "a/"), which sorts before "a0".
  const sub = await writeObject(dir, "tree", encodeTree([{ mode: "100644", name: "x", id: blob }]));
  const items = [
    { mode: "100644", name: "a0", id: blob }, { mode: "40000", name: "a", id: sub }, { mode: "100755", name: "a.b", id: blob },
  ];
  const tree = await writeObject(dir, "tree", encodeTree(items));
  const listing = (await git(dir, ["ls-tree", tree])).trim().split("\n").map((l) => l.split("\t")[1]);
  assert.deepEqual(listing, ["a.b", "a", "a0"]);
  const mktree = (await git(dir, ["mktree"], `100644 blob ${blob}\ta0\n040000 tree ${sub}\ta\n100755 blob ${blob}\ta.b\n`)).trim();
  assert.equal(tree, mktree);
  assert.equal((await readLooseObject(dir, tree))?.type, "tree");
  assert.equal(await readLooseObject(dir, "0".repeat(40)), null);
});

test("repositories the store creates and commits to pass git fsck and clone", async (t) => {
  const dataDir = await tempDir(t);
  const store = new RepoStore({ dataDir });
  const first = await store.syncFiles(UUID, new Map([["README.md", "# hi\n"], ["edo/a/b.yaml", "b: 1\n"], ["edo/a.yaml", "a: 1\n"]]), "first");
  const second = await store.syncFiles(UUID, new Map([["README.md", "# hi\n"], ["edo/a/b.yaml", "b: 2\n"]]), "second");
  const dir = store.repoPath({ kind: "cluster", uuid: UUID });
  await git(dir, ["fsck", "--strict", "--no-dangling"]);
  assert.equal((await git(dir, ["rev-parse", "main^"])).trim(), first.commit);
  assert.equal((await git(dir, ["log", "-1", "--format=%an <%ae>%n%s", "main"])).trim(), "graft cluster-manager <cluster-manager@graft.invalid>\nsecond");
  assert.equal(await git(dir, ["show", "main:edo/a/b.yaml"]), "b: 2\n");
  assert.equal(await readRef(dir, "refs/heads/main"), second.commit);
  const clone = path.join(dataDir, "clone");
  await exec("git", ["clone", "--quiet", dir, clone], { env: { PATH: process.env.PATH, HOME: "/nonexistent", GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" } });
  assert.equal((await git(path.join(clone, ".git"), ["rev-parse", "HEAD"])).trim(), second.commit);
});

test("after git gc packs objects and refs, the store reads through git and keeps committing", async (t) => {
  const store = new RepoStore({ dataDir: await tempDir(t) });
  const before = await store.syncFiles(UUID, new Map([["a.yaml", "a: 1\n"], ["edo/sealed/x.yaml", "x\n"]]), "first");
  const dir = store.repoPath({ kind: "cluster", uuid: UUID });
  await git(dir, ["gc", "--quiet", "--prune=now"]);
  assert.equal(await readLooseObject(dir, before.commit), null, "the commit is packed now");
  assert.equal(await store.headCommit(UUID), before.commit);
  assert.deepEqual([...(await store.readFiles(UUID))].map(([p, c]) => [p, c.toString()]), [["a.yaml", "a: 1\n"], ["edo/sealed/x.yaml", "x\n"]]);
  assert.equal((await store.syncFiles(UUID, new Map([["a.yaml", "a: 1\n"], ["edo/sealed/x.yaml", "x\n"]]), "same")).changed, false);
  const after = await store.updateFiles(UUID, (current) => new Map<string, string | Buffer>(current).set("b.yaml", "b: 1\n"), "add b");
  assert.equal(after.changed, true);
  assert.equal((await git(dir, ["rev-parse", "main^"])).trim(), before.commit);
  await git(dir, ["fsck", "--strict", "--no-dangling"]);
});

test("a path that is both a file and a directory is refused", async (t) => {
  const store = new RepoStore({ dataDir: await tempDir(t) });
  await assert.rejects(store.syncFiles(UUID, new Map([["a", "1"], ["a/b", "2"]]), "clash"), /"a" is also a file|also a directory/);
  assert.equal(await store.headCommit(UUID), null);
});

test("a truncated or corrupt loose object is detected and written again", async (t) => {
  const dir = await tempDir(t);
  await git(dir, ["init", "--bare", "--quiet"]);
  const content = Buffer.from("the object a crash cut short\n".repeat(50));
  const id = await writeObject(dir, "blob", content);
  const file = path.join(dir, "objects", id.slice(0, 2), id.slice(2));
  for (const damage of [(b: Buffer) => b.subarray(0, Math.floor(b.length / 2)), (b: Buffer) => Buffer.from(b.map((x, i) => (i === b.length - 3 ? x ^ 0xff : x)))]) {
    await chmod(file, 0o644);
    await writeFile(file, damage(await readFile(file)));
    await assert.rejects(readLooseObject(dir, id), "the damage is real");
    assert.equal(await writeObject(dir, "blob", content), id);
    assert.deepEqual((await readLooseObject(dir, id))?.content, content, "written again whole");
  }
  await git(dir, ["fsck", "--strict"]);
});

test("objects and the branch are synced to disk before they are renamed into place", { skip: !hasStrace() && "strace is not installed" }, async (t) => {
  const dir = await tempDir(t);
  const script = path.join(dir, "sync.mts");
  await writeFile(script, [
    `import { RepoStore } from ${JSON.stringify(new URL("./repo-store.ts", import.meta.url).pathname)};`,
    `await new RepoStore({ dataDir: ${JSON.stringify(path.join(dir, "data"))} }).syncFiles(${JSON.stringify(UUID)}, new Map([["a.txt", "hello\\n"], ["b/c.txt", "more\\n"]]), "one");`,
  ].join("\n"));
  const trace = path.join(dir, "trace");
  // -y names each descriptor's file, so every sync can be matched to what it made durable.
  await exec("strace", ["-f", "-qq", "-y", "-e", "trace=fsync,fdatasync,rename,renameat,renameat2", "-o", trace, process.execPath, "--import", "tsx", script]);
  const lines = (await readFile(trace, "utf8")).split("\n");
  const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
  const objects = [...new Set(lines.flatMap((l) => /rename\w*\(.*"([^"]*\/objects\/[0-9a-f]{2})\/(tmp_obj_\w+)"/.exec(l)?.slice(1, 3).join("|") ?? []))];
  assert.ok(objects.length >= 5, `blobs, trees and the commit were written: ${objects.length}`);
  for (const o of objects) {
    const [objDir, tmp] = o.split("|") as [string, string];
    const renamed = at(new RegExp(`rename\\w*\\(.*${tmp}"`));
    // (A call another thread interrupts is split over two lines, "<unfinished ...>" and "resumed": match its start.)
    const synced = at(new RegExp(`fsync\\(\\d+<[^>]*${tmp}>`));
    assert.ok(synced >= 0 && synced < renamed, `${tmp} synced before it was renamed`);
    assert.ok(lines.slice(renamed + 1).some((l) => l.includes(`fsync(`) && l.includes(`<${objDir}>`)), `${objDir} synced after ${tmp} was renamed into it`);
  }
  const ref = at(/rename\w*\(.*main\.lock"/);
  assert.ok(ref >= 0, "git update-ref renamed its lock into place");
  assert.ok(lines.slice(0, ref).some((l) => /fsync\(\d+<[^>]*main\.lock>/.test(l)), "git synced the new ref before renaming it into place");
});

function hasStrace(): boolean {
  return spawnSync("strace", ["-V"]).status === 0;
}
