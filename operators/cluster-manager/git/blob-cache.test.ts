import { test } from "node:test";
import assert from "node:assert/strict";
import { LARGE_BLOB_MIN, LargeBlobCache } from "./blob-cache.js";
import { objectId } from "./git-objects.js";

const large = (fill: string, size = LARGE_BLOB_MIN) => fill.repeat(Math.ceil(size / fill.length)).slice(0, size);

test("a text encoded twice gives the same Buffer and its blob id; the Buffer decodes back to the same string", () => {
  const cache = new LargeBlobCache();
  const text = large("kind: Deployment\n");
  const first = cache.encode(text);
  assert.equal(first.id, objectId("blob", Buffer.from(text)));
  const second = cache.encode(`${text}`);
  assert.equal(second.content, first.content);
  assert.equal(cache.content(first.id), first.content);
  assert.equal(cache.text(first.content), text);
});

test("a blob read from a repository is kept only if it hashes to its id, and then serves its text's encoding", () => {
  const cache = new LargeBlobCache();
  const text = large("apiVersion: v1\n");
  const read = Buffer.from(text);
  const id = objectId("blob", read);
  const damaged = Buffer.from(text.replace("v1", "v2"));
  assert.equal(cache.remember(id, damaged), damaged);
  assert.equal(cache.content(id), undefined, "a damaged copy is never cached");
  assert.equal(cache.remember(id, read), read);
  assert.equal(cache.content(id), read);
  assert.equal(cache.remember(id, Buffer.from(text)), read, "a second read of the same blob is the cached Buffer");
  assert.equal(cache.encode(text).content, read, "the text the generator makes is the file already read");
  assert.equal(cache.text(read), cache.text(read));
});

test("small contents are not kept; the cache holds at most its byte bound, least recently used out first", () => {
  const small = Buffer.from("small\n");
  const cache = new LargeBlobCache(3 * LARGE_BLOB_MIN);
  assert.equal(cache.remember(objectId("blob", small), small), small);
  assert.equal(cache.size.entries, 0);
  const a = cache.encode(large("a"));
  const b = cache.encode(large("b"));
  const c = cache.encode(large("c"));
  assert.ok(cache.content(a.id), "a is used again, so b is now the oldest");
  const d = cache.encode(large("d"));
  assert.deepEqual(cache.size, { entries: 3, bytes: 3 * LARGE_BLOB_MIN });
  assert.equal(cache.content(b.id), undefined);
  for (const kept of [a, c, d]) assert.ok(cache.content(kept.id));
  assert.notEqual(cache.encode(large("b")).content, b.content, "an evicted text is encoded afresh");
});
