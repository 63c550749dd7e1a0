// Every shell script of the project passes shellcheck (the bootstrap driver and generated scripts are checked in
// operators/bootstrap/script-builder.test.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

test("shellcheck passes on every tracked *.sh and .ci/run", () => {
  const files = execFileSync("git", ["ls-files", "*.sh", ".ci/run"], { cwd: root, encoding: "utf8" }).trim().split("\n").filter(Boolean);
  assert.ok(files.length >= 6, `found ${files.length} scripts`);
  const r = spawnSync("shellcheck", ["-x", ...files], { cwd: root, encoding: "utf8" });
  assert.equal(r.status, 0, r.stdout + r.stderr);
});
