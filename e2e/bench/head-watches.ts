// What edge-sync's head watch (GET /v1/cluster/<uuid>/head, operators/cluster-manager/head-endpoint.ts) costs the
// cluster-manager with every provisioned cluster holding one, as 1000 embedded-mode edges do: the connections held,
// the manager's memory and CPU to take them and while they wait, what re-asking after each 40 s hold adds up to,
// and how soon a held watch is answered after a values change commits.
import { Agent, get } from "node:http";
import { EdgeClusterType, type EdgeCluster } from "../../operators/api/edgecluster.js";
import { DEFAULT_HEAD_HOLD_MS } from "../../operators/cluster-manager/head-endpoint.js";
import { CREDENTIALS_LABEL, decodeCredentials, type SecretObject } from "../../operators/cluster-manager/credentials.js";
import { Core } from "../../operators/runtime/kube.js";
import type { KubeClient } from "../../operators/runtime/rest.js";
import { eventually } from "../harness/eventually.js";
import { inParallel } from "./edge-clusters.js";
import { sayer, type BenchOptions, type Figure } from "./figures.js";
import { metricValue, type ManagerProcess } from "./manager-process.js";

export interface HeadWatchesOptions extends BenchOptions {
  client: KubeClient;
  namespace: string;
  manager: ManagerProcess;
  group: string;
}

interface Held {
  answered: Promise<{ status: number; body: string; at: number }>;
  close(): void;
}

/** One held watch on its own connection, as each edge-sync holds one. */
function watch(agent: Agent, url: string, token: string): Held {
  let close = () => undefined as void;
  const answered = new Promise<{ status: number; body: string; at: number }>((resolve, reject) => {
    const req = get(url, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (c: string) => { body += c; }).on("end", () => resolve({ status: res.statusCode ?? 0, body, at: performance.now() }));
    });
    req.on("error", reject);
    close = () => { req.destroy(); };
  });
  answered.catch(() => undefined);
  return { answered, close: () => close() };
}

export async function benchHeadWatches(opts: HeadWatchesOptions): Promise<Figure[]> {
  const { client, namespace, manager, group } = opts;
  const say = sayer(opts);
  const secrets = await client.list<SecretObject>(Core.secrets, namespace, { labelSelector: `${CREDENTIALS_LABEL}=edgecluster` });
  const edges = secrets.items.map((s) => decodeCredentials(s)).map((c) => ({ uuid: c.uuid, token: c.syncToken }));
  const byUuid = new Map((await client.list<EdgeCluster>(EdgeClusterType, namespace)).items.map((ec) => [ec.status?.uuid, ec]));
  const heldNow = async () => metricValue(await manager.metrics(), "graft_head_watches_held");
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  const watches: Held[] = [];
  try {
    say(`${group}: one held head watch per cluster (${edges.length})`);
    const rssBefore = manager.rssMiB();
    const cpuBefore = manager.cpuSeconds();
    await inParallel(edges, 32, async (e) => {
      const commit = byUuid.get(e.uuid)?.status?.commit;
      if (!commit) throw new Error(`cluster ${e.uuid} has no commit`);
      watches.push(watch(agent, `${manager.url}/v1/cluster/${e.uuid}/head?after=${commit}`, e.token));
    });
    await eventually(async () => (await heldNow()) >= edges.length, { timeoutMs: 60_000, intervalMs: 250, message: `${edges.length} head watches held` });
    const heldAll = await heldNow();
    const cpuTake = manager.cpuSeconds() - cpuBefore;
    const rssHeld = manager.rssMiB();

    const idleMs = 10_000;
    const cpuIdleBefore = manager.cpuSeconds();
    await new Promise((r) => setTimeout(r, idleMs));
    const cpuIdle = manager.cpuSeconds() - cpuIdleBefore;

    // One values change: its cluster's watch is answered once the commit is in status.commit.
    const target = edges[0]!;
    const name = byUuid.get(target.uuid)!.metadata.name;
    const changedAt = performance.now();
    await client.patch(EdgeClusterType, name, namespace, { spec: { values: { podAnnotations: { benchHeadWatch: String(Date.now()) } } } });
    const answer = await Promise.race([watches[0]!.answered, new Promise<never>((_, rej) => setTimeout(() => rej(new Error("no answer in 60 s")), 60_000))]);
    if (answer.status !== 200) throw new Error(`the watch was answered ${answer.status}: ${answer.body}`);
    const wakeMs = answer.at - changedAt;
    const perWatchMs = (cpuTake * 1000) / edges.length;
    const reasksPerSecond = edges.length / (DEFAULT_HEAD_HOLD_MS / 1000);
    return [
      { group, name: "head watches held at once (one per cluster)", value: heldAll, unit: "", target: { op: ">=", bound: edges.length } },
      { group, name: "public connections dropped (cap --max-connections)", value: metricValue(await manager.metrics(), "graft_public_connections_dropped_total"), unit: "", target: { op: "==", bound: 0 } },
      { group, name: "cluster-manager RSS growth with every watch held", value: Number((rssHeld - rssBefore).toFixed(1)), unit: "MiB", target: { op: "<", bound: 40 } },
      { group, name: "cluster-manager CPU per watch taken (auth, lookup, hold)", value: Number(perWatchMs.toFixed(3)), unit: "ms" },
      { group, name: `re-asking after each ${DEFAULT_HEAD_HOLD_MS / 1000} s hold: share of one core`, value: Number((reasksPerSecond * perWatchMs / 10).toFixed(2)), unit: "%", target: { op: "<", bound: 5 } },
      { group, name: `cluster-manager CPU while they wait (${idleMs / 1000} s)`, value: Number(cpuIdle.toFixed(2)), unit: "s" },
      { group, name: "values change → its held watch answered with the new commit", value: Math.round(wakeMs), unit: "ms" },
    ];
  } finally {
    for (const w of watches) w.close();
    agent.destroy();
    await eventually(async () => (await heldNow()) === 0, { timeoutMs: 30_000, intervalMs: 250, message: "head watches released" }).catch(() => undefined);
  }
}
