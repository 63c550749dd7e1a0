// The in-process object format against the real git CLI: git computes the same ids, fsck finds nothing wrong with
// what the store writes, after `git gc` repacks everything the store still reads the head and the files and commits
// on top, a damaged loose object is stored again, and the pack and ref are synced before they appear.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawnSync } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { encodeTree, looseObjectState, objectId, readLooseObject, readRef } from "./git-objects.js";
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
  const blob = objectId("blob", Buffer.from(content));
  assert.equal(blob, (await git(dir, ["hash-object", "--stdin"], content)).trim());
  const sub = objectId("tree", encodeTree([{ mode: "100644", name: "x", id: blob }]));
  assert.equal(sub, (await git(dir, ["mktree", "--missing"], `100644 blob ${blob}\tx\n`)).trim());
  // "a.b" sorts before the tree "a" (compared as "a/"), which sorts before "a0".
  const items = [
    { mode: "100644", name: "a0", id: blob }, { mode: "40000", name: "a", id: sub }, { mode: "100755", name: "a.b", id: blob },
  ];
  const mktree = (await git(dir, ["mktree", "--missing"], `100644 blob ${blob}\ta0\n040000 tree ${sub}\ta\n100755 blob ${blob}\ta.b\n`)).trim();
  assert.equal(objectId("tree", encodeTree(items)), mktree);
  const stored = (await git(dir, ["hash-object", "-w", "--stdin"], content)).trim();
  assert.deepEqual(await readLooseObject(dir, stored), { type: "blob", content: Buffer.from(content) }, "a loose object git wrote reads back");
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

test("a truncated or corrupt loose object is detected and stored again whole", async (t) => {
  const store = new RepoStore({ dataDir: await tempDir(t) });
  const dir = await store.ensureRepo(UUID);
  // Loose objects as git (or an earlier graft) left them; then damage one.
  const content = "the object a crash cut short\n".repeat(50);
  let round = 0;
  for (const damage of [(b: Buffer) => b.subarray(0, Math.floor(b.length / 2)), (b: Buffer) => Buffer.from(b.map((x, i) => (i === b.length - 3 ? x ^ 0xff : x)))]) {
    const unique = `${content}${round++}\n`;
    const id = (await git(dir, ["hash-object", "-w", "--stdin"], unique)).trim();
    const file = path.join(dir, "objects", id.slice(0, 2), id.slice(2));
    await chmod(file, 0o644);
    await writeFile(file, damage(await readFile(file)));
    assert.equal(await looseObjectState(dir, id), "corrupt", "the damage is real");
    await store.syncFiles(UUID, new Map([["a.txt", unique]]), `round ${round}`);
    assert.equal(await looseObjectState(dir, id), "absent", "the damaged file is gone");
    assert.equal(await git(dir, ["show", "main:a.txt"]), unique, "git reads the object stored again");
  }
  await git(dir, ["fsck", "--strict"]);
});

test("the pack and the branch are synced to disk before they are renamed into place", { skip: !hasStrace() && "strace is not installed" }, async (t) => {
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
  // (A call another thread interrupts is split over two lines, "<unfinished ...>" and "resumed": match its start.)
  const syncedAt = (name: string) => at(new RegExp(`fsync\\(\\d+<[^>]*${name}>`));
  const renames = lines.flatMap((l) => /rename\w*\(.*"([^"]*\/objects\/pack)\/(tmp_(?:pack|idx)_\w+)", .*"[^"]*\/(pack-[0-9a-f]{40}\.(?:pack|idx))"/.exec(l)?.slice(1, 4) ?? []);
  assert.equal(renames.length, 6, `one pack and its index were renamed into objects/pack: ${renames.join(" ")}`);
  const packDir = renames[0]!;
  const [packTmp, packName, idxTmp, idxName] = [renames[1]!, renames[2]!, renames[4]!, renames[5]!];
  assert.match(packName, /\.pack$/);
  assert.match(idxName, /\.idx$/, "the index is renamed after the pack");
  const packRenamed = at(new RegExp(`rename\\w*\\(.*${packTmp}"`));
  const idxRenamed = at(new RegExp(`rename\\w*\\(.*${idxTmp}"`));
  assert.ok(syncedAt(packTmp) >= 0 && syncedAt(packTmp) < packRenamed, "the pack was synced before its rename");
  assert.ok(syncedAt(idxTmp) >= 0 && syncedAt(idxTmp) < idxRenamed, "the index was synced before its rename");
  const dirSynced = lines.findIndex((l, i) => i > idxRenamed && l.includes("fsync(") && l.includes(`<${packDir}>`));
  assert.ok(dirSynced > idxRenamed, "objects/pack was synced after both renames");
  const ref = at(/rename\w*\(.*main\.lock"/);
  assert.ok(ref > dirSynced, "the branch moved only after the objects were durable");
  assert.ok(lines.slice(0, ref).some((l) => /fsync\(\d+<[^>]*main\.lock>/.test(l)), "the new ref was synced before its lock was renamed into place");
  assert.ok(lines.slice(ref + 1).some((l) => /fsync\(\d+<[^>]*refs\/heads>/.test(l)), "refs/heads was synced after the rename");
});

function hasStrace(): boolean {
  return spawnSync("strace", ["-V"]).status === 0;
}
