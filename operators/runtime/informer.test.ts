// The informer under watch faults: a failed or at-once-closed watch is retried after a capped, doubling delay (and
// relisted), never in a hot loop; against a real API server an outage is ridden out the same way and nothing is
// missed. The faults a real API server will not produce on demand come from a stand-in (e2e/harness).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startControlPlane, type ControlPlane } from "../../e2e/harness/control-plane.js";
import { eventually } from "../../e2e/harness/eventually.js";
import { startFailingWatchServer, type WatchFault } from "../../e2e/harness/failing-watch-server.js";
import { Informer } from "./informer.js";
import { Core, type KubeObject } from "./kube.js";
import { silentLogger } from "./logger.js";
import { KubeClient } from "./rest.js";

const MIN = 20;
const MAX = 160;

for (const fault of ["http-500", "error-event", "closed-at-once"] satisfies WatchFault[]) {
  test(`a watch failing with ${fault} is retried with capped, doubling delays and relists`, async () => {
    const stub = await startFailingWatchServer(fault);
    const informer = new Informer<KubeObject>(new KubeClient(stub.kubeConfig), Core.configMaps, silentLogger,
      { namespace: "x", minRetryMs: MIN, maxRetryMs: MAX });
    try {
      informer.start();
      await informer.waitForSync();
      await eventually(() => informer.backoffs.length >= 7, { message: () => `backoffs ${JSON.stringify(informer.backoffs)}, stub saw ${JSON.stringify(stub.counts)}` });
    } finally {
      await informer.stop();
      await stub.close();
    }
    const waited = informer.backoffs.length;
    // Every watch after the first followed a wait: none was reopened at once.
    assert.ok(stub.counts.watches <= waited + 1, `${stub.counts.watches} watches for ${waited} waits`);
    informer.backoffs.slice(0, 7).forEach((delay, i) => {
      const base = Math.min(MAX, MIN * 2 ** i);
      assert.ok(delay >= base && delay <= Math.min(MAX, base * 1.2), `delay ${i + 1} is ${delay} ms, expected ${base}–${Math.min(MAX, base * 1.2)}`);
    });
    assert.ok(stub.counts.lists >= 2, `relisted after repeated failures (lists: ${stub.counts.lists})`);
  });
}

let cp: ControlPlane;
let client: KubeClient;
before(async () => {
  cp = await startControlPlane({ name: "informer" });
  client = new KubeClient(cp.kubeConfig);
  await client.create(Core.namespaces, { metadata: { name: "inf" } });
});
after(async () => cp?.stop());

test("an API server outage is ridden out with growing delays, and what changed meanwhile is seen after it", async () => {
  const informer = new Informer<KubeObject>(client, Core.configMaps, silentLogger, { namespace: "inf", minRetryMs: 50, maxRetryMs: 400 });
  informer.start();
  try {
    await informer.waitForSync();
    await client.create(Core.configMaps, { metadata: { name: "before", namespace: "inf" } });
    await eventually(() => informer.get("inf/before"), { message: "informer sees objects" });
    const relists = informer.relists;
    await cp.stopApiServer();
    await eventually(() => informer.backoffs.length >= 4, { message: () => `backoffs during the outage: ${JSON.stringify(informer.backoffs)}` });
    const outage = informer.backoffs.slice(0, 4);
    assert.ok(outage.every((d, i) => i === 0 || d >= outage[i - 1]! || d === 400 || outage[i - 1]! > 400 / 1.2), `delays grow: ${outage}`);
    assert.ok(outage[3]! >= 400, `the fourth delay reached the cap: ${outage}`);
    await cp.startApiServer();
    await client.create(Core.configMaps, { metadata: { name: "after", namespace: "inf" } });
    await client.delete(Core.configMaps, "before", "inf");
    await eventually(() => informer.get("inf/after") && !informer.get("inf/before"), { timeoutMs: 60_000, message: "changes after the outage seen" });
    assert.ok(informer.relists > relists, "relisted after the outage");
  } finally {
    await informer.stop();
  }
});

test("cached objects come without managedFields (listed or watched) unless the informer is asked to keep them", async () => {
  await client.create(Core.configMaps, { metadata: { name: "listed", namespace: "inf" }, data: { a: "1" } });
  const trimmed = new Informer<KubeObject>(client, Core.configMaps, silentLogger, { namespace: "inf" });
  const kept = new Informer<KubeObject>(client, Core.configMaps, silentLogger, { namespace: "inf", keepManagedFields: true });
  const seen: KubeObject[] = [];
  trimmed.on((_event, obj) => seen.push(obj));
  try {
    trimmed.start();
    kept.start();
    await Promise.all([trimmed.waitForSync(), kept.waitForSync()]);
    await client.create(Core.configMaps, { metadata: { name: "watched", namespace: "inf" }, data: { b: "2" } });
    await eventually(() => trimmed.get("inf/watched") && kept.get("inf/watched"), { message: "both informers see the new object" });
    for (const name of ["inf/listed", "inf/watched"]) {
      assert.equal(trimmed.get(name)!.metadata.managedFields, undefined, `${name}: no managedFields in the cache`);
      assert.ok(Array.isArray(kept.get(name)!.metadata.managedFields), `${name}: kept when asked`);
      assert.equal(trimmed.get(name)!.metadata.resourceVersion, kept.get(name)!.metadata.resourceVersion);
      assert.deepEqual(trimmed.get(name)!.data, kept.get(name)!.data, "the rest of the object is whole");
    }
    assert.ok(seen.length >= 2 && seen.every((o) => o.metadata.managedFields === undefined), "handlers get the trimmed objects");
  } finally {
    await trimmed.stop();
    await kept.stop();
  }
});
