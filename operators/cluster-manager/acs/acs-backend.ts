// Everything ACS mode talks to, built once from the settings: one connection (a client and token per service),
// the ConfigDB, Auth and notify clients, the Git server's repositories, the service config and the setup steps.
import { readFileSync } from "node:fs";
import type { Logger } from "pino";
import { fluxVersionOf } from "../../bootstrap/script-builder.js";
import { AuthClient } from "../../acs/auth.js";
import { ConfigDbClient } from "../../acs/configdb.js";
import { AcsConnection } from "../../acs/discovery.js";
import { NotifyClient } from "../../acs/notify.js";
import type { AcsModeSettings } from "../config.js";
import type { RepoStore } from "../git/repo-store.js";
import { AcsClusterSetup } from "./cluster-setup.js";
import { AcsGitRepos } from "./git-sync.js";
import { GRAFT_VERSION } from "./options.js";
import { loadServiceConfig, type AcsServiceConfig } from "./service-config.js";
import { BearerTokens, sharedTokenKey } from "./bearer-tokens.js";
import { advertiseClustersService, createClustersApiHandler } from "./clusters-api.js";
import type { ClusterManagerConfig } from "../config.js";
import type { KubeClient } from "../../runtime/rest.js";
import type { EdgeCluster } from "../../api/edgecluster.js";
import { negotiateAcceptor } from "../../kerberos/gss-acceptor.js";
import { loadKerberosAddon } from "../../kerberos/gssapi.js";


export interface AcsBackendOptions {
  settings: AcsModeSettings;
  organisationPrefix: string;
  repos: RepoStore;
  log: Logger;
  /** The Flux install manifest the bootstrap script carries: its release is recorded in each setup status. */
  fluxInstallPath?: string;
}

export class AcsBackend {
  readonly connection: AcsConnection;
  readonly cdb: ConfigDbClient;
  readonly auth: AuthClient;
  readonly notify: NotifyClient;
  readonly git: AcsGitRepos;
  readonly setup: AcsClusterSetup;
  readonly settings: AcsModeSettings;
  private loaded?: AcsServiceConfig;

  constructor(opts: AcsBackendOptions) {
    const log = opts.log.child({ component: "acs" });
    this.settings = opts.settings;
    this.connection = new AcsConnection({ credentials: opts.settings.credentials, urls: opts.settings.urls, logger: log });
    this.cdb = new ConfigDbClient(this.connection.service("configdb"));
    this.auth = new AuthClient(this.connection.service("auth"));
    this.notify = new NotifyClient({ http: this.connection.service("configdb"), logger: log });
    this.git = new AcsGitRepos(opts.repos, this.connection.service("git"), log);
    this.setup = new AcsClusterSetup({
      cdb: this.cdb, auth: this.auth, git: this.git, serviceConfig: () => this.serviceConfig,
      settings: {
        realm: opts.settings.realm, domain: opts.settings.domain, kdc: opts.settings.kdc, adminServer: opts.settings.adminServer,
        organisationPrefix: opts.organisationPrefix, edgeDirectoryUrl: edgeDirectoryUrl(opts.settings),
        ...(opts.fluxInstallPath ? { fluxVersion: fluxVersionOf(readFileSync(opts.fluxInstallPath, "utf8")) } : {}),
      },
    });
  }

  /** Reads the service config; fails (so the process restarts) while the ConfigDB has none and no flags stand in. */
  async start(): Promise<void> {
    this.loaded = await loadServiceConfig(this.cdb, this.settings.serviceConfig);
  }

  get serviceConfig(): AcsServiceConfig {
    if (!this.loaded) throw new Error("the ACS service config has not been loaded yet");
    return this.loaded;
  }

  /** The ACS Clusters service API (clusters-api.ts), served on the manager's public listener. */
  clustersApi(config: ClusterManagerConfig, client: KubeClient, clusterByUuid: (uuid: string) => EdgeCluster | undefined, log: Logger) {
    // The replicas' shared signing key, read once it is first needed (a failed read is tried again next time).
    let key: Promise<Buffer> | undefined;
    const tokenKey = () => (key ??= sharedTokenKey(client, this.settings.mirrorNamespace).catch((err: unknown) => {
      key = undefined;
      throw err;
    }));
    const apiLog = log.child({ component: "clusters-api" });
    // Said once, at start: whether Negotiate is offered (an unreadable or empty keytab stops the start, naming it).
    const acceptor = this.settings.negotiate ? negotiateAcceptor(this.settings.negotiate) : undefined;
    if (acceptor) {
      apiLog.info({ keytab: this.settings.negotiate!.keytabFile, principals: acceptor.principals }, "Clusters API: accepting Negotiate logins for these service principals");
      // The GSSAPI addon is loaded now, so a missing library is said at start rather than at the first login.
      loadKerberosAddon().catch((err: unknown) => apiLog.error({ err: err instanceof Error ? err.message : String(err) }, "Clusters API: Negotiate logins cannot be verified"));
    } else {
      apiLog.info("Clusters API: no acceptor keytab configured (--server-keytab-file / SERVER_KEYTAB_FILE), so Negotiate is not offered; Basic and Bearer only");
    }
    return createClustersApiHandler({
      config, client, cdb: this.cdb, auth: this.auth, clusterByUuid, git: this.git, log: apiLog,
      tokens: new BearerTokens(tokenKey), ...(acceptor ? { negotiate: acceptor } : {}),
      authUrl: () => this.connection.service("auth").baseUrl(), version: GRAFT_VERSION,
    });
  }

  /** Registers graft as the Clusters service in the Directory; a refusal is logged, not fatal (an admin can load it). */
  async advertise(url: string, log: Logger): Promise<void> {
    try {
      await advertiseClustersService(this.connection.service("directory"), url);
      log.info({ url }, "advertised as the ACS Clusters service in the Directory");
    } catch (err) {
      log.warn({ err: err instanceof Error ? err.message : String(err) }, "could not advertise the Clusters service in the Directory (AdvertiseService on it is needed)");
    }
  }

  async stop(): Promise<void> {
    await this.notify.close();
  }
}

/** The Directory URL the edge uses: set explicitly, else the one the manager uses, else `https://directory.<domain>`. */
export function edgeDirectoryUrl(settings: AcsModeSettings): string {
  return settings.edgeDirectoryUrl ?? settings.urls.directory ?? `https://directory.${settings.domain}`;
}
