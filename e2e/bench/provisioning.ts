// Provisioning: N EdgeClusters applied at once against a real API server, a cluster-manager child process
// reconciling them. Each cluster's delay runs from its apply being acknowledged to a watch seeing Provisioned=True.
// At the size with targets, the provisioned clusters then report as edge-sync would (reports.ts) and each holds a
// head watch as embedded-mode edge-sync does (head-watches.ts).
import { mkdtempSync, rmSync, writeFileSync, chmodSync, readFileSync, existsSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { startControlPlane, type ControlPlane } from "../harness/control-plane.js";
import { EdgeClusterType, type EdgeCluster } from "../../operators/api/edgecluster.js";
import { Informer } from "../../operators/runtime/informer.js";
import { Core } from "../../operators/runtime/kube.js";
import { silentLogger } from "../../operators/runtime/logger.js";
import { KubeClient } from "../../operators/runtime/rest.js";
import { apiRequestBreakdown, apiRequestCounts } from "./api-server-metrics.js";
import { applyEdgeClusters, inParallel, isProvisioned, settleNewCrd } from "./edge-clusters.js";
import { percentile, sayer, type BenchOptions, type Figure } from "./figures.js";
import { controlPlaneCpu, metricValue, startManagerProcess } from "./manager-process.js";
import { describeMemory } from "./memory-breakdown.js";
import { benchHeadWatches } from "./head-watches.js";
import { benchReports } from "./reports.js";

export interface ProvisioningOptions extends BenchOptions {
  clusters: number;
  concurrent: number;
  /** Parallel apply requests from the benchmark. */
  applyParallelism?: number;
  timeoutMs?: number;
  /** Count git process spawns through a PATH shim and break API calls down by verb and resource. */
  profile?: boolean;
  cpuProfileDir?: string;
  /** Targets apply only at this size. */
  withTargets?: boolean;

}

const NS = "bench";

export async function benchProvisioning(opts: ProvisioningOptions): Promise<Figure[]> {
  const say = sayer(opts);
  const group = `provisioning ${opts.clusters} (--concurrent ${opts.concurrent})`;
  const work = mkdtempSync(join(tmpdir(), "graft-bench-prov-"));
  let cp: ControlPlane | undefined;
  try {
    cp = await startControlPlane({ name: "bench" });
    await cp.installCrds();
    const client = new KubeClient(cp.kubeConfig);
    await client.create(Core.namespaces, { metadata: { name: NS } });
    await settleNewCrd(client, NS);

    const spawnLog = join(work, "git-spawns");
    const env = opts.profile ? { PATH: `${gitShim(work, spawnLog)}:${process.env.PATH ?? ""}` } : {};
    const manager = await startManagerProcess({
      kubeconfigPath: cp.kubeconfigPath, namespace: NS, dataDir: join(work, "data"), logFile: join(work, "manager.log"),
      concurrent: opts.concurrent, logLevel: "info", cpuProfileDir: opts.cpuProfileDir, env, compiled: opts.compiled,
    });
    const spawnsAtStart = countLines(spawnLog);
    const sayMemory = async (when: string) => {
      if (opts.profile) say(`manager memory ${when}: peak RSS ${manager.peakRssMiB().toFixed(0)} MiB, now ${manager.rssMiB().toFixed(0)} MiB; ${describeMemory(manager.pid, await manager.metrics())}`);
    };
    await sayMemory("at start");
    const cpCpu = controlPlaneCpu(cp.dir);
    const apiServerCpuAtStart = cpCpu.apiServer();
    const etcdCpuAtStart = cpCpu.etcd();
    const benchCpuAtStart = process.cpuUsage();
    const cpuAtStart = manager.cpuSeconds();
    // Where the manager's requests go: its status writes and Events (the bench writes neither).
    const counted = () => apiRequestCounts(cp!, {
      all: {}, statusWrites: { resource: "edgeclusters", subresource: "status" }, events: { verb: "POST", resource: "events" },
    });
    const countsAtStart = await counted();
    const reconcilesAtStart = metricValue(await manager.metrics(), "graft_reconcile_total", { controller: "cluster-manager" });

    const provisionedAt = new Map<string, number>();
    const watch = new Informer<EdgeCluster>(client, EdgeClusterType, silentLogger, { namespace: NS });
    let allDone: () => void = () => undefined;
    const done = new Promise<void>((r) => (allDone = r));
    watch.on((_event, ec) => {
      if (!provisionedAt.has(ec.metadata.name) && isProvisioned(ec)) {
        provisionedAt.set(ec.metadata.name, performance.now());
        if (provisionedAt.size === opts.clusters) allDone();
      }
    });
    watch.start();
    await watch.waitForSync();

    say(`${group}: applying ${opts.clusters} EdgeClusters`);
    const appliedAt = new Map<string, number>();
    const names = Array.from({ length: opts.clusters }, (_, i) => `site-${String(i).padStart(4, "0")}`);
    const start = performance.now();
    await inParallel(names, opts.applyParallelism ?? 16, async (name) => {
      await applyEdgeClusters(client, NS, [name], 1);
      appliedAt.set(name, performance.now());
    });
    const applied = performance.now();
    const timeoutMs = opts.timeoutMs ?? 300_000;
    const timedOut = await Promise.race([done.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), timeoutMs).unref())]);
    const end = performance.now();
    await watch.stop();

    const delays = names.filter((n) => provisionedAt.has(n)).map((n) => provisionedAt.get(n)! - appliedAt.get(n)!);
    const last = Math.max(...provisionedAt.values());
    const countsAtEnd = await counted();
    const requests = countsAtEnd.all - countsAtStart.all;
    const cpu = manager.cpuSeconds() - cpuAtStart;
    const cpuApiServer = cpCpu.apiServer() - apiServerCpuAtStart;
    const cpuEtcd = cpCpu.etcd() - etcdCpuAtStart;
    const benchUsage = process.cpuUsage(benchCpuAtStart);
    const cpuBench = (benchUsage.user + benchUsage.system) / 1e6;
    const reconciles = metricValue(await manager.metrics(), "graft_reconcile_total", { controller: "cluster-manager" }) - reconcilesAtStart;
    const figures: Figure[] = [
      { group, name: "Provisioned", value: provisionedAt.size, unit: "clusters", target: { op: "==", bound: opts.clusters } },
      {
        group, name: "wall time, first apply → all Provisioned", value: ((timedOut ? end : last) - start) / 1000, unit: "s",
        target: opts.withTargets ? { op: "<", bound: 12 } : undefined,
      },
      { group, name: "apply of all objects took", value: (applied - start) / 1000, unit: "s" },
      { group, name: "per cluster p50 (apply → Provisioned)", value: percentile(delays, 50) / 1000, unit: "s" },
      { group, name: "per cluster p99", value: percentile(delays, 99) / 1000, unit: "s" },
      {
        group, name: "cluster-manager peak RSS", value: manager.peakRssMiB(), unit: "MiB",
        target: opts.withTargets ? { op: "<", bound: 200 } : undefined,
      },
      { group, name: "cluster-manager CPU per cluster", value: (cpu * 1000) / opts.clusters, unit: "ms" },
      // What the two cores had to do between the first apply and the end: the wall time cannot be below half of it.
      { group, name: "CPU meanwhile: cluster-manager", value: cpu, unit: "s" },
      { group, name: "CPU meanwhile: API server", value: cpuApiServer, unit: "s" },
      { group, name: "CPU meanwhile: etcd", value: cpuEtcd, unit: "s" },
      { group, name: "CPU meanwhile: the bench (applies, watch)", value: cpuBench, unit: "s" },
      { group, name: "wall time the CPU alone needs on 2 idle cores", value: (cpu + cpuApiServer + cpuEtcd + cpuBench) / 2, unit: "s" },
      // Other engineers' work shares the cores: the wall time means little when this is far above 2.
      { group, name: "load average (1 min) at the end", value: loadavg()[0]!, unit: "" },
      {
        group, name: "API requests per cluster (all clients but the bench's applies)", value: (requests - opts.clusters) / opts.clusters, unit: "",
        target: opts.withTargets ? { op: "<=", bound: 6 } : undefined,
      },
      { group, name: "reconciles per cluster", value: reconciles / opts.clusters, unit: "" },
      { group, name: "status writes per cluster", value: (countsAtEnd.statusWrites - countsAtStart.statusWrites) / opts.clusters, unit: "" },
      { group, name: "Events per cluster", value: (countsAtEnd.events - countsAtStart.events) / opts.clusters, unit: "" },
    ];
    if (opts.profile) {
      const spawns = countLines(spawnLog) - spawnsAtStart;
      figures.push({ group, name: "git processes per cluster", value: spawns / opts.clusters, unit: "" });
      say(`git subcommands: ${summariseSpawns(spawnLog)}`);
      say(`API requests by verb/resource: ${await apiRequestBreakdown(cp)}`);
      await sayMemory("with every cluster provisioned");
    }
    if (opts.withTargets && !timedOut) {
      figures.push(...await benchReports({
        client, namespace: NS, manager, group: `${opts.clusters} Ready clusters reporting`, say,
        apiRequests: async () => (await counted()).all,
      }));
      figures.push({ group, name: "cluster-manager peak RSS, after the reports", value: manager.peakRssMiB(), unit: "MiB" });
      await sayMemory("after the reports");
      figures.push(...await benchHeadWatches({ client, namespace: NS, manager, group: `${opts.clusters} edges holding a head watch`, say }));
    }
    await manager.stop();
    if (manager.proc.child.exitCode !== 0) {
      say(`the cluster-manager did not stop cleanly within 15 s of SIGTERM (exit ${manager.proc.child.exitCode ?? manager.proc.child.signalCode}); ` +
        `its last log lines:\n${manager.log().trim().split("\n").slice(-5).join("\n")}`);
    }
    return figures;
  } finally {
    await cp?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** A directory with a `git` that notes its subcommand, then runs the real git. */
function gitShim(work: string, logFile: string): string {
  const real = execFileSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).trim();
  const dir = join(work, "shim");
  execFileSync("mkdir", ["-p", dir]);
  const shim = join(dir, "git");
  writeFileSync(shim, `#!/bin/sh\nfor a in "$@"; do case "$a" in -*) ;; *) echo "$a" >> '${logFile}'; break ;; esac; done\nexec '${real}' "$@"\n`);
  chmodSync(shim, 0o755);
  return dir;
}

function countLines(file: string): number {
  return existsSync(file) ? readFileSync(file, "utf8").split("\n").filter(Boolean).length : 0;
}

function summariseSpawns(file: string): string {
  const counts = new Map<string, number>();
  if (existsSync(file)) for (const l of readFileSync(file, "utf8").split("\n").filter(Boolean)) counts.set(l, (counts.get(l) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}=${v}`).join(", ");
}

