// The edge monitor against a real Mosquitto broker, watched by an independent subscriber that decodes the
// Sparkplug payloads with its own wire decoder.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { eventually } from "../../e2e/harness/eventually.js";
import { MemoryBdSeqStore } from "./bdseq-store.js";
import { resolveMonitorConfig, type MonitorFlags } from "./config.js";
import { EdgeMonitor } from "./edge-monitor.js";
import { startMonitorEndpoints } from "./main.js";
import { encodePayload } from "./payloads.js";
import {
  CLUSTER_MONITOR_RELATION_UUID, EDGE_MONITOR_SCHEMA_UUID, FACTORY_PLUS_PAYLOAD_UUID, LINK_SCHEMA_UUID,
} from "./sparkplug-ids.js";
import { startMosquitto, type Mosquitto } from "../../e2e/harness/mosquitto.js";
import { metricsByName, type WirePayload } from "../../e2e/support/edge-monitor/sparkplug-wire.js";
import { SparkplugSubscriber, type ReceivedMessage } from "../../e2e/support/edge-monitor/sparkplug-subscriber.js";

const CLUSTER_UUID = "6f1c2e9a-3b4d-4e5f-8a9b-0c1d2e3f4a5b";

function uniqueGroup(): string {
  return `acs-edge-${randomBytes(3).toString("hex")}`;
}

function monitorFor(url: string, group: string, flags: MonitorFlags = {}, store = new MemoryBdSeqStore()) {
  const config = resolveMonitorConfig({
    clusterUuid: CLUSTER_UUID, sparkplugGroup: group, mqttUrl: url, bdseqStore: "memory",
    minRetryDelay: "50ms", maxRetryDelay: "250ms", ...flags,
  }, {});
  return { monitor: new EdgeMonitor({ config, bdSeqStore: store }), config, store };
}

const topic = (group: string, type: string) => `spBv1.0/${group}/${type}/Monitor`;
const payloadOf = (m: ReceivedMessage): WirePayload => {
  assert.ok(m.payload, `message on ${m.topic} is not a Sparkplug B payload`);
  return m.payload;
};
const bdSeqOf = (m: ReceivedMessage) => metricsByName(payloadOf(m)).bdSeq?.value;

