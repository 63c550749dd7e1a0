// A rotation of the monitor's MQTT password reaches the running monitor without a restart: on a real Mosquitto
// with a password file, the broker learns the new password, the monitor's next CONNECT with the old one is refused,
// the Secret volume (written as the kubelet writes it) then brings the new one, and the same monitor is born again.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { eventually } from "../../e2e/harness/eventually.js";
import { startMosquitto, type Mosquitto } from "../../e2e/harness/mosquitto.js";
import { SecretVolume } from "../../e2e/harness/secret-volume.js";
import { MemoryBdSeqStore } from "./bdseq-store.js";
import { resolveMonitorConfig } from "./config.js";
import { EdgeMonitor } from "./edge-monitor.js";
import { SparkplugSubscriber } from "../../e2e/support/edge-monitor/sparkplug-subscriber.js";
import { metricsByName } from "../../e2e/support/edge-monitor/sparkplug-wire.js";

const CLUSTER_UUID = "2c4e6a8b-0d1f-4a3c-9e5b-7d9f1b3d5f7a";
const MONITOR = "op1monitor/line-a@GRAFT.TEST";
const OBSERVER = "observer";
const OBSERVER_PASSWORD = randomBytes(12).toString("hex");

/** Writes Mosquitto's password file with the two users. */
function writePasswd(file: string, monitorPassword: string): void {
  const passwd = (...args: string[]) => execFileSync("mosquitto_passwd", args, { stdio: ["ignore", "ignore", "pipe"] });
  passwd("-c", "-b", file, MONITOR, monitorPassword);
  passwd("-b", file, OBSERVER, OBSERVER_PASSWORD);
}

describe("edge monitor password rotation", () => {
  let dir: string;
  let passwdFile: string;
  let broker: Mosquitto;
  let sub: SparkplugSubscriber;
  const first = randomBytes(12).toString("hex");
  const second = randomBytes(12).toString("hex");

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "graft-monitor-rotation-"));
    passwdFile = join(dir, "passwd");
    writePasswd(passwdFile, first);
    broker = await startMosquitto({ listenerConfig: ["allow_anonymous false", `password_file ${passwdFile}`] });
    sub = await SparkplugSubscriber.connect(broker.url, {
      persistentId: `observer-${randomBytes(3).toString("hex")}`, extra: { username: OBSERVER, password: OBSERVER_PASSWORD },
    });
  });
  after(async () => {
    await sub?.close();
    await broker?.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it("is refused once the broker has the new password, reads the rotated file, and is born again in the same process", async (t) => {
    const volume = new SecretVolume(join(dir, "edge-monitor-credentials"));
    volume.write({ password: `${first}\n` });
    const group = `rot-${randomBytes(3).toString("hex")}`;
    const config = resolveMonitorConfig({
      clusterUuid: CLUSTER_UUID, sparkplugGroup: group, mqttUrl: broker.url, bdseqStore: "memory",
      mqttUsername: MONITOR, mqttPasswordFile: volume.file("password"), minRetryDelay: "50ms", maxRetryDelay: "300ms",
    }, {});
    assert.equal(config.mqtt.password, undefined, "the password is not held in the configuration");
    const monitor = new EdgeMonitor({ config, bdSeqStore: new MemoryBdSeqStore() });
    t.after(() => monitor.stop());
    const births = `spBv1.0/${group}/NBIRTH/Monitor`;
    await monitor.start();
    const firstBirth = await sub.waitFor("the first NBIRTH", (m) => m.topic === births);
    assert.equal(metricsByName(firstBirth.payload!).bdSeq?.value, 0n);

    // krbkeys changes the password at the centre first; here the broker restarts with it, so the session drops.
    await broker.stop();
    writePasswd(passwdFile, second);
    await broker.start();
    const refusals = async () => Number(/^graft_monitor_login_refusals_total (\d+)$/m.exec(await monitor.metrics.registry.metrics())?.[1] ?? 0);
    await eventually(async () => (await refusals()) >= 1, { timeoutMs: 20_000, message: "the old password is refused" });
    assert.equal(monitor.isReady(), false);

    // The Secret volume catches up.
    const mark = sub.mark();
    volume.write({ password: `${second}\n` });
    const again = await sub.waitFor("an NBIRTH after the rotation", (m) => m.topic === births, { after: mark });
    assert.ok((metricsByName(again.payload!).bdSeq?.value as bigint) > 0n, "a new session, a new bdSeq");
    await eventually(() => monitor.isReady(), { message: "connected and born with the new password" });
    const refusedBeforeStable = await refusals();
    await sub.flush();
    assert.equal(await refusals(), refusedBeforeStable, "no refusal once the new password is in use");
  });
});
