import { test } from "node:test";
import assert from "node:assert/strict";
import { WorkQueue } from "./workqueue.js";
import { backoffDelay } from "./backoff.js";

test("a key added many times is queued once", async () => {
  const q = new WorkQueue({ minMs: 10, maxMs: 100 });
  q.add("a"); q.add("a"); q.add("b"); q.add("a");
  assert.equal(q.depth, 2);
  assert.equal(await q.get(), "a");
  assert.equal(await q.get(), "b");
  q.shutdown();
});

test("a key being processed is not handed out again until done, then comes back once", async () => {
  const q = new WorkQueue({ minMs: 10, maxMs: 100 });
  q.add("a");
  const first = await q.get();
  q.add("a"); q.add("a");
  assert.equal(q.depth, 0, "no second copy while processing");
  q.done(first!);
  assert.equal(q.depth, 1, "re-queued once because it changed meanwhile");
  assert.equal(await q.get(), "a");
  q.done("a");
  assert.equal(q.depth, 0);
  q.shutdown();
});

test("backoff doubles per failure and is capped; forget resets it", () => {
  const opts = { minMs: 100, maxMs: 1000 };
  assert.deepEqual([1, 2, 3, 4, 5, 10].map((n) => backoffDelay(n, opts)), [100, 200, 400, 800, 1000, 1000]);
  const q = new WorkQueue(opts);
  assert.equal(q.addRateLimited("k"), 100);
  assert.equal(q.addRateLimited("k"), 200);
  assert.equal(q.failureCount("k"), 2);
  q.forget("k");
  assert.equal(q.addRateLimited("k"), 100);
  q.shutdown();
});

test("addAfter delivers the key later and an earlier schedule wins", async () => {
  const q = new WorkQueue({ minMs: 10, maxMs: 100 });
  q.addAfter("x", 5000);
  q.addAfter("x", 20);
  assert.equal(await q.get(), "x");
  q.shutdown();
});

test("shutdown releases waiting workers", async () => {
  const q = new WorkQueue({ minMs: 10, maxMs: 100 });
  const waiting = q.get();
  q.shutdown();
  assert.equal(await waiting, undefined);
});
