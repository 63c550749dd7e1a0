// krbkeys' liveness (/healthz, the chart's livenessProbe): alive while idle (its watches end at their server-side
// timeout and resume, which is progress), failing while a reconcile does not return — here kadmind stops answering on
// a connection that stays open, so the kadmin call hangs — and alive again once the reconcile ends. A real MIT KDC
// with kadmind behind a freezable proxy, and a real API server.
import assert from "node:assert/strict";
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { startControlPlane, type ControlPlane } from "../../e2e/harness/control-plane.js";
import { eventually } from "../../e2e/harness/eventually.js";
import { startKdc, type Kdc } from "../../e2e/harness/kdc.js";
import { startTcpProxy, type TcpProxy } from "../../e2e/harness/tcp-proxy.js";
import { silentLogger } from "../runtime/logger.js";
import { KrbKeysOperator } from "./krbkeys.js";

const crdFile = fileURLToPath(new URL("../../crds/factoryplus.app.amrc.co.uk_kerberos-keys.yaml", import.meta.url));
const NS = "edge";
const STALL_AFTER_MS = 5_000;
const WATCH_TIMEOUT_S = 2;

describe("krbkeys liveness", () => {
  let kdc: Kdc;
  let cp: ControlPlane;
  let kadmind: TcpProxy;
  let operator: KrbKeysOperator | undefined;
  let dir: string;

  before(async () => {
    [kdc, cp] = await Promise.all([startKdc(), startControlPlane({ name: "krbkeys-liveness" })]);
    dir = mkdtempSync(join(tmpdir(), "graft-krbkeys-liveness-"));
    const principal = `op1krbkeys/live@${kdc.realm}`;
    appendFileSync(join(kdc.dir, "kadm5.acl"), `${principal} acim\n`);
    await kdc.stopServers("kadmind");
    await kdc.startServers();
    await kdc.kadminLocal(`addprinc -randkey ${principal}`);
    await kdc.kadminLocal(`ktadd -k ${join(dir, "operator.keytab")} ${principal}`);
    await cp.installCrds([crdFile]);
    assert.equal((await cp.kubectl(["create", "namespace", NS])).code, 0);
    kadmind = await startTcpProxy({ host: "127.0.0.1", port: kdc.kadminPort });
    operator = new KrbKeysOperator({
      kubeConfig: cp.kubeConfig, realm: kdc.realm, principal, keytab: join(dir, "operator.keytab"),
      env: { KRB5_CONFIG: kdc.krb5ConfPath }, adminServer: `127.0.0.1:${kadmind.port}`, namespace: NS, log: silentLogger,
      ops: { host: "127.0.0.1", port: 0 }, kdcTimeoutMs: 120_000, minRetryMs: 200, maxRetryMs: 1_000,
      stallAfterMs: STALL_AFTER_MS, watchTimeoutSeconds: WATCH_TIMEOUT_S,
    });
    await operator.start();
  });
  after(async () => {
    await kadmind?.close(); // a kadmin call hanging on the frozen proxy fails now, so the operator can stop
    await operator?.stop();
    await Promise.all([cp?.stop(), kdc?.stop()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const healthz = async () => {
    const r = await fetch(`http://127.0.0.1:${operator!.opsPort}/healthz`);
    return { status: r.status, body: await r.text() };
  };

  it("is alive while idle, fails while a reconcile hangs on kadmind, and recovers when it returns", async () => {
    // Idle for longer than the stall window: the watches ended and resumed meanwhile, which counts as progress.
    const keys = operator!.reconciler.keys;
    const firstWatches = keys.watches;
    await eventually(() => keys.watches >= firstWatches + Math.ceil(STALL_AFTER_MS / 1000 / WATCH_TIMEOUT_S) + 1,
      { timeoutMs: 60_000, intervalMs: 200, message: "the idle KerberosKey watch resumed several times" });
    assert.deepEqual(operator!.reconciler.controller.stuckReasons(STALL_AFTER_MS), []);
    assert.deepEqual(await healthz(), { status: 200, body: "ok\n" });

    // kadmind stops answering; a new KerberosKey's reconcile waits on it.
    kadmind.freeze();
    const key = { apiVersion: "factoryplus.app.amrc.co.uk/v1", kind: "KerberosKey", metadata: { name: "op1sync", namespace: NS },
      spec: { type: "Password", principal: `op1sync/live@${kdc.realm}`, secret: "edge-sync-credentials/password" } };
    assert.equal((await cp.kubectl(["apply", "-f", "-"], { input: JSON.stringify(key) })).code, 0);
    const stuck = await eventually(async () => {
      const h = await healthz();
      return h.status === 503 && h;
    }, { timeoutMs: 60_000, intervalMs: 250, message: "/healthz fails while the reconcile hangs" });
    assert.equal(stuck.body, "not ok: controller\n");
    assert.match(operator!.reconciler.controller.stuckReasons(STALL_AFTER_MS).join("; "), /the reconcile of "edge\/op1sync" has run for \d+ s/);

    // The connection is cut: the kadmin call fails, the reconcile returns (to be retried), and krbkeys is alive again.
    await kadmind.close();
    await eventually(async () => (await healthz()).status === 200, { timeoutMs: 60_000, intervalMs: 250, message: "/healthz recovers" });
  });
});
