// ACS setup of one edge cluster (acs-contract.md §1, §3, §4), in ACS's order: Sparkplug address → accounts → Git
// repository configuration → repository content → ready, within the grants ACS gives its Cluster Manager role
// (acs-contract.md §7): accounts are made with CreateObject (the ConfigDB chooses the UUID, recorded in the private
// 'Edge cluster setup status' entry the moment it is known), nothing is read that the role may not read, and every
// write is idempotent, so a crash between any two steps resumes where it stopped. Teardown reverses every step the
// role may reverse, marks or leaves what it may not (and says so), the setup status last, so it too resumes.
import { isDeepStrictEqual } from "node:util";
import type { Logger } from "pino";
import type { AuthClient } from "../../acs/auth.js";
import type { ConfigDbClient } from "../../acs/configdb.js";
import { App, Class, K8sResource, Perm } from "../../api/constants.js";
import { Reason } from "../../api/conditions.js";
import { GenericError, StallingError, WaitingError } from "../../runtime/errors.js";
import { AcsCrashPoint, crashPoint } from "../crash-points.js";
import { CLUSTER_MANIFEST_DIR, README_FILE } from "../git/repo-content.js";
import { acsRepoFiles, type AcsRepo } from "./repo-templates.js";
import { AccountAdoption, ADOPTION_DUMP } from "./account-adoption.js";
import { chartTemplateSchema, NAME_CONFLICT_KEY, NOT_MIRRORED_KEY, setupStatusSchema, type ClusterEntry, type SetupStatus } from "./entries.js";
import type { AcsGitRepos } from "./git-sync.js";
import {
  ensureEntry, ensureGrant, ensureKerberos, ensureMember, KerberosIdentityConflict, putBlind, removeEntry,
  removeEntryIfPermitted, removeGrant, removeKerberos, removeMember, removeObject,
} from "./idempotent.js";
import { acsFailure } from "../../acs/errors.js";
import { ACCOUNT_ROLES, accountName, principalFor, type AccountRole } from "./names.js";
import type { AcsServiceConfig } from "./service-config.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export interface ClusterSetupSettings {
  realm: string;
  domain: string;
  kdc?: string;
  adminServer?: string;
  organisationPrefix: string;
  /** The Directory URL as the edge reaches it. */
  edgeDirectoryUrl: string;
  /** The Flux release the bootstrap script installs, recorded in the setup status (`fluxVersion`). */
  fluxVersion?: string;
}

export interface ClusterSetupDeps {
  cdb: ConfigDbClient;
  auth: AuthClient;
  git: AcsGitRepos;
  serviceConfig: () => AcsServiceConfig;
  settings: ClusterSetupSettings;
}

export interface ClusterToSetUp {
  uuid: string;
  name: string;
  /** The 'Edge cluster configuration' entry the setup follows (recorded in the setup status). */
  entry: ClusterEntry;
  log: Logger;
  /** Records a Normal Event on the EdgeCluster. */
  event: (reason: string, message: string) => Promise<void>;
  /** Records a Warning Event on the EdgeCluster. */
  warn: (reason: string, message: string) => Promise<void>;
}

export interface TeardownResult {
  /** What ACS's Cluster Manager role may not remove and was therefore marked deleted or left (empty: nothing). */
  left: string[];
}

export interface SetupResult {
  sparkplugGroup: string;
  repository: string;
  commit: string;
  accounts: Record<AccountRole, string>;
}

export class AcsClusterSetup {
  private readonly adoption: AccountAdoption;
  /**
   * Setup-status changes that only spare a later pass some idempotent work (a role's steps done, the commit pushed),
   * by cluster: written with the pass's next status write instead of a read and a write of their own. Records that
   * crash safety needs (an account being created, its UUID) are written at once. Dropped if the pass fails.
   */
  private readonly deferred = new Map<string, Record<string, unknown>>();

  constructor(private readonly deps: ClusterSetupDeps) {
    this.adoption = new AccountAdoption(deps.cdb, deps.auth);
  }

