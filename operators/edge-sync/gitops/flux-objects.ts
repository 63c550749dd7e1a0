// What the edge's GitOps state is, from the objects themselves: the Flux objects graft put in the edge namespace
// (self-link GitRepository and Kustomization, the helm-charts GitRepository, the flux-system Kustomization where the
// repository has one, the edge-cluster HelmRelease) and the Flux controllers' Deployments. Each is reduced to what the
// centre needs — Ready for its current generation, reason, message, last applied revision — so the status churn of
// every reconcile interval (lastHandledReconcileAt, timestamps) leaves the report unchanged and sends nothing.
import type { GitopsObject } from "../../api/edgecluster.js";
import { HELM_CHARTS_SOURCE, SELF_LINK, helmReleaseName } from "../../cluster-manager/git/repo-content.js";
import type { KubeObject, ResourceType } from "../../runtime/kube.js";

export const FluxTypes = {
  gitRepositories: { group: "source.toolkit.fluxcd.io", version: "v1", plural: "gitrepositories", kind: "GitRepository", namespaced: true },
  kustomizations: { group: "kustomize.toolkit.fluxcd.io", version: "v1", plural: "kustomizations", kind: "Kustomization", namespaced: true },
  helmReleases: { group: "helm.toolkit.fluxcd.io", version: "v2", plural: "helmreleases", kind: "HelmRelease", namespaced: true },
} as const satisfies Record<string, ResourceType>;

export const Deployments = { group: "apps", version: "v1", plural: "deployments", kind: "Deployment", namespaced: true } as const satisfies ResourceType;

/** Flux's install labels every controller Deployment with these. */
export const FLUX_CONTROLLER_SELECTOR = "app.kubernetes.io/part-of=flux";
const VERSION_LABEL = "app.kubernetes.io/version";

/** The names of the Flux objects graft writes into a cluster's repository (cluster-manager/git/repo-content.ts). */
export function graftObjectNames(clusterUuid: string): Record<string, readonly string[]> {
  return {
    GitRepository: [SELF_LINK, HELM_CHARTS_SOURCE],
    Kustomization: [SELF_LINK, "flux-system"],
    HelmRelease: [helmReleaseName(clusterUuid)],
  };
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
}

export interface FluxObject extends KubeObject {
  spec?: { suspend?: boolean };
  status?: {
    observedGeneration?: number;
    conditions?: Condition[];
    artifact?: { revision?: string };
    lastAppliedRevision?: string;
    lastAttemptedRevision?: string;
    history?: Array<{ chartVersion?: string }>;
  };
}

export interface DeploymentObject extends KubeObject {
  spec?: { replicas?: number; template?: { spec?: { containers?: Array<{ image?: string }> } } };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
    conditions?: Condition[];
  };
}

const MAX_MESSAGE = 4096;
const MAX_REASON = 1024;
const clip = (text: string | undefined, max: number) => (text === undefined ? undefined : text.length > max ? `${text.slice(0, max - 1)}…` : text);

function entry(obj: KubeObject, ready: GitopsObject["ready"], reason: string | undefined, message: string | undefined, revision: string | undefined): GitopsObject {
  const reasonText = clip(reason, MAX_REASON);
  const messageText = clip(message, MAX_MESSAGE);
  return {
    kind: obj.kind ?? "", namespace: obj.metadata.namespace ?? "", name: obj.metadata.name, ready,
    ...(reasonText ? { reason: reasonText } : {}),
    ...(messageText ? { message: messageText } : {}),
    ...(revision ? { revision } : {}),
  };
}

/** A Flux object's Ready for its current generation, and the revision it last applied. */
export function fluxObjectReport(obj: FluxObject, kind: string): GitopsObject {
  const withKind = { ...obj, kind };
  const s = obj.status;
  const revision = kind === "GitRepository" ? s?.artifact?.revision
    : kind === "Kustomization" ? s?.lastAppliedRevision
      : s?.history?.[0]?.chartVersion ?? s?.lastAttemptedRevision;
  const ready = s?.conditions?.find((c) => c.type === "Ready");
  const generation = obj.metadata.generation;
  if (obj.spec?.suspend) return entry(withKind, "Unknown", "Suspended", "reconciliation is suspended (spec.suspend)", revision);
  if (!ready) return entry(withKind, "Unknown", "NotReconciled", "the controller has not reported on this object yet", revision);
  // Flux stamps each condition with the generation it speaks for (helm-controller leaves status.observedGeneration
  // behind when an upgrade of a new generation fails, while its Ready=False is about that generation).
  const speaksFor = ready.observedGeneration ?? s?.observedGeneration ?? 0;
  if (generation !== undefined && speaksFor < generation) {
    return entry(withKind, "Unknown", "Progressing", `generation ${generation} is not reconciled yet (Ready speaks for ${speaksFor || "none"})`, revision);
  }
  const status = ready.status === "True" || ready.status === "False" ? ready.status : "Unknown";
  return entry(withKind, status, ready.reason, ready.message, revision);
}

/** A controller Deployment: Ready once its current generation is rolled out and every replica is available. */
export function controllerReport(d: DeploymentObject): GitopsObject {
  const obj = { ...d, kind: "Deployment" };
  const version = d.metadata.labels?.[VERSION_LABEL] ?? d.spec?.template?.spec?.containers?.[0]?.image?.split(":").pop();
  const want = d.spec?.replicas ?? 1;
  const s = d.status ?? {};
  if ((s.observedGeneration ?? 0) < (d.metadata.generation ?? 0)) return entry(obj, "Unknown", "Progressing", "the new Deployment spec is not observed yet", version);
  const updated = s.updatedReplicas ?? 0;
  const available = s.availableReplicas ?? 0;
  if (updated < want || (s.replicas ?? 0) > want) return entry(obj, "Unknown", "Progressing", `rolling out: ${updated} of ${want} replicas updated`, version);
  if (available < want) {
    const failed = s.conditions?.find((c) => c.type === "Progressing" && c.status === "False");
    if (failed) return entry(obj, "False", failed.reason, failed.message, version);
    return entry(obj, "Unknown", "Progressing", `${available} of ${want} replicas available`, version);
  }
  return entry(obj, "True", "Available", `${available} of ${want} replicas available`, version);
}

/** The Flux version the controllers run: their version label when they agree, else every version found. */
export function fluxVersionOf(controllers: readonly DeploymentObject[]): string | undefined {
  const versions = [...new Set(controllers.map((d) => d.metadata.labels?.[VERSION_LABEL]).filter((v): v is string => !!v))].sort();
  return versions.length ? versions.join(",") : undefined;
}
