// edge-sync's settings: each a flag with an environment fallback (the `cluster-config` ConfigMap reaches the
// Deployment as variables; credentials are files from mounted Secrets, read again when refused). The login follows
// from the credential given: a token (embedded mode), a keytab (ACS mode, Negotiate) or a password (ACS mode, Basic);
// two of them at once is refused rather than guessed between. Every problem is reported at once, naming the flag and
// the variable.
import { readFileSync } from "node:fs";
import { parseDuration } from "../runtime/duration.js";
import { parseAddr } from "../runtime/ops-server.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Flag values as commander gives them (strings); each wins over its environment variable. */
export interface EdgeSyncFlags {
  clusterUuid?: string;
  clusterName?: string;
  statusUrl?: string;
  configdbUrl?: string;
  directoryUrl?: string;
  tokenFile?: string;
  username?: string;
  passwordFile?: string;
  keytabFile?: string;
  krb5Conf?: string;
  realm?: string;
  sealedSecretsNamespace?: string;
  sealedSecretsController?: string;
  sealedSecretsPort?: string;
  certPollInterval?: string;
  debounce?: string;
  resyncInterval?: string;
  minRetryDelay?: string;
  maxRetryDelay?: string;
  stallAfter?: string;
  healthAddr?: string;
  kubeconfig?: string;
  namespace?: string;
  edgeDeployments?: string;
  gitopsReport?: string;
  fluxStorageMigration?: string;
  fluxNamespace?: string;
}

/** Flag and environment variable of each setting. */
export const SETTINGS: Record<keyof EdgeSyncFlags, readonly [flag: string, env: string, description: string]> = {
  clusterUuid: ["--cluster-uuid", "CLUSTER_UUID", "UUID of this edge cluster (the status entry's object UUID)"],
  clusterName: ["--cluster-name", "CLUSTER_NAME", "name of this edge cluster (for logs)"],
  statusUrl: ["--status-url", "STATUS_URL", "embedded mode: base URL of cluster-manager's status endpoint"],
  configdbUrl: ["--configdb-url", "CONFIGDB_URL", "ACS mode: base URL of the ConfigDB (else found through the Directory)"],
  directoryUrl: ["--directory-url", "DIRECTORY_URL", "ACS mode: base URL of the Directory, to find the ConfigDB"],
  tokenFile: ["--token-file", "SYNC_TOKEN_FILE", "file holding the bearer token (embedded mode; or set SYNC_TOKEN)"],
  username: ["--username", "SERVICE_USERNAME", "ACS mode: service account to log in as"],
  passwordFile: ["--password-file", "SERVICE_PASSWORD_FILE", "ACS mode: file holding its password, for HTTP Basic logins (or set SERVICE_PASSWORD)"],
  keytabFile: ["--keytab-file", "SERVICE_KEYTAB_FILE", "ACS mode: keytab of --username's principal, for Negotiate (GSSAPI) logins instead of a password"],
  krb5Conf: ["--krb5-conf", "KRB5_CONFIG", "ACS mode with a keytab: krb5.conf naming the realm's KDC"],
  realm: ["--realm", "REALM", "Kerberos realm appended to a username without one"],
  sealedSecretsNamespace: ["--sealed-secrets-namespace", "SEALED_SECRETS_NAMESPACE", "namespace of the Sealed Secrets controller"],
  sealedSecretsController: ["--sealed-secrets-controller", "SEALED_SECRETS_CONTROLLER", "name of the Sealed Secrets controller's Service"],
  sealedSecretsPort: ["--sealed-secrets-port", "SEALED_SECRETS_PORT", "port name or number of that Service (default: its first port)"],
  certPollInterval: ["--cert-poll-interval", "CERT_POLL_INTERVAL", "how often the controller is asked when the key Secrets are not readable"],
  debounce: ["--debounce", "SYNC_DEBOUNCE", "at most one write per window: a change after a quiet window goes out at once, later ones in the window together"],
  resyncInterval: ["--resync-interval", "RESYNC_INTERVAL", "send the whole status again this often, also as a sign of life (0 = never)"],
  minRetryDelay: ["--min-retry-delay", "MIN_RETRY_DELAY", "first delay after a failed write"],
  maxRetryDelay: ["--max-retry-delay", "MAX_RETRY_DELAY", "longest delay between retries"],
  stallAfter: ["--stall-after", "STALL_AFTER", "/healthz fails when the Node watch or the write loop made no progress for this long"],
  healthAddr: ["--health-addr", "HEALTH_ADDR", "address of /healthz, /readyz and /metrics"],
  kubeconfig: ["--kubeconfig", "KUBECONFIG", "kubeconfig file (default: in-cluster service account)"],
  namespace: ["--namespace", "POD_NAMESPACE", "edge-sync's namespace, where Edge deployments are applied (default: the service account's)"],
  edgeDeployments: ["--edge-deployments", "EDGE_DEPLOYMENTS", "ACS mode: apply this cluster's 'Edge deployment' entries (true or false)"],
  gitopsReport: ["--gitops-report", "GITOPS_REPORT", "report the Flux objects graft put in --namespace and the Flux controllers (true or false)"],
  fluxStorageMigration: ["--flux-storage-migration", "FLUX_STORAGE_MIGRATION", "keep the Flux CRDs storing only their storage version, as `flux migrate` does (true or false; needs the chart's migration ClusterRole)"],
  fluxNamespace: ["--flux-namespace", "FLUX_NAMESPACE", "namespace of the Flux controllers"],
};