  async readStatus(uuid: string): Promise<SetupStatus | null> {
    const found = await this.deps.cdb.getEntry(App.EdgeClusterSetupStatus, uuid);
    if (!found) return null;
    const parsed = setupStatusSchema.safeParse(found.value);
    // Unreadable progress is treated as none; account UUIDs found later by name are not guessed at.
    return parsed.success ? parsed.data : {};
  }

  async setup(c: ClusterToSetUp): Promise<SetupResult> {
    this.deferred.delete(c.uuid);
    try {
      const result = await this.setupSteps(c);
      await this.flushStatus(c.uuid);
      return result;
    } finally {
      this.deferred.delete(c.uuid);
    }
  }

  private async setupSteps(c: ClusterToSetUp): Promise<SetupResult> {
    const { cdb } = this.deps;
    let status = (await this.readStatus(c.uuid)) ?? {};

    if (!isDeepStrictEqual(status.spec, c.entry)) {
      // A report that the entry could not be mirrored (configdb-sync.ts) or set up (a name conflict, acs-steps.ts) is
      // out of date once it is set up.
      await this.patchStatus(c.uuid, { ready: false, spec: c.entry, [NOT_MIRRORED_KEY]: null, [NAME_CONFLICT_KEY]: null });
      status = { ...status, ready: false, spec: c.entry };
      crashPoint(AcsCrashPoint.AfterSetupStarted);
    }

    const sparkplugGroup = `${this.deps.settings.organisationPrefix}-${c.name}`;
    if (await step("sparkplug address", () => ensureEntry(cdb, App.SparkplugAddress, c.uuid, { group_id: sparkplugGroup }))) {
      await c.event("SparkplugAddressWritten", `Sparkplug group "${sparkplugGroup}" written to the ConfigDB`);
      crashPoint(AcsCrashPoint.AfterSparkplug);
    }

    const accounts = {} as Record<AccountRole, string>;
    for (const role of ACCOUNT_ROLES) {
      accounts[role] = await this.ensureAccount(c, role, status);
    }

    const repo = await this.ensureRepository(c, status);
    if (!status.ready) {
      await this.patchStatus(c.uuid, { ready: true });
      await c.event("AcsSetupReady", `ACS setup complete: accounts ${accounts.flux} (flux) and ${accounts.krbkeys} (krbkeys), repository ${repo.url}`);
      crashPoint(AcsCrashPoint.AfterReady);
    }
    return { sparkplugGroup, repository: repo.url, commit: repo.commit, accounts };
  }

  private async ensureAccount(c: ClusterToSetUp, role: AccountRole, status: SetupStatus): Promise<string> {
    const { cdb, auth } = this.deps;
    const config = this.deps.serviceConfig();
    const group = role === "flux" ? config.fluxGroup : config.krbkeysGroup;
    const what = `${role} account`;

    let account = status[role]?.uuid;
    if (!account && status[role]?.creating) account = await this.adoptLeftover(c, role);
    if (!account) {
      // The role may only CreateObject (the ConfigDB chooses the UUID). The request is marked in flight first and
      // the UUID recorded the moment the answer arrives; after a crash in between, adoptLeftover finds the account.
      account = await this.adoption.creation(async () => {
        if (!status[role]?.creating) {
          await this.patchStatus(c.uuid, { [role]: { creating: true } });
          crashPoint(AcsCrashPoint.AfterAccountRecorded);
        }
        const created = await step(`creating the ${role} account (POST /v2/object)`, () => cdb.createObject(Class.EdgeAccount));
        crashPoint(AcsCrashPoint.AfterAccountCreated);
        await this.patchStatus(c.uuid, { [role]: { uuid: created.uuid, done: false } });
        return created.uuid;
      });
      await c.event("AccountCreated", `created the ${role} account ${account}`);
      crashPoint(AcsCrashPoint.AfterAccountObject);
    }
    const acct = account;
    if (await step(`naming the ${what}`, () => ensureEntry(cdb, App.GeneralInfo, acct, { name: accountName(role, c.name) }))) {
      crashPoint(AcsCrashPoint.AfterAccountName);
    }
    if (!status[role]?.done) {
      await step(`adding the ${what} to its role group ${group}`, () => ensureMember(cdb, group, acct));
      crashPoint(AcsCrashPoint.AfterAccountGroup);
      const krbName = principalFor(role, c.name, this.deps.settings.realm);
      await step(`mapping Kerberos identity "${krbName}" to the ${what}`, () => ensureKerberos(auth, acct, krbName));
      await c.event("KerberosIdentityMapped", `mapped Kerberos identity "${krbName}" to the ${role} account`);
      crashPoint(AcsCrashPoint.AfterAccountKerberos);
      if (role === "flux") {
        const grant = { principal: acct, permission: Perm.GitPull, target: c.uuid, plural: false };
        await step(`granting the ${what} Git Pull on the cluster repository`, () => ensureGrant(auth, grant));
        crashPoint(AcsCrashPoint.AfterAccountGrant);
      }
      this.deferStatus(c.uuid, { [role]: { uuid: acct, done: true } });
    }
    return acct;
  }

