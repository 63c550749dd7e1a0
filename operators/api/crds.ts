import type { CrdSource } from "./crd.js";
import { edgeClusterCrd } from "./edgecluster.js";
import { kerberosKeyCrd } from "./kerberoskey.js";

/** Every CRD graft defines; gen-crds.ts writes one file per entry into crds/. */
export const allCrds: CrdSource[] = [edgeClusterCrd, kerberosKeyCrd];
