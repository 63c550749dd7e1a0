// The cluster-manager as a child process (`graft cluster-manager`), as it runs in production: its memory and CPU can
// be read from /proc, it can be killed and restarted, and its whole log is in one file. Used by the benchmarks and
// the fault tests.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { eventually } from "../harness/eventually.js";
import { freePort } from "../harness/ports.js";
import { startProcess, type ManagedProcess } from "../harness/process.js";
import { deployedRuntimeEnv } from "./compiled-cli.js";
import { childProcessEnv } from "../../operators/runtime/child-env.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));
const cli = join(repoRoot, "operators/cli/main.ts");

export interface ManagerProcessOptions {
  kubeconfigPath: string;
  namespace?: string;
  dataDir: string;
  logFile: string;
  /** Public port; a free one when absent (pass the same one to a restarted manager so URLs stay valid). */
  port?: number;
  concurrent?: number;
  logLevel?: "debug" | "info" | "warn" | "error";
  /** Directory for a V8 CPU profile written at exit (node --cpu-prof). */
  cpuProfileDir?: string;
  extraArgs?: string[];
  env?: NodeJS.ProcessEnv;
  /** Run this compiled CLI (see compiled-cli.ts) instead of the TypeScript sources under tsx. */
  compiled?: { main: string; env: Record<string, string> };
}

export interface ManagerProcess {
  readonly proc: ManagedProcess;
  readonly pid: number;
  readonly port: number;
  readonly healthPort: number;
  readonly url: string;
  /** Peak resident set size so far (VmHWM), in MiB. */
  peakRssMiB(): number;
  rssMiB(): number;
  /** User + system CPU time used so far, in seconds. */
  cpuSeconds(): number;
  metrics(): Promise<string>;
  log(): string;
  stop(): Promise<void>;
}

export async function startManagerProcess(opts: ManagerProcessOptions): Promise<ManagerProcess> {
  const port = opts.port ?? await freePort();
  const healthPort = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const nodeArgs = opts.cpuProfileDir ? ["--cpu-prof", `--cpu-prof-dir=${opts.cpuProfileDir}`] : [];
  const proc = startProcess(process.execPath, [
    ...nodeArgs, ...(opts.compiled ? [opts.compiled.main] : ["--import", "tsx", cli]), "cluster-manager",
    `--kubeconfig=${opts.kubeconfigPath}`, ...(opts.namespace ? [`--namespace=${opts.namespace}`] : []),
    `--data-dir=${opts.dataDir}`, `--external-url=${url}`, `--listen-address=127.0.0.1:${port}`,
    `--health-addr=127.0.0.1:${healthPort}`, "--organisation-prefix=bench",
    `--concurrent=${opts.concurrent ?? 4}`, `--log-level=${opts.logLevel ?? "info"}`,
    ...(opts.extraArgs ?? []),
  ], {
    logFile: opts.logFile, cwd: repoRoot,
    // The compiled form runs as deployed, with the Deployment's V8 and glibc tuning (memory is measured on it).
    env: { ...childProcessEnv(), GRAFT_CRASH_AT: "", ...opts.compiled?.env, ...(opts.compiled ? deployedRuntimeEnv() : {}), ...opts.env },
  });
  const pid = proc.child.pid!;
  try {
    await eventually(async () => {
      if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
        throw new Error(`cluster-manager exited: ${readFileSync(opts.logFile, "utf8").slice(-2000)}`);
      }
      return (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).ok;
    }, { timeoutMs: 60_000, intervalMs: 200, message: "cluster-manager ready" });
  } catch (err) {
    await proc.kill();
    throw err;
  }
  const status = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : Number.NaN;
  };
  return {
    proc, pid, port, healthPort, url,
    peakRssMiB: () => status("VmHWM"),
    rssMiB: () => status("VmRSS"),
    cpuSeconds: () => processCpuSeconds(pid),
    metrics: async () => (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text(),
    log: () => readFileSync(opts.logFile, "utf8"),
    stop: () => stopGently(proc),
  };
}

/**
 * SIGTERM, and if the manager has not stopped after 15 s a second signal (it then exits at once, still writing a
 * CPU profile), then SIGKILL.
 */
async function stopGently(proc: ManagedProcess): Promise<void> {
  const { child } = proc;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const within = (ms: number) => Promise.race([proc.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
  child.kill("SIGTERM");
  if (await within(15_000)) return;
  child.kill("SIGINT");
  if (await within(5_000)) return;
  await proc.kill();
}

/** utime + stime of a process from /proc/<pid>/stat, in seconds (clock ticks are 100 per second on Linux). */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name is in parentheses and may hold spaces: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * The control plane's kube-apiserver and etcd: the processes of that name whose command line names its directory
 * (the cluster-manager's does too, through --kubeconfig, and must not be counted twice).
 */
function controlPlanePids(dir: string): { apiServer: number[]; etcd: number[] } {
  const pids = readdirSync("/proc").filter((n) => /^\d+$/.test(n)).map(Number).filter((pid) => {
    try {
      return pid !== process.pid && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(dir);
    } catch {
      return false;
    }
  });
  const named = (comm: string) => pids.filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, "utf8").trim() === comm;
    } catch {
      return false;
    }
  });
  return { apiServer: named("kube-apiserver"), etcd: named("etcd") };
}

/** CPU used so far by a control plane's kube-apiserver and by its etcd (processes found once, when called). */
export function controlPlaneCpu(dir: string): { apiServer: () => number; etcd: () => number } {
  const pids = controlPlanePids(dir);
  const sum = (list: number[]) => list.reduce((total, pid) => total + processCpuSecondsOr0(pid), 0);
  return { apiServer: () => sum(pids.apiServer), etcd: () => sum(pids.etcd) };
}

function processCpuSecondsOr0(pid: number): number {
  try {
    return processCpuSeconds(pid);
  } catch {
    return 0;
  }
}

/** A counter or gauge value from Prometheus text, summed over every series of that name matching labels. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const set = m[2] ?? "";
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}
