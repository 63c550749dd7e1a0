// From the ConfigDB's Edge deployment, Helm chart template and K8s resource template entries to the Flux objects this
// cluster should run (acs-contract.md §10), as a pure function so every rule is testable on its own. A deployment
// that cannot be built gets a problem instead of objects; the caller decides what that means for what is running.
import { K8sResource } from "../../api/constants.js";
import { expandTemplate } from "./chart-template.js";
import { k8sname, objectNameProblem } from "./k8sname.js";
import { mergeValues } from "./merge-values.js";

/** The label ACS's edge-sync puts on what it applies, and its field manager. */
export const EDGE_SYNC_MANAGER = "edge-sync.factoryplus.app.amrc.co.uk";
export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
/** The deployment (or Git source) UUID label ACS's K8s resource templates set. */
export const UUID_LABEL = "factoryplus.app.amrc.co.uk/uuid";

/** A ConfigDB entry as a SEARCH child carries it. */
export interface EntryRead {
  status: number;
  body?: unknown;
}

export interface ResourceKind {
  apiVersion: string;
  kind: string;
}

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

export type DeploymentPlan =
  | { uuid: string; name?: string; objects: Manifest[]; problem?: undefined }
  | { uuid: string; name?: string; objects?: undefined; problem: string };

export interface PlanInputs {
  namespace: string;
  /** `{cluster, realm, directory_url}`: the first layer of every release's values. */
  baseValues: Record<string, unknown>;
  /** The GitRepository URL of a Git source UUID; throws when the Git server is not known. */
  gitUrl: (source: string) => string;
  deployments: ReadonlyMap<string, EntryRead>;
  charts: ReadonlyMap<string, EntryRead>;
  k8sTemplates: ReadonlyMap<string, EntryRead>;
}

export interface Plan {
  /** Every kind some K8s resource template manages: what may be pruned. */
  kinds: ResourceKind[];
  deployments: DeploymentPlan[];
}

export const kindKey = (k: ResourceKind) => `${k.apiVersion}/${k.kind}`;
export const manifestKey = (m: { apiVersion: string; kind: string; metadata: { name: string } }) => `${m.apiVersion}/${m.kind}/${m.metadata.name}`;

class PlanProblem extends Error {}

export function buildPlan(inputs: PlanInputs): Plan {
  const templates = new Map<string, { template: Record<string, unknown>; resources: ResourceKind[] }>();
  const kinds = new Map<string, ResourceKind>();
  for (const [uuid, read] of inputs.k8sTemplates) {
    const parsed = read.status === 200 ? parseK8sTemplate(read.body) : undefined;
    if (!parsed) continue;
    templates.set(uuid, parsed);
    for (const kind of parsed.resources) kinds.set(kindKey(kind), kind);
  }

  const plans: DeploymentPlan[] = [];
  const owners = new Map<string, string>();
  for (const uuid of [...inputs.deployments.keys()].sort()) {
    const read = inputs.deployments.get(uuid)!;
    const name = isObject(read.body) && typeof read.body.name === "string" ? read.body.name : undefined;
    try {
      const objects = deploymentObjects(uuid, read, inputs, templates);
      for (const obj of objects) {
        const key = manifestKey(obj);
        const owner = owners.get(key);
        // Two deployments sharing a Git source share its GitRepository; any other clash is a conflict.
        if (owner && owner !== uuid && obj.kind !== "GitRepository") {
          throw new PlanProblem(`${obj.kind} "${obj.metadata.name}" is already made by deployment "${owner}": give one of them another name`);
        }
      }
      for (const obj of objects) if (!owners.has(manifestKey(obj))) owners.set(manifestKey(obj), uuid);
      plans.push({ uuid, name, objects });
    } catch (err) {
      if (!(err instanceof PlanProblem)) throw err;
      plans.push({ uuid, name, problem: err.message });
    }
  }
  return { kinds: [...kinds.values()], deployments: plans };
}