describe("edge monitor on a live broker", () => {
  let broker: Mosquitto;
  let sub: SparkplugSubscriber;
  before(async () => {
    broker = await startMosquitto();
    sub = await SparkplugSubscriber.connect(broker.url);
  });
  after(async () => {
    await sub?.close();
    await broker?.dispose();
  });

  it("publishes an NBIRTH on spBv1.0/<group>/NBIRTH/Monitor with exactly the ACS edge monitor metrics", async (t) => {
    const group = uniqueGroup();
    const { monitor, config } = monitorFor(broker.url, group);
    t.after(() => monitor.stop());
    await monitor.start();

    const birth = await sub.waitFor("NBIRTH", (m) => m.topic === topic(group, "NBIRTH"));
    assert.equal(birth.qos, 0, "NBIRTH must be QoS 0");
    assert.equal(birth.retain, false, "NBIRTH must not be retained");
    const p = payloadOf(birth);
    assert.equal(p.uuid, FACTORY_PLUS_PAYLOAD_UUID);
    assert.equal(p.seq, 0n);
    assert.ok(p.timestamp && p.timestamp > 0n, "NBIRTH needs a payload timestamp");
    for (const m of p.metrics) assert.ok(m.timestamp && m.timestamp > 0n, `metric ${m.name} has no timestamp`);

    assert.deepEqual(metricsByName(p), {
      "bdSeq": { type: "UInt64", value: 0n },
      "Node Control/Rebirth": { type: "Boolean", value: false },
      "Schema_UUID": { type: "UUID", value: EDGE_MONITOR_SCHEMA_UUID },
      "Instance_UUID": { type: "UUID", value: config.sparkplug.instanceUuid },
      "Links/Cluster/Schema_UUID": { type: "UUID", value: LINK_SCHEMA_UUID },
      "Links/Cluster/Instance_UUID": { type: "UUID", value: config.sparkplug.linkInstanceUuid },
      "Links/Cluster/Target": { type: "UUID", value: CLUSTER_UUID },
      "Links/Cluster/Relation": { type: "UUID", value: CLUSTER_MONITOR_RELATION_UUID },
    });
    assert.equal(p.metrics.length, 8, "no metric may appear twice");
    assert.notEqual(config.sparkplug.instanceUuid, config.sparkplug.linkInstanceUuid);
    assert.ok(monitor.isReady());
    assert.deepEqual(await SparkplugSubscriber.retainedMessages(broker.url), [], "nothing is retained for a late subscriber");
  });

  it("answers an NCMD Node Control/Rebirth with a new NBIRTH: seq back to 0, same bdSeq; NDATA counts on from it", async (t) => {
    const group = uniqueGroup();
    const { monitor } = monitorFor(broker.url, group, {}, new MemoryBdSeqStore(41));
    t.after(() => monitor.stop());
    await monitor.start();
    const first = await sub.waitFor("NBIRTH", (m) => m.topic === topic(group, "NBIRTH"));
    assert.equal(bdSeqOf(first), 42n);

    assert.ok(monitor.publishData([{ name: "Probe", type: "Int32", value: 1 }]));
    assert.ok(monitor.publishData([{ name: "Probe", type: "Int32", value: 2 }]));
    await sub.waitFor("two NDATA", () => sub.on(topic(group, "NDATA")).length === 2);
    assert.deepEqual(sub.on(topic(group, "NDATA")).map((m) => [payloadOf(m).seq, m.qos, m.retain]), [[1n, 0, false], [2n, 0, false]]);

    // An NCMD that is not Sparkplug B and one without a rebirth request come first; the monitor handles NCMDs
    // in order and publishes in order, so an NBIRTH caused by them would arrive before the rebirth's.
    const mark = sub.mark();
    await sub.publishRaw(topic(group, "NCMD"), Buffer.from("not protobuf \xff"));
    await sub.publishRaw(topic(group, "NCMD"), encodePayload({ timestamp: Date.now(), metrics: [{ name: "Node Control/Rebirth", type: "Boolean", value: false }] }));
    await sub.requestRebirth(group, "Monitor");
    const rebirth = await sub.waitFor("rebirth NBIRTH", (m) => m.topic === topic(group, "NBIRTH"), { after: mark });
    await sub.flush();
    assert.equal(sub.on(topic(group, "NBIRTH"), mark).length, 1, "only a true rebirth request causes an NBIRTH");
    assert.equal(payloadOf(rebirth).seq, 0n);
    assert.equal(bdSeqOf(rebirth), 42n, "a rebirth keeps the bdSeq of the session's will");

    monitor.publishData([{ name: "Probe", type: "Int32", value: 3 }]);
    const data = await sub.waitFor("NDATA after rebirth", (m) => m.topic === topic(group, "NDATA"), { after: rebirth.index });
    assert.equal(payloadOf(data).seq, 1n);
    const births = await monitor.metrics.registry.getSingleMetricAsString("graft_monitor_births_total");
    assert.match(births, /graft_monitor_births_total\{reason="connect"\} 1/);
    assert.match(births, /graft_monitor_births_total\{reason="rebirth"\} 1/);
  });

  it("stop() publishes an NDEATH with the session's bdSeq, then DISCONNECTs so the broker drops the will (MQTT 3.1.1)", async () => {
    const group = uniqueGroup();
    const { monitor } = monitorFor(broker.url, group, {}, new MemoryBdSeqStore(6));
    await monitor.start();
    const birth = await sub.waitFor("NBIRTH", (m) => m.topic === topic(group, "NBIRTH"));
    // The will's timestamp was taken before the CONNECT; anything stamped after stopAt was made by stop().
    await eventually(() => Date.now() > Number(payloadOf(birth).timestamp) + 1, { intervalMs: 1 });
    const stopAt = Date.now();
    await monitor.stop();
    assert.equal(monitor.isReady(), false);
    await sub.flush();

    const deaths = sub.on(topic(group, "NDEATH"));
    assert.equal(deaths.length, 1, "exactly one NDEATH: the monitor's own, and no will after the DISCONNECT");
    const death = payloadOf(deaths[0]!);
    assert.ok(death.timestamp! >= BigInt(stopAt), "the NDEATH was published at stop(), not the will registered at connect");
    assert.equal(death.seq, undefined, "an NDEATH carries no seq");
    assert.deepEqual(metricsByName(death), { bdSeq: { type: "UInt64", value: 7n } });
    assert.equal(bdSeqOf(birth), 7n);
  });

  it("on MQTT 5 stop() publishes the NDEATH and DISCONNECTs with reason 0x04, so the broker publishes the will too", async () => {
    const group = uniqueGroup();
    const { monitor } = monitorFor(broker.url, group, { mqttProtocolVersion: "5" });
    await monitor.start();
    const birth = await sub.waitFor("NBIRTH", (m) => m.topic === topic(group, "NBIRTH"));
    await eventually(() => Date.now() > Number(payloadOf(birth).timestamp) + 1, { intervalMs: 1 });
    const stopAt = Date.now();
    await monitor.stop();
    await sub.waitFor("will NDEATH", (m) => m.topic === topic(group, "NDEATH") && payloadOf(m).timestamp! < BigInt(stopAt));
    await sub.flush();
    const deaths = sub.on(topic(group, "NDEATH"));
    assert.equal(deaths.length, 2);
    assert.ok(deaths.some((m) => payloadOf(m).timestamp! >= BigInt(stopAt)), "the monitor's own NDEATH");
    for (const m of deaths) {
      assert.equal(m.qos, 1);
      assert.equal(m.retain, false);
      assert.equal(bdSeqOf(m), bdSeqOf(birth));
    }
  });
});

