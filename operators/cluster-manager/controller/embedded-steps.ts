// Embedded mode's own steps: the credentials Secret, the cluster's Git repository and the Reporting check. Each
// owns its failure condition (CredentialsFailed, RepositoryFailed) and is idempotent: a repeat finds its work done.
import { createHash } from "node:crypto";
import { parseAllDocuments } from "yaml";
import { FLUX_VERSION_ANNOTATION } from "../../api/constants.js";
import { ConditionType as T, Reason } from "../../api/conditions.js";
import { EdgeClusterType, type EdgeCluster, type EdgeClusterStatus } from "../../api/edgecluster.js";
import { setCondition } from "../../runtime/conditions.js";
import { GenericError, StallingError, messageOf } from "../../runtime/errors.js";
import { urlsFor } from "../config.js";
import { CrashPoint, crashPoint } from "../crash-points.js";
import { ensureCredentials } from "../credentials.js";
import { shippedFluxReleases } from "../fleet/flux-releases.js";
import { chooseFluxRelease, type FluxChoice } from "../fleet/flux-version.js";
import type { ChartValuesSchema } from "../chart-values-schema.js";
import { FLUX_COMPONENTS_FILE, SELF_LINK_FILE, clusterValues, generateClusterRepo, repoFluxVersion } from "../git/repo-content.js";
import { fileText } from "../git/repo-store.js";
import { EDGE_CHART } from "../helm-charts.js";
import { SEALED_SECRETS_DIR } from "../seal-endpoint.js";
import type { EdgeClusterControllerDeps } from "./edgecluster-controller.js";
import { ownedBy, type Step } from "./scope.js";

/**
 * Embedded mode's spec check, before any side effect: spec.chart must be a chart of the shared helm-charts repository,
 * or the edge's HelmRelease could never find it (seen only after bootstrap, as Synced=False).
 */
export const checkEmbeddedSpec: Step = async ({ ec }) => {
  const chart = ec.spec.chart;
  if (chart !== undefined && chart !== EDGE_CHART) {
    throw new StallingError(Reason.InvalidSpec, `spec.chart "${chart}" is not a chart of the helm-charts repository (it holds ${EDGE_CHART}): set spec.chart to ${EDGE_CHART} or leave it out`);
  }
  return "continue";
};

export function credentialsStep(deps: EdgeClusterControllerDeps): Step {
  return async (scope) => {
    const { ec, scratch } = scope;
    const uuid = scratch.uuid!;
    const owner = { ...ec, apiVersion: `${EdgeClusterType.group}/${EdgeClusterType.version}`, kind: EdgeClusterType.kind };
    const { name, created } = await ownedBy(scope, T.CredentialsFailed, "cannot create the cluster's credentials Secret",
      () => ensureCredentials(deps.client, ec.metadata.namespace!, uuid, scratch.clusterName!, owner, deps.credentialsKnown?.(uuid) ?? false));
    scratch.credentialsSecret = name;
    if (created) {
      scratch.createdSomething = true;
      scope.note("CredentialsCreated", `created Secret "${name}" with the cluster's Git and edge-sync credentials`);
      crashPoint(CrashPoint.AfterCredentials);
    }
    return "continue";
  };
}

function chartValues(deps: EdgeClusterControllerDeps, chart: string, group: string, namespace: string, centralUrl: string): Record<string, unknown> {
  return {
    cluster: { name: "{{name}}", uuid: "{{uuid}}", sparkplugGroup: group, namespace },
    central: { url: centralUrl },
    mode: "embedded",
    ...(deps.config.edgeImage ? { image: deps.config.edgeImage } : {}),
    ...(deps.config.chartValues[chart] ?? {}),
  };
}

/**
 * The cluster's Git repository, committed only when its content changes. The Flux release in it is chosen from the
 * files at the head (fleet/flux-version.ts), so the choice and the commit see the same tree.
 */
