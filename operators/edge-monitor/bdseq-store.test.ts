import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { FileBdSeqStore, MemoryBdSeqStore, parseStoredBdSeq } from "./bdseq-store.js";

describe("bdSeq file store", () => {
  const withDir = (fn: (dir: string) => Promise<void>) => async () => {
    const dir = mkdtempSync(join(tmpdir(), "graft-bdseq-"));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it("starts at 0, persists each reserved value, and a new store on the same file continues from it", withDir(async (dir) => {
    const path = join(dir, "nested", "bdseq");
    const store = new FileBdSeqStore(path);
    assert.equal(await store.current(), undefined);
    assert.deepEqual([await store.next(), await store.next(), await store.next()], [0, 1, 2]);
    assert.equal(readFileSync(path, "utf8"), "2\n");
    assert.equal(await new FileBdSeqStore(path).next(), 3, "a restarted monitor goes on from the stored value");
    assert.deepEqual(readdirSync(join(dir, "nested")), ["bdseq"], "no temporary files left behind");
  }));

  it("wraps 255 → 0", withDir(async (dir) => {
    const path = join(dir, "bdseq");
    writeFileSync(path, "255\n");
    assert.equal(await new FileBdSeqStore(path).next(), 0);
  }));

  it("starts again at 0 when the file holds something that is not a counter value", withDir(async (dir) => {
    const path = join(dir, "bdseq");
    writeFileSync(path, "garbage");
    assert.equal(await new FileBdSeqStore(path).next(), 0);
    assert.deepEqual(["7", " 12\n", "256", "-1", "1e2", ""].map(parseStoredBdSeq), [7, 12, undefined, undefined, undefined, undefined]);
  }));

  it("fails naming the path when the file cannot be used", withDir(async (dir) => {
    writeFileSync(join(dir, "file"), "");
    const store = new FileBdSeqStore(join(dir, "file", "bdseq"));
    await assert.rejects(store.next(), /bdSeq from ".*\/file\/bdseq": ENOTDIR/);
  }));

  it("memory store counts the same way", async () => {
    const store = new MemoryBdSeqStore(254);
    assert.deepEqual([await store.next(), await store.next()], [255, 0]);
  });
});
