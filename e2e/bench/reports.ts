// Edge reports against provisioned clusters: every cluster makes its first report (Bootstrapped: one reconcile each
// is expected, it arms the Reporting timer), then one round of reports as edge-sync sends them every 5 minutes,
// compressed into a few seconds. Counts the reconciles the round triggered (target 0: a report is a status-only
// change) and the cluster-manager CPU it cost.
import { App } from "../../operators/api/constants.js";
import { EdgeClusterType, type EdgeCluster } from "../../operators/api/edgecluster.js";
import { CREDENTIALS_LABEL, decodeCredentials, type SecretObject } from "../../operators/cluster-manager/credentials.js";
import { Core } from "../../operators/runtime/kube.js";
import type { KubeClient } from "../../operators/runtime/rest.js";
import { eventually } from "../harness/eventually.js";
import { inParallel } from "./edge-clusters.js";
import { sayer, type BenchOptions, type Figure } from "./figures.js";
import { metricValue, type ManagerProcess } from "./manager-process.js";

export interface ReportsOptions extends BenchOptions {
  client: KubeClient;
  namespace: string;
  manager: ManagerProcess;
  group: string;
  /** The round's reports are spread evenly over this long (default 10 s). */
  roundMs?: number;
  /** Requests the API server has served so far (for the requests a round's reports cost). */
  apiRequests?: () => Promise<number>;

}

const host = (hostname: string) => ({ hostname, control_plane: true, k8s_version: "v1.36.3", arch: "amd64", os_version: "Debian 12", ready: true });

async function reconciles(manager: ManagerProcess): Promise<number> {
  return metricValue(await manager.metrics(), "graft_reconcile_total", { controller: "cluster-manager" });
}

export async function benchReports(opts: ReportsOptions): Promise<Figure[]> {
  const { client, namespace, manager, group } = opts;
  const say = sayer(opts);
  const secrets = await client.list<SecretObject>(Core.secrets, namespace, { labelSelector: `${CREDENTIALS_LABEL}=edgecluster` });
  const edges = secrets.items.map((s) => decodeCredentials(s)).map((c) => ({ uuid: c.uuid, token: c.syncToken }));
  const report = async (edge: { uuid: string; token: string }, hostname: string) => {
    const r = await fetch(`${manager.url}/v2/app/${App.EdgeClusterStatus}/object/${edge.uuid}`, {
      method: "PATCH", headers: { authorization: `Bearer ${edge.token}`, "content-type": "application/merge-patch+json" },
      body: JSON.stringify({ hosts: [host(hostname)] }),
    });
    if (r.status !== 204) throw new Error(`report for ${edge.uuid}: HTTP ${r.status} ${await r.text()}`);
  };

  say(`${group}: first report from each of ${edges.length} clusters`);
  const beforeFirst = await reconciles(manager);
  const cpuBeforeFirst = manager.cpuSeconds();
  await inParallel(edges, 16, (e) => report(e, "first"));
  // Each first report (Bootstrapped) is handed to the reconciler once: wait for those before the measured round.
  await eventually(async () => (await reconciles(manager)) - beforeFirst >= edges.length,
    { timeoutMs: 120_000, intervalMs: 500, message: "the first reports' reconciles" });
  const cpuFirst = manager.cpuSeconds() - cpuBeforeFirst;
  const bootstrapped = (await client.list<EdgeCluster>(EdgeClusterType, namespace)).items
    .filter((ec) => ec.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")).length;

  say(`${group}: one 5-minute round of reports from ${edges.length} Ready clusters, spread over ${(opts.roundMs ?? 10_000) / 1000} s`);
  const reconcilesBefore = await reconciles(manager);
  const cpuBefore = manager.cpuSeconds();
  const requestsBefore = await opts.apiRequests?.();
  const gapMs = (opts.roundMs ?? 10_000) / edges.length;
  const started = performance.now();
  await inParallel(edges, 16, async (e, i) => {
    const due = started + i * gapMs - performance.now();
    if (due > 0) await new Promise((r) => setTimeout(r, due));
    await report(e, "steady");
  });
  // Let the watch events of the last writes reach the manager's informer before counting.
  await new Promise((r) => setTimeout(r, 2000));
  const triggered = (await reconciles(manager)) - reconcilesBefore;
  const cpu = manager.cpuSeconds() - cpuBefore;
  const requests = requestsBefore === undefined ? undefined : (await opts.apiRequests!()) - requestsBefore;
  return [
    { group, name: "Ready clusters reporting", value: bootstrapped, unit: "clusters", target: { op: "==", bound: edges.length } },
    // Each first report is a status write and a pass over a cluster with nothing to commit (as a resync is).
    { group, name: "cluster-manager CPU for the first reports (one reconcile each)", value: cpuFirst, unit: "s" },
    { group, name: "reconciles triggered by a round of reports", value: triggered, unit: "", target: { op: "==", bound: 0 } },
    { group, name: "cluster-manager CPU per round of reports", value: cpu, unit: "s" },
    ...(requests === undefined ? [] : [{ group, name: "API requests per report (all clients; the bench makes none)", value: requests / edges.length, unit: "" }]),
  ];
}
