// Identifiers shared by every graft component (and by edge tools that import no runtime).
export const GROUP = "factoryplus.app.amrc.co.uk";
export const EDGECLUSTER_VERSION = "v1alpha1";
export const FINALIZER = `${GROUP}/edgecluster-teardown`;
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const MANAGED_BY = "graft";
export const CLUSTER_UUID_LABEL = `${GROUP}/cluster-uuid`;
/** Setting this annotation to any new value forces a reconcile; status.lastHandledReconcileAt records it. */
export const RECONCILE_REQUESTED_ANNOTATION = `reconcile.${GROUP}/requestedAt`;
/** Setting this annotation to a new value makes the manager issue a bootstrap token into the command Secret. */
export const BOOTSTRAP_REQUEST_ANNOTATION = `${GROUP}/bootstrap-request`;
export const DEFAULT_EDGE_NAMESPACE = "fplus-edge";
/**
 * The Flux release a FluxRollout has assigned to an EdgeCluster (written by the rollout controller only; a cluster's
 * own spec.fluxVersion wins over it).
 */
export const FLUX_VERSION_ANNOTATION = `fleet.${GROUP}/flux-version`;
/** The FluxRollout that wrote FLUX_VERSION_ANNOTATION. */
export const FLUX_ROLLOUT_ANNOTATION = `fleet.${GROUP}/flux-rollout`;

/** ACS ConfigDB application UUIDs (acs-contract.md §1). */
export const App = {
  EdgeClusterConfiguration: "bdb13634-0b3d-4e38-a065-9d88c12ee78d",
  EdgeClusterSetupStatus: "f6c67e6f-e48e-4f69-b4bb-bfbddcc2a517",
  EdgeClusterStatus: "747a62c9-1b66-4a2e-8dd9-0b70a91b6b75",
  SparkplugAddress: "8e32801b-f35a-4cbf-a5c3-2af64d3debd7",
  GitRepoConfig: "38d62a93-b6b4-4f63-bad4-d433e3eaff29",
  HelmChartTemplate: "729fe070-5e67-4bc7-94b5-afd75cb42b03",
  FluxTemplate: "72804a19-636b-4836-b62b-7ad1476f2b86",
  BootstrapScript: "a807d8fc-63ff-48bb-85c7-82b93beb606e",
  GeneralInfo: "64a8bfa9-7772-45c4-9d1a-9e6290690957",
  Registration: "cb40bed5-49ad-4443-a7f5-08c75009da8f",
  ServiceConfig: "5b47881c-b012-4040-945c-eacafca539b2",
  /** Workloads for edge clusters: `{cluster, name, hostname?, chart, values?, charts?}` (acs-contract.md §10). */
  EdgeDeployment: "f2b9417a-ef7f-421f-b387-bb8183a48cdb",
  /** Manifest templates keyed by K8s resource UUID: `{template, resources[]}` (§10). */
  K8sResourceTemplate: "88436128-09a3-4c9c-b7f4-b0e495137265",
  /** An edge agent's configuration, keyed by its node UUID; its ETag is the revision the agent should run (§11). */
  EdgeAgentConfig: "aac6f843-cfee-4683-b121-6943bfdf9173",
} as const;

/** Objects keying the K8s resource template entries edge-sync uses (§10). */
export const K8sResource = {
  HelmRelease: "0c92f608-d4dc-11f0-b2a0-1bc42be2ebc8",
  GitRepository: "03827afc-d4dc-11f0-9645-dfc5bcb16bc6",
} as const;

export const Class = {
  EdgeCluster: "f24d354d-abc1-4e32-98e1-0667b3e40b61",
  EdgeAccount: "97756c9a-38e6-4238-b78c-3df6f227a6c9",
} as const;

export const Service = {
  Directory: "af4a1d66-e6f7-43c4-8a67-0fa3be2b1cf9",
  ConfigDB: "af15f175-78a0-4e05-97c0-2a0bb82b9f3b",
  Auth: "cab2642a-f7d9-42e5-8845-8f35affe1fd4",
  MQTT: "feb27ba3-bd2c-4916-9269-79a61ebc4a47",
  Git: "7adf4db0-2e7b-4a68-ab9d-376f4c5ce14b",
  Clusters: "2706aa43-a826-441e-9cec-cd3d4ce623c2",
  CommandEscalation: "78ea7071-24ac-4916-8351-aa3e549d8ccd",
} as const;

export const Perm = {
  GitPull: "12ecb694-b4b9-4d2a-927e-d100019f7ebe",
  GitPush: "b2d8d437-5060-4202-bcc2-bd2beda09651",
  ManageClusters: "a40acff8-0c61-4251-bef3-d8d53e50cdd0",
  ManageSecrets: "07fba27a-0d01-4c07-875b-d25345261d3a",
} as const;
