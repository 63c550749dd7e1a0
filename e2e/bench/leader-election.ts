// Leader election with the default timings (lease 15 s, renew deadline 10 s, retry 2 s) against a real API server:
// how long a leader whose API calls hang keeps leading after they start hanging (target: within the renew deadline),
// and how long after a leader is SIGKILLed (lease never released) a successor leads (target: within the lease
// duration plus one retry period, the follower's polling interval).
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { startControlPlane } from "../harness/control-plane.js";
import { eventually } from "../harness/eventually.js";
import { startTcpProxy } from "../harness/tcp-proxy.js";
import { Core } from "../../operators/runtime/kube.js";
import { silentLogger } from "../../operators/runtime/logger.js";
import { Manager } from "../../operators/runtime/manager.js";
import { KubeClient } from "../../operators/runtime/rest.js";
import type { Figure } from "./figures.js";

const LEASE = 15_000;
const RENEW = 10_000;
const RETRY = 2_000;
const NS = "bench-election";

export async function benchLeaderElection(opts: { say?: (line: string) => void } = {}): Promise<Figure[]> {
  const cp = await startControlPlane({ name: "bench-election" });
  try {
    const client = new KubeClient(cp.kubeConfig);
    await client.create(Core.namespaces, { metadata: { name: NS } });
    const timings = { namespace: NS, leaseDurationMs: LEASE, renewDeadlineMs: RENEW, retryPeriodMs: RETRY };

    opts.say?.("leader election: a leader whose API calls hang");
    const server = new URL(cp.server);
    const proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port) });
    const kc = new k8s.KubeConfig();
    kc.loadFromString(cp.kubeConfig.exportConfig());
    const current = kc.getCurrentCluster()!;
    kc.clusters = kc.clusters.map((c) => (c.name === current.name ? { ...c, server: `https://127.0.0.1:${proxy.port}` } : c));
    let stoppedAt = 0;
    const hung = new Manager({ name: "hang", client: new KubeClient(kc), log: silentLogger, controllers: [], leaderElection: { ...timings, identity: "hung" },
      onLeadershipChange: (leading) => { if (!leading) stoppedAt = Date.now(); } });
    await hung.start();
    await eventually(() => hung.isLeader, { timeoutMs: 60_000, message: "elected" });
    const frozenAt = Date.now();
    proxy.freeze();
    await eventually(() => stoppedAt > 0, { timeoutMs: 60_000, message: "the hung leader stopped" });
    await proxy.close();
    await hung.stop();

    opts.say?.("leader election: a leader SIGKILLed");
    const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("../harness/leader-child.ts", import.meta.url)),
      cp.kubeconfigPath, NS, "crasher", String(LEASE), String(RENEW), String(RETRY)], { stdio: ["ignore", "pipe", "inherit"] });
    const lines: string[] = [];
    createInterface({ input: child.stdout! }).on("line", (l) => lines.push(l));
    let ledAt = 0;
    const successor = new Manager({ name: "elect", client, log: silentLogger, controllers: [], leaderElection: { ...timings, identity: "successor" },
      onLeadershipChange: (leading) => { if (leading) ledAt = Date.now(); } });
    try {
      await eventually(() => lines.includes("leading"), { timeoutMs: 60_000, message: "the child leads" });
      await successor.start();
      await eventually(() => successor.observedLeader === "crasher", { message: "successor saw the leader" });
      const killedAt = Date.now();
      child.kill("SIGKILL");
      await eventually(() => ledAt > 0, { timeoutMs: 60_000, message: "successor took over" });
      const group = "leader election (lease 15 s, renew deadline 10 s, retry 2 s)";
      return [
        { group, name: "API calls hang → leader stops leading", value: (stoppedAt - frozenAt) / 1000, unit: "s", target: { op: "<=", bound: RENEW / 1000 } },
        { group, name: "leader SIGKILLed → successor leads", value: (ledAt - killedAt) / 1000, unit: "s", target: { op: "<=", bound: (LEASE + RETRY) / 1000 } },
      ];
    } finally {
      child.kill("SIGKILL");
      await successor.stop();
    }
  } finally {
    await cp.stop();
  }
}
