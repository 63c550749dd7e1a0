// Builds the Edge deployments part of edge-sync from its configuration (ACS mode only): a notify/v2 connection to the
// ConfigDB with edge-sync's own service account (its password or its keytab), the Git server's URL from the
// Directory, and the central report.
import { readFileSync } from "node:fs";
import type { KubeConnection } from "../../runtime/kubeconfig.js";
import type { Logger } from "pino";
import { NotifyClient } from "../../acs/notify.js";
import { ServiceClient, type AcsCredentials } from "../../acs/service-client.js";
import { Service } from "../../api/constants.js";
import { CredentialFile } from "../../runtime/credential-file.js";
import { KubeClient } from "../../runtime/rest.js";
import { isAcsAuth, type AcsAuthConfig, type EdgeSyncConfig } from "../config.js";
import {
  DirectoryLocator, KeytabLogin, PasswordLogin, PresetUrl, type AuthProvider, type ConfigDbClient, type ServiceLocator,
} from "../configdb-client.js";
import { DeploymentSync } from "./deployment-sync.js";
import { CentralReport } from "./report.js";

const SERVICE_ACCOUNT_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

export interface EdgeDeployments {
  sync: DeploymentSync;
  notify: NotifyClient;
}

/** The Edge deployments part, or undefined when the configuration does not enable it. */
export function edgeDeploymentsFor(config: EdgeSyncConfig, deps: { kubeConfig: KubeConnection; configDb: ConfigDbClient; log: Logger },
  readFile: (path: string) => string = (p) => readFileSync(p, "utf8")): EdgeDeployments | undefined {
  const { auth } = config;
  if (!config.deployments || !isAcsAuth(auth)) return undefined;
  const namespace = config.deployments.namespace ?? readNamespace(readFile);
  const credentials = acsCredentials(auth);
  const directoryLogin = (url: string, service: string): AuthProvider | undefined => {
    if (!config.directoryAuth) return undefined;
    if (auth.kind === "keytab") return new KeytabLogin({ service: new PresetUrl(url), serviceName: service, credentials: auth });
    return new PasswordLogin({ service: new PresetUrl(url), username: auth.username, password: auth.passwordFile ? { file: auth.passwordFile } : auth.password ?? "" });
  };
  const configDbLocator: ServiceLocator = config.centre.kind === "preset"
    ? new PresetUrl(config.centre.url)
    : new DirectoryLocator({ directoryUrl: config.centre.directoryUrl, service: Service.ConfigDB, auth: directoryLogin(config.centre.directoryUrl, "directory") });
  const http = new ServiceClient({
    service: "configdb", credentials, logger: deps.log,
    baseUrl: { get: () => configDbLocator.url(), forget: () => configDbLocator.invalidate() },
  });
  const notify = new NotifyClient({ http, logger: deps.log });
  const directoryUrl = config.deployments.baseValues.directory_url;
  const git = directoryUrl ? new DirectoryLocator({ directoryUrl, service: Service.Git, auth: directoryLogin(directoryUrl, "directory") }) : undefined;
  const sync = new DeploymentSync({
    client: new KubeClient(deps.kubeConfig), notify, clusterUuid: config.clusterUuid, namespace,
    baseValues: Object.fromEntries(Object.entries(config.deployments.baseValues).filter(([, v]) => v !== undefined)),
    gitBaseUrl: async () => {
      if (!git) throw new Error("set --directory-url (DIRECTORY_URL) to find the Git server");
      return git.url();
    },
    report: new CentralReport({ configDb: deps.configDb, clusterUuid: config.clusterUuid, log: deps.log, minRetryMs: config.minRetryMs, maxRetryMs: config.maxRetryMs }),
    log: deps.log, resyncIntervalMs: config.resyncIntervalMs, minRetryMs: config.minRetryMs, maxRetryMs: config.maxRetryMs,
  });
  return { sync, notify };
}

/**
 * The ACS clients' credentials: the configured keytab object itself (so its tickets are shared with the status
 * writes' login), or the password, read on use and again after a refused login so a rotated one is picked up.
 */
function acsCredentials(auth: AcsAuthConfig): AcsCredentials {
  if (auth.kind === "keytab") return auth;
  const password = auth.passwordFile ? new CredentialFile(auth.passwordFile, "the service password") : auth.password ?? "";
  return { username: auth.username, password };
}

function readNamespace(readFile: (path: string) => string): string {
  try {
    const ns = readFile(SERVICE_ACCOUNT_NAMESPACE_FILE).trim();
    if (ns) return ns;
  } catch {
    // not in a Pod
  }
  throw new Error("edge deployments: set --namespace (POD_NAMESPACE); there is no service account namespace to default to");
}