describe("edge monitor across a broker restart", () => {
  let broker: Mosquitto;
  before(async () => {
    broker = await startMosquitto();
  });
  after(async () => {
    await broker?.dispose();
  });

  it("reconnects after the broker comes back on the same port, with the next bdSeq and a fresh NBIRTH; /readyz follows", async (t) => {
    const group = uniqueGroup();
    const sub = await SparkplugSubscriber.connect(broker.url, { persistentId: `graft-test-${group}` });
    t.after(() => sub.close());
    const { monitor, config } = monitorFor(broker.url, group);
    const endpoints = await startMonitorEndpoints({ healthAddr: "127.0.0.1:0", metricsAddr: "127.0.0.1:0" }, monitor);
    t.after(async () => {
      await monitor.stop();
      await endpoints.close();
    });
    const health = (path: string) => fetch(`http://127.0.0.1:${endpoints.healthPort}${path}`).then((r) => r.status);
    assert.equal(await health("/readyz"), 503, "not ready before the first NBIRTH");
    assert.equal(await health("/healthz"), 200);

    await monitor.start();
    const first = await sub.waitFor("NBIRTH", (m) => m.topic === topic(group, "NBIRTH"));
    assert.equal(bdSeqOf(first), 0n);
    assert.equal(await health("/readyz"), 200);

    await broker.stop();
    await eventually(() => !monitor.isReady(), { message: "the monitor did not notice the broker going away" });
    assert.equal(await health("/readyz"), 503);
    assert.equal(await health("/healthz"), 200);
    // Let it fail to connect a few times while the broker is away: refused attempts send no CONNECT.
    await eventually(async () => /graft_monitor_reconnects_total 3/.test(await monitor.metrics.registry.metrics()));

    await broker.start();
    const second = await sub.waitFor("NBIRTH after the restart", (m) => m.topic === topic(group, "NBIRTH"), { after: first.index + 1 });
    assert.equal(bdSeqOf(second), 1n, "one more than the previous CONNECT's bdSeq");
    assert.equal(payloadOf(second).seq, 0n);
    await eventually(() => monitor.isReady());
    assert.equal(await health("/readyz"), 200);

    const metrics = await fetch(`http://127.0.0.1:${endpoints.metricsPort}/metrics`).then((r) => r.text());
    assert.match(metrics, /graft_monitor_births_total\{reason="connect"\} 2/);
    assert.match(metrics, /graft_monitor_deaths_total\{reason="connection_lost"\} 1/);
    assert.match(metrics, /graft_monitor_connected 1/);
    assert.equal(config.sparkplug.nodeId, "Monitor");
  });
});
