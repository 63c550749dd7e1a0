// The controller runtime against a real API server: events reach the reconciler, work survives an API server restart
// and a forced watch expiry, a key is never reconciled twice at once, and failures are retried with backoff.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { ControlPlane } from "../../e2e/harness/control-plane.js";
import { eventually } from "../../e2e/harness/eventually.js";
import { Controller, type UpdatePredicate } from "./controller.js";
import { StallingError } from "./errors.js";
import { Informer } from "./informer.js";
import { Core, splitKey, type KubeObject } from "./kube.js";
import { silentLogger } from "./logger.js";
import { ControllerMetrics } from "./metrics.js";
import type { KubeClient } from "./rest.js";
import { startApiServer } from "../../e2e/support/api-server.js";

let cp: ControlPlane;
let client: KubeClient;
before(async () => {
  ({ cp, client } = await startApiServer({ name: "runtime", namespace: "rt" }));
});
after(async () => cp?.stop());

interface ConfigMap extends KubeObject { data?: Record<string, string> }

function harness(reconcile: (key: string) => Promise<void | { requeueAfterMs?: number }>,
  opts: { minRetryMs?: number; predicate?: UpdatePredicate; stallRetryMs?: number } = {}) {
  const informer = new Informer<ConfigMap>(client, Core.configMaps, silentLogger, { namespace: "rt", minRetryMs: 100, maxRetryMs: 1000 });
  const metrics = new ControllerMetrics();
  const controller = new Controller({
    name: "test", log: silentLogger, metrics, watches: [{ informer: informer as unknown as Informer<KubeObject>, predicate: opts.predicate }],
    stallRetryMs: opts.stallRetryMs,
    reconcile: async (key) => (await reconcile(key)) ?? undefined,
    concurrency: 4, minRetryMs: opts.minRetryMs ?? 50, maxRetryMs: 400,
  });
  return { informer, controller, metrics };
}

/** Runs the body with the controller started, and stops it (and its informers) whatever the body does. */
async function whileRunning(controller: Controller, body: () => Promise<void>): Promise<void> {
  await controller.start();
  try {
    await body();
  } finally {
    await controller.stop();
    await controller.stopInformers();
  }
}

const cm = (name: string, value: string): ConfigMap => ({ metadata: { name, namespace: "rt" }, data: { value } });

test("the reconciler sees create, update and delete; a restart of the API server and a forced watch expiry lose nothing", async () => {
  const seen = new Map<string, string | null>();
  const { controller, informer } = harness(async (key) => {
    const { name, namespace } = splitKey(key);
    const obj = await client.getOrNull<ConfigMap>(Core.configMaps, name, namespace);
    seen.set(name, obj ? obj.data?.value ?? "" : null);
  });
  await whileRunning(controller, async () => {
    await client.create(Core.configMaps, cm("one", "1"));
    await eventually(() => seen.get("one") === "1", { message: "create seen" });
    await client.patch(Core.configMaps, "one", "rt", { data: { value: "2" } });
    await eventually(() => seen.get("one") === "2", { message: "update seen" });
    await client.delete(Core.configMaps, "one", "rt");
    await eventually(() => seen.get("one") === null, { message: "delete seen" });

    await cp.stopApiServer();
    await cp.startApiServer();
    await client.create(Core.configMaps, cm("after-restart", "x"));
    await eventually(() => seen.get("after-restart") === "x", { timeoutMs: 60_000, message: "event after API server restart seen" });

    const relists = informer.relists;
    informer.forceWatchRestart(true);
    await eventually(() => informer.relists > relists, { message: "410 Gone leads to a relist" });
    await client.create(Core.configMaps, cm("after-expiry", "y"));
    await eventually(() => seen.get("after-expiry") === "y", { message: "event after watch expiry seen" });
  });
});

test("changes during a reconcile of a key never run it concurrently, and the last state is reconciled", async () => {
  let active = 0;
  let maxActive = 0;
  let last = "";
  const { controller } = harness(async (key) => {
    if (!key.endsWith("/serial")) return;
    active++;
    maxActive = Math.max(maxActive, active);
    await new Promise((r) => setTimeout(r, 100));
    last = (await client.getOrNull<ConfigMap>(Core.configMaps, "serial", "rt"))?.data?.value ?? "";
    active--;
  });
  await whileRunning(controller, async () => {
    await client.create(Core.configMaps, cm("serial", "0"));
    for (let i = 1; i <= 10; i++) await client.patch(Core.configMaps, "serial", "rt", { data: { value: String(i) } });
    await eventually(() => last === "10" && active === 0, { message: "final value reconciled" });
    assert.equal(maxActive, 1, "one key is never reconciled by two workers at once");
  });
});

