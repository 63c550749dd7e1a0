// notify/v2 SEARCH with a filter (acs-contract.md §10) between graft's client and the stand-in: only matching entries
// are children, an entry that starts matching arrives, one that stops matching leaves (412), a deleted one leaves
// (404), and after a reconnect the snapshot is filtered too.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { App, Class } from "../api/constants.js";
import { eventually } from "../../e2e/harness/eventually.js";
import { NotifyClient, type SearchEvent } from "./notify.js";
import { startStandinFixture, type StandinFixture } from "../../e2e/acs-standin/client-fixture.js";

const APP = App.EdgeDeployment;
let fx: StandinFixture;
let notify: NotifyClient;

before(async () => {
  fx = await startStandinFixture();
  notify = new NotifyClient({ http: fx.acs.service("configdb"), reconnect: { minMs: 20, maxMs: 200 } });
});
after(async () => {
  await notify?.close();
  await fx?.standin.stop();
});

function entryObject(value: unknown): string {
  const uuid = randomUUID();
  fx.standin.configdb.register(uuid, Class.EdgeCluster);
  assert.equal(fx.standin.configdb.put(APP, uuid, value), 201);
  return uuid;
}

test("a filtered SEARCH follows entries into and out of the filter", async () => {
  const cluster = randomUUID();
  const other = randomUUID();
  const mine = entryObject({ cluster, name: "a", chart: randomUUID() });
  const foreign = entryObject({ cluster: other, name: "b", chart: randomUUID() });
  const noCluster = entryObject({ name: "c" });
  const events: SearchEvent[] = [];
  const sub = notify.searchApp(APP, (e) => events.push(e), { filter: { cluster } });
  try {
    const snapshot = await eventually(() => events.find((e) => e.type === "snapshot"), { timeoutMs: 10_000 });
    assert.deepEqual([...snapshot.children.keys()], [mine], "only the entry for this cluster");

    const count = events.length;
    fx.standin.configdb.patch(APP, foreign, { cluster });
    const joined = await eventually(() => events.slice(count).find((e) => e.type === "child" && e.child === foreign), { timeoutMs: 10_000 });
    assert.equal(joined.type === "child" && joined.response.status, 200);
    assert.ok(joined.type === "child");
    assert.deepEqual(new Set(joined.children.keys()), new Set([mine, foreign]));

    const before412 = events.length;
    fx.standin.configdb.patch(APP, mine, { cluster: other });
    const left = await eventually(() => events.slice(before412).find((e) => e.type === "child" && e.child === mine), { timeoutMs: 10_000 });
    assert.equal(left.type === "child" && left.response.status, 412, "leaving the filter is a 412 child");
    assert.ok(left.type === "child");
    assert.deepEqual([...left.children.keys()], [foreign]);

    const beforeDelete = events.length;
    fx.standin.configdb.delete(APP, foreign);
    const gone = await eventually(() => events.slice(beforeDelete).find((e) => e.type === "child" && e.child === foreign), { timeoutMs: 10_000 });
    assert.equal(gone.type === "child" && gone.response.status, 404);
    assert.ok(gone.type === "child");
    assert.equal(gone.children.size, 0);

    // An entry outside the filter that changes is never reported.
    const beforeNoise = events.length;
    fx.standin.configdb.patch(APP, noCluster, { name: "c2" });
    fx.standin.configdb.patch(APP, mine, { cluster });
    await eventually(() => events.slice(beforeNoise).find((e) => e.type === "child" && e.child === mine), { timeoutMs: 10_000 });
    assert.ok(!events.slice(beforeNoise).some((e) => e.type === "child" && e.child === noCluster));

    const beforeDrop = events.length;
    fx.standin.dropNotifyConnections();
    const resnap = await eventually(() => events.slice(beforeDrop).find((e) => e.type === "snapshot"), { timeoutMs: 10_000 });
    assert.deepEqual([...resnap.children.keys()], [mine], "the snapshot after a reconnect is filtered too");
  } finally {
    sub.close();
  }
});

test("a null filter value matches entries without that key", async () => {
  const withHost = entryObject({ cluster: randomUUID(), name: "h", hostname: "node-1" });
  const withoutHost = entryObject({ cluster: randomUUID(), name: "n" });
  const events: SearchEvent[] = [];
  const sub = notify.searchApp(APP, (e) => events.push(e), { filter: { hostname: null } });
  try {
    const snapshot = await eventually(() => events.find((e) => e.type === "snapshot"), { timeoutMs: 10_000 });
    assert.ok(snapshot.children.has(withoutHost));
    assert.ok(!snapshot.children.has(withHost));
  } finally {
    sub.close();
  }
});
