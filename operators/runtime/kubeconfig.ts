// Which API server graft's components talk to and how they authenticate. The cases they meet are loaded here: in a
// Pod the service account (token and CA re-read every minute, as client-go does), outside one a kubeconfig whose
// user is a bearer token or a client certificate. Those never load @kubernetes/client-node: its KubeConfig module
// imports the library's whole generated API, ~25 MiB of heap and module text in every process that only needs a
// server and a credential (docs/operations.md). Whatever else a kubeconfig can say — exec plugins, auth providers,
// basic auth, impersonation, token files, proxies, several KUBECONFIG files — is left to the library's KubeConfig,
// loaded on the first request that needs it, so graft keeps the library's coverage of those.
import { existsSync, readFileSync } from "node:fs";
import type { RequestOptions } from "node:https";
import { isIPv6 } from "node:net";
import path from "node:path";
import type * as k8s from "@kubernetes/client-node";
import { parse } from "yaml";

/** What the REST client needs of a kubeconfig: client-node's KubeConfig is one. */
export interface KubeConnection {
  getCurrentCluster(): { server: string; proxyUrl?: string } | null;
  /** Sets the TLS options and the Authorization header of a request (a proxy's agent too, for the library). */
  applyToHTTPSOptions(opts: RequestOptions): Promise<void>;
}

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
const REREAD_MS = 60_000;

/** A credential given inline or as a file (read again every REREAD_MS, so a rotated file is picked up). */
type Material = { text: string } | { file: string };

interface ClusterSettings {
  server: string;
  ca?: Material;
  skipTlsVerify: boolean;
  tlsServerName?: string;
}

interface UserSettings {
  token?: Material;
  cert?: Material;
  key?: Material;
}

/** The user fields loaded here; a user with any other field goes to the library. */
const DIRECT_USER_FIELDS = new Set(["token", "client-certificate", "client-certificate-data", "client-key", "client-key-data"]);

class DirectConnection implements KubeConnection {
  private read?: { at: number; ca?: string; cert?: string; key?: string; token?: string };

  constructor(private readonly cluster: ClusterSettings, private readonly user: UserSettings, private readonly rereadMs = REREAD_MS) {
    if (cluster.server.startsWith("http:") && !cluster.skipTlsVerify) {
      // The library's rule: a credential never goes over plain HTTP unless the kubeconfig says it may.
      throw new Error(`the API server ${cluster.server} is plain HTTP: set insecure-skip-tls-verify to allow that`);
    }
    this.material();
  }

  getCurrentCluster() {
    return { server: this.cluster.server };
  }

  async applyToHTTPSOptions(opts: RequestOptions): Promise<void> {
    const m = this.material();
    if (this.cluster.skipTlsVerify) opts.rejectUnauthorized = false;
    if (this.cluster.tlsServerName) opts.servername = this.cluster.tlsServerName;
    if (m.ca) opts.ca = m.ca;
    if (m.cert) opts.cert = m.cert;
    if (m.key) opts.key = m.key;
    if (m.token) opts.headers = { ...opts.headers, authorization: `Bearer ${m.token}` };
  }

  /** PEM texts and the token, as strings: the agent's pool key is built from them on every request. */
  private material() {
    const now = Date.now();
    if (this.read && now - this.read.at < this.rereadMs) return this.read;
    const { cluster, user } = this;
    this.read = { at: now, ca: text(cluster.ca), cert: text(user.cert), key: text(user.key), token: text(user.token)?.trim() };
    return this.read;
  }
}

function text(m: Material | undefined): string | undefined {
  if (!m) return undefined;
  return "text" in m ? m.text : readFileSync(m.file, "utf8");
}

/** A kubeconfig only client-node's KubeConfig can apply: the library is imported on the first request. */
class LibraryConnection implements KubeConnection {
  private kc?: Promise<k8s.KubeConfig>;

  constructor(private readonly cluster: { server: string; proxyUrl?: string }, private readonly load: (kc: k8s.KubeConfig) => void) {}

  getCurrentCluster() {
    return this.cluster;
  }

  async applyToHTTPSOptions(opts: RequestOptions): Promise<void> {
    if (!this.kc) {
      this.kc = import("@kubernetes/client-node").then((lib) => {
        const kc = new lib.KubeConfig();
        this.load(kc);
        return kc;
      });
      this.kc.catch(() => (this.kc = undefined));
    }
    await (await this.kc).applyToHTTPSOptions(opts);
  }
}

