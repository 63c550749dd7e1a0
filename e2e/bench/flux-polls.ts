// What the self-link GitRepository's 1-minute poll costs the cluster-manager's Git listener. When nothing changed, a
// source-controller poll is one ref advertisement (GET info/refs?service=git-upload-pack: go-git's remote list, which
// fluxcd/pkg compares with the last observed commit before it would clone), so this sends exactly those requests,
// with an edge's credentials, to the git smart HTTP handler and measures the serving process's CPU per poll, its own
// and its `git http-backend` children's, and what a fleet polling every minute adds up to.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RepoStore } from "../../operators/cluster-manager/git/repo-store.js";
import { startGitServer } from "../../operators/cluster-manager/git/git-http.js";
import { SELF_LINK_POLL_INTERVAL } from "../../operators/cluster-manager/git/repo-content.js";
import { parseDuration } from "../../operators/runtime/duration.js";
import { sayer, type BenchOptions, type Figure } from "./figures.js";

const UUID = "5c0ffee0-1234-4abc-8def-0123456789ab";
const FLEET = 1000;

/** CPU milliseconds of this process and of its children it has waited for (Linux /proc). */
function cpuMs(): { own: number; children: number } {
  const fields = readFileSync("/proc/self/stat", "utf8").replace(/^.*\) /, "").split(" ");
  const tick = 1000 / Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
  const usage = process.cpuUsage();
  // After the ") ": field 3 is the state, so cutime/cstime (fields 16 and 17 of stat) are at 13 and 14 here.
  return { own: (usage.user + usage.system) / 1000, children: (Number(fields[13]) + Number(fields[14])) * tick };
}

export async function benchFluxPolls(opts: BenchOptions & { polls?: number; concurrent?: number } = {}): Promise<Figure[]> {
  const say = sayer(opts);
  const polls = opts.polls ?? 600;
  const concurrent = opts.concurrent ?? 4;
  const work = mkdtempSync(join(tmpdir(), "graft-bench-polls-"));
  try {
    const store = new RepoStore({ dataDir: join(work, "data") });
    await store.syncFiles(UUID, new Map([["edo/cluster/values.yaml", "a: 1\n"]]), "bench content");
    const user = "flux-bench";
    const password = randomBytes(24).toString("base64url");
    const server = await startGitServer({ dataDir: store.dataDir, authorize: async (r) => r.username === user && r.password === password });
    try {
      const url = `${server.url}/uuid/${UUID}/info/refs?service=git-upload-pack`;
      const headers = { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`, "user-agent": "git/2.0 (go-git)" };
      const poll = async () => {
        const res = await fetch(url, { headers });
        const body = await res.text();
        if (res.status !== 200 || !body.includes("refs/heads/main")) throw new Error(`poll answered ${res.status}: ${body.slice(0, 200)}`);
      };
      await poll(); // warm-up: the first spawn pays for loading git
      say(`flux polls: ${polls} ref advertisements, ${concurrent} at once`);
      const before = cpuMs();
      const started = performance.now();
      let next = 0;
      await Promise.all(Array.from({ length: concurrent }, async () => {
        while (next < polls) {
          next++;
          await poll();
        }
      }));
      const wallS = (performance.now() - started) / 1000;
      const after = cpuMs();
      const perPoll = (after.own - before.own + after.children - before.children) / polls;
      const pollsPerSecond = FLEET / (parseDuration(SELF_LINK_POLL_INTERVAL) / 1000);
      const group = `git listener, Flux polls (self-link every ${SELF_LINK_POLL_INTERVAL})`;
      return [
        { group, name: "CPU per poll, listener + git http-backend (includes the bench's own HTTP client)", value: Number(perPoll.toFixed(2)), unit: "ms" },
        { group, name: "of which git http-backend", value: Number(((after.children - before.children) / polls).toFixed(2)), unit: "ms" },
        { group, name: `polls served per second (${concurrent} at once)`, value: Math.round(polls / wallS), unit: "/s" },
        { group, name: `${FLEET} clusters polling: share of one core`, value: Number((pollsPerSecond * perPoll / 10).toFixed(1)), unit: "%", target: { op: "<", bound: 25 } },
      ];
    } finally {
      await server.close();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
