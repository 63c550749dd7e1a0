// ACS setup: 20 clusters created at once as ACS's admin UI creates them (object, General information name,
// configuration entry with the Sparkplug-safe name), set up by an in-process cluster-manager in ACS mode under ACS's
// own Cluster Manager grants (the stand-in enforces them). Each cluster's delay runs from its entry being written to
// its setup status being ready; requests are the manager's own to the ConfigDB and Auth service. Then one EdgeCluster
// applied with kubectl, which those grants refuse permanently: the ConfigDB requests it costs per minute.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { App, Class, Perm } from "../../operators/api/constants.js";
import { EdgeClusterType, type EdgeCluster } from "../../operators/api/edgecluster.js";
import { ClusterManager } from "../../operators/cluster-manager/cluster-manager.js";
import { CONTROLLER_NAME } from "../../operators/cluster-manager/controller/edgecluster-controller.js";
import { defaultConfig } from "../../operators/cluster-manager/config.js";
import { Core } from "../../operators/runtime/kube.js";
import { silentLogger } from "../../operators/runtime/logger.js";
import { KubeClient } from "../../operators/runtime/rest.js";
import { createClusterAsAdminUi } from "../acs-standin/admin-ui.js";
import { startControlPlane, type ControlPlane } from "../harness/control-plane.js";
import { eventually } from "../harness/eventually.js";
import { freePort } from "../harness/ports.js";
import { edgeClusterYaml } from "../support/cluster-manager/fixtures.js";
import { startAcsWorld, type AcsWorld } from "../support/cluster-manager/acs-world.js";
import { settleNewCrd } from "./edge-clusters.js";
import { percentile, sayer, type BenchOptions, type Figure } from "./figures.js";
import { controlPlaneCpu, metricValue } from "./manager-process.js";

const NS = "bench-acs";
const REFUSED_WINDOW_MS = 30_000;

