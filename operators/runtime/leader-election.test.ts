// Leader election against a real API server: only the elected manager reconciles; a leader that stops hands over
// after its controllers drained; a leader whose API calls hang stops leading before anyone can take over; a leader
// that crashes (lease never released) is replaced once the lease runs out; losing leadership leaves the informers
// watching.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { startControlPlane, type ControlPlane } from "../../e2e/harness/control-plane.js";
import { eventually } from "../../e2e/harness/eventually.js";
import { startTcpProxy } from "../../e2e/harness/tcp-proxy.js";
import { Controller } from "./controller.js";
import { Informer } from "./informer.js";
import { Core, type KubeObject } from "./kube.js";
import { silentLogger } from "./logger.js";
import { Manager } from "./manager.js";
import { KubeClient } from "./rest.js";
import * as k8s from "@kubernetes/client-node";

const TIMINGS = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 300 };
const NS = "le";

let cp: ControlPlane;
let client: KubeClient;
before(async () => {
  cp = await startControlPlane({ name: "election" });
  client = new KubeClient(cp.kubeConfig);
  await client.create(Core.namespaces, { metadata: { name: NS } });
});
after(async () => cp?.stop());

type Lease = KubeObject & { spec: { holderIdentity: string; leaseTransitions?: number } };
const lease = (name: string) => client.get<Lease>(Core.leases, `${name}-leader-election`, NS);

/** A shared record of what happened, in order, across instances. */
type Timeline = string[];

function instance(id: string, timeline: Timeline, opts: { name?: string; client?: KubeClient; drainMs?: number } = {}) {
  const c = opts.client ?? client;
  const informer = new Informer<KubeObject>(c, Core.configMaps, silentLogger, { namespace: NS });
  const leading = { now: false };
  const controller = new Controller({
    name: opts.name ?? "elect", log: silentLogger, watches: [{ informer }],
    reconcile: async (key) => {
      timeline.push(`${id} reconciles ${key}${leading.now ? "" : " WHILE NOT LEADING"}`);
      if (opts.drainMs) await new Promise((r) => setTimeout(r, opts.drainMs));
      timeline.push(`${id} reconciled ${key}`);
    },
  });
  const manager = new Manager({
    name: opts.name ?? "elect", client: c, log: silentLogger, controllers: [controller],
    leaderElection: { namespace: NS, identity: id, ...TIMINGS },
    onLeadershipChange: (now) => {
      leading.now = now;
      timeline.push(`${id} ${now ? "leads" : "stops leading"}`);
    },
  });
  return { manager, informer, controller };
}

test("only the leader reconciles; a stopping leader drains its work before the other takes over", async () => {
  const timeline: Timeline = [];
  const a = instance("a", timeline, { drainMs: 1500 });
  await a.manager.start();
  await eventually(() => a.manager.isLeader, { message: "a elected" });
  const b = instance("b", timeline);
  await b.manager.start();
  try {
    await eventually(() => b.manager.observedLeader === "a", { message: "b campaigned and saw a holding the lease" });
    assert.equal(b.informer.relists, 0, "the follower has not even listed: its controllers never started");
    await client.create(Core.configMaps, { metadata: { name: "first", namespace: NS } });
    await eventually(() => timeline.includes("a reconciles le/first"), { message: "leader reconciles" });

    // a stops mid-reconcile: it finishes that reconcile, then releases the lease, and only then does b lead.
    await a.manager.stop();
    assert.ok(timeline.includes("a reconciled le/first"), `stop() returned after the reconcile finished: ${timeline.join("; ")}`);
    await eventually(() => b.manager.isLeader, { timeoutMs: 20_000, message: "b took over" });
    await client.create(Core.configMaps, { metadata: { name: "second", namespace: NS } });
    await eventually(() => timeline.includes("b reconciled le/second"), { message: "new leader reconciled" });
    assert.equal((await lease("elect")).spec.holderIdentity, "b");

    const order = (s: string) => timeline.indexOf(s);
    assert.ok(order("a reconciled le/first") < order("b leads"), `a drained before b led: ${timeline.join("; ")}`);
    assert.deepEqual(timeline.filter((l) => l.includes("WHILE NOT LEADING")), [], "nobody reconciled without leading");
    assert.ok(!timeline.some((l) => l.startsWith("b reconcil") && order(l) < order("b leads")), "b reconciled nothing before leading");
  } finally {
    await a.manager.stop();
    await b.manager.stop();
  }
});

