// Broker settings: TLS verified against a CA bundle file, and username/password, on a real Mosquitto listener.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { eventually } from "../../e2e/harness/eventually.js";
import { MemoryBdSeqStore } from "./bdseq-store.js";
import { resolveMonitorConfig, type MonitorFlags } from "./config.js";
import { EdgeMonitor } from "./edge-monitor.js";
import { makePasswordFile, makeTestTls, type TestTls } from "../../e2e/support/edge-monitor/broker-credentials.js";
import { startMosquitto, type Mosquitto } from "../../e2e/harness/mosquitto.js";
import { SparkplugSubscriber } from "../../e2e/support/edge-monitor/sparkplug-subscriber.js";
import { metricsByName } from "../../e2e/support/edge-monitor/sparkplug-wire.js";

const CLUSTER_UUID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const USER = "edge-monitor";
const PASSWORD = randomBytes(12).toString("hex");

describe("edge monitor with TLS and a password", () => {
  let dir: string;
  let tls: TestTls;
  let broker: Mosquitto;
  let sub: SparkplugSubscriber;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "graft-monitor-tls-"));
    tls = makeTestTls(dir);
    const passwd = makePasswordFile(dir, USER, PASSWORD);
    broker = await startMosquitto({
      scheme: "mqtts",
      listenerConfig: [
        "allow_anonymous false", `password_file ${passwd}`,
        `certfile ${tls.certFile}`, `keyfile ${tls.keyFile}`,
      ],
    });
    sub = await SparkplugSubscriber.connect(broker.url, {
      extra: { ca: readFileSync(tls.caFile), username: USER, password: PASSWORD },
    });
  });
  after(async () => {
    await sub?.close();
    await broker?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  function monitorWith(flags: MonitorFlags, env: Record<string, string> = {}) {
    const group = `acs-tls-${randomBytes(3).toString("hex")}`;
    const config = resolveMonitorConfig({
      clusterUuid: CLUSTER_UUID, sparkplugGroup: group, mqttUrl: broker.url, bdseqStore: "memory",
      minRetryDelay: "20ms", maxRetryDelay: "100ms", ...flags,
    }, env);
    const store = new MemoryBdSeqStore();
    return { group, store, monitor: new EdgeMonitor({ config, bdSeqStore: store }) };
  }

  it("connects over TLS trusting the CA bundle from --mqtt-ca-file, logs in with the password file, and births", async (t) => {
    const passwordFile = join(dir, "password");
    writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
    const { monitor, group } = monitorWith({ mqttCaFile: tls.caFile, mqttUsername: USER, mqttPasswordFile: passwordFile });
    t.after(() => monitor.stop());
    await monitor.start();
    const birth = await sub.waitFor("NBIRTH", (m) => m.topic === `spBv1.0/${group}/NBIRTH/Monitor`);
    assert.equal(metricsByName(birth.payload!).bdSeq?.value, 0n);
  });

  it("takes the password from MQTT_PASSWORD and refuses to birth with a wrong one, retrying with capped backoff", async (t) => {
    const { monitor, store } = monitorWith({ mqttCaFile: tls.caFile, mqttUsername: USER }, { MQTT_PASSWORD: "wrong" });
    t.after(() => monitor.stop());
    await monitor.start();
    await eventually(async () => /graft_monitor_reconnects_total [3-9]/.test(await monitor.metrics.registry.metrics()));
    assert.equal(monitor.isReady(), false);
    assert.doesNotMatch(await monitor.metrics.registry.metrics(), /graft_monitor_births_total\{/, "no NBIRTH was ever published");
    // Each refused login was a CONNECT carrying a will, so each used up a bdSeq.
    assert.ok((await store.current())! >= 3);
  });

  it("does not trust the broker without the CA bundle, and reuses the bdSeq of attempts that never sent a CONNECT", async (t) => {
    const { monitor, store } = monitorWith({ mqttUsername: USER }, { MQTT_PASSWORD: PASSWORD });
    t.after(() => monitor.stop());
    await monitor.start();
    await eventually(async () => /graft_monitor_reconnects_total [3-9]/.test(await monitor.metrics.registry.metrics()));
    assert.equal(monitor.isReady(), false);
    assert.equal(await store.current(), 0, "no TLS session, no CONNECT, no new bdSeq");
  });
});
