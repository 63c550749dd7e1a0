// The refusal script: passes shellcheck, prints the reason (quotes and all) to stderr only, and exits 1 under dash.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { refusalScript } from "./refusal-script.js";

test("a refusal script prints its reason to stderr and exits 1", () => {
  const script = refusalScript(`this link was already used; it's "spent" $(touch /tmp/x) \`id\``, 410);
  const run = spawnSync("sh", ["-"], { input: script, encoding: "utf8" });
  assert.equal(run.status, 1);
  assert.equal(run.stdout, "");
  assert.equal(run.stderr, `graft bootstrap: this link was already used; it's "spent" $(touch /tmp/x) \`id\`\n`);
  const realistic = refusalScript("this bootstrap link expired at 2026-12-01T10:00:00.000Z: get a new one with: graft bootstrap-command -n sites plant-a", 410);
  const check = spawnSync("shellcheck", ["-s", "sh", "-"], { input: realistic, encoding: "utf8" });
  assert.equal(check.status, 0, check.stdout);
});
