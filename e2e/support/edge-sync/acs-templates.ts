// The K8s resource templates and a Helm chart template as ACS's installer loads them (acs-service-setup/dumps/helm.yaml,
// read 2026-12), with the HelmRelease at helm.toolkit.fluxcd.io/v2 (the version the pinned Flux CRDs serve).
import { K8sResource } from "../../../operators/api/constants.js";

export const helmReleaseTemplate = {
  resources: [{ apiVersion: "helm.toolkit.fluxcd.io/v2", kind: "HelmRelease" }],
  template: {
    apiVersion: "helm.toolkit.fluxcd.io/v2",
    kind: "HelmRelease",
    metadata: { name: "{{name}}", labels: { "factoryplus.app.amrc.co.uk/uuid": "{{uuid}}" } },
    spec: {
      chart: { spec: { chart: "{{chart}}", reconcileStrategy: "Revision", sourceRef: { kind: "GitRepository", name: "{{source}}" } } },
      install: { crds: "CreateReplace" },
      upgrade: { crds: "CreateReplace" },
      interval: "2m0s",
      maxHistory: 1,
      values: "{{values}}",
    },
  },
};

export const gitRepositoryTemplate = {
  resources: [{ apiVersion: "source.toolkit.fluxcd.io/v1", kind: "GitRepository" }],
  template: {
    apiVersion: "source.toolkit.fluxcd.io/v1",
    kind: "GitRepository",
    metadata: { name: "{{name}}", labels: { "factoryplus.app.amrc.co.uk/uuid": "{{uuid}}" } },
    spec: { interval: "3m", ref: { branch: "main" }, secretRef: { name: "flux-secrets" }, url: "{{url}}" },
  },
};

export const k8sTemplates = {
  [K8sResource.HelmRelease]: helmReleaseTemplate,
  [K8sResource.GitRepository]: gitRepositoryTemplate,
};

/** ACS's "Edge Agent" chart template. */
export const edgeAgentChart = {
  chart: "edge-agent",
  values: { name: "{{name}}", uuid: "{{uuid}}", hostname: "{{hostname}}", authGroup: { edgeAgent: "1b9e8a3c-6a1b-4d2f-9c57-2f3f0d0c9e11" } },
};
