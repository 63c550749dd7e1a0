// 200 `git clone`s at once with one edge credential against the git smart HTTP handler (as the public listener
// mounts it): how many are served, how many are turned away with 503 (the bound on concurrent git processes), and
// the serving process's peak RSS while it happens.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RepoStore } from "../../operators/cluster-manager/git/repo-store.js";
import { startGitServer } from "../../operators/cluster-manager/git/git-http.js";
import type { Figure } from "./figures.js";

const UUID = "5c0ffee0-1234-4abc-8def-0123456789ab";

function clone(url: string, dir: string): Promise<"ok" | "503" | string> {
  return new Promise((resolve) => {
    const child = spawn("git", ["clone", "--quiet", url, dir], {
      env: { PATH: process.env.PATH, HOME: dir, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null", GIT_TERMINAL_PROMPT: "0" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    child.on("close", (code) => resolve(code === 0 ? "ok" : /\b503\b/.test(stderr) ? "503" : stderr.trim().split("\n").pop() ?? `exit ${code}`));
  });
}

/** How many `git http-backend` processes run now (Linux /proc). */
function backendProcesses(): number {
  let n = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "latin1").startsWith("git\0http-backend")) n++;
    } catch {
      // gone meanwhile
    }
  }
  return n;
}

export async function benchParallelClones(opts: { clones?: number; say?: (line: string) => void } = {}): Promise<Figure[]> {
  const clones = opts.clones ?? 200;
  const work = mkdtempSync(join(tmpdir(), "graft-bench-clones-"));
  try {
    const store = new RepoStore({ dataDir: join(work, "data") });
    // A few MiB of incompressible content, so each clone has real pack data to send.
    const files = new Map<string, Buffer>(Array.from({ length: 8 }, (_, i) => [`data/file-${i}.bin`, randomBytes(512 * 1024)]));
    await store.syncFiles(UUID, files, "bench content");
    const user = "flux-bench";
    const password = randomBytes(24).toString("base64url");
    const server = await startGitServer({ dataDir: store.dataDir, authorize: async (r) => r.username === user && r.password === password });
    let peakRss = process.memoryUsage().rss;
    let peakBackends = 0;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
      peakBackends = Math.max(peakBackends, backendProcesses());
    }, 50);
    const baseline = process.memoryUsage().rss;
    try {
      opts.say?.(`parallel clones: ${clones} at once, one credential`);
      const url = `${server.url.replace("http://", `http://${user}:${password}@`)}/uuid/${UUID}`;
      const results = await Promise.all(Array.from({ length: clones }, (_, i) => clone(url, join(work, `c${i}`))));
      const ok = results.filter((r) => r === "ok").length;
      const refused = results.filter((r) => r === "503").length;
      const other = results.filter((r) => r !== "ok" && r !== "503");
      if (other.length) opts.say?.(`parallel clones: other failures, e.g. ${other[0]}`);
      const group = `git listener, ${clones} parallel clones`;
      return [
        { group, name: "served", value: ok, unit: "" },
        { group, name: "refused with 503 (over the concurrent git process bound)", value: refused, unit: "" },
        { group, name: "other failures", value: other.length, unit: "", target: { op: "==", bound: 0 } },
        { group, name: "every clone answered (served + 503)", value: ok + refused, unit: "", target: { op: "==", bound: clones } },
        { group, name: "git http-backend processes at once, peak (bound 32)", value: peakBackends, unit: "", target: { op: "<=", bound: 32 } },
        { group, name: "serving process RSS growth at peak", value: Math.round((peakRss - baseline) / 2 ** 20), unit: "MiB", target: { op: "<", bound: 100 } },
      ];
    } finally {
      clearInterval(sampler);
      await server.close();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
