// Two managers of the same controller: only the elected one reconciles; when it stops, the other takes over.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startControlPlane, type ControlPlane } from "../../e2e/harness/control-plane.js";
import { eventually } from "../../e2e/harness/eventually.js";
import { Controller } from "./controller.js";
import { Informer } from "./informer.js";
import { Core, type KubeObject } from "./kube.js";
import { silentLogger } from "./logger.js";
import { Manager } from "./manager.js";
import { KubeClient } from "./rest.js";

let cp: ControlPlane;
let client: KubeClient;
before(async () => {
  cp = await startControlPlane({ name: "election" });
  client = new KubeClient(cp.kubeConfig);
  await client.create(Core.namespaces, { metadata: { name: "le" } });
});
after(async () => cp?.stop());

function instance(id: string, reconciledBy: string[]) {
  const informer = new Informer<KubeObject>(client, Core.configMaps, silentLogger, { namespace: "le" });
  const controller = new Controller({
    name: "elect", log: silentLogger, watches: [{ informer }],
    reconcile: async (key) => { reconciledBy.push(`${id}:${key}`); },
  });
  return new Manager({
    name: "elect", client, log: silentLogger, controllers: [controller],
    leaderElection: { namespace: "le", identity: id, leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 300 },
  });
}

test("only the leader reconciles, and the other takes over when it stops", async () => {
  const log: string[] = [];
  const a = instance("a", log);
  await a.start();
  await eventually(() => a.isLeader, { message: "a elected" });
  const b = instance("b", log);
  await b.start();
  try {
    await client.create(Core.configMaps, { metadata: { name: "first", namespace: "le" } });
    await eventually(() => log.includes("a:le/first"), { message: "leader reconciled" });
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(b.isLeader, false);
    assert.ok(!log.some((l) => l.startsWith("b:")), "the follower reconciled nothing");

    await a.stop();
    await eventually(() => b.isLeader, { timeoutMs: 20_000, message: "b took over" });
    await client.create(Core.configMaps, { metadata: { name: "second", namespace: "le" } });
    await eventually(() => log.includes("b:le/second"), { message: "new leader reconciled" });
    const lease = await client.get<KubeObject & { spec: { holderIdentity: string } }>(Core.leases, "elect-leader-election", "le");
    assert.equal(lease.spec.holderIdentity, "b");
  } finally {
    await a.stop();
    await b.stop();
  }
});

test("a leader that cannot renew (another holder took the lease) stops reconciling", async () => {
  const log: string[] = [];
  const a = instance("c", log);
  await a.start();
  await eventually(() => a.isLeader, { message: "c elected" });
  try {
    const lease = await client.get<KubeObject & { spec: Record<string, unknown> }>(Core.leases, "elect-leader-election", "le");
    await client.replace(Core.leases, { ...lease, spec: { ...lease.spec, holderIdentity: "intruder", renewTime: new Date().toISOString().replace("Z", "000Z") } });
    await eventually(() => !a.isLeader, { timeoutMs: 20_000, message: "c gave up leadership" });
  } finally {
    await a.stop();
  }
});
