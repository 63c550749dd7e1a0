import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";

const run = promisify(execFile);
const cli = fileURLToPath(new URL("./main.ts", import.meta.url));

test("graft --help lists every component", async () => {
  const { stdout } = await run(process.execPath, ["--import", "tsx", cli, "--help"]);
  for (const c of ["cluster-manager", "edge-sync", "edge-monitor", "krbkeys", "enrol", "seal", "bootstrap-command"]) {
    assert.match(stdout, new RegExp(`\\b${c}\\b`), `help mentions ${c}`);
  }
});

test("an unknown subcommand fails with a message", async () => {
  await assert.rejects(run(process.execPath, ["--import", "tsx", cli, "no-such-thing"]), (err: { code: number; stderr: string }) => {
    assert.notEqual(err.code, 0);
    assert.match(err.stderr, /unknown command/);
    return true;
  });
});

test("every component's subcommand has help", async () => {
  for (const c of ["cluster-manager", "edge-sync", "edge-monitor", "krbkeys", "enrol", "seal", "bootstrap-command"]) {
    const { stdout } = await run(process.execPath, ["--import", "tsx", cli, c, "--help"]);
    assert.match(stdout, new RegExp(`Usage: graft ${c}`), c);
  }
});
