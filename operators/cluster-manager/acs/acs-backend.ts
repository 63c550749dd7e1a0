// Everything ACS mode talks to, built once from the settings: one connection (a client and token per service),
// the ConfigDB, Auth and notify clients, the Git server's repositories, the service config and the setup steps.
import type { Logger } from "pino";
import { AuthClient } from "../../acs/auth.js";
import { ConfigDbClient } from "../../acs/configdb.js";
import { AcsConnection } from "../../acs/discovery.js";
import { NotifyClient } from "../../acs/notify.js";
import type { AcsModeSettings } from "../config.js";
import type { RepoStore } from "../git/repo-store.js";
import { AcsClusterSetup } from "./cluster-setup.js";
import { AcsGitRepos } from "./git-sync.js";
import { loadServiceConfig, type AcsServiceConfig } from "./service-config.js";

export interface AcsBackendOptions {
  settings: AcsModeSettings;
  organisationPrefix: string;
  repos: RepoStore;
  log: Logger;
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

  async stop(): Promise<void> {
    await this.notify.close();
  }
}

/** The Directory URL the edge uses: set explicitly, else the one the manager uses, else `https://directory.<domain>`. */
export function edgeDirectoryUrl(settings: AcsModeSettings): string {
  return settings.edgeDirectoryUrl ?? settings.urls.directory ?? `https://directory.${settings.domain}`;
}