export async function benchAcsSetup(opts: BenchOptions & { clusters?: number } = {}): Promise<Figure[]> {
  const say = sayer(opts);
  const clusters = opts.clusters ?? 20;
  const group = `acs setup ${clusters} (ACS's Cluster Manager grants)`;
  const work = mkdtempSync(join(tmpdir(), "graft-bench-acs-"));
  let cp: ControlPlane | undefined;
  let world: AcsWorld | undefined;
  let manager: ClusterManager | undefined;
  try {
    [cp, world] = await Promise.all([startControlPlane({ name: "bench-acs" }), startAcsWorld()]);
    await cp.installCrds();
    const client = new KubeClient(cp.kubeConfig);
    await client.create(Core.namespaces, { metadata: { name: NS } });
    await settleNewCrd(client, NS);
    const port = await freePort();
    manager = new ClusterManager({
      kubeConfig: cp.kubeConfig,
      config: defaultConfig({
        dataDir: join(work, "data"), externalUrl: `http://127.0.0.1:${port}`, organisationPrefix: "acme",
        mode: "acs", acs: world.settings(NS),
      }),
      log: silentLogger, listen: { host: "127.0.0.1", port }, concurrency: 16,
    });
    await manager.start();
    const w = world;
    const byManager = () => w.standin.requests.filter((r) => r.upn?.startsWith(`${w.service.username}@`));
    const before = byManager().length;

    say(`${group}: creating the clusters`);
    const cpCpu = controlPlaneCpu(cp.dir);
    const apiServerCpuAtStart = cpCpu.apiServer();
    const cpuAtStart = process.cpuUsage();
    const childCpuAtStart = childrenCpuSeconds();
    const m = manager;
    const reconciles = async () => metricValue(await m.metrics.registry.metrics(), "graft_reconcile_total", { controller: CONTROLLER_NAME });
    const reconcilesAtStart = await reconciles();
    const started = performance.now();
    const created = await Promise.all(Array.from({ length: clusters }, async (_, i) => {
      const { uuid } = await createClusterAsAdminUi(w.cdb, { typed: `Bench Site ${i + 1}`, chart: w.chart });
      return { uuid, at: performance.now() };
    }));
    const readyAt = new Map<string, number>();
    await eventually(() => {
      for (const { uuid } of created) {
        if (readyAt.has(uuid)) continue;
        const setup = w.standin.configdb.get(App.EdgeClusterSetupStatus, uuid)?.value as { ready?: boolean } | undefined;
        if (setup?.ready) readyAt.set(uuid, performance.now());
      }
      return readyAt.size === clusters;
    }, { timeoutMs: 180_000, intervalMs: 20, message: () => `setup ready for ${readyAt.size}/${clusters}` });
    const total = Math.max(...readyAt.values()) - started;
    const cpu = process.cpuUsage(cpuAtStart);
    const childCpu = childrenCpuSeconds() - childCpuAtStart;
    const cpuApiServer = cpCpu.apiServer() - apiServerCpuAtStart;
    const reconcilesPerCluster = (await reconciles() - reconcilesAtStart) / clusters;
    const delays = created.map(({ uuid, at }) => readyAt.get(uuid)! - at);
    const requests = byManager().slice(before);
    const cdbAuth = requests.filter((r) => r.service === "configdb" || r.service === "auth");
    const refused = requests.filter((r) => r.status === 403).length;

    const model = w.standin.configdb;
    const accountsNamed = (role: string) => (model.membersOf(Class.EdgeAccount) ?? [])
      .filter((a) => /^Edge \w+: Bench_Site_\d+$/.test(String((model.get(App.GeneralInfo, a)?.value as { name?: string } | undefined)?.name))
        && String((model.get(App.GeneralInfo, a)?.value as { name: string }).name).startsWith(`Edge ${role}:`)).length;
    const targets = new Set(created.map((c) => c.uuid));
    const grants = w.standin.auth.listGrants().filter((g) => g.permission === Perm.GitPull && targets.has(g.target)).length;

    say(`${group}: one EdgeCluster applied with kubectl, refused by the grants; counting for ${REFUSED_WINDOW_MS / 1000} s`);
    const applied = await cp.kubectl(["apply", "-f", "-"], { input: edgeClusterYaml("refused", NS) });
    if (applied.code !== 0) throw new Error(applied.stderr);
    const held = await eventually(async () => {
      const ec = await client.get<EdgeCluster>(EdgeClusterType, "refused", NS);
      return ec.status?.conditions?.some((c) => c.type === "ConfigDBSynced" && c.status === "False" && c.reason === "PermissionDenied") && ec;
    }, { timeoutMs: 60_000, message: "ConfigDBSynced=False PermissionDenied" });
    const from = w.standin.requests.length;
    await new Promise((r) => setTimeout(r, REFUSED_WINDOW_MS));
    const refusedCluster = w.standin.requests.slice(from)
      .filter((r) => r.service === "configdb" && (r.path.includes(held.status!.uuid!) || r.path === "/v2/object")).length;

    return [
      { group, name: "total, first entry to last setup ready", value: Math.round(total), unit: "ms", target: { op: "<", bound: 15_000 } },
      { group, name: "per cluster p50", value: Math.round(percentile(delays, 50)), unit: "ms" },
      // The manager, the ACS stand-in and this benchmark share one process (one thread): the total cannot be below it.
      { group, name: "CPU meanwhile: manager + ACS stand-in (one process)", value: (cpu.user + cpu.system) / 1e6, unit: "s" },
      { group, name: "CPU meanwhile: git processes (the manager's and the Git stand-in's)", value: childCpu, unit: "s" },
      { group, name: "CPU meanwhile: API server", value: cpuApiServer, unit: "s" },
      { group, name: "load average (1 min) at the end", value: loadavg()[0]!, unit: "" },
      { group, name: "per cluster p99", value: Math.round(percentile(delays, 99)), unit: "ms" },
      { group, name: "ConfigDB + Auth requests per cluster", value: cdbAuth.length / clusters, unit: "requests" },
      { group, name: "Git requests per cluster", value: requests.filter((r) => r.service === "git").length / clusters, unit: "requests" },
      { group, name: "EdgeCluster reconciles per cluster (until the last is ready)", value: reconcilesPerCluster, unit: "" },
      { group, name: "requests refused (403)", value: refused, unit: "requests", target: { op: "==", bound: 0 } },
      { group, name: "flux accounts", value: accountsNamed("flux"), unit: "accounts", target: { op: "==", bound: clusters } },
      { group, name: "krbkeys accounts", value: accountsNamed("krbkeys"), unit: "accounts", target: { op: "==", bound: clusters } },
      { group, name: "Git Pull grants on the clusters", value: grants, unit: "grants", target: { op: "==", bound: clusters } },
      { group, name: "ConfigDB requests per minute for a permanently refused cluster", value: refusedCluster * (60_000 / REFUSED_WINDOW_MS), unit: "requests/min", target: { op: "<=", bound: 2 } },
    ];
  } finally {
    await manager?.stop();
    await world?.stop();
    await cp?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

/** CPU of this process's finished child processes (cutime + cstime in /proc/self/stat, 100 ticks a second). */
function childrenCpuSeconds(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[13]) + Number(fields[14])) / 100;
}
