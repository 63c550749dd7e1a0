// The set-up the edge-sync benches share: a central API server with a cluster-manager process and one provisioned
// cluster, an edge API server, an informer on the cluster at the centre, and edge-sync as a child process reporting
// with the cluster's sync token. Whatever it starts is pushed onto `cleanups` (stopped in reverse by the caller).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startControlPlane, type ControlPlane } from "../harness/control-plane.js";
import { eventually } from "../harness/eventually.js";
import { freePort } from "../harness/ports.js";
import { startProcess, type ManagedProcess } from "../harness/process.js";
import { EdgeClusterType, type EdgeCluster } from "../../operators/api/edgecluster.js";
import { decodeCredentials, type SecretObject } from "../../operators/cluster-manager/credentials.js";
import { Informer } from "../../operators/runtime/informer.js";
import { Core } from "../../operators/runtime/kube.js";
import { silentLogger } from "../../operators/runtime/logger.js";
import { KubeClient } from "../../operators/runtime/rest.js";
import type { CompiledCli } from "./compiled-cli.js";
import { applyEdgeClusters, waitProvisioned } from "./edge-clusters.js";
import { metricValue, processCpuSeconds, startManagerProcess, type ManagerProcess } from "./manager-process.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

export type Cleanups = Array<() => Promise<void>>;

export interface BenchSite {
  central: ControlPlane;
  centralClient: KubeClient;
  manager: ManagerProcess;
  /** The provisioned EdgeCluster as first seen. */
  cluster: EdgeCluster;
  syncToken: string;
  edge: ControlPlane;
  edgeClient: KubeClient;
  /** The cluster at the centre, as an informer sees it; `onStatus` listeners hear every change. */
  seen: () => EdgeCluster | undefined;
  onStatus: Array<(ec: EdgeCluster) => void>;
}

export async function startBenchSite(opts: {
  name: string; namespace: string; cluster: string; work: string; cleanups: Cleanups; compiled?: CompiledCli; cpuProfileDir?: string;
}): Promise<BenchSite> {
  const { namespace, cleanups, work } = opts;
  const central = await controlPlane(`${opts.name}-central`, cleanups);
  await central.installCrds();
  const centralClient = new KubeClient(central.kubeConfig);
  await centralClient.create(Core.namespaces, { metadata: { name: namespace } });
  const manager = await startManagerProcess({
    kubeconfigPath: central.kubeconfigPath, namespace, dataDir: join(work, "data"), logFile: join(work, "manager.log"),
    compiled: opts.compiled, cpuProfileDir: opts.cpuProfileDir,
  });
  cleanups.push(() => manager.stop());
  await applyEdgeClusters(centralClient, namespace, [opts.cluster]);
  const cluster = (await waitProvisioned(centralClient, namespace, [opts.cluster])).get(opts.cluster)!;
  const creds = decodeCredentials(await centralClient.get<SecretObject>(Core.secrets, cluster.status!.credentialsSecret!, namespace));
  const edge = await controlPlane(`${opts.name}-edge`, cleanups);

  const informer = new Informer<EdgeCluster>(centralClient, EdgeClusterType, silentLogger, { namespace });
  const onStatus: Array<(ec: EdgeCluster) => void> = [];
  informer.on((_e, obj) => { for (const fn of onStatus) fn(obj); }).start();
  cleanups.push(async () => informer.stop());
  await informer.waitForSync();
  return {
    central, centralClient, manager, cluster, syncToken: creds.syncToken, edge, edgeClient: new KubeClient(edge.kubeConfig),
    seen: () => informer.get(`${namespace}/${opts.cluster}`), onStatus,
  };
}

async function controlPlane(name: string, cleanups: Cleanups): Promise<ControlPlane> {
  const cp = await startControlPlane({ name });
  cleanups.push(() => cp.stop());
  return cp;
}

export interface BenchEdgeSync {
  proc: ManagedProcess;
  pushes(): Promise<number>;
  cpuSeconds(): number;
  peakRssMiB(): number;
}

/** edge-sync reporting the site's cluster to its manager, ready before this returns. */
export async function startBenchEdgeSync(site: BenchSite, opts: {
  work: string; cleanups: Cleanups; compiled?: CompiledCli; cpuProfileDir?: string; env?: Record<string, string>;
}): Promise<BenchEdgeSync> {
  const tokenFile = join(opts.work, "sync-token");
  writeFileSync(tokenFile, site.syncToken, { mode: 0o600 });
  const healthPort = await freePort();
  const profile = opts.cpuProfileDir ? ["--cpu-prof", `--cpu-prof-dir=${opts.cpuProfileDir}`] : [];
  const entry = [...profile, ...(opts.compiled ? [opts.compiled.main] : ["--import", "tsx", join(repoRoot, "operators/cli/main.ts")]), "edge-sync"];
  const proc = startProcess(process.execPath, entry, {
    logFile: join(opts.work, "edge-sync.log"), cwd: repoRoot,
    env: {
      PATH: process.env.PATH, ...opts.compiled?.env, CLUSTER_UUID: site.cluster.status!.uuid!, CLUSTER_NAME: site.cluster.metadata.name,
      STATUS_URL: site.manager.url, SYNC_TOKEN_FILE: tokenFile, KUBECONFIG: site.edge.kubeconfigPath, HEALTH_ADDR: `127.0.0.1:${healthPort}`,
      // The periodic full resend (default 5 min) is a sign of life, not caused by the load: kept out of the count.
      RESYNC_INTERVAL: "1h", LOG_LEVEL: "warn",
      ...opts.env,
    },
  });
  opts.cleanups.push(() => proc.stop(10_000));
  const pid = proc.child.pid!;
  const metrics = async () => (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
  await eventually(async () => (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).ok, { timeoutMs: 60_000, message: "edge-sync ready" });
  return {
    proc,
    pushes: async () => metricValue(await metrics(), "graft_edge_sync_pushes_total"),
    cpuSeconds: () => processCpuSeconds(pid),
    peakRssMiB: () => Number(/^VmHWM:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? Number.NaN) / 1024,
  };
}
