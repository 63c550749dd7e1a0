import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MonitorConfigError, parseDuration, resolveMonitorConfig } from "./config.js";
import { v5 as uuidV5 } from "uuid";

const CLUSTER_UUID = "2c9f1d3e-4b5a-4c6d-8e7f-90a1b2c3d4e5";
// The keys of the `cluster-config` ConfigMap, as the Deployment hands them over (envFrom).
const clusterConfig = {
  CLUSTER_UUID,
  CLUSTER_NAME: "line-3",
  ORGANISATION_PREFIX: "AMRC",
  MQTT_URL: "mqtts://mqtt.factory.example:8883",
  MQTT_USERNAME: "op1monitor/line-3",
  MQTT_PASSWORD: "s3cret",
  MQTT_CA_FILE: "/etc/graft/ca.pem",
  POD_NAMESPACE: "fplus-edge",
};

describe("edge monitor configuration", () => {
  it("reads the cluster-config keys: group <prefix>-<name>, node Monitor, ConfigMap bdSeq store in the Pod's namespace", () => {
    const c = resolveMonitorConfig({}, clusterConfig);
    assert.equal(c.clusterUuid, CLUSTER_UUID);
    assert.deepEqual({ group: c.sparkplug.group, nodeId: c.sparkplug.nodeId }, { group: "AMRC-line-3", nodeId: "Monitor" });
    assert.equal(c.mqtt.url, "mqtts://mqtt.factory.example:8883");
    assert.equal(c.mqtt.username, "op1monitor/line-3");
    assert.equal(c.mqtt.password, "s3cret");
    assert.equal(c.mqtt.caFile, "/etc/graft/ca.pem");
    assert.equal(c.mqtt.protocolVersion, 4);
    assert.match(c.mqtt.clientId, /^graft-mon-[0-9a-f]{8}$/);
    assert.deepEqual(c.bdSeqStore, { kind: "configmap", namespace: "fplus-edge", name: "edge-monitor-bdseq" });
    assert.deepEqual(c.retry, { minDelayMs: 500, maxDelayMs: 30_000 });
    assert.equal(c.healthAddr, ":8081");
  });

  it("derives a stable Instance_UUID from the cluster UUID unless one is given", () => {
    const a = resolveMonitorConfig({}, clusterConfig).sparkplug;
    const b = resolveMonitorConfig({}, clusterConfig).sparkplug;
    assert.equal(a.instanceUuid, b.instanceUuid);
    assert.equal(a.linkInstanceUuid, uuidV5("Links/Cluster", a.instanceUuid));
    assert.notEqual(a.instanceUuid, CLUSTER_UUID);
    const given = resolveMonitorConfig({ instanceUuid: "AAAAAAAA-1111-4222-8333-444444444444" }, clusterConfig).sparkplug;
    assert.equal(given.instanceUuid, "aaaaaaaa-1111-4222-8333-444444444444");
  });

  it("lets flags override the environment", () => {
    const c = resolveMonitorConfig({
      sparkplugGroup: "Other-Group", nodeId: "Mon2", mqttUrl: "mqtt://127.0.0.1:1883", mqttClientId: "me",
      mqttProtocolVersion: "5", bdseqStore: "file", bdseqFile: "/var/lib/monitor/bdseq", minRetryDelay: "2s", maxRetryDelay: "1m",
      mqttPasswordFile: "/run/secrets/mqtt",
    }, clusterConfig, { readText: (p) => (p === "/run/secrets/mqtt" ? "from-file\n" : "") });
    assert.equal(c.sparkplug.group, "Other-Group");
    assert.equal(c.sparkplug.nodeId, "Mon2");
    assert.equal(c.mqtt.url, "mqtt://127.0.0.1:1883");
    assert.equal(c.mqtt.clientId, "me");
    assert.equal(c.mqtt.protocolVersion, 5);
    assert.equal(c.mqtt.passwordFile, "/run/secrets/mqtt", "the file is kept, to be read again after a refusal");
    assert.equal(c.mqtt.password, undefined);
    assert.deepEqual(c.bdSeqStore, { kind: "file", path: "/var/lib/monitor/bdseq" });
    assert.deepEqual(c.retry, { minDelayMs: 2000, maxDelayMs: 60_000 });
  });

  it("reports every problem at once, naming flag and variable", () => {
    const err = (() => {
      try {
        resolveMonitorConfig({ sparkplugGroup: "a/b", nodeId: "#", mqttProtocolVersion: "6", bdseqStore: "etcd" },
          { CLUSTER_UUID: "not-a-uuid", MQTT_URL: "http://broker" });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    assert.ok(err instanceof MonitorConfigError);
    assert.deepEqual(err.problems, [
      `--cluster-uuid or CLUSTER_UUID "not-a-uuid" is not a UUID`,
      `sparkplug group "a/b" is not a valid Sparkplug Group ID: it contains "/"`,
      `node id "#" is not a valid Sparkplug Edge Node ID: it contains "#"`,
      `--mqtt-url or MQTT_URL "http://broker" has scheme "http:": use mqtt:, mqtts:, ws: or wss:`,
      `--mqtt-protocol-version or MQTT_PROTOCOL_VERSION "6" must be 3.1.1 (4) or 5`,
      `--bdseq-store or BDSEQ_STORE "etcd" must be one of configmap, file, memory`,
    ]);
    assert.ok(!err.message.includes("s3cret"));
  });

  it("requires the group, the broker and the store location", () => {
    assert.throws(() => resolveMonitorConfig({ bdseqStore: "file" }, { CLUSTER_UUID }), (e: MonitorConfigError) => {
      assert.deepEqual(e.problems, [
        "--sparkplug-group or SPARKPLUG_GROUP is required (or both --organisation-prefix or ORGANISATION_PREFIX and --cluster-name or CLUSTER_NAME)",
        "--mqtt-url or MQTT_URL is required",
        `--bdseq-file or BDSEQ_FILE is required when the bdSeq store is "file"`,
      ]);
      return true;
    });
  });

  it("parses durations", () => {
    assert.deepEqual(["250ms", "30s", "2m", "1.5s", "100"].map(parseDuration), [250, 30_000, 120_000, 1500, 100]);
    assert.equal(parseDuration("soon"), undefined);
  });
});
