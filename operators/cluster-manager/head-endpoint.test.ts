// The head watch edge-sync holds (head-endpoint.ts) against a real API server and manager: only the cluster's own
// token, an unchanged head is held until a values change commits, the commit the answer names is the EdgeCluster's,
// and at the caps (4 per cluster, half of --max-connections in all) a request is told to come back instead of held.
import { test } from "node:test";
import assert from "node:assert/strict";
import { eventually } from "../../e2e/harness/eventually.js";
import { EdgeClusterType, type EdgeCluster } from "../api/edgecluster.js";
import { managerForFile, provisionCluster } from "../../e2e/support/cluster-manager/fixtures.js";
import { HEAD_RETRY_AFTER_S } from "./head-endpoint.js";

const NS = "edge-head";
// maxConnections 12: at most 6 held watches (and 4 per cluster).
const f = await managerForFile("head", NS, {}, undefined, { maxConnections: 12 });
const provision = async (name: string) => {
  const { uuid, creds } = await provisionCluster(f, name, NS);
  return { uuid, token: creds.syncToken };
};
const a = await provision("head-a");
const b = await provision("head-b");

const ec = (name: string) => f.manager.client.get<EdgeCluster>(EdgeClusterType, name, NS);
const head = (uuid: string, token: string | undefined, after?: string, signal?: AbortSignal) =>
  fetch(`${f.externalUrl}/v1/cluster/${uuid}/head${after === undefined ? "" : `?after=${after}`}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {}, signal,
  });
const held = async () => {
  const metric = await f.manager.metrics.registry.getSingleMetric("graft_head_watches_held")!.get();
  return metric.values[0]?.value ?? 0;
};
const values = async (name: string, v: unknown) =>
  assert.equal((await f.cp.kubectl(["patch", "ec", "-n", NS, name, "--type=merge", "-p", JSON.stringify({ spec: { values: v } })])).code, 0);

test("only the cluster's own edge-sync token may watch its head; without `after` the head is answered at once", async () => {
  assert.equal((await head(a.uuid, undefined)).status, 401);
  assert.equal((await head(a.uuid, "not-a-token")).status, 401);
  const foreign = await head(a.uuid, b.token);
  assert.equal(foreign.status, 403, await foreign.text());
  assert.equal((await head(a.uuid, a.token, "nonsense")).status, 400);
  const now = await head(a.uuid, a.token);
  assert.equal(now.status, 200);
  assert.equal(now.headers.get("cache-control"), "no-store");
  assert.deepEqual(await now.json(), { commit: (await ec("head-a")).status!.commit });
  const stale = await head(a.uuid, a.token, "0".repeat(40));
  assert.deepEqual(await stale.json(), { commit: (await ec("head-a")).status!.commit }, "a head other than `after` is answered at once");
});

test("an unchanged head is held until a values change commits; the answer is the new commit", async () => {
  const before = (await ec("head-a")).status!.commit!;
  let answered = false;
  const waiting = head(a.uuid, a.token, before).then(async (r) => {
    answered = true;
    return { status: r.status, body: (await r.json()) as { commit?: string } };
  });
  await eventually(async () => (await held()) === 1, { message: "the watch is held" });
  assert.equal(answered, false, "nothing moved: no answer yet");
  await values("head-a", { logLevel: "debug" });
  const { status, body } = await waiting;
  assert.equal(status, 200);
  const after = (await ec("head-a")).status!.commit!;
  assert.notEqual(after, before);
  assert.deepEqual(body, { commit: after });
  await eventually(async () => (await held()) === 0, { message: "the answered watch is no longer counted" });
});

test("at the caps a watch is told to come back later (Retry-After): 4 per cluster, half the listener in all; a client that goes away frees its place", async () => {
  const [commitA, commitB] = [(await ec("head-a")).status!.commit!, (await ec("head-b")).status!.commit!];
  const clients: AbortController[] = [];
  const pending: Array<Promise<unknown>> = [];
  const hold = (uuid: string, token: string, commit: string) => {
    const c = new AbortController();
    clients.push(c);
    pending.push(head(uuid, token, commit, c.signal).catch(() => undefined));
  };
  for (let i = 0; i < 4; i++) hold(b.uuid, b.token, commitB);
  await eventually(async () => (await held()) === 4, { message: "four watches of one cluster held" });
  const perCluster = await head(b.uuid, b.token, commitB);
  assert.equal(perCluster.status, 503);
  assert.match(await perCluster.text(), /this cluster holds 4 head watches already/);
  assert.equal(perCluster.headers.get("retry-after"), String(HEAD_RETRY_AFTER_S));

  for (let i = 0; i < 2; i++) hold(a.uuid, a.token, commitA);
  await eventually(async () => (await held()) === 6, { message: "six watches held" });
  const refused = await head(a.uuid, a.token, commitA);
  assert.equal(refused.status, 503);
  assert.match(await refused.text(), /too many head watches held/);

  clients[0]!.abort();
  await eventually(async () => (await held()) === 5, { message: "the closed watch released its place" });
  hold(a.uuid, a.token, commitA);
  await eventually(async () => (await held()) === 6, { message: "held again" });
  for (const c of clients) c.abort();
  await Promise.all(pending);
  await eventually(async () => (await held()) === 0, { message: "all released" });
});
