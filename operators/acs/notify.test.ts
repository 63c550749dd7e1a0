import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { pino } from "pino";
import { App, Class } from "../api/constants.js";
import { eventually } from "../../e2e/harness/eventually.js";
import { ConfigDbClient } from "./configdb.js";
import { AcsConnection } from "./discovery.js";
import { NotifyClient, notifyUrl, type Children, type NotifyState, type SearchEvent, type WatchEvent } from "./notify.js";
import { nextEvent, startStandinFixture, type StandinFixture } from "../../e2e/acs-standin/client-fixture.js";

const APP = App.EdgeClusterConfiguration;
let fx: StandinFixture;
let cdb: ConfigDbClient;
const clients: NotifyClient[] = [];

before(async () => {
  fx = await startStandinFixture();
  cdb = new ConfigDbClient(fx.acs.service("configdb"));
});

after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await fx?.standin.stop();
});

function newNotify(states?: NotifyState[]): NotifyClient {
  const client = new NotifyClient({
    http: fx.acs.service("configdb"),
    reconnect: { minMs: 20, maxMs: 200 },
    onStateChange: (s) => states?.push(s),
  });
  clients.push(client);
  return client;
}

async function newCluster(config?: object): Promise<string> {
  const { uuid } = await cdb.createObject(Class.EdgeCluster);
  if (config) await cdb.putEntry(APP, uuid, config);
  return uuid;
}

function bodies(children: Children): Record<string, unknown> {
  return Object.fromEntries([...children].map(([k, v]) => [k, v.body]));
}

test("notifyUrl turns the service base into a ws(s) URL under notify/v2", () => {
  assert.equal(notifyUrl("http://configdb.example").href, "ws://configdb.example/notify/v2");
  assert.equal(notifyUrl("https://acs.example/configdb/").href, "wss://acs.example/configdb/notify/v2");
});

test("SEARCH delivers every child first (201), then one child update per change (200)", async () => {
  const a = await newCluster({ name: "a", namespace: "fplus-edge" });
  const b = await newCluster({ name: "b", namespace: "fplus-edge" });
  const notify = newNotify();
  const events: SearchEvent[] = [];
  notify.searchApp(APP, (e) => events.push(e));

  const snapshot = await nextEvent(events, (e) => e.type === "snapshot");
  assert.ok(snapshot.type === "snapshot");
  assert.deepEqual(bodies(snapshot.children)[a], { name: "a", namespace: "fplus-edge" });
  assert.deepEqual(bodies(snapshot.children)[b], { name: "b", namespace: "fplus-edge" });
  const etagOfA = snapshot.children.get(a)?.etag;
  assert.equal(etagOfA, (await cdb.getEntry(APP, a))?.etag, "the snapshot carries the same ETag as a GET");

  const c = await newCluster();
  await cdb.putEntry(APP, c, { name: "c", namespace: "x" });
  const created = await nextEvent(events, (e) => e.type === "child" && e.child === c);
  assert.ok(created.type === "child");
  assert.equal(created.response.status, 200);
  assert.deepEqual(created.response.body, { name: "c", namespace: "x" });
  assert.ok(created.children.has(a) && created.children.has(b) && created.children.has(c));

  await cdb.patchEntry(APP, a, { bare: true });
  const patched = await nextEvent(events, (e) => e.type === "child" && e.child === a);
  assert.ok(patched.type === "child");
  assert.deepEqual(patched.response.body, { name: "a", namespace: "fplus-edge", bare: true });
  assert.notEqual(patched.response.etag, etagOfA);

  await cdb.deleteEntry(APP, b);
  const deleted = await nextEvent(events, (e) => e.type === "child" && e.child === b);
  assert.ok(deleted.type === "child");
  assert.equal(deleted.response.status, 404);
  assert.equal(deleted.children.has(b), false, "a deleted child leaves the children map");
  assert.equal(events.filter((e) => e.type === "snapshot").length, 1);
});

