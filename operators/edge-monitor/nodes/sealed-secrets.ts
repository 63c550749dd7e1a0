// The SealedSecrets an edge agent names (SparkplugNode spec.secrets), as the monitor watches them: a change counts
// once the Sealed Secrets controller has unsealed it (Synced, at the object's current generation), as in ACS's monitor.
import type { KubeObject } from "../../runtime/kube.js";

export interface SealedSecret extends KubeObject {
  status?: { observedGeneration?: number; conditions?: Array<{ type: string; status: string }> };
}

export const SealedSecretType = {
  group: "bitnami.com", version: "v1alpha1", plural: "sealedsecrets", kind: "SealedSecret", namespaced: true,
} as const;

/**
 * The state of the named SealedSecrets that exist, as one comparable string (name and generation each); undefined
 * while none exists or one of them is not unsealed at its current generation yet.
 */
export function sealedSecretStates(all: SealedSecret[], names: string[]): string | undefined {
  const named = all.filter((s) => names.includes(s.metadata.name)).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
  if (named.length === 0) return undefined;
  const synced = (s: SealedSecret) => s.status?.conditions?.some((c) => c.type === "Synced" && c.status === "True")
    && s.status.observedGeneration === s.metadata.generation;
  if (!named.every(synced)) return undefined;
  return named.map((s) => `${s.metadata.name}@${s.metadata.generation}`).join(",");
}