export function repositoryStep(deps: EdgeClusterControllerDeps): Step {
  const handled = new HandledRepositories();
  return async (scope) => {
    const { ec, scratch } = scope;
    const { config, repos } = deps;
    const uuid = scratch.uuid!;
    const clusterName = scratch.clusterName!;
    const urls = urlsFor(config, uuid);
    const chart = ec.spec.chart ?? config.defaultChart;
    const input = {
      uuid, name: clusterName, namespace: ec.spec.namespace, selfUrl: urls.git, helmChartsUrl: urls.helmCharts,
      chart: { name: chart, values: chartValues(deps, chart, scratch.sparkplugGroup!, ec.spec.namespace, urls.central) },
      values: ec.spec.values, bare: ec.spec.bare,
    };
    if (deps.valuesSchema && chart === EDGE_CHART) refuseValuesTheChartRejects(deps.valuesSchema, clusterValues(input), ec.spec.values);
    const inputs = handled.key({ ...input, fluxVersion: ec.spec.fluxVersion, assigned: ec.metadata.annotations?.[FLUX_VERSION_ANNOTATION] });
    // One owner of RepositoryFailed for both stages, so a retry failing alike rewrites nothing.
    const { repoExisted, sync, fluxVersion } = await ownedBy(scope, T.RepositoryFailed, "cannot create the cluster's Git repository", async () => {
      await repos.ensureRepo(uuid);
      crashPoint(CrashPoint.AfterRepository);
      const known = await handled.unchanged(uuid, inputs, () => repos.headCommit(uuid));
      if (known) return { repoExisted: true, sync: { commit: known.commit, changed: false, previous: known.commit }, fluxVersion: known.fluxVersion };
      let flux: FluxChoice | undefined;
      // Sealed secrets are committed by the seal endpoint; regenerating the manifests keeps them.
      const committed = await repos.updateFiles(uuid, (current) => {
        refuseNamespaceMove(ec, current);
        const inRepo = repoFluxVersion(current);
        const currentRelease = inRepo ? { version: inRepo, installYaml: fileText(current.get(FLUX_COMPONENTS_FILE)!) } : undefined;
        flux = ec.spec.bare ? undefined : chooseFluxRelease(ec, deps.fluxReleases ?? shippedFluxReleases(), currentRelease);
        const files = generateClusterRepo({ ...input, flux: flux?.release });
        const next = new Map<string, string | Buffer>(files);
        for (const [path, content] of current) if (path.startsWith(`${SEALED_SECRETS_DIR}/`)) next.set(path, content);
        return next;
      }, (previous) => previous
        ? `Update cluster "${clusterName}" (generation ${ec.metadata.generation})`
        : `Set up cluster "${clusterName}"`).catch((err: unknown) => {
        if (err instanceof StallingError) throw err;
        throw new GenericError(T.RepositoryFailed, `cannot commit to the cluster's Git repository: ${messageOf(err)}`, { cause: err });
      });
      return { repoExisted: committed.previous !== null, sync: committed, fluxVersion: (flux as FluxChoice | undefined)?.release.version };
    });
    handled.record(uuid, inputs, sync.commit, fluxVersion);
    if (sync.changed) {
      if (!repoExisted) scratch.createdSomething = true;
      scope.note(repoExisted ? "RepositoryUpdated" : "RepositoryCreated", `committed ${sync.commit.slice(0, 12)} to ${urls.git}`);
      crashPoint(CrashPoint.AfterCommit);
    }
    scratch.repository = urls.git;
    scratch.commit = sync.commit;
    scratch.fluxVersion = fluxVersion;
    scratch.provisionedMessage = `repository ${urls.git} at ${sync.commit.slice(0, 12)}; credentials in Secret "${scratch.credentialsSecret}"`;
    return "continue";
  };
}

/**
 * For each cluster, the inputs of the last pass whose repository step ended at a head, and that head. A later pass
 * with the same inputs whose repository's head is still that commit would generate the same tree (a commit id names
 * its content, and the content is a function of those inputs and of that head): it reads and generates nothing.
 * Every resync and each first report of 1000 clusters otherwise read, generated and hashed every repository again.
 */
class HandledRepositories {
  private readonly byUuid = new Map<string, { inputs: string; commit: string; fluxVersion?: string }>();

  constructor(private readonly max = 20_000) {}

  key(inputs: object): string {
    return createHash("sha1").update(JSON.stringify(inputs)).digest("hex");
  }

  async unchanged(uuid: string, inputs: string, head: () => Promise<string | null>) {
    const known = this.byUuid.get(uuid);
    return known?.inputs === inputs && await head() === known.commit ? known : undefined;
  }

