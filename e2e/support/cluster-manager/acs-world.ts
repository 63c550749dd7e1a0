// Test set-up for ACS mode: the ACS stand-in seeded as an ACS installer would (groups for the edge account roles,
// the helm-charts repository, an edge-cluster 'Helm chart template', the Clusters service config) and a service
// account for the cluster manager with Git Pull/Push on every edge cluster (a plural grant on the class), plus an
// admin connection playing the ACS Manager.
import { randomBytes, randomUUID } from "node:crypto";
import { AuthClient } from "../../../operators/acs/auth.js";
import { ConfigDbClient } from "../../../operators/acs/configdb.js";
import { AcsConnection } from "../../../operators/acs/discovery.js";
import { App, Class, K8sResource, Perm, Service } from "../../../operators/api/constants.js";
import { Meta } from "../../acs-standin/configdb-model.js";
import { startAcsStandin, type AcsStandin } from "../../acs-standin/standin.js";
import { AcsGroup } from "../../acs-standin/acs-uuids.js";
import { fileURLToPath } from "node:url";
import { defaultConfig, type AcsModeSettings } from "../../../operators/cluster-manager/config.js";
import type { KubeConfig } from "@kubernetes/client-node";
import { ClusterManager } from "../../../operators/cluster-manager/cluster-manager.js";
import { silentLogger } from "../../../operators/runtime/logger.js";
import type { Kdc } from "../../harness/kdc.js";
import { freePort } from "../../harness/ports.js";

export interface AcsWorld {
  standin: AcsStandin;
  /** The ACS Manager's view (admin). */
  cdb: ConfigDbClient;
  auth: AuthClient;
  groups: { flux: string; krbkeys: string; repos: string };
  helmChartsRepo: string;
  chart: string;
  service: { username: string; password: string; principal: string };
  /** Settings for a cluster manager in ACS mode against this stand-in. */
  settings(mirrorNamespace: string, over?: Partial<AcsModeSettings>): AcsModeSettings;
  /** Environment variables for `graft cluster-manager --mode acs` against this stand-in. */
  env(mirrorNamespace: string): Record<string, string>;
  stop(): Promise<void>;
}

export const CHART_VALUES = { site: { name: "{{name}}", id: "{{uuid}}" }, replicas: 1, note: "cost $& more" };

/** The extra grants an administrator loads so graft can also write kubectl-made clusters into the ConfigDB. */
export const KUBECTL_DIRECTION_DUMP = fileURLToPath(new URL("../../../config/acs/cluster-manager-kubectl.yaml", import.meta.url));

export interface AcsWorldOptions {
  /** ACS dumps loaded after the built-in grants, e.g. KUBECTL_DIRECTION_DUMP. */
  dumps?: string[];
  /** A real KDC: the stand-in checks passwords and accepts Negotiate with it, and the manager's password is the KDC's. */
  kdc?: Kdc;
}

/**
 * What ACS's installer makes for the Clusters service: the role groups and the cluster repository group (Clusters-
 * managed, so the Cluster Manager may add members), the shared helm-charts repository, the chart template, the service
 * config, and the per-installation Git grants (the role reads and writes the cluster repositories and reads the shared
 * ones; flux accounts read the shared ones).
 */
