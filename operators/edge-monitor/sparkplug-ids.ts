// Identifiers of the Sparkplug B namespace and of the Factory+ (ACS) edge monitor schema, as listed in
// acs-contract.md §6. They are wire facts: changing one breaks interoperability with ACS.

export const SPARKPLUG_NAMESPACE = "spBv1.0";

/** The payload `uuid` of every Factory+ Sparkplug message (the Factory+ special UUID). */
export const FACTORY_PLUS_PAYLOAD_UUID = "11ad7b32-1d32-4c4a-b0c9-fa049208939a";
/** Schema_UUID of the edge monitor node. */
export const EDGE_MONITOR_SCHEMA_UUID = "e3ef732b-ee69-46f0-8d1d-8a9cec432d83";
/** Schema_UUID of a link object (the `Links/Cluster` metric folder). */
export const LINK_SCHEMA_UUID = "b3c4b273-9528-45de-8842-9f77c9ef272a";
/** Relation of the link from the monitor to its cluster. */
export const CLUSTER_MONITOR_RELATION_UUID = "422d47e0-8761-43da-abd4-4f2adaef0d4a";

export const DEFAULT_NODE_ID = "Monitor";

export const REBIRTH_METRIC = "Node Control/Rebirth";
export const BDSEQ_METRIC = "bdSeq";

export type NodeMessageType = "NBIRTH" | "NDEATH" | "NDATA" | "NCMD";

/** `spBv1.0/<group>/<type>/<node>` */
export function nodeTopic(group: string, type: NodeMessageType, nodeId: string): string {
  return `${SPARKPLUG_NAMESPACE}/${group}/${type}/${nodeId}`;
}

/**
 * Why a Sparkplug Group or Edge Node ID is unusable, or undefined when it is fine: the spec allows any UTF-8
 * string except the MQTT topic characters `+`, `/` and `#`.
 */
export function invalidSparkplugIdReason(id: string): string | undefined {
  if (id.length === 0) return "it is empty";
  const bad = [...id].find((c) => c === "+" || c === "/" || c === "#");
  return bad ? `it contains "${bad}"` : undefined;
}
