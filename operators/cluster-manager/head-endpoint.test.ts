// The head watch edge-sync holds (head-endpoint.ts) against a real API server and manager: only the cluster's own
// token, an unchanged head is held until a values change commits, the commit the answer names is the EdgeCluster's,
// and at the cap (half of --max-connections) a request is told to come back instead of being held.
import { test } from "node:test";
import assert from "node:assert/strict";
import { eventually } from "../../e2e/harness/eventually.js";
import { EdgeClusterType, type EdgeCluster } from "../api/edgecluster.js";
import { managerForFile, provisionCluster } from "../../e2e/support/cluster-manager/fixtures.js";
import { HEAD_RETRY_AFTER_S } from "./head-endpoint.js";

const NS = "edge-head";
// maxConnections 6: at most 3 held watches.
const f = await managerForFile("head", NS, {}, undefined, { maxConnections: 6 });
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

test("at the cap a watch is told to come back later (Retry-After); a client that goes away frees its place", async () => {
  const current = (await ec("head-b")).status!.commit!;
  const clients = [new AbortController(), new AbortController(), new AbortController()];
  const pending = clients.map((c) => head(b.uuid, b.token, current, c.signal).catch(() => undefined));
  await eventually(async () => (await held()) === 3, { message: "three watches held" });
  const refused = await head(b.uuid, b.token, current);
  assert.equal(refused.status, 503, await refused.text());
  assert.equal(refused.headers.get("retry-after"), String(HEAD_RETRY_AFTER_S));

  clients[0]!.abort();
  await eventually(async () => (await held()) === 2, { message: "the closed watch released its place" });
  const again = new AbortController();
  pending.push(head(b.uuid, b.token, current, again.signal).catch(() => undefined));
  await eventually(async () => (await held()) === 3, { message: "held again" });
  for (const c of [...clients, again]) c.abort();
  await Promise.all(pending);
  await eventually(async () => (await held()) === 0, { message: "all released" });
});
