// Packs written in-process against the real git CLI: git verifies them and reads every object; the reader reads
// packs git wrote, and says "not here" for a deltified object so the caller can ask git.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { encodeTree, objectId } from "./git-objects.js";
import { ObjectReader, writePack, type GitObject } from "./git-pack.js";

const exec = promisify(execFile);

async function bareRepo(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "graft-git-pack-"));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await git(dir, ["init", "--bare", "--quiet"]);
  return dir;
}

async function git(gitDir: string, args: string[], input?: string): Promise<string> {
  const env = { PATH: process.env.PATH, HOME: "/nonexistent", GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" };
  const child = exec("git", [`--git-dir=${gitDir}`, ...args], { env, maxBuffer: 64 * 2 ** 20 });
  if (input !== undefined) child.child.stdin?.end(input);
  return (await child).stdout;
}

test("git verifies a pack the store wrote and reads every object in it", async (t) => {
  const dir = await bareRepo(t);
  // Sizes around the header's 4- and 7-bit boundaries, and one large enough for a three-byte size.
  const blobs = [0, 15, 16, 127, 128, 2047, 70_000].map((n) => Buffer.from("x".repeat(n)));
  const objects: GitObject[] = blobs.map((content) => ({ type: "blob", content }));
  const tree = encodeTree(blobs.map((b, i) => ({ mode: "100644", name: `f${i}`, id: objectId("blob", b) })));
  objects.push({ type: "tree", content: tree }, { type: "blob", content: blobs[1]! });
  const name = await writePack(dir, objects);
  const packs = (await readdir(path.join(dir, "objects", "pack"))).sort();
  assert.deepEqual(packs, [`${name}.idx`, `${name}.pack`], "one pack and its index, no temporary files");
  const verified = await git(dir, ["verify-pack", "-v", path.join(dir, "objects", "pack", `${name}.idx`)]);
  assert.match(verified, /non delta: 8 objects/, "the duplicate blob was written once");
  const reader = await ObjectReader.open(dir);
  for (const b of blobs) {
    const id = objectId("blob", b);
    assert.equal(await git(dir, ["cat-file", "-p", id]), b.toString(), "git reads it");
    assert.deepEqual(await reader.read(id), { type: "blob", content: b }, "the reader reads it");
  }
  const treeId = objectId("tree", tree);
  assert.equal(reader.inPack(treeId), true);
  assert.equal((await git(dir, ["ls-tree", "--name-only", treeId])).trim().split("\n").length, blobs.length);
  assert.equal(await reader.read("0".repeat(40)), null);
});

test("the reader reads git's own packs, and leaves deltified objects to git", async (t) => {
  const dir = await bareRepo(t);
  const base = Array.from({ length: 400 }, (_, i) => `line ${i} of a file git will store as a delta\n`).join("");
  const ids = [];
  for (const text of [base, `${base}one more line\n`]) ids.push((await git(dir, ["hash-object", "-w", "--stdin"], text)).trim());
  await git(dir, ["pack-objects", "-q", path.join(dir, "objects", "pack", "pack")], `${ids.join("\n")}\n`);
  const reader = await ObjectReader.open(dir);
  assert.ok(ids.every((id) => reader.inPack(id)), "both blobs are packed now");
  const read = await Promise.all(ids.map((id) => reader.read(id)));
  const whole = read.filter((o) => o !== null);
  assert.equal(whole.length, 1, "one is stored whole and read in-process, the other is a delta left to git");
  assert.ok([base, `${base}one more line\n`].includes(whole[0]!.content.toString()));
});

test("a large object packed again (into another repository) from the compressed-body cache is whole", async (t) => {
  const big = Buffer.from(Array.from({ length: 5000 }, (_, i) => `kind: Thing ${i}\n`).join(""));
  const id = objectId("blob", big);
  for (const dir of [await bareRepo(t), await bareRepo(t)]) {
    const name = await writePack(dir, [{ type: "blob", content: big, id }]);
    await git(dir, ["verify-pack", path.join(dir, "objects", "pack", `${name}.idx`)]);
    assert.equal(await git(dir, ["cat-file", "blob", id]), big.toString());
    assert.deepEqual((await (await ObjectReader.open(dir)).read(id))?.content, big);
  }
});

test("objects read before a reader is released stay whole when its pack buffer is reused by the next reader", async (t) => {
  const [first, second] = [await bareRepo(t), await bareRepo(t)];
  const random = (seed: string) => Buffer.from(Array.from({ length: 4000 }, (_, i) => `${seed}${i * 7919 % 1013}`).join(","));
  const a = random("a");
  const b = random("b");
  await writePack(first, [{ type: "blob", content: a }]);
  await writePack(second, [{ type: "blob", content: b }]);
  const readerA = await ObjectReader.open(first);
  const fromA = await readerA.read(objectId("blob", a));
  readerA.release();
  const readerB = await ObjectReader.open(second);
  const fromB = await readerB.read(objectId("blob", b));
  assert.ok(fromA?.content.equals(a), "the first object is unchanged after its pack's buffer held another pack");
  assert.ok(fromB?.content.equals(b));
  assert.ok((await readerA.read(objectId("blob", a)))?.content.equals(a), "a released reader reads its pack again");
  readerB.release();
  readerA.release();
});