export const DEFAULTS: Partial<Record<keyof EdgeSyncFlags, string>> = {
  sealedSecretsNamespace: "sealed-secrets",
  sealedSecretsController: "sealed-secrets",
  certPollInterval: "10m",
  debounce: "250ms",
  resyncInterval: "5m",
  minRetryDelay: "1s",
  maxRetryDelay: "2m",
  stallAfter: "10m",
  healthAddr: ":8081",
  edgeDeployments: "true",
  gitopsReport: "true",
  fluxStorageMigration: "true",
  fluxNamespace: "flux-system",
};

export type CentreConfig = { kind: "preset"; url: string } | { kind: "directory"; directoryUrl: string };
export type AuthConfig =
  | { kind: "token"; token?: string; file?: string }
  /** The password itself (SERVICE_PASSWORD, for a shell) or the file holding it (a mounted Secret, as the chart does). */
  | { kind: "password"; username: string; password?: string; passwordFile?: string }
  /**
   * A keytab (a mounted Secret), for Negotiate logins; the object is also the ACS clients' KeytabCredentials, so every
   * client made from one configuration shares its tickets (operators/acs/negotiate.ts).
   */
  | { kind: "keytab"; principal: string; keytabFile: string; env: Record<string, string> };

/** The ACS mode logins: with a password or a keytab, at the ACS services themselves. */
export type AcsAuthConfig = Extract<AuthConfig, { kind: "password" | "keytab" }>;
export const isAcsAuth = (auth: AuthConfig | undefined): auth is AcsAuthConfig => auth?.kind === "password" || auth?.kind === "keytab";

export interface EdgeSyncConfig {
  clusterUuid: string;
  clusterName?: string;
  centre: CentreConfig;
  auth: AuthConfig;
  /** ACS mode with a Directory: the Directory lookup logs in too. */
  directoryAuth: boolean;
  sealedSecrets: { namespace: string; controller: string; port?: string; pollIntervalMs: number };
  debounceMs: number;
  resyncIntervalMs: number;
  minRetryMs: number;
  maxRetryMs: number;
  stallAfterMs: number;
  health: { host: string; port: number };
  kubeconfig?: string;
  /** ACS mode with deployments enabled: where they go and the values ACS gives every release (§10). */
  deployments?: { namespace?: string; baseValues: { cluster?: string; realm?: string; directory_url?: string } };
  /** The GitOps report: graft's Flux objects in `namespace` (default: the service account's), controllers in fluxNamespace. */
  gitops?: { namespace?: string; fluxNamespace: string; storageMigration: boolean; followHead: boolean };
}

