// The cache is trusted except for versions this controller has itself replaced.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { KubeObject } from "../../runtime/kube.js";
import { OwnWrites } from "./own-writes.js";

const v = (rv: string): KubeObject => ({ metadata: { name: "e", namespace: "n", resourceVersion: rv } });

test("a cached version this controller replaced gives way to what it wrote; anything else is used as cached", () => {
  const own = new OwnWrites<KubeObject>();
  const [r1, r2, r3, other] = [v("1"), v("2"), v("3"), v("9")];
  assert.equal(own.resolve("n/e", r1), r1, "nothing written yet");
  own.record("n/e", r1, r2);
  own.record("n/e", r2, r3);
  assert.equal(own.resolve("n/e", r1), r3, "cache two writes behind");
  assert.equal(own.resolve("n/e", r2), r3, "cache one write behind");
  assert.equal(own.resolve("n/e", r3), r3, "caught up");
  assert.equal(own.resolve("n/e", r1), r1, "forgotten once caught up");
  own.record("n/e", r3, v("5"));
  const reread = v("4");
  own.record("n/e", reread, reread);
  assert.equal(own.resolve("n/e", v("4"))?.metadata.resourceVersion, "5", "a version read after a conflict is older than the write");
  assert.equal(own.resolve("n/e", other), other, "someone else wrote after us");
});
