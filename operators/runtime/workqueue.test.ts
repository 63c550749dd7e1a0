import { test, type TestContext } from "node:test";
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

/** A queue on mocked timers: the test moves time itself. */
function queueOnMockedTime(t: TestContext): WorkQueue {
  t.mock.timers.enable({ apis: ["setTimeout", "Date"] });
  return new WorkQueue({ minMs: 10, maxMs: 100 });
}

test("addAfter delivers the key when its delay has passed, not before", (t) => {
  const q = queueOnMockedTime(t);
  q.addAfter("x", 50);
  t.mock.timers.tick(49);
  assert.equal(q.depth, 0, "not yet");
  t.mock.timers.tick(1);
  assert.equal(q.depth, 1, "queued once the delay passed");
  q.shutdown();
});

test("addAfter: the earlier of two schedules wins, whichever came first", (t) => {
  const q = queueOnMockedTime(t);
  q.addAfter("later-first", 60_000);
  q.addAfter("later-first", 20);
  q.addAfter("earlier-first", 20);
  q.addAfter("earlier-first", 60_000);
  t.mock.timers.tick(20);
  assert.equal(q.depth, 2, "both keys are queued at the earlier time");
  t.mock.timers.tick(60_000);
  assert.equal(q.depth, 2, "and not queued a second time by the later schedule");
  q.shutdown();
});

test("shutdown releases waiting workers", async () => {
  const q = new WorkQueue({ minMs: 10, maxMs: 100 });
  const waiting = q.get();
  q.shutdown();
  assert.equal(await waiting, undefined);
});
