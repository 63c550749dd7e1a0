// The real Kubernetes control plane for tests: etcd + kube-apiserver built from upstream Go modules, on loopback
// ports, torn down by stop(). No kubelet runs, so Pods never start; Nodes are created as plain API objects.
import { execFile } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as k8s from "@kubernetes/client-node";
import { controlPlaneAssets } from "./assets.js";
import { eventually } from "./eventually.js";
import { freePort } from "./ports.js";
import { startProcess, type ManagedProcess } from "./process.js";
import { childProcessEnv } from "../../operators/runtime/child-env.js";

const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

export interface Etcd {
  readonly url: string;
  stop(): Promise<void>;
}

export async function startEtcd(dir?: string): Promise<Etcd> {
  const { etcd } = controlPlaneAssets();
  const work = dir ?? mkdtempSync(join(tmpdir(), "graft-etcd-"));
  mkdirSync(work, { recursive: true });
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${clientPort}`;
  const proc = startProcess(etcd, [
    `--data-dir=${join(work, "data")}`,
    `--listen-client-urls=${url}`, `--advertise-client-urls=${url}`,
    `--listen-peer-urls=http://127.0.0.1:${peerPort}`, `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
    "--unsafe-no-fsync", "--quota-backend-bytes=4294967296", "--log-level=warn",
  ], { logFile: join(work, "etcd.log") });
  try {
    await eventually(async () => {
      if (proc.child.exitCode !== null) throw new Error(`etcd exited: see ${join(work, "etcd.log")}`);
      const res = await fetch(`${url}/health`);
      return res.ok;
    }, { timeoutMs: 30_000, message: "etcd did not become healthy" });
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return {
    url,
    async stop() {
      await proc.stop();
      if (!dir) rmSync(work, { recursive: true, force: true });
    },
  };
}

export interface KubectlResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface ControlPlane {
  readonly name: string;
  /** https://127.0.0.1:<port> (or the address asked for) */
  readonly server: string;
  readonly kubeconfigPath: string;
  readonly kubeConfig: k8s.KubeConfig;
  /** The admin bearer token (member of system:masters). */
  readonly token: string;
  readonly kubectlPath: string;
  readonly dir: string;
  kubectl(args: string[], opts?: { input?: string }): Promise<KubectlResult>;
  /** Applies CRD files (default: every file in crds/) and waits until each is Established. */
  installCrds(files?: string[]): Promise<void>;
  /** Creates a kubeconfig for a user authenticated by a static token with the given groups (for RBAC tests). */
  userKubeconfig(user: string): string;
  restartApiServer(): Promise<void>;
  stopApiServer(): Promise<void>;
  startApiServer(): Promise<void>;
  stop(): Promise<void>;
}

export interface ControlPlaneOptions {
  name?: string;
  /** Share one etcd between several API servers (each gets its own key prefix). */
  etcd?: Etcd;
  /** Static users besides the admin: name → groups. Their tokens are `<name>-token`. */
  users?: Record<string, string[]>;
  /** The address the API server listens on and advertises (default 127.0.0.1; the real node uses its bridge's). */
  address?: string;
  /** Run the ServiceAccount admission plugin (Pods get their service-account token): for a real node. */
  serviceAccounts?: boolean;
  /** More kube-apiserver flags. */
  apiServerArgs?: string[];
}

