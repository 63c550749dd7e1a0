// The edge roles of the stand-in's ACS installation (dumps/edge-*.yaml): their group UUIDs, which ACS's service-setup
// chooses per installation, and the dump files holding what ACS grants each. A test loads EDGE_DUMPS and puts an
// account in a role group to give it exactly that role's rights.
import { fileURLToPath } from "node:url";

export const EdgeRole = {
  /** op1krbkeys accounts (the Cluster Manager makes them members). */
  Krbkeys: "5c1888c2-ebc3-46f4-8b29-22a967e4b06c",
  /** op1sync accounts (edge krbkeys makes them members). */
  Sync: "32cd15a2-7f72-4ec4-a427-a304d3b40d69",
  /** op1monitor accounts. */
  Monitor: "ebbe53d8-6954-4a0e-aabb-d4448d218aca",
  /** Edge agent accounts ("Active Edge Agent"). */
  Agent: "88a161b7-79b0-4976-9000-6f171598030c",
} as const;

export const EdgeClass = {
  EdgeService: "97756c9a-38e6-4238-b78c-3df6f227a6c9",
  EdgeAgent: "00da3c0b-f62b-4761-a689-39ad0c33f864",
  /** The groups edge krbkeys may add members to (every edge role is one). */
  EdgeGroups: "9ba0de4b-056f-4b5e-b966-2d5d85d07767",
} as const;

const dump = (name: string) => fileURLToPath(new URL(`./dumps/${name}.yaml`, import.meta.url));

/** The role objects first, then each role's grants; then the MQTT permission templates the broker's ACL needs. */
export const EDGE_DUMPS = ["edge-roles", "edge-krbkeys", "edge-sync", "edge-monitor", "edge-agent", "mqtt"].map(dump);
