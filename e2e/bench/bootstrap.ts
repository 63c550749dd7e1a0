// The bootstrap endpoint of a cluster-manager child process: latency of serving the script for a valid token
// (which includes marking the token used in its Secret, durably, before the script goes out), and the rate at which
// unknown tokens are refused, with the API server's own request counter showing they cost it nothing.
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

      say(`${group}: issuing ${clusters * perCluster} tokens`);
      const tokens: string[] = [];
      const probes: string[] = [];
      await inParallel([...provisioned.values()], 4, async (ec) => {
        const secret = ec.status!.credentialsSecret!;
        for (let i = 0; i < perCluster; i++) tokens.push((await issueBootstrapToken(client, NS, secret, 3_600_000)).token);
        // Issued last: once the manager knows it, it knows the Secret version holding the others too.
        probes.push((await issueBootstrapToken(client, NS, secret, 3_600_000)).token);
      });
      for (const probe of probes) {
        await eventually(async () => (await get(`${manager.url}/v1/bootstrap/${probe}`)).status === 200, { message: "the manager indexed the issued tokens" });
      }

      const latencies: number[] = [];
      let served = 0;
      for (const token of tokens) {
        const start = performance.now();
        const res = await get(`${manager.url}/v1/bootstrap/${token}`);
        latencies.push(performance.now() - start);
        if (res.status === 200 && res.body.startsWith("#!")) served++;
      }
      const reused = await get(`${manager.url}/v1/bootstrap/${tokens[0]}`);

      say(`${group}: unknown tokens for ${opts.rejectSeconds ?? 5} s`);
      // Redeeming a token reads and writes its Secret: requests on Secrets show whether unknown tokens cost any.
      const before = await apiRequests(cp, "secrets");
      const rejection = await rejectUnknownTokens(manager.url, (opts.rejectSeconds ?? 5) * 1000, opts.rejectConnections ?? 16);
      const apiCalls = (await apiRequests(cp, "secrets")) - before;
      return [
        { group, name: "valid tokens served the script", value: served, unit: `of ${tokens.length}`, target: { op: "==", bound: tokens.length } },
        { group, name: "valid token → script, p50 (token marked used first)", value: percentile(latencies, 50), unit: "ms" },
        { group, name: "valid token → script, p99", value: percentile(latencies, 99), unit: "ms", target: { op: "<", bound: 100 } },
        { group, name: "second use of a token answered", value: reused.status, unit: "(HTTP status)", target: { op: "==", bound: 410 } },
        {
          group, name: `unknown tokens refused (${opts.rejectConnections ?? 16} connections)`, value: rejection.perSecond, unit: "/s",
          target: { op: ">=", bound: 5000 },
        },
        { group, name: "answers other than 404 among them", value: rejection.other, unit: "", target: { op: "==", bound: 0 } },
        { group, name: "API server requests on Secrets while refusing them", value: apiCalls, unit: "", target: { op: "==", bound: 0 } },
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

/** Well-formed random tokens over keep-alive connections for durationMs; the rate of 404 answers. */
async function rejectUnknownTokens(base: string, durationMs: number, connections: number): Promise<{ perSecond: number; other: number }> {
  let refused = 0;
  let other = 0;
  const start = performance.now();
  const deadline = start + durationMs;
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < deadline) {
      const res = await get(`${base}/v1/bootstrap/${randomBytes(32).toString("base64url")}`);
      if (res.status === 404) refused++;
      else other++;
    }
  }));
  return { perSecond: refused / ((performance.now() - start) / 1000), other };
}