export function installClustersService(standin: AcsStandin, chartValues: Record<string, unknown>,
  roles: Partial<{ flux: string; krbkeys: string }> = {}) {
  const model = standin.configdb;
  // A role given (e.g. the edge krbkeys role of dumps/edge-roles.yaml, with its grants) is used as it is.
  const groups = { flux: roles.flux ?? randomUUID(), krbkeys: roles.krbkeys ?? randomUUID(), repos: randomUUID() };
  for (const group of Object.values(groups)) {
    if (model.hasObject(group)) continue;
    model.register(group, Meta.ClassClass);
    model.addMember(AcsGroup.ClustersManaged, group);
  }
  const repoClass = randomUUID();
  model.register(repoClass, Meta.ClassClass);
  const helmChartsRepo = randomUUID();
  model.register(helmChartsRepo, repoClass);
  model.put(App.GitRepoConfig, helmChartsRepo, { path: "shared/helm-charts" });
  // The template applications ACS's installer creates (their entries are optional: graft has built-in ones).
  for (const app of [App.K8sResourceTemplate, App.FluxTemplate]) model.register(app, Meta.AppClass);
  model.register(K8sResource.HelmRelease, Meta.ClassClass);
  const chart = randomUUID();
  model.register(chart, Meta.ClassClass);
  model.put(App.HelmChartTemplate, chart, { chart: "edge-cluster", values: chartValues });
  model.put(App.ServiceConfig, Service.Clusters, {
    group: { flux: { uuid: groups.flux }, krbkeys: { uuid: groups.krbkeys }, cluster: { uuid: groups.repos, path: "cluster" } },
    helm: { cluster: chart },
    repo: { helm: { uuid: helmChartsRepo } },
  });
  for (const permission of [Perm.GitPull, Perm.GitPush]) {
    standin.auth.addGrant({ principal: AcsGroup.ClusterManager, permission, target: groups.repos, plural: true });
  }
  standin.auth.addGrant({ principal: AcsGroup.ClusterManager, permission: Perm.GitPull, target: repoClass, plural: true });
  standin.auth.addGrant({ principal: groups.flux, permission: Perm.GitPull, target: repoClass, plural: true });
  return { groups, repoClass, helmChartsRepo, chart };
}

/**
 * The Clusters service's own account, as ACS's installer makes it: a principal in the Cluster Manager role group with
 * a Kerberos identity. Its password is the KDC's when a KDC is given (the stand-in checks it there), else the
 * stand-in's own.
 */
export async function addClusterManagerAccount(standin: AcsStandin, opts: { kdc?: Kdc; username?: string } = {}) {
  const username = opts.username ?? "sv1clustermanager";
  const password = randomBytes(12).toString("hex");
  const principal = randomUUID();
  let upn: string;
  if (opts.kdc) {
    upn = `${username}@${opts.kdc.realm}`;
    await opts.kdc.kadminLocal(`addprinc -pw ${password} ${upn}`);
  } else {
    upn = standin.addUser(username, password).upn;
  }
  standin.configdb.register(principal, Meta.ClassClass);
  standin.configdb.addMember(AcsGroup.ClusterManager, principal);
  standin.auth.setKerberos(principal, upn);
  return { username, password, principal, upn };
}

export async function startAcsWorld(options: AcsWorldOptions = {}): Promise<AcsWorld> {
  const standin = await startAcsStandin({ dumps: options.dumps, ...(options.kdc ? { kdc: options.kdc } : {}) });
  const { groups, helmChartsRepo, chart } = installClustersService(standin, CHART_VALUES);

  const service = await addClusterManagerAccount(standin, options.kdc ? { kdc: options.kdc } : {});
  // The administrator (who uses the admin UI) may manage every cluster, as ACS's Administrator group may.
  standin.auth.addGrant({ principal: standin.adminUser.principal, permission: Perm.ManageClusters, target: "00000000-0000-0000-0000-000000000000", plural: false });

  const admin = new AcsConnection({
    credentials: { username: standin.adminUser.username, password: standin.adminUser.password },
    urls: { configdb: standin.urls.configdb, auth: standin.urls.auth, git: standin.urls.git },
  });
  return {
    standin, groups, helmChartsRepo, chart, service,
    cdb: new ConfigDbClient(admin.service("configdb")),
    auth: new AuthClient(admin.service("auth")),
    settings: (mirrorNamespace, over = {}) => ({
      urls: { directory: standin.urls.directory },
      credentials: { username: service.username, password: service.password },
      realm: standin.realm,
      domain: "graft.test",
      enrolImage: "graft:test",
      mirrorNamespace,
      serviceConfig: {},
      emptyListConfirmMs: Infinity,
      ...over,
    }),
    env: (mirrorNamespace) => ({
      MODE: "acs",
      DIRECTORY_URL: standin.urls.directory,
      SERVICE_USERNAME: service.username,
      SERVICE_PASSWORD: service.password,
      REALM: standin.realm,
      EXTERNAL_DOMAIN: "graft.test",
      MIRROR_NAMESPACE: mirrorNamespace,
      EMPTY_LIST_CONFIRM: "never",
    }),
    stop: () => standin.stop(),
  };
}