test("a leader that sees another holder on the lease stops reconciling; the informers it shares keep watching", async () => {
  const timeline: Timeline = [];
  const c = instance("c", timeline, { name: "intruded" });
  await c.manager.start();
  await eventually(() => c.manager.isLeader, { message: "c elected" });
  try {
    // c renews every 300 ms: a replace of an older version is refused (409), so read and write again until one lands.
    await eventually(async () => {
      const l = await lease("intruded");
      await client.replace(Core.leases, { ...l, spec: { ...l.spec, holderIdentity: "intruder", renewTime: new Date().toISOString().replace("Z", "000Z") } });
      return true;
    }, { message: "the intruder took the lease" });
    await eventually(() => !c.manager.isLeader, { timeoutMs: 20_000, message: "c gave up leadership" });
    await eventually(() => timeline.includes("c stops leading"), { message: "c's controllers were told" });
    c.controller.queue.add(`${NS}/late`);
    assert.equal(c.controller.queue.depth, 0, "its work queue takes no more work");
    assert.equal((await lease("intruded")).spec.holderIdentity, "intruder", "and it did not grab the lease back");

    // The informer is the process's cache, not the controller's: a change made after the loss still reaches it.
    const watches = c.informer.watches;
    await client.create(Core.configMaps, { metadata: { name: "after-loss", namespace: NS } });
    await eventually(() => c.informer.get(`${NS}/after-loss`) !== undefined, { message: "the cache saw a ConfigMap created after leadership was lost" });
    c.informer.forceWatchRestart();
    await eventually(() => c.informer.watches > watches, { message: "the informer resumes its watch after losing leadership" });
    await client.delete(Core.configMaps, "after-loss", NS);
    await eventually(() => c.informer.get(`${NS}/after-loss`) === undefined, { message: "the cache saw the delete on the resumed watch" });
    assert.ok(!timeline.some((t) => t.includes("after-loss")), `nothing was reconciled after the loss: ${timeline.join("; ")}`);
  } finally {
    await c.manager.stop();
  }
});

test("a leader whose API calls hang stops leading before another can take over", async () => {
  const timeline: Timeline = [];
  const server = new URL(cp.server);
  const proxy = await startTcpProxy({ host: server.hostname, port: Number(server.port) });
  const viaProxy = new KubeClient(kubeConfigFor(cp.kubeConfig, `https://127.0.0.1:${proxy.port}`));
  const h = instance("hung", timeline, { name: "hang", client: viaProxy });
  const w = instance("waiting", timeline, { name: "hang" });
  try {
    await h.manager.start();
    await eventually(() => h.manager.isLeader, { message: "hung elected" });
    await w.manager.start();
    await eventually(() => w.manager.observedLeader === "hung", { message: "waiting saw the leader" });
    proxy.freeze();
    await eventually(() => w.manager.isLeader, { timeoutMs: 30_000, message: "waiting took over" });
    const order = (s: string) => timeline.indexOf(s);
    assert.ok(order("hung stops leading") >= 0 && order("hung stops leading") < order("waiting leads"),
      `the hung leader stopped before the other led: ${timeline.join("; ")}`);
    h.controller.queue.add(`${NS}/late`);
    assert.equal(h.controller.queue.depth, 0, "the hung leader's queue takes no more work");
  } finally {
    await proxy.close();
    await h.manager.stop();
    await w.manager.stop();
  }
});

test("a leader that crashes (lease never released) is replaced when the lease runs out", async () => {
  const timeline: Timeline = [];
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(new URL("../../e2e/harness/leader-child.ts", import.meta.url)),
    cp.kubeconfigPath, NS, "crasher", String(TIMINGS.leaseDurationMs), String(TIMINGS.renewDeadlineMs), String(TIMINGS.retryPeriodMs)],
  { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise((r) => child.once("exit", r));
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on("line", (l) => lines.push(l));
  const s = instance("successor", timeline);
  try {
    await eventually(() => lines.includes("leading"), { timeoutMs: 60_000, message: () => `the child leads: ${lines.join("; ")}` });
    await s.manager.start();
    await eventually(() => s.manager.observedLeader === "crasher", { message: "successor saw the crasher leading" });
    const before = await lease("elect");
    child.kill("SIGKILL");
    await exited;
    assert.equal((await lease("elect")).spec.holderIdentity, "crasher", "a crash leaves the lease held");
    await eventually(() => s.manager.isLeader, { timeoutMs: 30_000, message: "successor took over" });
    const after = await lease("elect");
    assert.equal(after.spec.holderIdentity, "successor");
    assert.equal(after.spec.leaseTransitions, (before.spec.leaseTransitions ?? 0) + 1);
    await client.create(Core.configMaps, { metadata: { name: "after-crash", namespace: NS } });
    await eventually(() => timeline.includes("successor reconciled le/after-crash"), { message: "successor reconciles" });
  } finally {
    child.kill("SIGKILL");
    await s.manager.stop();
  }
});

function kubeConfigFor(kc: k8s.KubeConfig, server: string): k8s.KubeConfig {
  const copy = new k8s.KubeConfig();
  copy.loadFromString(kc.exportConfig());
  const cluster = copy.getCurrentCluster()!;
  copy.clusters = copy.clusters.map((c) => (c.name === cluster.name ? { ...c, server } : c));
  return copy;
}
