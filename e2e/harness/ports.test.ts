// Ports handed to test servers: distinct across test processes, below the ephemeral range, and a lock left by a
// process that has exited is taken over.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { test } from "node:test";
import { promisify } from "node:util";
import { freePort } from "./ports.js";

const run = promisify(execFile);
const LOCK_DIR = "/tmp/graft-test-ports";

test("two test processes taking ports at once never get the same one", async () => {
  const child = run(process.execPath, ["--import", "tsx", "-e",
    `import("./e2e/harness/ports.ts").then(async ({ freePort }) => { const p = []; for (let i = 0; i < 40; i++) p.push(await freePort()); console.log(JSON.stringify(p)); setTimeout(() => {}, 1500); })`]);
  const mine: number[] = [];
  for (let i = 0; i < 40; i++) mine.push(await freePort());
  const theirs = JSON.parse((await child).stdout) as number[];
  assert.equal(new Set(mine).size, 40);
  assert.deepEqual(mine.filter((p) => theirs.includes(p)), []);
  const low = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").split(/\s+/)[0]);
  for (const p of [...mine, ...theirs]) assert.ok(p >= 20000 && p < low, `port ${p} is outside [20000, ${low})`);
});

test("a port locked by a process that has exited is handed out again", async () => {
  const exited = (await run(process.execPath, ["-e", "console.log(process.pid)"])).stdout.trim();
  const port = await freePort();
  // The next candidate after `port` is port + 1 (or wraps); lock it for the exited pid and expect it anyway.
  const candidate = port + 1;
  mkdirSync(LOCK_DIR, { recursive: true });
  writeFileSync(`${LOCK_DIR}/${candidate}`, exited);
  const got = await freePort();
  if (got !== candidate) assert.fail(`expected the stale lock on ${candidate} to be reclaimed, got ${got}`);
  assert.equal(readFileSync(`${LOCK_DIR}/${candidate}`, "utf8"), String(process.pid));
});