export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const name = opts.name ?? "test";
  const assets = controlPlaneAssets();
  const dir = mkdtempSync(join(tmpdir(), `graft-${name}-`));
  const ownEtcd = opts.etcd ? undefined : await startEtcd(join(dir, "etcd"));
  const etcd = (opts.etcd ?? ownEtcd)!;
  const port = await freePort();
  const address = opts.address ?? "127.0.0.1";
  const server = `https://${address}:${port}`;
  const token = randomBytes(24).toString("hex");

  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  writeFileSync(join(dir, "sa.key"), privateKey.export({ type: "pkcs8", format: "pem" }));
  writeFileSync(join(dir, "sa.pub"), publicKey.export({ type: "spki", format: "pem" }));
  const users = Object.entries(opts.users ?? {})
    .map(([user, groups], i) => `${user}-token,${user},uid-${i + 2},"${groups.join(",")}"`);
  writeFileSync(join(dir, "tokens.csv"), [`${token},admin,uid-1,"system:masters"`, ...users].join("\n") + "\n", { mode: 0o600 });

  const args = [
    `--etcd-servers=${etcd.url}`, `--etcd-prefix=/graft-${name}-${randomBytes(4).toString("hex")}`,
    `--bind-address=${address}`, `--advertise-address=${address}`, `--secure-port=${port}`,
    `--cert-dir=${join(dir, "certs")}`,
    `--token-auth-file=${join(dir, "tokens.csv")}`,
    "--authorization-mode=RBAC",
    "--service-cluster-ip-range=10.96.0.0/16",
    "--service-account-issuer=https://kubernetes.default.svc",
    `--service-account-key-file=${join(dir, "sa.pub")}`,
    `--service-account-signing-key-file=${join(dir, "sa.key")}`,
    ...(opts.serviceAccounts ? [] : ["--disable-admission-plugins=ServiceAccount"]),
    "--allow-privileged=true",
    "--watch-cache=true",
    "--v=1",
    ...(opts.apiServerArgs ?? []),
  ];
  let proc: ManagedProcess | undefined;

  const startApiServer = async () => {
    proc = startProcess(assets.kubeApiserver, args, { logFile: join(dir, "kube-apiserver.log") });
    const p = proc;
    await eventually(async () => {
      if (p.child.exitCode !== null) throw new Error(`kube-apiserver exited: see ${join(dir, "kube-apiserver.log")}`);
      return (await httpsGet(`${server}/readyz`, token)) === 200;
    }, { timeoutMs: 90_000, intervalMs: 200, message: "kube-apiserver did not become ready" });
  };
  const stopApiServer = async () => {
    await proc?.stop(10_000);
    proc = undefined;
  };

  try {
    await startApiServer();
  } catch (err) {
    await stopApiServer();
    await ownEtcd?.stop();
    throw err;
  }

  const certFile = readdirSync(join(dir, "certs")).find((f) => f.endsWith(".crt"));
  const caData = certFile ? readFileSync(join(dir, "certs", certFile)).toString("base64") : undefined;
  const kubeconfigFor = (user: string, userToken: string) => {
    const path = join(dir, `kubeconfig-${user}`);
    const cluster = caData
      ? `    certificate-authority-data: ${caData}\n`
      : "    insecure-skip-tls-verify: true\n";
    writeFileSync(path, [
      "apiVersion: v1", "kind: Config",
      "clusters:", `- name: ${name}`, "  cluster:", `    server: ${server}`, cluster.trimEnd(),
      "users:", `- name: ${user}`, "  user:", `    token: ${userToken}`,
      "contexts:", `- name: ${name}`, "  context:", `    cluster: ${name}`, `    user: ${user}`, "    namespace: default",
      `current-context: ${name}`, "",
    ].join("\n"), { mode: 0o600 });
    return path;
  };
  const kubeconfigPath = kubeconfigFor("admin", token);
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);

  const kubectl = (kargs: string[], kopts: { input?: string } = {}) =>
    new Promise<KubectlResult>((resolve) => {
      const child = execFile(assets.kubectl, [`--kubeconfig=${kubeconfigPath}`, ...kargs],
        { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, env: childProcessEnv() },
        (err, stdout, stderr) => resolve({ stdout, stderr, code: err ? (typeof err.code === "number" ? err.code : 1) : 0 }));
      if (kopts.input !== undefined) child.stdin?.end(kopts.input);
    });

  return {
    name, server, kubeconfigPath, kubeConfig, token, dir, kubectlPath: assets.kubectl,
    kubectl,
    async installCrds(files) {
      const paths = files ?? readdirSync(join(repoRoot, "crds")).filter((f) => f.endsWith(".yaml")).map((f) => join(repoRoot, "crds", f));
      for (const f of paths) {
        const r = await kubectl(["apply", "--server-side", "--force-conflicts", "-f", f]);
        if (r.code !== 0) throw new Error(`installing CRDs from ${f} failed: ${r.stderr}`);
        const w = await kubectl(["wait", "--for=condition=Established", "--timeout=60s", "-f", f]);
        if (w.code !== 0) throw new Error(`CRDs from ${f} not Established: ${w.stderr}`);
      }
    },
    userKubeconfig(user) {
      if (!opts.users?.[user]) throw new Error(`user "${user}" was not declared in startControlPlane({ users })`);
      return kubeconfigFor(user, `${user}-token`);
    },
    async restartApiServer() {
      await stopApiServer();
      await startApiServer();
    },
    stopApiServer,
    startApiServer,
    async stop() {
      await stopApiServer();
      await ownEtcd?.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function httpsGet(url: string, token: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request(url, { headers: { authorization: `Bearer ${token}` }, rejectUnauthorized: false, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", () => resolve(0));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}
