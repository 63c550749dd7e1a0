// Names the EdgeCluster reconciler derives from an object.
import type { EdgeCluster } from "../../api/edgecluster.js";
import { bootstrapCommandSecretName } from "../bootstrap-tokens.js";

export const clusterNameOf = (ec: EdgeCluster) => ec.spec.name ?? ec.metadata.name;
export const bootstrapSecretName = (ec: EdgeCluster) => bootstrapCommandSecretName(ec.metadata.name);