  /**
   * A previous run crashed while creating this account: the ConfigDB may have made it without graft learning its
   * UUID. Such an account is found and adopted (account-adoption.ts) instead of making a second one; undefined when
   * there is none (the request never arrived) or graft may not look (then it says so).
   */
  private async adoptLeftover(c: ClusterToSetUp, role: AccountRole): Promise<string | undefined> {
    return this.adoption.adoption(async () => {
      const search = await step(`looking for the ${role} account a crash may have left`, () => this.adoption.findOrphan());
      if (search.kind === "found") {
        await this.patchStatus(c.uuid, { [role]: { uuid: search.uuid, done: false } });
        await c.event("AccountAdopted", `adopted account ${search.uuid} as the ${role} account: an unnamed EdgeService account the cluster manager owns that no cluster uses (left by a crash while creating it, or by a teardown)`);
        return search.uuid;
      }
      if (search.kind === "cannot-look") {
        await c.warn("AccountMayBeOrphaned", `a previous run crashed while creating the ${role} account; graft cannot look for an account the ConfigDB may have made then (it needs ${search.missing}; ${ADOPTION_DUMP} grants it), so it creates another and an unnamed EdgeService object owned by the cluster manager may be left over`);
      }
      return undefined;
    });
  }

  private async ensureRepository(c: ClusterToSetUp, status: SetupStatus): Promise<{ url: string; commit: string }> {
    const { cdb, git } = this.deps;
    const config = this.deps.serviceConfig();
    const path = `${config.clusterRepoPath}/${c.name}`;
    // The role may write the repository configuration but not read it: a PUT of the same value changes nothing.
    const configured = await step("writing the Git repository configuration", () => putBlind(cdb, App.GitRepoConfig, c.uuid, { path }));
    if (config.clusterRepoGroup) {
      const group = config.clusterRepoGroup;
      await step(`adding the cluster to the repository group ${group}`, () => ensureMember(cdb, group, c.uuid));
    }
    if (configured) {
      await c.event("RepositoryConfigured", `Git repository configuration written (path "${path}")`);
      crashPoint(AcsCrashPoint.AfterRepoConfig);
    }

    const url = await step("repository", () => git.repoUrl(c.uuid));
    const repo = await this.repositoryFiles(c, url);
    const files = repo.files;
    const generated = (p: string) => p === README_FILE || p.startsWith(`${CLUSTER_MANIFEST_DIR}/`);
    // Files outside the generated ones (e.g. by-hand manifests, sealed secrets) are someone else's: kept.
    const result = await step("repository", () => git.sync(c.uuid, (current) => {
      const next = new Map<string, string | Buffer>(files);
      for (const [p, content] of current) if (!generated(p)) next.set(p, content);
      return next;
    }, `Set up cluster "${c.name}"`));
    if (result.pushed) {
      await c.event("RepositoryPushed", `pushed ${result.commit.slice(0, 12)} to ${url}`);
      crashPoint(AcsCrashPoint.AfterRepoPush);
    }
    // As ACS's setup status: the self-link the bootstrap applies; and which Flux release the bootstrap installs.
    const fluxVersion = this.deps.settings.fluxVersion;
    if (status.commit !== result.commit || status.self_link !== repo.selfLink || (fluxVersion && status.fluxVersion !== fluxVersion)) {
      this.deferStatus(c.uuid, { commit: result.commit, self_link: repo.selfLink, ...(fluxVersion ? { fluxVersion } : {}) });
    }
    return { url, commit: result.commit };
  }