/** Creates a cluster as the ACS Manager does: an object of class Edge cluster, then its configuration entry. */
export async function createClusterInConfigDb(world: AcsWorld, entry: Record<string, unknown>): Promise<string> {
  const { uuid } = await world.cdb.createObject(Class.EdgeCluster);
  await world.cdb.putEntry(App.EdgeClusterConfiguration, uuid, entry);
  return uuid;
}

/** Every trace ACS setup leaves for a cluster, read straight from the stand-in's state. */
export function acsTraces(world: AcsWorld, uuid: string, name: string) {
  const { configdb: model, auth } = world.standin;
  const setup = model.get(App.EdgeClusterSetupStatus, uuid)?.value as
    { ready?: boolean; flux?: { uuid: string; done?: boolean }; krbkeys?: { uuid: string; done?: boolean } } | undefined;
  const accountsNamed = (role: string) => (model.membersOf(Class.EdgeAccount) ?? [])
    .filter((a) => (model.get(App.GeneralInfo, a)?.value as { name?: string } | undefined)?.name === `Edge ${role}: ${name}`);
  return {
    object: model.classOf(uuid),
    config: model.get(App.EdgeClusterConfiguration, uuid)?.value,
    setup,
    sparkplug: model.get(App.SparkplugAddress, uuid)?.value,
    repoConfig: model.get(App.GitRepoConfig, uuid)?.value,
    inRepoGroup: model.isMember(world.groups.repos, uuid),
    accounts: { flux: accountsNamed("flux"), krbkeys: accountsNamed("krbkeys") },
    principals: {
      flux: auth.principalOf(`op1flux/${name}@${world.standin.realm}`),
      krbkeys: auth.principalOf(`op1krbkeys/${name}@${world.standin.realm}`),
    },
    grantsOn: auth.listGrants().filter((g) => g.target === uuid),
  };
}

/**
 * A cluster-manager in ACS mode with Kerberos credentials for the edges: the stand-in's Directory, the service
 * account it logs in as, the KDC (by the address Pods or processes reach it on), mirroring in `namespace`.
 */
export async function startKerberosAcsManager(opts: {
  kubeConfig: KubeConfig; dataDir: string; directoryUrl: string; credentials: AcsModeSettings["credentials"];
  kdc: Kdc; enrolImage: string; namespace: string; organisationPrefix: string;
}): Promise<ClusterManager> {
  const port = await freePort();
  const { kdc } = opts;
  const manager = new ClusterManager({
    kubeConfig: opts.kubeConfig,
    config: defaultConfig({
      dataDir: opts.dataDir, externalUrl: `http://127.0.0.1:${port}`, organisationPrefix: opts.organisationPrefix, mode: "acs",
      acs: {
        urls: { directory: opts.directoryUrl },
        credentials: opts.credentials,
        realm: kdc.realm,
        domain: "graft.test",
        kdc: `${kdc.address}:${kdc.kdcPort}`,
        adminServer: `${kdc.address}:${kdc.kadminPort}`,
        enrolImage: opts.enrolImage,
        mirrorNamespace: opts.namespace,
        serviceConfig: {},
        emptyListConfirmMs: Infinity,
      },
    }),
    log: silentLogger,
    listen: { host: "127.0.0.1", port },
    concurrency: 2,
  });
  await manager.start();
  return manager;
}
