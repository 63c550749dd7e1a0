// edge-sync end to end: an edge API server with 200 Nodes, an edge-sync child process reporting to a real
// cluster-manager (embedded mode) on a central API server. Phase 1: kubelet-style heartbeats on every Node for 2
// minutes (pushes should stay at zero; edge-sync's CPU over those 2 minutes, and per Node update). Phase 2: 50 real host changes (a taint on one Node at a time,
// every 500 ms): pushes, and the delay from the change on the edge to the host showing it in the EdgeCluster status.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually } from "../harness/eventually.js";
import { type EdgeCluster } from "../../operators/api/edgecluster.js";
import { createNode, heartbeat } from "../support/edge-sync/edge-objects.js";
import { SPECIALISED_TAINT } from "../../operators/edge-sync/hosts.js";
import { Core } from "../../operators/runtime/kube.js";
import type { KubeClient } from "../../operators/runtime/rest.js";
import { inParallel } from "./edge-clusters.js";
import { percentile, sayer, type BenchOptions, type Figure } from "./figures.js";
import { startBenchEdgeSync, startBenchSite } from "./edge-site.js";
import { metricValue } from "./manager-process.js";

export interface EdgeSyncBenchOptions extends BenchOptions {
  nodes?: number;
  heartbeatSeconds?: number;
  /** How often each Node heartbeats (the kubelet's node status update frequency is 10 s). */
  heartbeatPeriodMs?: number;
  changes?: number;
  changeSpacingMs?: number;
  /** Directory for V8 CPU profiles of edge-sync and the cluster-manager, written when they stop. */
  cpuProfileDir?: string;

}

const NS = "bench-edge-sync";

export async function benchEdgeSync(opts: EdgeSyncBenchOptions = {}): Promise<Figure[]> {
  const say = sayer(opts);
  const nodes = opts.nodes ?? 200;
  const seconds = opts.heartbeatSeconds ?? 120;
  const changes = opts.changes ?? 50;
  const group = `edge-sync (${nodes} Nodes)`;
  const work = mkdtempSync(join(tmpdir(), "graft-bench-sync-"));
  const cleanups: Array<() => Promise<void>> = [];
  try {
    const site = await startBenchSite({ name: "bench", namespace: NS, cluster: "plant", work, cleanups, compiled: opts.compiled, cpuProfileDir: opts.cpuProfileDir });
    const { manager, edgeClient, onStatus } = site;
    say(`${group}: creating ${nodes} Nodes`);
    const names = Array.from({ length: nodes }, (_, i) => `node-${String(i).padStart(3, "0")}`);
    await inParallel(names, 16, (name) => createNode(edgeClient, name));

    const sync = await startBenchEdgeSync(site, { work, cleanups, compiled: opts.compiled, cpuProfileDir: opts.cpuProfileDir, env: { LOG_LEVEL: "info" } });
    await eventually(() => (site.seen()?.status?.hosts?.length ?? 0) === nodes,
      { timeoutMs: 60_000, message: `the ${nodes} hosts reached the EdgeCluster status` });
    // Let the first report settle (its debounce window and any follow-up write) before counting.
    await new Promise((r) => setTimeout(r, 3_000));

    say(`${group}: heartbeats for ${seconds} s`);
    const pushesBefore = await sync.pushes();
    const reportsBefore = metricValue(await manager.metrics(), "graft_status_reports_total");
    const cpuBefore = sync.cpuSeconds();
    const updates = await heartbeatChurn(edgeClient, names, seconds * 1000, opts.heartbeatPeriodMs ?? 10_000);
    await new Promise((r) => setTimeout(r, 3_000)); // a debounced write would have gone out by now
    const heartbeatCpu = sync.cpuSeconds() - cpuBefore;
    const heartbeatPushes = (await sync.pushes()) - pushesBefore;
    const heartbeatReports = metricValue(await manager.metrics(), "graft_status_reports_total") - reportsBefore;

    say(`${group}: ${changes} host changes`);
    const changePushesBefore = await sync.pushes();
    const delays = await hostChanges(edgeClient, names.slice(0, changes), opts.changeSpacingMs ?? 500, onStatus);
    await new Promise((r) => setTimeout(r, 3_000));
    const changePushes = (await sync.pushes()) - changePushesBefore;

    return [
      { group, name: `Node heartbeat updates in ${seconds} s`, value: updates, unit: "" },
      { group, name: "pushes caused by heartbeats", value: heartbeatPushes, unit: "", target: { op: "==", bound: 0 } },
      { group, name: "status reports the centre received meanwhile", value: heartbeatReports, unit: "", target: { op: "==", bound: 0 } },
      {
        group, name: `edge-sync CPU over ${seconds} s of heartbeats`, value: heartbeatCpu, unit: "s",
        target: nodes === 200 && seconds === 120 ? { op: "<", bound: 2 } : undefined,
      },
      { group, name: "edge-sync CPU per Node update", value: (heartbeatCpu * 1e6) / Math.max(1, updates), unit: "µs" },
      { group, name: `host changes seen centrally (1 per ${opts.changeSpacingMs ?? 500} ms)`, value: delays.length, unit: `of ${changes}`, target: { op: "==", bound: changes } },
      { group, name: "pushes for those changes (debounce coalesces)", value: changePushes, unit: "" },
      { group, name: "edge change → EdgeCluster status, p50", value: percentile(delays, 50), unit: "ms", target: { op: "<=", bound: 250 } },
      { group, name: "edge change → EdgeCluster status, p99", value: percentile(delays, 99), unit: "ms" },
      { group, name: "edge-sync peak RSS", value: sync.peakRssMiB(), unit: "MiB" },
    ];
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
}

/** Every Node heartbeats once per period, spread evenly; returns how many heartbeats changed a Node. */
async function heartbeatChurn(client: KubeClient, names: string[], durationMs: number, periodMs: number): Promise<number> {
  const interval = periodMs / names.length;
  const start = performance.now();
  let changed = 0;
  let n = 0;
  const inFlight = new Set<Promise<void>>();
  while (performance.now() - start < durationMs) {
    const due = start + n * interval;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const name = names[n++ % names.length]!;
    const beat = heartbeat(client, name).then((c) => { if (c) changed++; }, () => undefined).finally(() => inFlight.delete(beat));
    inFlight.add(beat);
    if (inFlight.size >= 16) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return changed;
}

/** Sets a distinct specialised taint on each Node in turn; returns each change's delay until central status shows it. */
async function hostChanges(client: KubeClient, names: string[], spacingMs: number,
  onStatus: Array<(ec: EdgeCluster) => void>): Promise<number[]> {
  const pending = new Map<string, { value: string; at: number }>();
  const delays: number[] = [];
  const watcher = (ec: EdgeCluster) => {
    for (const host of ec.status?.hosts ?? []) {
      const want = pending.get(host.hostname);
      if (want && host.specialised === want.value) {
        delays.push(performance.now() - want.at);
        pending.delete(host.hostname);
      }
    }
  };
  onStatus.push(watcher);
  for (const [i, name] of names.entries()) {
    const value = `bench-${i}`;
    await client.patch(Core.nodes, name, undefined, { spec: { taints: [{ key: SPECIALISED_TAINT, value, effect: "NoSchedule" }] } });
    pending.set(name, { value, at: performance.now() });
    await new Promise((r) => setTimeout(r, spacingMs));
  }
  await eventually(() => pending.size === 0, { timeoutMs: 30_000, message: "every host change reached the centre" }).catch(() => undefined);
  onStatus.splice(onStatus.indexOf(watcher), 1);
  return delays;
}
