import { test } from "node:test";
import assert from "node:assert/strict";
import { backoffDelay } from "./backoff.js";

test("backoff doubles per attempt up to the cap without overflowing; spread down shortens it, at the cap too", () => {
  const opts = { minMs: 500, maxMs: 30_000, jitter: 0.25, spread: "down" } as const;
  const none = () => 0;
  const most = () => 0.999999;
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, opts, none)), [500, 1000, 2000, 4000, 8000, 16000, 30000]);
  assert.equal(backoffDelay(1000, opts, none), 30_000, "no overflow for long outages");
  assert.equal(backoffDelay(1, opts, most), 375);
  assert.equal(backoffDelay(1000, opts, most), 22_500, "spread at the cap");
  for (let i = 0; i < 50; i++) {
    const d = backoffDelay(4, opts);
    assert.ok(d > 3000 && d <= 4000, `delay ${d} outside (3000, 4000]`);
  }
});

test("spread up lengthens a delay by at most the jitter and never past the cap", () => {
  const opts = { minMs: 100, maxMs: 1000, jitter: 0.2 };
  assert.equal(backoffDelay(1, opts, () => 0.999999), 120);
  assert.equal(backoffDelay(4, opts, () => 0.999999), 960);
  assert.equal(backoffDelay(5, opts, () => 0.999999), 1000);
  assert.equal(backoffDelay(5, opts, () => 0), 1000);
});
