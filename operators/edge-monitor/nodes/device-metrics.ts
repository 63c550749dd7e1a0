// The Sparkplug device the monitor publishes for each monitored node (acs-contract.md §11), with the schema UUIDs
// and instance-UUID derivations of ACS's edge monitor (acs-monitor/lib/uuids.js, sparkplug/device.js, util.js, read
// 2026-12): UUIDs are v5 of the ':'-joined parts in the Factory+ namespace, so the same node gets the same device
// and alert UUIDs from ACS's monitor and from graft's. A node known only by its address (ACS's monitor does not watch
// those) gets a device too: its Instance_UUID is graft's own derivation from the address, and it has no `Links/Node`
// metrics, as there is no node object to link to.
import { v5 as uuidV5 } from "uuid";
import type { SparkplugMetric } from "../payloads.js";
import { FACTORY_PLUS_PAYLOAD_UUID, LINK_SCHEMA_UUID } from "../sparkplug-ids.js";

export const EDGE_MONITOR_DEVICE_SCHEMA_UUID = "ab6c58b0-efe9-4e55-bde5-eaa4fd7c95b0";
export const ALERT_SCHEMA_UUID = "8853aa15-2228-4309-b98e-e086cefbc72c";
export const OFFLINE_ALERT_TYPE_UUID = "e6eff8b6-7b16-4827-9136-ac5202c0df59";
/** Relation of the link from a monitor device to the node it watches. */
export const DEVICE_MONITOR_RELATION_UUID = "ec916189-f4f9-4fc7-af7e-724cc216e9e9";
const V5_MONITOR = "87f304b9-77c2-4dee-aaef-9652ed2d7741";
const V5_METRIC = "8a4dc2f4-2f9f-45fc-b2e9-ed7b9cda6145";

export const DEVICE_REBIRTH_METRIC = "Device Control/Rebirth";
export const OFFLINE_ACTIVE_METRIC = "Alerts/Offline/Active";

export function factoryPlusV5(...parts: string[]): string {
  return uuidV5(parts.join(":"), FACTORY_PLUS_PAYLOAD_UUID);
}

/** The device's Instance_UUID for the node with this UUID. */
export function monitorDeviceUuid(nodeUuid: string): string {
  return factoryPlusV5(V5_MONITOR, nodeUuid);
}

/** The device's Instance_UUID for a node known only by its Sparkplug address (graft's derivation). */
export function addressDeviceUuid(group: string, node: string): string {
  return factoryPlusV5(V5_MONITOR, "address", group, node);
}

/** What the device stands for: a node object (by UUID), or a bare Sparkplug address. */
export type MonitoredNode = { uuid: string } | { address: { group: string; node: string } };

export function deviceBirthMetrics(node: MonitoredNode, offline: boolean): SparkplugMetric[] {
  const nodeUuid = "uuid" in node ? node.uuid : undefined;
  const device = "uuid" in node ? monitorDeviceUuid(node.uuid) : addressDeviceUuid(node.address.group, node.address.node);
  const m = (name: string, type: SparkplugMetric["type"], value: SparkplugMetric["value"]): SparkplugMetric => ({ name, type, value });
  const instance = (prefix: string, schema: string) => [
    m(`${prefix}/Schema_UUID`, "UUID", schema),
    m(`${prefix}/Instance_UUID`, "UUID", factoryPlusV5(V5_METRIC, device, prefix)),
  ];
  const link = (prefix: string) => (nodeUuid === undefined ? [] : [
    ...instance(prefix, LINK_SCHEMA_UUID),
    m(`${prefix}/Target`, "UUID", nodeUuid),
    m(`${prefix}/Relation`, "UUID", DEVICE_MONITOR_RELATION_UUID),
  ]);
  return [
    m(DEVICE_REBIRTH_METRIC, "Boolean", false),
    m("Schema_UUID", "UUID", EDGE_MONITOR_DEVICE_SCHEMA_UUID),
    m("Instance_UUID", "UUID", device),
    ...link("Links/Node"),
    ...instance("Alerts/Offline", ALERT_SCHEMA_UUID),
    m("Alerts/Offline/Type", "UUID", OFFLINE_ALERT_TYPE_UUID),
    m(OFFLINE_ACTIVE_METRIC, "Boolean", offline),
    ...link("Alerts/Offline/Links/Node"),
  ];
}