test("WATCH reports the entry's absence, then its creation and changes; CLOSE stops the updates", async () => {
  const obj = await newCluster();
  const notify = newNotify();
  const events: WatchEvent[] = [];
  const sub = notify.watchEntry(APP, obj, (e) => events.push(e));

  const first = await nextEvent(events, () => true);
  assert.deepEqual(first, { type: "snapshot", response: { status: 404, etag: null } });

  await cdb.putEntry(APP, obj, { name: "w", namespace: "n" });
  const created = await nextEvent(events, (e) => e.type === "update");
  assert.ok(created.type === "update");
  assert.equal(created.response.status, 200);
  assert.deepEqual(created.response.body, { name: "w", namespace: "n" });
  assert.equal(created.response.etag, (await cdb.getEntry(APP, obj))?.etag);

  sub.close();
  const count = events.length;
  await cdb.putEntry(APP, obj, { name: "w2", namespace: "n" });
  // A second watch on the same connection, opened after the change: its snapshot arrives after anything the server
  // sent for the first one, so by then the closed subscription has had every chance to (wrongly) deliver.
  const witness: WatchEvent[] = [];
  notify.watchEntry(APP, obj, (e) => witness.push(e));
  const seen = await nextEvent(witness, (e) => e.type === "snapshot");
  assert.ok(seen.type === "snapshot");
  assert.deepEqual(seen.response.body, { name: "w2", namespace: "n" });
  assert.equal(events.length, count, "no events after close()");
});

test("a refused subscription is reported as closed and not retried", async () => {
  const notify = newNotify();
  const events: WatchEvent[] = [];
  notify.watch("v2/no/such/thing", (e) => events.push(e));
  const closed = await nextEvent(events, () => true);
  assert.deepEqual(closed, { type: "closed", status: 404 });
});

test("dropped connection: changes made while it was down are delivered after the reconnect", async () => {
  const kept = await newCluster({ name: "kept", namespace: "n" });
  const changed = await newCluster({ name: "changed", namespace: "n" });
  const removed = await newCluster({ name: "removed", namespace: "n" });
  const states: NotifyState[] = [];
  const notify = newNotify(states);
  const searchEvents: SearchEvent[] = [];
  const watchEvents: WatchEvent[] = [];
  notify.searchApp(APP, (e) => searchEvents.push(e));
  notify.watchEntry(APP, changed, (e) => watchEvents.push(e));
  const first = await nextEvent(searchEvents, (e) => e.type === "snapshot");
  await nextEvent(watchEvents, (e) => e.type === "snapshot");
  assert.ok(first.type === "snapshot");
  const seen = bodies(first.children);

  assert.ok(fx.standin.dropNotifyConnections({ refuseNew: true }) >= 1);
  await eventually(() => notify.state === "connecting");
  const fromSearch = searchEvents.length;
  const fromWatch = watchEvents.length;

  // Changes while no notify connection exists: an update, a delete and a create.
  await cdb.putEntry(APP, changed, { name: "changed", namespace: "moved" });
  await cdb.deleteEntry(APP, removed);
  const added = await newCluster({ name: "added", namespace: "n" });
  assert.equal(searchEvents.length, fromSearch, "nothing can arrive while the connection is down");

  fx.standin.allowNotifyConnections();
  const again = await nextEvent(searchEvents, (e) => e.type === "snapshot", fromSearch);
  assert.ok(again.type === "snapshot");
  const now = bodies(again.children);

  // What a consumer diffing its last state against the new snapshot finds:
  const addedKeys = Object.keys(now).filter((k) => !(k in seen));
  const removedKeys = Object.keys(seen).filter((k) => !(k in now));
  const changedKeys = Object.keys(now).filter((k) => k in seen && JSON.stringify(now[k]) !== JSON.stringify(seen[k]));
  assert.deepEqual(addedKeys, [added]);
  assert.deepEqual(removedKeys, [removed]);
  assert.deepEqual(changedKeys, [changed]);
  assert.deepEqual(now[kept], { name: "kept", namespace: "n" });

  const watched = await nextEvent(watchEvents, (e) => e.type === "snapshot", fromWatch);
  assert.ok(watched.type === "snapshot");
  assert.deepEqual(watched.response.body, { name: "changed", namespace: "moved" });
  assert.equal(notify.state, "open");
  assert.ok(states.includes("connecting") && states.at(-1) === "open");

  // And live updates flow again on the new connection.
  await cdb.patchEntry(APP, kept, { bare: true });
  const live = await nextEvent(searchEvents, (e) => e.type === "child" && e.child === kept, fromSearch);
  assert.ok(live.type === "child");
  assert.deepEqual(live.response.body, { name: "kept", namespace: "n", bare: true });
});