test("failures are retried with growing delays until the reconcile succeeds", async () => {
  const attempts: number[] = [];
  const { controller, metrics } = harness(async (key) => {
    if (!key.endsWith("/flaky")) return;
    attempts.push(Date.now());
    if (attempts.length < 4) throw new Error("transient failure");
  }, { minRetryMs: 50 });
  const delays: number[] = [];
  const chooseDelay = controller.queue.addRateLimited.bind(controller.queue);
  controller.queue.addRateLimited = (key) => {
    const d = chooseDelay(key);
    delays.push(d);
    return d;
  };
  await whileRunning(controller, async () => {
    await client.create(Core.configMaps, cm("flaky", "v"));
    await eventually(() => attempts.length >= 4, { message: "retried until success" });
    assert.equal(delays.length, 3);
    assert.ok(delays[0]! < delays[1]! && delays[1]! < delays[2]!, `backoff grows: ${delays.join(", ")} ms`);
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    gaps.forEach((g, i) => assert.ok(g >= delays[i]! - 5, `retry ${i + 1} waited its backoff (${g} ms >= ${delays[i]} ms)`));
    const errors = await metrics.registry.getSingleMetricAsString("graft_reconcile_errors_total");
    assert.match(errors, /graft_reconcile_errors_total\{controller="test"\} 3/);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(attempts.length, 4, "no retry after success");
  });
});

test("a watch's predicate keeps the updates it rejects out of the queue", async () => {
  const calls: string[] = [];
  const { controller, informer } = harness(async (key) => {
    if (key.endsWith("/filtered")) calls.push((await client.getOrNull<ConfigMap>(Core.configMaps, "filtered", "rt"))?.data?.value ?? "");
  }, { predicate: (obj, old) => (obj as ConfigMap).data?.value !== (old as ConfigMap).data?.value });
  await whileRunning(controller, async () => {
    await client.create(Core.configMaps, cm("filtered", "1"));
    await eventually(() => calls.length === 1, { message: "create reconciled" });
    const labelled = await client.patch<ConfigMap>(Core.configMaps, "filtered", "rt", { metadata: { labels: { only: "metadata" } } });
    await eventually(() => informer.get("rt/filtered")?.metadata.resourceVersion === labelled.metadata.resourceVersion, { message: "label change seen" });
    await client.patch(Core.configMaps, "filtered", "rt", { data: { value: "2" } });
    await eventually(() => calls.includes("2"), { message: "value change reconciled" });
    assert.deepEqual(calls, ["1", "2"], "the label-only update was not reconciled");
  });
});

test("a stalled key is requeued once after the stall retry interval, never with backoff", async () => {
  let attempts = 0;
  const { controller } = harness(async (key) => {
    if (!key.endsWith("/stuck")) return;
    attempts++;
    throw new StallingError("InvalidSpec", "only a spec change can fix this");
  }, { stallRetryMs: 3_600_000 });
  const backoffs: string[] = [];
  const delayed: Array<[string, number]> = [];
  const addAfter = controller.queue.addAfter.bind(controller.queue);
  controller.queue.addRateLimited = (key) => {
    backoffs.push(key);
    return 0;
  };
  controller.queue.addAfter = (key, ms) => {
    delayed.push([key, ms]);
    addAfter(key, ms);
  };
  await whileRunning(controller, async () => {
    await client.create(Core.configMaps, cm("stuck", "v"));
    await eventually(() => delayed.some(([k]) => k.endsWith("/stuck")), { message: "stall handled" });
    assert.equal(attempts, 1);
    assert.deepEqual(delayed.filter(([k]) => k.endsWith("/stuck")), [["rt/stuck", 3_600_000]]);
    assert.deepEqual(backoffs.filter((k) => k.endsWith("/stuck")), [], "no backoff retry");
  });
});