  /**
   * The cluster repository's content from the installation's templates (repo-templates.ts): the cluster's chart
   * template, the K8s resource template for HelmRelease and the Flux template, each read on every pass so a change
   * to one reaches every cluster; graft's built-in template stands in for one the installation does not have.
   */
  private async repositoryFiles(c: ClusterToSetUp, selfUrl: string): Promise<AcsRepo> {
    const { cdb, git, settings } = this.deps;
    const config = this.deps.serviceConfig();
    const chartRef = c.entry.chart ?? config.defaultChart;
    if (!chartRef) {
      throw new StallingError(Reason.InvalidSpec, "no Helm chart template: set spec.chart to a 'Helm chart template' UUID, or helm.cluster in the service config");
    }
    if (!UUID.test(chartRef)) {
      throw new StallingError(Reason.InvalidSpec, `spec.chart "${chartRef}" is not a 'Helm chart template' UUID: in ACS mode charts are ConfigDB entries (app ${App.HelmChartTemplate})`);
    }
    const found = await step("reading the Helm chart template", () => cdb.getEntry(App.HelmChartTemplate, chartRef));
    if (!found) {
      throw new WaitingError(Reason.ChartTemplateMissing, `'Helm chart template' ${chartRef} does not exist in the ConfigDB: create it, or point spec.chart at an existing one`, 30_000);
    }
    const template = chartTemplateSchema.safeParse(found.value);
    if (!template.success) {
      throw new StallingError(Reason.InvalidSpec, `'Helm chart template' ${chartRef} is invalid: ${template.error.issues[0]!.message}`);
    }
    const [helmRelease, flux] = await Promise.all([
      step("reading the K8s resource template for HelmRelease", () => cdb.getEntry(App.K8sResourceTemplate, K8sResource.HelmRelease)),
      step("reading the Flux template", () => cdb.getEntry(App.FluxTemplate, App.FluxTemplate)),
    ]);
    const helmChartsUrl = await step("repository", () => git.repoUrl(config.helmChartsRepo));
    const graftValues = {
      mode: "kerberos",
      cluster: {
        name: c.name, uuid: c.uuid, sparkplugGroup: `${settings.organisationPrefix}-${c.name}`,
        organisationPrefix: settings.organisationPrefix, namespace: c.entry.namespace,
      },
      central: { url: settings.edgeDirectoryUrl, directoryUrl: settings.edgeDirectoryUrl, gitUrl: selfUrl },
      kerberos: {
        realm: settings.realm, domain: settings.domain,
        ...(settings.kdc ? { kdc: settings.kdc } : {}), ...(settings.adminServer ? { adminServer: settings.adminServer } : {}),
      },
    };
    try {
      return acsRepoFiles({
        uuid: c.uuid, name: c.name, namespace: c.entry.namespace, selfUrl, helmChartsUrl,
        chart: { uuid: chartRef, entry: found.value }, graftValues, values: c.entry.values, bare: c.entry.bare,
        helmReleaseTemplate: helmRelease?.value, fluxTemplate: flux?.value,
      });
    } catch (err) {
      // Same input, same failure: only a change of the cluster or of a template can fix it.
      throw new StallingError(Reason.InvalidSpec, `cannot make the cluster repository from the ConfigDB templates: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /**
   * Reverses every setup step the role may reverse; safe to repeat. What ACS's Cluster Manager role may not delete
   * (account and cluster objects, the edge's status entry, the configuration entry) is marked deleted where that is
   * permitted, else left; the result lists it so the caller can say so.
   */
  async teardown(uuid: string, log: Logger, event: (reason: string, message: string) => Promise<void>): Promise<TeardownResult> {
    const { cdb, auth, git } = this.deps;
    const config = this.deps.serviceConfig();
    const status = await step("reading the setup status", () => this.readStatus(uuid));
    // What had to be left is kept in the setup status until the end, so a teardown resumed after a crash says it all.
    const left: string[] = Array.isArray(status?.left) ? status.left.filter((l): l is string => typeof l === "string") : [];
    for (const role of ACCOUNT_ROLES) {
      const account = status?.[role]?.uuid;
      if (!account) continue;
      const group = role === "flux" ? config.fluxGroup : config.krbkeysGroup;
      const removal = await step(`removing the ${role} account ${account}`, async () => {
        if (role === "flux") await removeGrant(auth, { principal: account, permission: Perm.GitPull, target: uuid, plural: false });
        await removeKerberos(auth, account);
        await removeMember(cdb, group, account);
        await removeEntry(cdb, App.GeneralInfo, account);
        return removeObject(cdb, account);
      });
      if (removal === "left" || removal === "marked-deleted") left.push(`${role} account ${account} (${removal === "left" ? "left in place" : "marked deleted"}: the role lacks DeleteObject)`);
      await this.patchStatus(uuid, { [role]: null, left });
      log.info({ role, account, removal }, "removed edge account");
      await event("AccountDeleted", `removed the ${role} account ${account}: its grant, Kerberos identity, group membership and name${removal === "deleted" ? ", and the object" : ""}`);
      crashPoint(AcsCrashPoint.TeardownAfterAccount);
    }
    await step("removing the cluster's ConfigDB entries", async () => {
      await removeEntry(cdb, App.GitRepoConfig, uuid);
      if (config.clusterRepoGroup) await removeMember(cdb, config.clusterRepoGroup, uuid);
      await removeEntry(cdb, App.SparkplugAddress, uuid);
      for (const [app, label] of [[App.EdgeClusterStatus, "'Edge cluster status' entry"], [App.EdgeClusterConfiguration, "'Edge cluster configuration' entry"]] as const) {
        if ((await removeEntryIfPermitted(cdb, app, uuid)) === "left") left.push(`${label} (the role lacks WriteConfig on it)`);
      }
    });
    const removal = await step("removing the cluster object", () => removeObject(cdb, uuid));
    if (removal === "left" || removal === "marked-deleted") left.push(`cluster object ${uuid} (${removal === "left" ? "left in place" : "marked deleted"}: the role lacks DeleteObject)`);
    await step("removing the setup status", () => removeEntry(cdb, App.EdgeClusterSetupStatus, uuid));
    await git.forget(uuid);
    await event("AcsTornDown", `removed the cluster's accounts, grants, identities, Sparkplug address and repository configuration${left.length ? `; left what ACS's Cluster Manager role may not remove: ${left.join("; ")}` : ", entries and ConfigDB object"}`);
    return { left };
  }

  private deferStatus(uuid: string, changes: Record<string, unknown>): void {
    this.deferred.set(uuid, { ...this.deferred.get(uuid), ...changes });
  }

  private async flushStatus(uuid: string): Promise<void> {
    if (this.deferred.has(uuid)) await this.patchStatus(uuid, {});
  }

  /**
   * Replaces top-level keys of the setup status (null removes one); nested values are replaced whole. Deferred
   * changes of the cluster go with it (overridden by these).
   */
  private patchStatus(uuid: string, ownChanges: Record<string, unknown>): Promise<void> {
    const changes = { ...this.deferred.get(uuid), ...ownChanges };
    this.deferred.delete(uuid);
    return step("setup status", async () => {
      const current = await this.deps.cdb.getEntry<Record<string, unknown>>(App.EdgeClusterSetupStatus, uuid);
      const next: Record<string, unknown> = { ...(isRecord(current?.value) ? current.value : {}) };
      for (const [key, value] of Object.entries(changes)) {
        if (value === null) delete next[key];
        else next[key] = value;
      }
      await this.deps.cdb.putEntry(App.EdgeClusterSetupStatus, uuid, next, current?.etag ? { ifMatch: current.etag } : { ifNoneMatch: "*" });
    });
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Runs one ACS call; a failure is classified once (acsFailure) and says what graft was doing. */
async function step<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof StallingError || err instanceof WaitingError || err instanceof GenericError) throw err;
    if (err instanceof KerberosIdentityConflict) throw new StallingError(Reason.KerberosIdentityConflict, err.message);
    throw acsFailure(err, `ACS setup failed ${what}`);
  }
}
