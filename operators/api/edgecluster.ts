// The EdgeCluster resource: one zod schema serves runtime validation and generates the CRD in crds/.
import { z } from "zod";
import { condition, conditionList, conditionMessageColumn, conditionStatusColumn, namespacedKind, type CustomObject } from "./custom-resource.js";
import { DEFAULT_EDGE_NAMESPACE, EDGECLUSTER_VERSION } from "./constants.js";

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * ACS cluster names (acs-contract.md §9): what a Sparkplug group id, a Kerberos principal component and the Git path
 * `cluster/<name>` all allow — letters of either case, digits, '_' and '-' — so every name the ACS admin UI writes
 * (e.g. `Edge_Cluster_1`) is accepted. At most 63 characters.
 */
export const CLUSTER_NAME = /^[A-Za-z0-9_-]+$/;
export const CLUSTER_NAME_MAX = 63;
const CLUSTER_NAME_RULE = "letters (either case), digits, '_' and '-', at most 63 characters";

export const clusterName = z.string().min(1).max(CLUSTER_NAME_MAX).regex(CLUSTER_NAME, {
  message: `must consist of ${CLUSTER_NAME_RULE}`,
}).meta({
  description: "Cluster name used for the Sparkplug group, Kerberos principals and Git path (ACS cluster names such as Edge_Cluster_1 are accepted); defaults to metadata.name. Immutable.",
  patternMessage: `spec.name must consist of ${CLUSTER_NAME_RULE} (e.g. 'Edge_Cluster_1' or 'site-a')`,
  "x-kubernetes-validations": [{ rule: "self == oldSelf", message: "spec.name is immutable: the cluster's Sparkplug group and principals are derived from it" }],
});

export const edgeClusterSpec = z.object({
  name: clusterName.optional(),
  uuid: z.string().regex(UUID, { message: "must be a lowercase UUID such as 0b6e6b1a-…" }).meta({
    description: "Cluster UUID (the ConfigDB object UUID in ACS mode); generated when absent. Immutable once set.",
    patternMessage: "spec.uuid must be a lowercase UUID (8-4-4-4-12 hex digits)",
    "x-kubernetes-validations": [{ rule: "self == oldSelf", message: "spec.uuid is immutable once set" }],
  }).optional(),
  namespace: z.string().min(1).max(63).regex(DNS_LABEL, { message: "must be a DNS label (lowercase letters, digits, '-')" })
    .default(DEFAULT_EDGE_NAMESPACE).meta({
      description: "Namespace on the edge cluster that graft's components run in. Once the edge reports, a change stalls the cluster (embedded mode): delete and re-create it to move.",
      patternMessage: "spec.namespace must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit",
    }),
  chart: z.string().min(1).max(253).optional().meta({
    description: "Helm chart template for the cluster: embedded mode, the chart of the helm-charts repository (edge-cluster, the default; any other name stalls the cluster with InvalidSpec); ACS mode, a 'Helm chart template' UUID.",
  }),
  bare: z.boolean().default(false).meta({ description: "A bare cluster's Flux is not graft's: its repository carries no Flux install." }),
  fluxVersion: z.string().regex(/^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/, { message: "must be a Flux release such as v2.9.5" }).optional().meta({
    description: "The Flux release this cluster runs (its repository's flux-system/gotk-components.yaml), overriding any FluxRollout; one the cluster-manager has (config/flux). Absent: the rollout's, else the one already in the repository, else the cluster-manager's pinned release.",
    patternMessage: "spec.fluxVersion must be a Flux release such as v2.9.5",
  }),
  values: z.record(z.string(), z.unknown()).optional().meta({
    description: "Values merged into the chart's values. Changes after setup produce a new commit in the cluster's repository.",
    "x-kubernetes-preserve-unknown-fields": true,
  }),
}).strict().meta({
  description: "The edge cluster wanted: its name and UUID, the edge namespace graft's components run in, the chart, its values and the Flux release. Only a change here re-runs provisioning.",
  "x-kubernetes-validations": [
    { rule: "!has(oldSelf.name) || has(self.name)", message: "spec.name cannot be removed once set" },
    { rule: "has(oldSelf.name) || !has(self.name)", message: "spec.name cannot be added after creation: it defaults to metadata.name, which is immutable" },
    { rule: "!has(oldSelf.uuid) || has(self.uuid)", message: "spec.uuid cannot be removed once set" },
  ],
});

