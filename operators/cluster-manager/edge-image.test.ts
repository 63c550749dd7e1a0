import assert from "node:assert/strict";
import { test } from "node:test";
import { chartImage } from "./edge-image.js";

const DIGEST = `sha256:${"0a".repeat(32)}`;

test("an image reference becomes the edge chart's image values: repository, tag, digest", () => {
  assert.deepEqual(chartImage("ghcr.io/graft-operators/graft:0.1.0"), { repository: "ghcr.io/graft-operators/graft", tag: "0.1.0" });
  assert.deepEqual(chartImage("registry.site.test:5000/platform/graft:1.2.3"), { repository: "registry.site.test:5000/platform/graft", tag: "1.2.3" });
  assert.deepEqual(chartImage("registry.site.test:5000/graft"), { repository: "registry.site.test:5000/graft" }, "the port is no tag");
  assert.deepEqual(chartImage(`registry.site.test/graft@${DIGEST}`), { repository: "registry.site.test/graft", digest: DIGEST });
  assert.deepEqual(chartImage(`graft:1@${DIGEST}`), { repository: "graft", tag: "1", digest: DIGEST });
});

test("a reference that is not one says what is wrong", () => {
  assert.throws(() => chartImage("graft@sha256:abc"), /the edge image "graft@sha256:abc" has a digest that is not sha256/);
  assert.throws(() => chartImage("Registry/Graft:1"), /does not name a repository/);
  assert.throws(() => chartImage("graft:bad tag"), /does not name a repository|not a valid tag/);
  assert.throws(() => chartImage("graft:"), /has the tag "", which is not a valid tag/);
  assert.throws(() => chartImage(""), /does not name a repository/);
});
