import type { CrdSource } from "./crd.js";
import { edgeClusterCrd } from "./edgecluster.js";
import { fluxRolloutCrd } from "./fluxrollout.js";
import { kerberosKeyCrd } from "./kerberoskey.js";
import { sparkplugNodeCrd } from "./sparkplugnode.js";

/** Every CRD graft defines; gen-crds.ts writes one file per entry into crds/. */
export const allCrds: CrdSource[] = [edgeClusterCrd, fluxRolloutCrd, kerberosKeyCrd, sparkplugNodeCrd];

/**
 * The CRDs the edge-cluster chart installs: gen-crds.ts also copies these into config/edge-cluster/crds/ (Helm reads
 * CRDs only from inside the chart). Add a kind here when an edge operator starts reconciling it.
 */
export const edgeChartCrds: CrdSource[] = [kerberosKeyCrd, sparkplugNodeCrd];