  record(uuid: string, inputs: string, commit: string, fluxVersion?: string): void {
    this.byUuid.delete(uuid);
    this.byUuid.set(uuid, { inputs, commit, fluxVersion });
    if (this.byUuid.size > this.max) this.byUuid.delete(this.byUuid.keys().next().value!);
  }
}

/** The namespace of the self-link Kustomization a repository holds (where the bootstrap linked the edge). */
function selfLinkNamespace(files: ReadonlyMap<string, Buffer>): string | undefined {
  const text = files.get(SELF_LINK_FILE);
  if (text === undefined) return undefined;
  for (const doc of parseAllDocuments(fileText(text))) {
    const m = doc.toJS() as { kind?: unknown; metadata?: { namespace?: unknown } } | null;
    if (m?.kind === "Kustomization" && typeof m.metadata?.namespace === "string") return m.metadata.namespace;
  }
  return undefined;
}

/**
 * Once the edge reports, its credentials and Flux link live in the namespace it was bootstrapped into: a commit moving
 * graft's objects to another would strand it (no credentials there, the old link pruning itself), so it is refused.
 */
function refuseNamespaceMove(ec: EdgeCluster, current: ReadonlyMap<string, Buffer>): void {
  if (!ec.status?.lastReportTime) return;
  const linked = selfLinkNamespace(current);
  if (linked === undefined || linked === ec.spec.namespace) return;
  throw new StallingError(Reason.InvalidSpec, `spec.namespace "${ec.spec.namespace}" differs from "${linked}", which the edge was bootstrapped into and reports from: ` +
    "its credentials and Flux link live there, so committing the new one would strand it; to move it, delete this EdgeCluster and create it again, " +
    `then run its new bootstrap command; or set spec.namespace back to "${linked}"`);
}

/**
 * The values the HelmRelease would carry must pass the chart's values.schema.json, or helm refuses them on the edge
 * (Synced=False there, Ready=True here). Refused before any commit: the repository keeps its last good values.
 */
function refuseValuesTheChartRejects(schema: ChartValuesSchema, values: Record<string, unknown>, specValues: unknown): void {
  const problems = schema.problems(values, specValues);
  if (problems.length === 0) return;
  const shown = problems.slice(0, 5).join("; ") + (problems.length > 5 ? `; and ${problems.length - 5} more` : "");
  const fix = problems.some((p) => p.startsWith("spec.values")) ? "fix spec.values"
    : "fix the cluster-manager's chart values (--chart-values-file, --edge-image)";
  throw new StallingError(Reason.InvalidSpec, `the chart values break ${schema.chart}'s values.schema.json, so helm on the edge would refuse them: ${shown}. ` +
    `Nothing was committed (the edge keeps its last values): ${fix}`);
}

/** Reporting goes False once a bootstrapped edge has not reported for the timeout. */
export function markSilentEdge(s: EdgeClusterStatus, timeoutMs: number, generation?: number, now = Date.now()) {
  if (!s.lastReportTime) return;
  const silentFor = now - Date.parse(s.lastReportTime);
  if (silentFor <= timeoutMs) return;
  s.conditions = setCondition(s.conditions, {
    type: T.Reporting, status: "False", reason: Reason.ReportsStopped,
    message: `no report from edge-sync since ${s.lastReportTime}: check edge-sync on the edge cluster (kubectl -n <edge namespace> logs deploy/edge-sync)`,
  }, generation);
}

/**
 * Reporting goes False after the timeout without a report; until then the pass comes back when that would happen.
 * A silent edge needs no timer: its next report turns Reporting True, and that change is handed to the reconciler.
 */
export function reportingStep(deps: EdgeClusterControllerDeps): Step {
  return async ({ ec, status, scratch }) => {
    const timeoutMs = deps.config.reportTimeoutMs;
    const now = Date.now();
    markSilentEdge(status, timeoutMs, ec.metadata.generation, now);
    const last = status.lastReportTime ? Date.parse(status.lastReportTime) : undefined;
    if (last !== undefined && last + timeoutMs >= now) scratch.requeueAfterMs = Math.max(1000, last + timeoutMs - now + 1000);
    return "continue";
  };
}
