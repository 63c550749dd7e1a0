// The SparkplugNode resource, compatible with the CRD of ACS's edge chart (same group, version, kind, names, spec
// fields and rules; acs-contract.md §11), plus a status graft's edge-monitor writes (last seen, offline, rebirth
// requests) that ACS never does. One zod schema validates at runtime and generates the CRD.
import { z } from "zod";
import { conditionList, conditionMessageColumn, conditionStatusColumn, namespacedKind, type CustomObject } from "./custom-resource.js";

export const SPARKPLUGNODE_VERSION = "v1";
/** The monitor's silence interval when spec.interval is absent (ACS's default). */
export const DEFAULT_SPARKPLUG_INTERVAL = "3m";

export const sparkplugNodeSpec = z.object({
  uuid: z.string().optional().meta({ format: "uuid", description: "Sparkplug Node UUID" }),
  address: z.string().optional().meta({
    description: "Sparkplug Node address '<group>/<node>', for deployed Nodes not registered in the F+ services.",
  }),
  edgeAgent: z.boolean().default(false).meta({ description: "Is this an Edge Agent?" }),
  interval: z.string().optional().meta({
    format: "duration",
    description: `Liveness check interval (default ${DEFAULT_SPARKPLUG_INTERVAL}): a rebirth is asked for after this long without a packet, the Offline alert is raised after three times it`,
  }),
  secrets: z.array(z.string()).optional().meta({ description: "Names of SealedSecrets the Edge Agent uses." }),
}).meta({
  "x-kubernetes-validations": [
    { rule: "has(self.uuid) != has(self.address)", message: "spec needs exactly one of uuid and address" },
    { rule: "has(self.uuid) || !self.edgeAgent", message: "spec.edgeAgent needs spec.uuid" },
    { rule: "self.edgeAgent || !has(self.secrets)", message: "spec.secrets needs spec.edgeAgent" },
  ],
});

export const sparkplugNodeStatus = z.object({
  address: z.string().optional().meta({ description: "The Sparkplug address being watched, '<group>/<node>'" }),
  lastSeen: z.string().optional().meta({ format: "date-time", description: "When the last packet from the Node or its Devices arrived" }),
  offline: z.boolean().optional().meta({ description: "True once nothing has arrived for three times the interval" }),
  lastRebirthRequest: z.string().optional().meta({ format: "date-time", description: "When a rebirth was last asked for through the Command Escalation service" }),
  rebirthRequests: z.number().int().optional().meta({ description: "Rebirth requests sent since monitoring started" }),
  configReloadRequests: z.number().int().optional().meta({ description: "Edge agents: config reload requests sent since monitoring started" }),
  lastConfigReloadRequest: z.string().optional().meta({ format: "date-time", description: "Edge agents: when a config reload was last asked for" }),
  observedGeneration: z.number().int().optional(),
  conditions: conditionList(),
});

export type SparkplugNodeSpec = z.output<typeof sparkplugNodeSpec>;
export type SparkplugNodeStatus = z.output<typeof sparkplugNodeStatus>;

export type SparkplugNode = CustomObject<SparkplugNodeSpec, SparkplugNodeStatus>;

export const SparkplugNodeType = namespacedKind(SPARKPLUGNODE_VERSION, "sparkplugnodes", "SparkplugNode");

export const SparkplugNodeCondition = {
  /** True while the Node is being monitored and has spoken within three intervals. */
  Ready: "Ready",
  /** Negative polarity: present only while the Node cannot be monitored (bad spec, address unknown). */
  MonitorFailed: "MonitorFailed",
} as const;

export const SparkplugNodeReason = {
  Online: "Online",
  Offline: "Offline",
  AddressUnknown: "AddressUnknown",
  InvalidSpec: "InvalidSpec",
} as const;

export const sparkplugNodeCrd = {
  type: SparkplugNodeType,
  singular: "sparkplugnode",
  shortNames: ["spnode", "spnodes"],
  categories: ["all", "graft"],
  spec: sparkplugNodeSpec,
  status: sparkplugNodeStatus,
  printerColumns: [
    { name: "UUID", type: "string", jsonPath: ".spec.uuid" },
    { name: "Address", type: "string", jsonPath: ".status.address" },
    { name: "Offline", type: "boolean", jsonPath: ".status.offline" },
    { name: "Last Seen", type: "date", jsonPath: ".status.lastSeen" },
    conditionStatusColumn("Ready"),
    conditionMessageColumn(),
    { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
  ],
};