export const host = z.object({
  hostname: z.string(),
  control_plane: z.boolean(),
  k8s_version: z.string(),
  arch: z.string(),
  os_version: z.string().optional(),
  ready: z.boolean().optional(),
  specialised: z.string().optional(),
}).strict();


export const kubesealCertificate = z.object({
  pem: z.string(),
  fingerprint: z.string().meta({ description: "SHA-256 fingerprint of the certificate" }),
  notAfter: z.string().meta({ format: "date-time" }),
});

/** Readiness of one Flux object on the edge, as edge-sync reports it (acs-contract.md §1 leaves the entry open). */
export const FLUX_READY = ["True", "False", "Unknown"] as const;
export const gitopsObject = z.object({
  kind: z.string().max(63),
  namespace: z.string().max(63),
  name: z.string().max(253),
  ready: z.enum(FLUX_READY).meta({ description: "The object's Ready condition for its current generation (Unknown while an older generation is what Ready speaks for)" }),
  reason: z.string().max(1024).optional(),
  message: z.string().max(4096).optional(),
  revision: z.string().max(512).optional().meta({ description: "Last applied revision: a source's artifact, a Kustomization's lastAppliedRevision, a HelmRelease's chart version" }),
}).strict();

/** The edge's GitOps state: the Flux objects graft put on the edge, as edge-sync last reported them. */
export const gitopsStatus = z.object({
  fluxVersion: z.string().max(63).optional().meta({ description: "Flux version running on the edge (app.kubernetes.io/version of its controllers)" }),
  appliedRevision: z.string().max(512).optional().meta({ description: "Revision of the cluster's repository the self-link Kustomization last applied (branch@sha1:<commit>)" }),
  lastAppliedAt: z.string().optional().meta({ description: "When the centre first saw appliedRevision reported" }),
  objects: z.array(gitopsObject).max(64),
  reportedAt: z.string().meta({ description: "When the centre received the last change of this report" }),
});

export const edgeClusterStatus = z.object({
  uuid: z.string().optional().meta({ description: "The cluster's UUID (spec.uuid, or derived from metadata.uid)" }),
  clusterName: z.string().optional().meta({ description: "The cluster name in use (spec.name, else metadata.name)" }),
  sparkplugGroup: z.string().optional().meta({ description: "Sparkplug group of the edge monitor: <organisation prefix>-<cluster name>" }),
  repository: z.string().optional().meta({ description: "URL of the cluster's Git repository" }),
  commit: z.string().optional().meta({ description: "Last commit graft made to the repository" }),
  fluxVersion: z.string().optional().meta({ description: "The Flux release in the cluster's repository (flux-system/gotk-components.yaml)" }),
  credentialsSecret: z.string().optional().meta({ description: "Secret (in this namespace) holding the cluster's Git password, edge-sync token and bootstrap token hashes" }),
  hosts: z.array(host).optional().meta({ description: "The edge's Nodes, as edge-sync last reported them" }),
  hostCount: z.number().int().optional().meta({ description: "Number of hosts" }),
  kubesealCertificate: kubesealCertificate.optional().meta({ description: "The edge's Sealed Secrets certificate (graft seal encrypts with it)" }),
  lastReportTime: z.string().optional().meta({ description: "When edge-sync last reported (Reporting goes False after --report-timeout without one)" }),
  gitops: gitopsStatus.optional().meta({ description: "The edge's Flux objects as edge-sync last reported them (the Synced condition)" }),
  bootstrap: z.object({
    lastRequest: z.string().optional().meta({ description: "The last bootstrap-request annotation value handled" }),
    commandSecret: z.string().optional().meta({ description: "Secret holding the one-time bootstrap command" }),
    tokenExpiresAt: z.string().optional().meta({ description: "When the last one-time bootstrap link expires" }),
  }).optional().meta({ description: "The last bootstrap command issued (graft bootstrap-command, or the bootstrap-request annotation)" }),
  lastHandledReconcileAt: z.string().optional().meta({ description: "The last reconcile-request annotation value handled" }),
  observedGeneration: z.number().int().optional().meta({ description: "The generation of spec the conditions speak for" }),
  conditions: conditionList().meta({ description: "Ready (derived from the others), Stalled, Reconciling, Provisioned, Bootstrapped, Reporting, Synced, Online, ConfigDBSynced (ACS) and a failing step's …Failed" }),
}).meta({
  description: "What graft has done and what the edge reports: the cluster's identity, repository and last commit, bootstrap link, hosts, Sealed Secrets certificate, the edge's GitOps state, and conditions (Ready derived from the others).",
});

