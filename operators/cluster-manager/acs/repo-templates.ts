// The cluster repository's content in ACS mode, built from the installation's ConfigDB templates the way ACS's own
// cluster manager builds it (acs-contract.md §1, §4): the cluster's 'Helm chart template' (expanded with the cluster's
// name and UUID) gives the chart and its values; the 'K8s resource template' for HelmRelease gives the HelmRelease
// around them (so whatever an installation put there — driftDetection, timeouts, remediation — reaches the edge); the
// 'Flux template' gives the files under edo/cluster/. An installation without one of these templates gets graft's
// built-in one, which makes exactly the files of acs-contract.md §4. Templates are expanded with ACS's rules
// (json-templates: a whole-string placeholder becomes the raw value, a missing one drops its key).
// Pure and deterministic: the same entries give the same bytes, so only real changes make a commit.
import { expandTemplate } from "../../edge-sync/deployments/chart-template.js";
import { mergeValues } from "../../edge-sync/deployments/merge-values.js";
import { objectNameProblem } from "../../edge-sync/deployments/k8sname.js";
import {
  CLUSTER_MANIFEST_DIR, FLUX_SECRET, HELM_CHARTS_SOURCE, README_FILE, SELF_LINK, SELF_LINK_POLL_INTERVAL, UUID_LABEL, helmReleaseName, manifestFile, sortKeysDeep,
} from "../git/repo-content.js";
import { isPlainObject } from "../git/template.js";

/** A template that cannot make the repository; the message names the entry and what is wrong. */
export class TemplateProblem extends Error {}

/** The Flux template file the bootstrap applies and the setup status records; every Flux template must have it. */
export const SELF_LINK_TEMPLATE_FILE = "self-link.yaml";
/** Left out for bare clusters, as ACS does. */
export const FLUX_SYSTEM_TEMPLATE_FILE = "flux-system.yaml";

const gitRepository = (name: string, url: string, interval: string) => ({
  apiVersion: "source.toolkit.fluxcd.io/v1",
  kind: "GitRepository",
  metadata: { name, namespace: "{{namespace}}" },
  spec: { interval, ref: { branch: "main" }, secretRef: { name: FLUX_SECRET }, url },
});
const kustomization = (name: string, spec: { interval: string; path: string; source: string }) => ({
  apiVersion: "kustomize.toolkit.fluxcd.io/v1",
  kind: "Kustomization",
  metadata: { name, namespace: "{{namespace}}" },
  spec: { interval: spec.interval, path: spec.path, prune: true, sourceRef: { kind: "GitRepository", name: spec.source } },
});

/** graft's 'Flux template' for installations without one: the files of acs-contract.md §4. */
export const BUILT_IN_FLUX_TEMPLATE: Record<string, unknown[]> = {
  "edge-cluster.yaml": ["{{helm}}"],
  [FLUX_SYSTEM_TEMPLATE_FILE]: [kustomization("flux-system", { interval: "3h0m0s", path: "./flux-system", source: HELM_CHARTS_SOURCE })],
  "helm-charts.yaml": [gitRepository(HELM_CHARTS_SOURCE, "{{url.helm}}", "3m")],
  // The self-link polls as embedded mode's does (SELF_LINK_POLL_INTERVAL); §4 leaves its interval open.
  [SELF_LINK_TEMPLATE_FILE]: [gitRepository(SELF_LINK, "{{url.self}}", SELF_LINK_POLL_INTERVAL), kustomization(SELF_LINK, { interval: "3m", path: "./", source: SELF_LINK })],
};