export class EdgeSyncConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? problems[0] : `invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "EdgeSyncConfigError";
  }
}

export function resolveEdgeSyncConfig(flags: EdgeSyncFlags, env: Record<string, string | undefined>,
  readFile: (path: string) => string = (p) => readFileSync(p, "utf8"),
  readBinary: (path: string) => Buffer = (p) => readFileSync(p)): EdgeSyncConfig {
  const problems: string[] = [];
  const name = (key: keyof EdgeSyncFlags) => `${SETTINGS[key][0]} (${SETTINGS[key][1]})`;
  const get = (key: keyof EdgeSyncFlags): string | undefined => {
    const v = flags[key] ?? env[SETTINGS[key][1]];
    return v === undefined || v.trim() === "" ? DEFAULTS[key] : v.trim();
  };
  const duration = (key: keyof EdgeSyncFlags): number => {
    const text = get(key) ?? "0s";
    if (text === "0") return 0;
    try {
      return parseDuration(text);
    } catch (err) {
      problems.push(`${name(key)}: ${(err as Error).message}`);
      return 0;
    }
  };
  const url = (key: keyof EdgeSyncFlags): string | undefined => {
    const v = get(key);
    if (v === undefined) return undefined;
    try {
      const u = new URL(v);
      if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("not http(s)");
      return v.replace(/\/+$/, "");
    } catch {
      problems.push(`${name(key)}: "${v}" is not an http(s) URL`);
      return undefined;
    }
  };
  /** A keytab file: readable, and a keytab (format version 0x0502, as MIT writes it), not a password put there by mistake. */
  const readKeytab = (path: string): void => {
    let bytes: Buffer;
    try {
      bytes = readBinary(path);
    } catch (err) {
      problems.push(`${name("keytabFile")}: cannot read "${path}": ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      return;
    }
    if (bytes.length < 2 || bytes[0] !== 0x05 || bytes[1] !== 0x02) {
      problems.push(`${name("keytabFile")}: "${path}" is not a keytab${bytes.length === 0 ? " (empty)" : ""}`);
    }
  };
  const readSecretFile = (key: keyof EdgeSyncFlags): string | undefined => {
    const path = get(key);
    if (!path) return undefined;
    try {
      const text = readFile(path).trim();
      if (!text) problems.push(`${name(key)}: file "${path}" is empty`);
      return text;
    } catch (err) {
      problems.push(`${name(key)}: cannot read "${path}": ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      return undefined;
    }
  };

  const clusterUuid = get("clusterUuid");
  if (!clusterUuid) problems.push(`${name("clusterUuid")} is required`);
  else if (!UUID.test(clusterUuid)) problems.push(`${name("clusterUuid")}: "${clusterUuid}" is not a lowercase UUID`);

  const [statusUrl, configdbUrl, directoryUrl] = [url("statusUrl"), url("configdbUrl"), url("directoryUrl")];
  let centre: CentreConfig | undefined;
  if (statusUrl ?? configdbUrl) centre = { kind: "preset", url: (statusUrl ?? configdbUrl)! };
  else if (directoryUrl) centre = { kind: "directory", directoryUrl };
  else if (!problems.some((p) => p.includes("URL"))) {
    problems.push(`where to report: set ${name("statusUrl")} (embedded mode) or ${name("configdbUrl")} / ${name("directoryUrl")} (ACS mode)`);
  }

  let auth: AuthConfig | undefined;
  const tokenFile = get("tokenFile");
  const token = env.SYNC_TOKEN?.trim();
  const username = get("username");
  const passwordFile = get("passwordFile");
  const password = env.SERVICE_PASSWORD;
  const keytabFile = get("keytabFile");
  const given = [
    tokenFile && name("tokenFile"), token && "SYNC_TOKEN",
    passwordFile && name("passwordFile"), password && "SERVICE_PASSWORD", keytabFile && name("keytabFile"),
  ].filter((g): g is string => !!g);
  if (given.length > 1) {
    const listed = `${given.slice(0, -1).join(", ")} and ${given.at(-1)}`;
    problems.push(`credentials: ${listed} are set, but edge-sync logs in with exactly one credential: ` +
      "a token (embedded mode), a keytab or a password (ACS mode; the chart's edgeSync.acsLogin chooses which is mounted)");
  } else if (tokenFile || token) {
    if (username) problems.push(`${name("username")} is set with a token: a token names no account; unset one of them`);
    if (tokenFile) readSecretFile("tokenFile");
    auth = tokenFile ? { kind: "token", file: tokenFile } : { kind: "token", token };
  } else if (username) {
    const realm = get("realm");
    const qualified = realm && !username.includes("@") ? `${username}@${realm}` : username;
    if (keytabFile) {
      // Checked now for a clear error at start; the Kerberos library reads it again at each login that needs a ticket.
      readKeytab(keytabFile);
      if (!qualified.includes("@")) problems.push(`${name("keytabFile")}: the principal "${username}" has no realm: set ${name("realm")} or give it as name@REALM`);
      if (statusUrl) problems.push(`${name("keytabFile")} is set with ${name("statusUrl")}: cluster-manager's status endpoint takes a token, not a Kerberos login`);
      const krb5Conf = get("krb5Conf");
      auth = { kind: "keytab", principal: qualified, keytabFile, env: krb5Conf ? { KRB5_CONFIG: krb5Conf } : {} };
    } else if (passwordFile) {
      // The file is checked now, for a clear error at start; it is read again whenever a login is refused.
      readSecretFile("passwordFile");
      auth = { kind: "password", username: qualified, passwordFile };
    } else if (password) {
      auth = { kind: "password", username: qualified, password };
    } else {
      problems.push(`${name("username")} is set but no credential: set ${name("keytabFile")}, ${name("passwordFile")} or SERVICE_PASSWORD`);
    }
  } else if (keytabFile || passwordFile || password) {
    problems.push(`${given[0]} is set but not ${name("username")}: the account (Kerberos principal) to log in as`);
  } else {
    problems.push(`credentials: set ${name("tokenFile")} or SYNC_TOKEN (embedded mode), or ${name("username")} with a keytab or a password (ACS mode)`);
  }

  const minRetryMs = duration("minRetryDelay");
  const maxRetryMs = duration("maxRetryDelay");
  if (minRetryMs <= 0) problems.push(`${name("minRetryDelay")} must be positive`);
  if (maxRetryMs < minRetryMs) problems.push(`${name("maxRetryDelay")} must not be shorter than ${name("minRetryDelay")}`);
  const stallAfterMs = duration("stallAfter");
  // The Node watch is resumed every 5 min and a failed write retried within the longest retry delay: both count.
  if (stallAfterMs <= Math.max(maxRetryMs, 300_000)) problems.push(`${name("stallAfter")} must be longer than 5m and than ${name("maxRetryDelay")}`);
  const pollIntervalMs = duration("certPollInterval");
  if (pollIntervalMs <= 0) problems.push(`${name("certPollInterval")} must be positive`);

  let health = { host: "0.0.0.0", port: 8081 };
  try {
    health = parseAddr(get("healthAddr")!);
  } catch (err) {
    problems.push(`${name("healthAddr")}: ${(err as Error).message}`);
  }

  const edgeDeployments = get("edgeDeployments");
  if (edgeDeployments !== "true" && edgeDeployments !== "false") problems.push(`${name("edgeDeployments")}: "${edgeDeployments}" is not true or false`);
  const deployments = edgeDeployments === "true" && isAcsAuth(auth) ? {
    namespace: get("namespace"),
    baseValues: { cluster: get("clusterName"), realm: get("realm"), directory_url: directoryUrl },
  } : undefined;

  const gitopsReport = get("gitopsReport");
  if (gitopsReport !== "true" && gitopsReport !== "false") problems.push(`${name("gitopsReport")}: "${gitopsReport}" is not true or false`);
  const fluxStorageMigration = get("fluxStorageMigration");
  if (fluxStorageMigration !== "true" && fluxStorageMigration !== "false") problems.push(`${name("fluxStorageMigration")}: "${fluxStorageMigration}" is not true or false`);
  const gitops = gitopsReport === "true"
    ? {
      namespace: get("namespace"), fluxNamespace: get("fluxNamespace")!, storageMigration: fluxStorageMigration === "true",
      // Embedded mode (reporting to cluster-manager): its head watch brings a new commit to Flux in seconds.
      followHead: statusUrl !== undefined,
    } : undefined;

  const config = {
    clusterUuid: clusterUuid ?? "",
    clusterName: get("clusterName"),
    centre: centre!,
    auth: auth!,
    directoryAuth: centre?.kind === "directory" && isAcsAuth(auth),
    sealedSecrets: {
      namespace: get("sealedSecretsNamespace")!, controller: get("sealedSecretsController")!,
      port: get("sealedSecretsPort"), pollIntervalMs,
    },
    debounceMs: duration("debounce"),
    resyncIntervalMs: duration("resyncInterval"),
    minRetryMs, maxRetryMs, stallAfterMs, health,
    kubeconfig: flags.kubeconfig,
    deployments,
    gitops,
  };
  if (problems.length) throw new EdgeSyncConfigError(problems);
  return config;
}
