// The cluster manager's service config: the ConfigDB 'Service config' entry of the Clusters service, written by the
// ACS installer, with command-line overrides. ACS's installer writes it in this shape:
//   { group: { flux: {uuid}, krbkeys: {uuid}, cluster: {uuid, path} }, helm: { cluster: <chart uuid> },
//     repo: { helm: { uuid } } }
import { z } from "zod";
import { App, Service } from "../../api/constants.js";
import type { ConfigDbClient } from "../../acs/configdb.js";

const UUID = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/, "must be a lowercase UUID");
const ref = z.object({ uuid: UUID.optional() }).loose();

const serviceConfigEntry = z.object({
  group: z.object({
    flux: ref.optional(),
    krbkeys: ref.optional(),
    cluster: z.object({ uuid: UUID.optional(), path: z.string().min(1).optional() }).loose().optional(),
  }).loose().optional(),
  helm: z.object({ cluster: UUID.optional() }).loose().optional(),
  repo: z.object({ helm: ref.optional() }).loose().optional(),
}).loose();

export interface AcsServiceConfig {
  /** Group the `flux` accounts join (the "Edge flux" role). */
  fluxGroup: string;
  /** Group the `krbkeys` accounts join. */
  krbkeysGroup: string;
  /** Group the cluster repositories join, when the installation has one. */
  clusterRepoGroup?: string;
  /** Repositories are configured at `<clusterRepoPath>/<cluster name>`. */
  clusterRepoPath: string;
  /** The Git repository holding the edge Helm charts. */
  helmChartsRepo: string;
  /** 'Helm chart template' used when a cluster names none. */
  defaultChart?: string;
}

export const DEFAULT_CLUSTER_REPO_PATH = "cluster";

/** Reads the entry (if any) and applies the overrides; fails with what to set when a required value is missing. */
export async function loadServiceConfig(cdb: ConfigDbClient, overrides: Partial<AcsServiceConfig> = {}): Promise<AcsServiceConfig> {
  const found = await cdb.getEntry(App.ServiceConfig, Service.Clusters);
  return resolveServiceConfig(found?.value, overrides);
}

export function resolveServiceConfig(entry: unknown, overrides: Partial<AcsServiceConfig> = {}): AcsServiceConfig {
  let parsed: z.output<typeof serviceConfigEntry> = {};
  if (entry !== undefined && entry !== null) {
    const result = serviceConfigEntry.safeParse(entry);
    if (!result.success) {
      const issue = result.error.issues[0]!;
      throw new Error(`the ConfigDB 'Service config' entry of the Clusters service is invalid at "${issue.path.join(".")}": ${issue.message}`);
    }
    parsed = result.data;
  }
  const config = {
    fluxGroup: overrides.fluxGroup ?? parsed.group?.flux?.uuid,
    krbkeysGroup: overrides.krbkeysGroup ?? parsed.group?.krbkeys?.uuid,
    clusterRepoGroup: overrides.clusterRepoGroup ?? parsed.group?.cluster?.uuid,
    clusterRepoPath: overrides.clusterRepoPath ?? parsed.group?.cluster?.path ?? DEFAULT_CLUSTER_REPO_PATH,
    helmChartsRepo: overrides.helmChartsRepo ?? parsed.repo?.helm?.uuid,
    defaultChart: overrides.defaultChart ?? parsed.helm?.cluster,
  };
  const missing = [
    ["fluxGroup", "group.flux.uuid", "--flux-group"],
    ["krbkeysGroup", "group.krbkeys.uuid", "--krbkeys-group"],
    ["helmChartsRepo", "repo.helm.uuid", "--helm-charts-repo"],
  ].filter(([key]) => !config[key as keyof typeof config]);
  if (missing.length > 0) {
    const what = missing.map(([, path, flag]) => `"${path}" (or ${flag})`).join(", ");
    throw new Error(`ACS service config incomplete: the 'Service config' entry (app ${App.ServiceConfig}, object ${Service.Clusters}) lacks ${what}`);
  }
  return config as AcsServiceConfig;
}