function deploymentObjects(uuid: string, read: EntryRead, inputs: PlanInputs,
  templates: Map<string, { template: Record<string, unknown> }>): Manifest[] {
  if (read.status !== 200) throw new PlanProblem(`the deployment entry cannot be read: HTTP ${read.status}`);
  const spec = read.body;
  if (!isObject(spec)) throw new PlanProblem("the deployment entry is not an object");
  if (typeof spec.name !== "string" || spec.name === "") throw new PlanProblem("the deployment entry has no name");
  if (spec.hostname !== undefined && typeof spec.hostname !== "string") throw new PlanProblem("hostname is not a string");
  if (spec.values !== undefined && !isObject(spec.values)) throw new PlanProblem("values is not an object");
  // The deprecated `charts` list makes one release per chart.
  const chartIds = typeof spec.chart === "string" ? [spec.chart]
    : Array.isArray(spec.charts) && spec.charts.every((c) => typeof c === "string") ? spec.charts as string[] : undefined;
  if (!chartIds || chartIds.length === 0) throw new PlanProblem("the deployment entry names no chart");

  const hrTemplate = templates.get(K8sResource.HelmRelease);
  if (!hrTemplate) throw new PlanProblem(`the K8s resource template for HelmRelease ("${K8sResource.HelmRelease}") cannot be read`);

  const objects: Manifest[] = [];
  for (const chartId of chartIds) {
    const chartRead = inputs.charts.get(chartId);
    if (!chartRead) throw new PlanProblem(`Helm chart template "${chartId}" does not exist or cannot be read`);
    if (chartRead.status !== 200) throw new PlanProblem(`Helm chart template "${chartId}" cannot be read: HTTP ${chartRead.status}`);
    const chart = expandTemplate<unknown>(chartRead.body, { uuid, name: spec.name, hostname: spec.hostname });
    if (!isObject(chart) || typeof chart.chart !== "string" || chart.chart === "") {
      throw new PlanProblem(`Helm chart template "${chartId}" has no chart`);
    }
    for (const key of ["prefix", "source"] as const) {
      if (chart[key] !== undefined && typeof chart[key] !== "string") throw new PlanProblem(`Helm chart template "${chartId}": ${key} is not a string`);
    }
    const prefix = (chart.prefix as string | undefined) ?? chart.chart;
    const source = chart.source as string | undefined;
    const releaseName = k8sname(prefix, spec.name);
    const sourceName = k8sname("helm", source ?? "charts");
    const values = mergeValues(inputs.baseValues, chart.values ?? {}, spec.values ?? {});
    objects.push(finish(expandTemplate(hrTemplate.template, { uuid, name: releaseName, chart: chart.chart, source: sourceName, values }),
      releaseName, inputs.namespace));
    if (source === undefined) continue;
    const gitTemplate = templates.get(K8sResource.GitRepository);
    if (!gitTemplate) throw new PlanProblem(`the K8s resource template for GitRepository ("${K8sResource.GitRepository}") cannot be read`);
    let url: string;
    try {
      url = inputs.gitUrl(source);
    } catch (err) {
      throw new PlanProblem(`no URL for Git source "${source}": ${(err as Error).message}`);
    }
    objects.push(finish(expandTemplate(gitTemplate.template, { uuid: source, name: sourceName, url }), sourceName, inputs.namespace));
  }
  return objects;
}

/** Puts the object in edge-sync's namespace with ACS's managed-by label, after checking what the template made. */
function finish(expanded: unknown, expectedName: string, namespace: string): Manifest {
  if (!isObject(expanded) || typeof expanded.apiVersion !== "string" || typeof expanded.kind !== "string") {
    throw new PlanProblem("a K8s resource template produced no apiVersion and kind");
  }
  const metadata = isObject(expanded.metadata) ? expanded.metadata : {};
  const name = typeof metadata.name === "string" ? metadata.name : expectedName;
  const problem = objectNameProblem(name);
  if (problem) throw new PlanProblem(`${expanded.kind} name: ${problem}`);
  const labels = isObject(metadata.labels) ? Object.fromEntries(Object.entries(metadata.labels).map(([k, v]) => [k, String(v)])) : {};
  return {
    ...expanded,
    apiVersion: expanded.apiVersion,
    kind: expanded.kind,
    metadata: { ...metadata, name, namespace, labels: { ...labels, [MANAGED_BY_LABEL]: EDGE_SYNC_MANAGER } },
  };
}

function parseK8sTemplate(body: unknown): { template: Record<string, unknown>; resources: ResourceKind[] } | undefined {
  if (!isObject(body) || !isObject(body.template) || !Array.isArray(body.resources)) return undefined;
  const resources = body.resources.filter((r): r is ResourceKind =>
    isObject(r) && typeof r.apiVersion === "string" && typeof r.kind === "string").map((r) => ({ apiVersion: r.apiVersion, kind: r.kind }));
  return { template: body.template, resources };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
