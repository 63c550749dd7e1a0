// The bootstrap endpoint of a cluster-manager child process: latency of serving the script for a valid token
// (which includes marking the token used in its Secret, durably, before the script goes out), and the rate at which
// unknown tokens are refused. Only a cluster's newest link is valid (a new one retires older unused ones), so tokens
// are issued in rounds, one per cluster, and redeemed before the next round. An unknown token costs at most one API
// read, and those are rate-limited (a burst of 10, then 5 a second; beyond that the answer is 503 with Retry-After):
// the API server's own request counter shows how many a flood of unknown tokens cost.
import { randomBytes } from "node:crypto";
import { Agent, request } from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startControlPlane, type ControlPlane } from "../harness/control-plane.js";
import { Core } from "../../operators/runtime/kube.js";
import { KubeClient } from "../../operators/runtime/rest.js";
import { issueBootstrapToken } from "../../operators/cluster-manager/bootstrap-tokens.js";
import { eventually } from "../harness/eventually.js";
import { apiRequests } from "./api-server-metrics.js";
import { applyEdgeClusters, inParallel, waitProvisioned } from "./edge-clusters.js";
import { percentile, sayer, type BenchOptions, type Figure } from "./figures.js";
import { startManagerProcess } from "./manager-process.js";

export interface BootstrapBenchOptions extends BenchOptions {
  clusters?: number;
  tokensPerCluster?: number;
  rejectSeconds?: number;
  rejectConnections?: number;

}

const NS = "bench-bootstrap";
const group = "bootstrap endpoint";

export async function benchBootstrap(opts: BootstrapBenchOptions = {}): Promise<Figure[]> {
  const say = sayer(opts);
  const clusters = opts.clusters ?? 20;
  const perCluster = opts.tokensPerCluster ?? 10;
  const work = mkdtempSync(join(tmpdir(), "graft-bench-boot-"));
  let cp: ControlPlane | undefined;
  try {
    cp = await startControlPlane({ name: "bench-boot" });
    await cp.installCrds();
    const client = new KubeClient(cp.kubeConfig);
    await client.create(Core.namespaces, { metadata: { name: NS } });
    const manager = await startManagerProcess({
      kubeconfigPath: cp.kubeconfigPath, namespace: NS, dataDir: join(work, "data"), logFile: join(work, "manager.log"),
      compiled: opts.compiled, logLevel: "info",
    });
    try {
      const names = Array.from({ length: clusters }, (_, i) => `boot-${i}`);
      await applyEdgeClusters(client, NS, names);
      const provisioned = await waitProvisioned(client, NS, names);

      say(`${group}: ${perCluster} rounds of one token per cluster`);
      const tokens: string[] = [];
      const latencies: number[] = [];
      let served = 0;
      let waitedForLookup = 0;
      for (let round = 0; round < perCluster; round++) {
        const issued: string[] = [];
        await inParallel([...provisioned.values()], 4, async (ec) => {
          issued.push((await issueBootstrapToken(client, NS, ec.status!.credentialsSecret!, 3_600_000)).token);
        });
        for (const token of issued) {
          tokens.push(token);
          // A token the manager's index has not seen yet is looked up; past the lookup rate that is a 503: wait it out.
          const res = await eventually(async () => {
            const start = performance.now();
            const r = await get(`${manager.url}/v1/bootstrap/${token}`);
            if (r.status === 503) {
              waitedForLookup++;
              return false;
            }
            latencies.push(performance.now() - start);
            return r;
          }, { intervalMs: 100, message: "the bootstrap link answered other than 503" });
          if (res.status === 200 && res.body.startsWith("#!")) served++;
        }
      }
      const reused = await get(`${manager.url}/v1/bootstrap/${tokens[0]}`);

      const rejectSeconds = opts.rejectSeconds ?? 5;
      say(`${group}: unknown tokens for ${rejectSeconds} s`);
      // Redeeming a token reads and writes its Secret: requests on Secrets show whether unknown tokens cost any.
      const before = await apiRequests(cp, "secrets");
      const rejection = await rejectUnknownTokens(manager.url, rejectSeconds * 1000, opts.rejectConnections ?? 16);
      const apiCalls = (await apiRequests(cp, "secrets")) - before;
      return [
        { group, name: "valid tokens served the script", value: served, unit: `of ${tokens.length}`, target: { op: "==", bound: tokens.length } },
        { group, name: "valid token → script, p50 (token marked used first)", value: percentile(latencies, 50), unit: "ms" },
        { group, name: "valid token → script, p99", value: percentile(latencies, 99), unit: "ms", target: { op: "<", bound: 100 } },
        { group, name: "503s waited out (token not indexed yet, lookups rate-limited)", value: waitedForLookup, unit: "" },
        { group, name: "second use of a token answered", value: reused.status, unit: "(HTTP status)", target: { op: "==", bound: 410 } },
        {
          group, name: `unknown tokens refused, 404 or 503 (${opts.rejectConnections ?? 16} connections)`, value: rejection.perSecond, unit: "/s",
          target: { op: ">=", bound: 5000 },
        },
        { group, name: "  of which 503 (lookup rate reached)", value: rejection.unavailable, unit: "" },
        { group, name: "answers other than 404 or 503 among them", value: rejection.other, unit: "", target: { op: "==", bound: 0 } },
        {
          group, name: "API server requests on Secrets while refusing them (lookups)", value: apiCalls, unit: "",
          // The lookup bucket: its burst, and its refill over the run (one second more for the run's edges).
          target: { op: "<=", bound: 10 + 5 * (rejectSeconds + 1) },
        },
        { group, name: "cluster-manager peak RSS", value: manager.peakRssMiB(), unit: "MiB" },
      ];
    } finally {
      await manager.stop();
    }
  } finally {
    await cp?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    }).on("error", reject).end();
  });
}

/** Well-formed random tokens over keep-alive connections for durationMs; the rate of refusals (404, or 503 past the lookup rate). */
async function rejectUnknownTokens(base: string, durationMs: number, connections: number): Promise<{ perSecond: number; unavailable: number; other: number }> {
  let refused = 0;
  let unavailable = 0;
  let other = 0;
  const start = performance.now();
  const deadline = start + durationMs;
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < deadline) {
      const res = await get(`${base}/v1/bootstrap/${randomBytes(32).toString("base64url")}`);
      if (res.status === 404) refused++;
      else if (res.status === 503) unavailable++;
      else other++;
    }
  }));
  return { perSecond: (refused + unavailable) / ((performance.now() - start) / 1000), unavailable, other };
}