/** Loads a kubeconfig: an explicit file, else KUBECONFIG / ~/.kube/config, else the in-cluster service account. */
export function loadKubeConfig(file?: string): KubeConnection {
  if (file) return kubeconfigFile(file);
  const listed = (process.env.KUBECONFIG ?? "").split(path.delimiter).filter(Boolean);
  if (listed.length > 1) {
    // Merging several files is the library's (its rules for duplicates and which current-context wins).
    return new LibraryConnection(currentClusterOf(listed[0]!), (kc) => kc.loadFromDefault());
  }
  if (listed.length === 1) return kubeconfigFile(listed[0]!);
  const home = process.env.HOME;
  if (home && existsSync(path.join(home, ".kube", "config"))) return kubeconfigFile(path.join(home, ".kube", "config"));
  if (existsSync(path.join(SERVICE_ACCOUNT_DIR, "token"))) return inCluster();
  throw new Error("no Kubernetes cluster configured: pass --kubeconfig or run in a cluster");
}

/** The namespace of the kubeconfig's current context, as kubectl takes it when -n is not given ("default" if none). */
export async function contextNamespace(file?: string): Promise<string> {
  const kc = new (await import("@kubernetes/client-node")).KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  return kc.getContextObject(kc.getCurrentContext())?.namespace ?? "default";
}

/** The Pod's service account and the API server's Service (KUBERNETES_SERVICE_HOST/PORT), as client-go finds them. */
export function inCluster(dir = SERVICE_ACCOUNT_DIR, env: NodeJS.ProcessEnv = process.env, rereadMs = REREAD_MS): KubeConnection {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) throw new Error("not in a Pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are unset");
  const server = `https://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  return new DirectConnection({ server, ca: { file: path.join(dir, "ca.crt") }, skipTlsVerify: false },
    { token: { file: path.join(dir, "token") } }, rereadMs);
}

type Named<K extends string> = { name?: unknown } & Partial<Record<K, Record<string, unknown>>>;

interface KubeconfigDoc {
  clusters?: Array<Named<"cluster">>;
  users?: Array<Named<"user">>;
  contexts?: Array<Named<"context">>;
  "current-context"?: string;
}

function readKubeconfig(file: string): KubeconfigDoc {
  let doc: unknown;
  try {
    doc = parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`cannot read kubeconfig "${file}": ${(err as Error).message}`);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new Error(`kubeconfig "${file}" is not a YAML map`);
  return doc as KubeconfigDoc;
}

function entry<K extends string>(list: Array<Named<K>> | undefined, name: unknown, key: K): Record<string, unknown> | undefined {
  return Array.isArray(list) ? list.find((e) => e?.name === name)?.[key] : undefined;
}

function current(file: string, doc: KubeconfigDoc) {
  const context = entry(doc.contexts, doc["current-context"], "context");
  const cluster = context && entry(doc.clusters, context.cluster, "cluster");
  if (!cluster || typeof cluster.server !== "string" || !cluster.server) {
    throw new Error(`no Kubernetes cluster configured: kubeconfig "${file}" has no current context naming a cluster with a server`);
  }
  return { cluster, user: context ? entry(doc.users, context.user, "user") ?? {} : {} };
}

function currentClusterOf(file: string): { server: string; proxyUrl?: string } {
  const { cluster } = current(file, readKubeconfig(file));
  const proxyUrl = typeof cluster["proxy-url"] === "string" ? cluster["proxy-url"] : undefined;
  return { server: (cluster.server as string).replace(/\/$/, ""), ...(proxyUrl ? { proxyUrl } : {}) };
}

/** A kubeconfig file's current context: loaded here if its user is a token or a client certificate. */
export function kubeconfigFile(file: string): KubeConnection {
  const doc = readKubeconfig(file);
  const { cluster, user } = current(file, doc);
  const server = (cluster.server as string).replace(/\/$/, "");
  const direct = !cluster["proxy-url"] && Object.keys(user).every((k) => DIRECT_USER_FIELDS.has(k));
  if (!direct) return new LibraryConnection(currentClusterOf(file), (kc) => kc.loadFromFile(file));
  const dir = path.dirname(file);
  const material = (fileKey: string, dataKey: string, from: Record<string, unknown>): Material | undefined => {
    const data = from[dataKey];
    if (typeof data === "string" && data) return { text: Buffer.from(data, "base64").toString("utf8") };
    const name = from[fileKey];
    return typeof name === "string" && name ? { file: path.resolve(dir, name) } : undefined;
  };
  return new DirectConnection({
    server,
    ca: material("certificate-authority", "certificate-authority-data", cluster),
    skipTlsVerify: cluster["insecure-skip-tls-verify"] === true,
    tlsServerName: typeof cluster["tls-server-name"] === "string" ? cluster["tls-server-name"] : undefined,
  }, {
    token: typeof user.token === "string" && user.token ? { text: user.token } : undefined,
    cert: material("client-certificate", "client-certificate-data", user),
    key: material("client-key", "client-key-data", user),
  });
}
