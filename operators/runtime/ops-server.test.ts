import { test } from "node:test";
import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { parseAddr, startOpsServer } from "./ops-server.js";

test("listen addresses: all interfaces, a host, an IPv6 host; a bad port is refused naming the address", () => {
  assert.deepEqual(parseAddr(":8080"), { host: "0.0.0.0", port: 8080 });
  assert.deepEqual(parseAddr("127.0.0.1:0"), { host: "127.0.0.1", port: 0 });
  assert.deepEqual(parseAddr("[::1]:9000"), { host: "::1", port: 9000 });
  assert.throws(() => parseAddr("x:99999"), /invalid address "x:99999"/);
});

test("readiness names the failing check; a metrics-only listener serves no health paths", async (t) => {
  let ready = false;
  const registry = new Registry();
  const health = await startOpsServer({ host: "127.0.0.1", port: 0, readiness: { "broker session": () => ready } });
  const metrics = await startOpsServer({ host: "127.0.0.1", port: 0, registry, health: false });
  t.after(async () => { await health.close(); await metrics.close(); });
  const get = (port: number, path: string) => fetch(`http://127.0.0.1:${port}${path}`).then(async (r) => [r.status, await r.text()]);
  assert.deepEqual(await get(health.port, "/readyz"), [503, "not ok: broker session\n"]);
  ready = true;
  assert.deepEqual(await get(health.port, "/readyz"), [200, "ok\n"]);
  assert.deepEqual(await get(health.port, "/healthz"), [200, "ok\n"]);
  assert.equal((await get(health.port, "/metrics"))[0], 404);
  assert.equal((await get(metrics.port, "/metrics"))[0], 200);
  assert.equal((await get(metrics.port, "/readyz"))[0], 404);
});
