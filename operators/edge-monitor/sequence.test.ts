import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { retryDelay } from "./backoff.js";
import { isValidSparkplugCounter, nextBdSeq, SequenceCounter } from "./sequence.js";

describe("Sparkplug counters", () => {
  it("seq: 0 on NBIRTH, then 1..255 and back to 0 on the 256th message after it", () => {
    const seq = new SequenceCounter();
    assert.equal(seq.birth(), 0);
    const seen = Array.from({ length: 300 }, () => seq.next());
    assert.deepEqual(seen.slice(0, 3), [1, 2, 3]);
    assert.equal(seen[254], 255);
    assert.equal(seen[255], 0, "255 wraps to 0");
    assert.equal(seen[256], 1);
    assert.ok(seen.every(isValidSparkplugCounter));
  });

  it("seq: a rebirth starts the count again at 0 wherever it stood", () => {
    const seq = new SequenceCounter();
    seq.birth();
    for (let i = 0; i < 17; i++) seq.next();
    assert.equal(seq.birth(), 0);
    assert.equal(seq.next(), 1);
  });

  it("bdSeq: 0 the first time, one more per CONNECT, 255 → 0", () => {
    assert.equal(nextBdSeq(undefined), 0);
    assert.equal(nextBdSeq(0), 1);
    assert.equal(nextBdSeq(254), 255);
    assert.equal(nextBdSeq(255), 0);
  });

  it("reconnect delay doubles per failure up to the cap, jittered down by at most a quarter", () => {
    const none = () => 0;
    const most = () => 0.999999;
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map((f) => retryDelay(f, 500, 30_000, none)), [500, 1000, 2000, 4000, 8000, 16000, 30000]);
    assert.equal(retryDelay(1000, 500, 30_000, none), 30_000, "no overflow for long outages");
    assert.equal(retryDelay(0, 500, 30_000, most), 375);
    for (let i = 0; i < 50; i++) {
      const d = retryDelay(3, 500, 30_000);
      assert.ok(d > 3000 && d <= 4000, `delay ${d} outside (3000, 4000]`);
    }
  });
});