test("a token refused on reconnect (401 frame) makes the client log in again and resubscribe", async () => {
  const obj = await newCluster({ name: "t", namespace: "n" });
  const notify = newNotify();
  const events: WatchEvent[] = [];
  notify.watchEntry(APP, obj, (e) => events.push(e));
  await nextEvent(events, (e) => e.type === "snapshot");
  const logins = fx.standin.logins("configdb");

  fx.standin.revokeTokens("configdb");
  fx.standin.dropNotifyConnections();
  const from = events.length;
  const again = await nextEvent(events, (e) => e.type === "snapshot", from);
  assert.ok(again.type === "snapshot");
  assert.deepEqual(again.response.body, { name: "t", namespace: "n" });
  assert.ok(fx.standin.logins("configdb") > logins, "a new token was fetched");
});

test("after a ConfigDB restart (down, then every token forgotten) the client resumes at the shortest delay, not the outage's", async () => {
  const obj = await newCluster({ name: "r", namespace: "n" });
  const scheduled: Array<{ attempt: number; delayMs: number }> = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => {
    const entry = JSON.parse(line) as { msg?: string; attempt?: number; delayMs?: number };
    if (entry.msg === "notify reconnect scheduled") scheduled.push({ attempt: entry.attempt!, delayMs: entry.delayMs! });
  } });
  const minMs = 20;
  // A connection of its own: another client sharing the token would fetch a fresh one first.
  const own = new AcsConnection({
    credentials: { username: fx.standin.adminUser.username, password: fx.standin.adminUser.password },
    urls: { configdb: fx.standin.urls.configdb },
  });
  const notify = new NotifyClient({ http: own.service("configdb"), logger, reconnect: { minMs, maxMs: 60_000 } });
  clients.push(notify);
  const events: WatchEvent[] = [];
  notify.watchEntry(APP, obj, (e) => events.push(e));
  await nextEvent(events, (e) => e.type === "snapshot");

  // Down long enough for the backoff to grow well past its minimum.
  fx.standin.dropNotifyConnections({ refuseNew: true });
  await eventually(() => scheduled.length >= 7, { timeoutMs: 30_000, message: "reconnect attempts during the outage" });
  assert.ok(scheduled.at(-1)!.delayMs >= 32 * minMs, `the outage's backoff grew (${JSON.stringify(scheduled)})`);

  // Back, but with no memory of the token the client holds: the first connection is refused with 401.
  fx.standin.revokeTokens("configdb");
  const from = events.length;
  const during = scheduled.length;
  fx.standin.allowNotifyConnections();
  const again = await nextEvent(events, (e) => e.type === "snapshot", from);
  assert.ok(again.type === "snapshot");
  const afterRestart = scheduled.slice(during);
  assert.deepEqual(afterRestart.map((s) => s.attempt), [1], "one retry after the refused token, counted from the start");
  assert.ok(afterRestart[0]!.delayMs <= minMs * 1.2, `retried at the shortest delay (${afterRestart[0]!.delayMs} ms)`);
});

test("subscriptions after close() are refused", async () => {
  const notify = newNotify();
  await notify.close();
  assert.equal(notify.state, "closed");
  assert.throws(() => notify.watch(`v2/app/${APP}/object/${randomUUID()}`, () => undefined), /closed/);
});