export { condition };

export type EdgeClusterSpec = z.output<typeof edgeClusterSpec>;
export type EdgeClusterStatus = z.output<typeof edgeClusterStatus>;
export type Host = z.output<typeof host>;
export type GitopsStatus = z.output<typeof gitopsStatus>;
export type GitopsObject = z.output<typeof gitopsObject>;

export type EdgeCluster = CustomObject<EdgeClusterSpec, EdgeClusterStatus>;

export const EdgeClusterType = namespacedKind(EDGECLUSTER_VERSION, "edgeclusters", "EdgeCluster");

export const edgeClusterCrd = {
  type: EdgeClusterType,
  description: "An edge Kubernetes cluster graft provisions from here: its identity and Sparkplug group, a Git repository Flux on the edge follows, credentials and a one-time bootstrap command (graft bootstrap-command); the edge reports its hosts and state back into status.",
  singular: "edgecluster",
  shortNames: ["ec"],
  categories: ["graft"],
  central: true,
  rules: [{
    rule: "!has(self.spec.uuid) || !has(self.status) || !has(self.status.uuid) || self.spec.uuid == self.status.uuid",
    message: "spec.uuid must equal the UUID this cluster was provisioned with (status.uuid)",
    fieldPath: ".spec.uuid",
  }, {
    // Names derived from metadata.name (the "<name>-bootstrap" Secret, label values) must stay valid.
    rule: "size(self.metadata.name) <= 63",
    message: "metadata.name must be at most 63 characters: graft derives other object names from it",
    fieldPath: ".metadata.name",
  }, {
    rule: `has(self.spec.name) || self.metadata.name.matches(${JSON.stringify(CLUSTER_NAME.source)})`,
    message: `without spec.name the cluster name is metadata.name, which must then consist of ${CLUSTER_NAME_RULE} (no '.'): set spec.name`,
    fieldPath: ".metadata.name",
  }],
  spec: edgeClusterSpec,
  status: edgeClusterStatus,
  printerColumns: [
    { name: "Group", type: "string", jsonPath: ".status.sparkplugGroup" },
    { name: "Hosts", type: "integer", jsonPath: ".status.hostCount" },
    { name: "Cert-Expiry", type: "string", jsonPath: ".status.kubesealCertificate.notAfter", description: "When the Sealed Secrets certificate the edge reported expires" },
    conditionStatusColumn("Ready"),
    conditionStatusColumn("Online", { description: "The edge monitor's Sparkplug session (with --mqtt-url)" }),
    conditionStatusColumn("Synced", { description: "The edge applied graft's latest commit and every Flux object is Ready" }),
    { name: "Flux", type: "string", jsonPath: ".status.gitops.fluxVersion", description: "Flux version running on the edge" },
    { name: "Applied", type: "string", jsonPath: ".status.gitops.appliedRevision", priority: 1, description: "Revision of the cluster's repository the edge last applied" },
    { name: "Flux-Target", type: "string", jsonPath: ".status.fluxVersion", priority: 1, description: "The Flux release in the cluster's repository (what the edge is moving to)" },
    conditionMessageColumn(),
    { name: "UUID", type: "string", jsonPath: ".status.uuid", priority: 1 },
    { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
  ],
};
