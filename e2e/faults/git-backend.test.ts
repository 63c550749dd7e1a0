// The Git backend failing under the smart-HTTP front end: git missing from the handler's PATH (every request gets a
// 500), and `git http-backend` with the upload-pack under it killed in the middle of a clone (the client fails, never
// gets a partial repository). Afterwards a clone works and the repository is intact.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pino } from "pino";
import { startGitServer, type GitServer } from "../../operators/cluster-manager/git/git-http.js";
import { RepoStore } from "../../operators/cluster-manager/git/repo-store.js";
import { eventually } from "../harness/eventually.js";
import { basic, rawRequest } from "./http-client.js";

const UUID = "5d1c2b3a-4f5e-4d6c-8b7a-9f8e7d6c5b4a";
const USER = "flux-plant";
const PASSWORD = randomBytes(24).toString("base64url");
const gitBinary = execFileSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).trim();
let work: string;
let server: GitServer;
let store: RepoStore;
const logLines: string[] = [];

before(async () => {
  work = mkdtempSync(join(tmpdir(), "graft-faults-git-"));
  store = new RepoStore({ dataDir: join(work, "data") });
  // Large and incompressible, so a clone takes long enough to be interrupted.
  await store.syncFiles(UUID, new Map<string, string | Buffer>([["README.md", "# plant\n"], ["blob.bin", randomBytes(48 * 1024 * 1024)]]), "big");
  const sink = new Writable({ write(chunk: Buffer, _enc, done) { logLines.push(chunk.toString()); done(); } });
  server = await startGitServer({
    dataDir: join(work, "data"), logger: pino({ level: "info" }, sink),
    authorize: async ({ username, password }) => username === USER && password === PASSWORD,
  });
});

after(async () => {
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

const repoUrl = () => {
  const u = new URL(`${server.url}/uuid/${UUID}`);
  u.username = USER;
  u.password = PASSWORD;
  return u.toString();
};

function clone(into: string): Promise<{ code: number; stderr: string }> {
  const home = join(work, "home");
  return new Promise((resolve) => {
    execFile(gitBinary, ["clone", "--quiet", repoUrl(), into], {
      env: { PATH: "/usr/bin:/bin", HOME: home, GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" },
      maxBuffer: 16 * 1024 * 1024,
    }, (err, _stdout, stderr) => resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stderr }));
  });
}

async function assertClonesIntact(into: string) {
  const r = await clone(into);
  assert.equal(r.code, 0, r.stderr);
  const head = execFileSync(gitBinary, ["-C", into, "rev-parse", "HEAD"], { encoding: "utf8" }).trim();
  assert.equal(head, await store.headCommit(UUID));
  execFileSync(gitBinary, [`--git-dir=${store.repoPath({ kind: "cluster", uuid: UUID })}`, "fsck", "--no-dangling"], { stdio: "ignore" });
}

test("git missing from the handler's PATH: 500 for every request, then clones work again", async () => {
  const path = process.env.PATH;
  process.env.PATH = join(work, "empty");
  try {
    const refs = await rawRequest(server.url, "GET", `/uuid/${UUID}/info/refs?service=git-upload-pack`, { authorization: basic(USER, PASSWORD) });
    assert.equal(refs.status, 500);
    assert.doesNotMatch(refs.body, /ENOENT|spawn|\/usr\//, "the answer does not show internals");
    const r = await clone(join(work, "clone-no-git"));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /500/);
  } finally {
    process.env.PATH = path;
  }
  assert.ok(logLines.some((l) => l.includes("cannot run git http-backend")), "the failure is logged");
  await assertClonesIntact(join(work, "clone-after-path"));
});

interface Proc {
  pid: number;
  ppid: number;
  cmdline: string;
}

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      out.push({ pid: Number(name), ppid, cmdline: readFileSync(`/proc/${name}/cmdline`, "utf8").replaceAll("\0", " ") });
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/**
 * The `git http-backend` this test process started for a pack transfer, with every process under it, once
 * upload-pack runs. Killing http-backend alone would not stop the transfer: upload-pack writes to the same pipe.
 */
function packTransfer(): number[] | undefined {
  const all = processes();
  for (const backend of all.filter((p) => p.ppid === process.pid && p.cmdline.includes("http-backend"))) {
    const tree = [backend.pid];
    for (let grew = true; grew;) {
      const more = all.filter((p) => tree.includes(p.ppid) && !tree.includes(p.pid)).map((p) => p.pid);
      tree.push(...more);
      grew = more.length > 0;
    }
    if (all.some((p) => tree.includes(p.pid) && p.cmdline.includes("upload-pack"))) return tree;
  }
  return undefined;
}

/** Bytes of the pack the clone is receiving (git writes it to objects/pack/tmp_pack_* as it arrives). */
function receivedPackBytes(cloneDir: string): number {
  try {
    const dir = join(cloneDir, ".git", "objects", "pack");
    return readdirSync(dir).filter((f) => f.startsWith("tmp_pack_")).reduce((n, f) => n + statSync(join(dir, f)).size, 0);
  } catch {
    return 0;
  }
}

test("git http-backend and upload-pack killed mid-clone: the client fails cleanly, the repository is intact, the next clone works", async () => {
  const cloning = clone(join(work, "clone-killed"));
  const killed = await eventually(() => {
    // Kill only once pack data is arriving, so the transfer is certainly under way (not a small request that is
    // about to finish anyway).
    if (receivedPackBytes(join(work, "clone-killed")) < 1024 * 1024) return undefined;
    const pids = packTransfer();
    for (const pid of [...(pids ?? [])].reverse()) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    return pids;
  }, { timeoutMs: 30_000, intervalMs: 5, message: "the pack transfer started" });
  assert.ok(killed.length >= 2, "http-backend and upload-pack were killed");
  const r = await cloning;
  assert.notEqual(r.code, 0, "the interrupted clone fails rather than leaving a partial repository");
  await eventually(() => logLines.some((l) => l.includes("git http-backend failed")), { message: "the failure is logged" });
  await assertClonesIntact(join(work, "clone-after-kill"));
});
