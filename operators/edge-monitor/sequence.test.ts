import assert from "node:assert/strict";
import { describe, it } from "node:test";
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
});
