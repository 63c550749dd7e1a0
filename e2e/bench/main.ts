// `npm run bench [-- <benchmark>…] [--profile] [--clusters=N] [--concurrent=N] [--cpu-prof-dir=DIR]`: runs the
// benchmarks in turn (provisioning, bootstrap, edge-sync, gitops-report, sealing, watch-faults, acs-setup, parallel-clones, flux-polls, leader-election; all by
// default) and prints their figures with the
// targets beside them. Exits non-zero when a target is missed or a benchmark could not run. Progress goes to stderr.
import { cpus, loadavg, totalmem } from "node:os";
import { benchAcsSetup } from "./acs-setup.js";
import { benchBootstrap } from "./bootstrap.js";
import { compileCli, type CompiledCli } from "./compiled-cli.js";
import { benchEdgeSync } from "./edge-sync.js";
import { benchGitopsReport } from "./gitops-report.js";
import { formatTable, met, type Figure } from "./figures.js";
import { benchProvisioning } from "./provisioning.js";
import { benchSealingFigures } from "./sealing.js";
import { benchWatchFaults } from "./watch-faults.js";
import { benchParallelClones } from "./parallel-clones.js";
import { benchFluxPolls } from "./flux-polls.js";
import { benchLeaderElection } from "./leader-election.js";

const BENCHMARKS = ["provisioning", "bootstrap", "edge-sync", "gitops-report", "sealing", "watch-faults", "acs-setup", "parallel-clones", "flux-polls", "leader-election"] as const;
type Benchmark = (typeof BENCHMARKS)[number];

interface Args {
  picked: Benchmark[];
  profile: boolean;
  clusters?: number;
  concurrent: number;
  cpuProfileDir?: string;
}

function parseArgs(argv: string[]): Args {
  const picked: Benchmark[] = [];
  const args: Args = { picked, profile: false, concurrent: 16 };
  for (const a of argv) {
    const [flag, value] = a.split("=", 2) as [string, string | undefined];
    if (flag === "--profile") args.profile = true;
    else if (flag === "--clusters" && value) args.clusters = Number(value);
    else if (flag === "--concurrent" && value) args.concurrent = Number(value);
    else if (flag === "--cpu-prof-dir" && value) args.cpuProfileDir = value;
    else if ((BENCHMARKS as readonly string[]).includes(a)) picked.push(a as Benchmark);
    else throw new Error(`unknown argument "${a}": expected ${BENCHMARKS.join(", ")}, --profile, --clusters=N, --concurrent=N, --cpu-prof-dir=DIR`);
  }
  if (picked.length === 0) picked.push(...BENCHMARKS);
  return args;
}

const say = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

async function runOne(bench: Benchmark, args: Args, compiled: CompiledCli): Promise<Figure[]> {
  switch (bench) {
    case "provisioning": {
      const figures: Figure[] = [];
      for (const clusters of args.clusters ? [args.clusters] : [100, 1000]) {
        figures.push(...await benchProvisioning({
          clusters, concurrent: args.concurrent, profile: args.profile, cpuProfileDir: args.cpuProfileDir,
          withTargets: clusters === 1000, compiled, say,
        }));
      }
      return figures;
    }
    case "bootstrap":
      return benchBootstrap({ compiled, say });
    case "edge-sync":
      return benchEdgeSync({ compiled, cpuProfileDir: args.cpuProfileDir, say });
    case "gitops-report":
      return benchGitopsReport({ compiled, say });
    case "sealing":
      return benchSealingFigures();
    case "watch-faults":
      return benchWatchFaults({ say });
    case "acs-setup":
      return benchAcsSetup({ say });
    case "parallel-clones":
      return benchParallelClones({ say });
    case "flux-polls":
      return benchFluxPolls({ say });
    case "leader-election":
      return benchLeaderElection({ say });
  }
}

/** Runs each picked benchmark; one that fails is reported and the others still run. */
async function run(args: Args, compiled: CompiledCli): Promise<{ figures: Figure[]; failed: string[] }> {
  const figures: Figure[] = [];
  const failed: string[] = [];
  for (const bench of args.picked) {
    const started = performance.now();
    say(`${bench}: starting`);
    try {
      figures.push(...await runOne(bench, args, compiled));
      say(`${bench}: done in ${((performance.now() - started) / 1000).toFixed(0)} s`);
    } catch (err) {
      failed.push(bench);
      say(`${bench}: failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    }
  }
  return { figures, failed };
}

let args: Args;
try {
  args = parseArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`bench: ${(err as Error).message}\n`);
  process.exit(2);
}
const started = performance.now();
say("compiling the graft CLI as the image does (memory is measured on the compiled form)");
const compiled = await compileCli();
let result: Awaited<ReturnType<typeof run>>;
try {
  result = await run(args, compiled);
} finally {
  compiled.remove();
}
const { figures, failed } = result;
const missed = figures.filter((f) => met(f) === false).length;
const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? "cpu"}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
  `Node ${process.version}, load average at the end ${loadavg().map((l) => l.toFixed(1)).join(" ")}`;
process.stdout.write(`\ngraft benchmarks — ${machine}\n\n${formatTable(figures)}\n\n` +
  `total ${((performance.now() - started) / 1000).toFixed(0)} s; ${missed} of ${figures.filter((f) => f.target).length} targets missed` +
  `${failed.length ? `; failed to run: ${failed.join(", ")}` : ""}\n`);
// Missed targets and benchmarks that could not run make the exit status non-zero.
if (missed > 0 || failed.length > 0) process.exitCode = 1;
