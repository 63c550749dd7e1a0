// The monitor's liveness (/healthz): a born session, and a broker that is down and retried, are alive; a connect
// loop that stopped moving — here the bdSeq ConfigMap's API server stops answering on a connection that stays open
// — fails the probe, so the kubelet restarts it. Real Mosquitto and a real API server behind a freezable proxy.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import * as k8s from "@kubernetes/client-node";
import { startControlPlane, type ControlPlane } from "../../e2e/harness/control-plane.js";
import { eventually } from "../../e2e/harness/eventually.js";
import { startMosquitto, type Mosquitto } from "../../e2e/harness/mosquitto.js";
import { startTcpProxy, type TcpProxy } from "../../e2e/harness/tcp-proxy.js";
import { resolveMonitorConfig } from "./config.js";
import { ConfigMapBdSeqStore } from "./configmap-bdseq-store.js";
import { EdgeMonitor } from "./edge-monitor.js";
import { startMonitorEndpoints } from "./main.js";
import { KubeClient } from "../runtime/rest.js";

describe("edge monitor liveness", () => {
  let cp: ControlPlane;
  let broker: Mosquitto;
  let proxy: TcpProxy;

  before(async () => {
    [cp, broker] = await Promise.all([startControlPlane({ name: "monitor-liveness" }), startMosquitto()]);
    const u = new URL(cp.server);
    proxy = await startTcpProxy({ host: u.hostname, port: Number(u.port) });
  });
  after(async () => {
    await proxy?.close();
    await broker?.dispose();
    await cp?.stop();
  });

  it("is alive while born and while retrying a broker that is down; stuck once the bdSeq store never answers", async (t) => {
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    kc.loadFromOptions({ clusters: kc.clusters.map((c) => ({ ...c, server: `https://127.0.0.1:${proxy.port}` })), users: kc.users, contexts: kc.contexts, currentContext: kc.currentContext });
    const store = new ConfigMapBdSeqStore({ client: new KubeClient(kc), namespace: "default", name: `bdseq-${randomBytes(3).toString("hex")}` });
    const config = resolveMonitorConfig({
      clusterUuid: "6d1f3b5a-7c9e-4b2d-8f0a-1c3e5a7b9d2f", sparkplugGroup: `live-${randomBytes(3).toString("hex")}`, mqttUrl: broker.url,
      bdseqStore: "memory", minRetryDelay: "50ms", maxRetryDelay: "300ms", stallAfter: "3s", healthAddr: "127.0.0.1:0", metricsAddr: "127.0.0.1:0",
    }, {});
    const monitor = new EdgeMonitor({ config, bdSeqStore: store });
    const endpoints = await startMonitorEndpoints(config, monitor);
    t.after(async () => {
      await proxy.close(); // a request hanging on the frozen proxy fails now, so the monitor can stop
      await monitor.stop();
      await endpoints.close();
    });
    const healthz = async () => (await fetch(`http://127.0.0.1:${endpoints.healthPort}/healthz`)).status;
    await monitor.start();
    await eventually(() => monitor.isReady(), { message: "born" });
    assert.equal(await healthz(), 200);

    await broker.stop();
    await eventually(async () => /graft_monitor_reconnects_total [3-9]/.test(await monitor.metrics.registry.metrics()), { message: "retrying" });
    assert.equal(monitor.stuckReason(Date.now() + 2_000), undefined, "a refused connection is progress");
    assert.equal(await healthz(), 200);
    await broker.start();
    await eventually(() => monitor.isReady(), { message: "born again" });

    // The API server stops answering; the next session needs a new bdSeq from it.
    proxy.freeze();
    await broker.stop();
    const reason = await eventually(() => monitor.stuckReason(), { timeoutMs: 30_000, message: "the hung bdSeq store is noticed" });
    assert.match(reason, /no Sparkplug session and no connection attempt finished for \d+ s/);
    assert.equal(await healthz(), 503);
  });
});