/** graft's 'K8s resource template' for HelmRelease, for installations without one (Flux's helm.toolkit.fluxcd.io/v2). */
export const BUILT_IN_HELM_RELEASE_TEMPLATE = {
  resources: [{ apiVersion: "helm.toolkit.fluxcd.io/v2", kind: "HelmRelease" }],
  template: {
    apiVersion: "helm.toolkit.fluxcd.io/v2",
    kind: "HelmRelease",
    metadata: { name: "{{name}}", labels: { [UUID_LABEL]: "{{uuid}}" } },
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

export interface AcsRepoInput {
  uuid: string;
  /** The cluster name: `{{name}}` in the chart template. */
  name: string;
  namespace: string;
  /** This cluster's repository and the shared helm-charts repository, as Flux on the edge reaches them. */
  selfUrl: string;
  helmChartsUrl: string;
  /** The 'Helm chart template' entry and its UUID (for messages). */
  chart: { uuid: string; entry: unknown };
  /** graft's own values for its edge chart (mode, URLs, Kerberos), merged over the chart template's. */
  graftValues: Record<string, unknown>;
  /** The cluster entry's values: merged last, so they win. */
  values?: Record<string, unknown>;
  bare?: boolean;
  /** The 'K8s resource template' entry for HelmRelease; undefined when the installation has none. */
  helmReleaseTemplate?: unknown;
  /** The 'Flux template' entry; undefined when the installation has none. */
  fluxTemplate?: unknown;
}

export interface AcsRepo {
  /** Path → text, sorted by path. */
  files: Map<string, string>;
  /** The self-link file's text (the setup status keeps it, as ACS's does). */
  selfLink: string;
  /** Which templates came from the ConfigDB (false: graft's built-in one). */
  fromConfigDb: { helmRelease: boolean; flux: boolean };
}

const README = `# Edge cluster repository

This repository is written by graft's cluster-manager (ACS mode) and read by Flux on the edge cluster.
The files under \`${CLUSTER_MANIFEST_DIR}/\` are made from the installation's ConfigDB templates (the cluster's
'Helm chart template', the 'K8s resource template' for HelmRelease and the 'Flux template') and are replaced on
every change; change those entries, or the cluster's 'Edge cluster configuration', instead of these files.
Files outside \`${CLUSTER_MANIFEST_DIR}/\` (for example \`by-hand/\`) are kept.
`;

const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export function acsRepoFiles(input: AcsRepoInput): AcsRepo {
  const release = helmRelease(input);
  const fromDb = input.fluxTemplate !== undefined;
  const what = fromDb ? "the 'Flux template'" : "graft's built-in Flux template";
  const expanded = expandTemplate<unknown>(input.fluxTemplate ?? BUILT_IN_FLUX_TEMPLATE, {
    helm: release, namespace: input.namespace, url: { self: input.selfUrl, helm: input.helmChartsUrl },
  });
  if (!isPlainObject(expanded)) throw new TemplateProblem(`${what} is not an object of files`);
  if (!Object.hasOwn(expanded, SELF_LINK_TEMPLATE_FILE)) throw new TemplateProblem(`${what} has no "${SELF_LINK_TEMPLATE_FILE}"`);

  const files = new Map<string, string>([[README_FILE, README]]);
  for (const [file, docs] of Object.entries(expanded)) {
    if (input.bare && file === FLUX_SYSTEM_TEMPLATE_FILE) continue;
    if (!FILE_NAME.test(file)) throw new TemplateProblem(`${what}: "${file}" is not a plain file name`);
    if (!Array.isArray(docs)) throw new TemplateProblem(`${what}: "${file}" is not a list of manifests`);
    docs.forEach((doc, i) => {
      if (!isPlainObject(doc) || typeof doc.apiVersion !== "string" || typeof doc.kind !== "string") {
        throw new TemplateProblem(`${what}: manifest ${i + 1} of "${file}" has no apiVersion and kind once expanded`);
      }
    });
    files.set(`${CLUSTER_MANIFEST_DIR}/${file}`, manifestFile(docs as object[]));
  }
  return {
    files: new Map([...files.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    selfLink: files.get(`${CLUSTER_MANIFEST_DIR}/${SELF_LINK_TEMPLATE_FILE}`)!,
    fromConfigDb: { helmRelease: input.helmReleaseTemplate !== undefined, flux: fromDb },
  };
}

/**
 * The HelmRelease: the chart template expanded with {uuid, name}, its values merged with graft's and then the
 * cluster's, put into the HelmRelease template with the chart from the helm-charts source. ACS passes the cluster
 * name as the template's `{{name}}`, which is no object name for names such as Edge_Cluster_1; graft passes the
 * release name of acs-contract.md §4, `edge-cluster-<uuid>`.
 */
function helmRelease(input: AcsRepoInput): Record<string, unknown> {
  const chartWhat = `'Helm chart template' ${input.chart.uuid}`;
  const chart = expandTemplate<unknown>(input.chart.entry, { uuid: input.uuid, name: input.name });
  if (!isPlainObject(chart) || typeof chart.chart !== "string" || chart.chart === "") throw new TemplateProblem(`${chartWhat} has no chart`);
  if (chart.values !== undefined && !isPlainObject(chart.values)) throw new TemplateProblem(`${chartWhat}: values is not an object`);
  const values = mergeValues(chart.values ?? {}, input.graftValues, input.values ?? {});

  const fromDb = input.helmReleaseTemplate !== undefined;
  const what = fromDb ? "the 'K8s resource template' for HelmRelease" : "graft's built-in HelmRelease template";
  const name = helmReleaseName(input.uuid);
  const expanded = expandTemplate<unknown>(input.helmReleaseTemplate ?? BUILT_IN_HELM_RELEASE_TEMPLATE, {
    ...chart, uuid: input.uuid, name, values: sortKeysDeep(values), prefix: "edge-cluster", source: HELM_CHARTS_SOURCE,
  });
  const template = isPlainObject(expanded) ? expanded.template : undefined;
  if (!isPlainObject(template) || typeof template.apiVersion !== "string" || template.kind !== "HelmRelease") {
    throw new TemplateProblem(`${what} does not make a HelmRelease (its "template" needs apiVersion and kind: HelmRelease)`);
  }
  const metadata = isPlainObject(template.metadata) ? template.metadata : {};
  const releaseName = typeof metadata.name === "string" ? metadata.name : name;
  const problem = objectNameProblem(releaseName);
  if (problem) throw new TemplateProblem(`${what}: the HelmRelease name ${problem}`);
  const rest = Object.fromEntries(Object.entries(metadata).filter(([key]) => key !== "name" && key !== "namespace"));
  return { ...template, metadata: { name: releaseName, namespace: input.namespace, ...rest } };
}
