// Builds and reads the Sparkplug B payloads of the edge monitor (acs-contract.md §6), encoded with the Eclipse
// Tahu codec from `sparkplug-payload`.
import sparkplug from "sparkplug-payload";
import {
  BDSEQ_METRIC, CLUSTER_MONITOR_RELATION_UUID, EDGE_MONITOR_SCHEMA_UUID, FACTORY_PLUS_PAYLOAD_UUID,
  LINK_SCHEMA_UUID, REBIRTH_METRIC,
} from "./sparkplug-ids.js";

type SparkplugCodec = NonNullable<ReturnType<typeof sparkplug.get>>;
export type SparkplugPayload = Parameters<SparkplugCodec["encodePayload"]>[0];
export type SparkplugMetric = NonNullable<SparkplugPayload["metrics"]>[number];

const codec: SparkplugCodec = (() => {
  const c = sparkplug.get("spBv1.0");
  if (!c) throw new Error(`sparkplug-payload has no codec for namespace "spBv1.0"`);
  return c;
})();

/** What the NBIRTH says about the monitor and the cluster it watches. */
export interface MonitorIdentity {
  /** The monitor's own Instance_UUID. */
  instanceUuid: string;
  /** Instance_UUID of the `Links/Cluster` link object. */
  linkInstanceUuid: string;
  /** The cluster UUID: the target of the link. */
  clusterUuid: string;
}

export function birthPayload(identity: MonitorIdentity, bdSeq: number, seq: number, timestamp: number): SparkplugPayload {
  const metric = (name: string, type: SparkplugMetric["type"], value: SparkplugMetric["value"]): SparkplugMetric =>
    ({ name, type, value, timestamp });
  return {
    timestamp,
    seq,
    uuid: FACTORY_PLUS_PAYLOAD_UUID,
    metrics: [
      metric(BDSEQ_METRIC, "UInt64", bdSeq),
      metric(REBIRTH_METRIC, "Boolean", false),
      metric("Schema_UUID", "UUID", EDGE_MONITOR_SCHEMA_UUID),
      metric("Instance_UUID", "UUID", identity.instanceUuid),
      metric("Links/Cluster/Schema_UUID", "UUID", LINK_SCHEMA_UUID),
      metric("Links/Cluster/Instance_UUID", "UUID", identity.linkInstanceUuid),
      metric("Links/Cluster/Target", "UUID", identity.clusterUuid),
      metric("Links/Cluster/Relation", "UUID", CLUSTER_MONITOR_RELATION_UUID),
    ],
  };
}

/** The NDEATH: only the bdSeq metric and no seq (Sparkplug forbids one). */
export function deathPayload(bdSeq: number, timestamp: number): SparkplugPayload {
  return {
    timestamp,
    metrics: [{ name: BDSEQ_METRIC, type: "UInt64", value: bdSeq, timestamp }],
  };
}

export function dataPayload(metrics: SparkplugMetric[], seq: number, timestamp: number): SparkplugPayload {
  return { timestamp, seq, metrics: metrics.map((m) => ({ timestamp, ...m })) };
}

export function encodePayload(payload: SparkplugPayload): Buffer {
  const bytes = codec.encodePayload(payload);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function decodePayload(bytes: Uint8Array): SparkplugPayload {
  return codec.decodePayload(bytes);
}

/** True when an NCMD payload asks for a rebirth (`Node Control/Rebirth` = true). */
export function isRebirthRequest(payload: SparkplugPayload): boolean {
  return (payload.metrics ?? []).some((m) => m.name === REBIRTH_METRIC && m.value === true);
}
