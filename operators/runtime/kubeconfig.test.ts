// kubeconfig.ts against a real API server: each way of naming the server and the credential that graft loads itself
// (token and client certificate, inline and as files, the in-cluster service account with its token rotated), the
// ones it leaves to client-node (an exec plugin), and that the direct ones never load client-node at all.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startControlPlane, type ControlPlane } from "../../e2e/harness/control-plane.js";
import { inCluster, kubeconfigFile, loadKubeConfig, type KubeConnection } from "./kubeconfig.js";
import { KubeClient } from "./rest.js";

let cp: ControlPlane;
let work: string;
let caPem: string;

/** A client CA the API server trusts, and a client certificate it signed for user "cert-user" in system:masters. */
function clientCertificate(dir: string): { caFile: string; certFile: string; keyFile: string } {
  const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "client-ca.key", "-out", "client-ca.crt", "-days", "1", "-subj", "/CN=graft-test-client-ca");
  ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "user.key", "-out", "user.csr", "-subj", "/O=system:masters/CN=cert-user");
  ssl("x509", "-req", "-in", "user.csr", "-CA", "client-ca.crt", "-CAkey", "client-ca.key", "-CAcreateserial", "-out", "user.crt", "-days", "1");
  return { caFile: join(dir, "client-ca.crt"), certFile: join(dir, "user.crt"), keyFile: join(dir, "user.key") };
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), "graft-kubeconfig-"));
  const certs = clientCertificate(work);
  cp = await startControlPlane({ name: "kubeconfig", users: { reader: ["system:authenticated"] }, apiServerArgs: [`--client-ca-file=${certs.caFile}`] });
  const caData = /certificate-authority-data: (\S+)/.exec(readFileSync(cp.kubeconfigPath, "utf8"))![1]!;
  caPem = Buffer.from(caData, "base64").toString("utf8");
});

after(async () => {
  await cp?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** Who the API server says the connection is (SelfSubjectReview). */
async function whoAmI(kc: KubeConnection): Promise<string> {
  const review = await new KubeClient(kc).request<{ status: { userInfo: { username: string } } }>(
    "/apis/authentication.k8s.io/v1/selfsubjectreviews",
    { method: "POST", body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" } });
  return review.status.userInfo.username;
}

function kubeconfig(name: string, cluster: Record<string, unknown>, user: Record<string, unknown>): string {
  const file = join(work, name);
  writeFileSync(file, JSON.stringify({
    apiVersion: "v1", kind: "Config", "current-context": "c",
    clusters: [{ name: "k", cluster: { server: cp.server, ...cluster } }],
    users: [{ name: "u", user }],
    contexts: [{ name: "c", context: { cluster: "k", user: "u", namespace: "default" } }],
  }), { mode: 0o600 });
  return file;
}

test("a token with the CA inline, as the test harness and kubectl write it", async () => {
  assert.equal(await whoAmI(loadKubeConfig(cp.kubeconfigPath)), "admin");
});

test("a client certificate and key, inline and as files relative to the kubeconfig; the CA as a file", async () => {
  mkdirSync(join(work, "pki"), { recursive: true });
  writeFileSync(join(work, "pki", "server-ca.crt"), caPem);
  const b64 = (file: string) => readFileSync(join(work, file)).toString("base64");
  const inline = kubeconfig("inline-cert", { "certificate-authority-data": Buffer.from(caPem).toString("base64") },
    { "client-certificate-data": b64("user.crt"), "client-key-data": b64("user.key") });
  assert.equal(await whoAmI(kubeconfigFile(inline)), "cert-user");
  const files = kubeconfig("file-cert", { "certificate-authority": "pki/server-ca.crt" },
    { "client-certificate": "user.crt", "client-key": join(work, "user.key") });
  assert.equal(await whoAmI(kubeconfigFile(files)), "cert-user");
});

test("the server's certificate is checked against the kubeconfig's CA, unless insecure-skip-tls-verify says otherwise", async () => {
  const otherCa = readFileSync(join(work, "client-ca.crt"));
  const wrong = kubeconfig("wrong-ca", { "certificate-authority-data": otherCa.toString("base64") }, { token: "reader-token" });
  await assert.rejects(whoAmI(kubeconfigFile(wrong)), /certificate/i);
  const skip = kubeconfig("skip-verify", { "insecure-skip-tls-verify": true }, { token: "reader-token" });
  assert.equal(await whoAmI(kubeconfigFile(skip)), "reader");
});

/** A kubeconfig whose user is an exec credential plugin printing the reader's token. */
function execKubeconfig(): string {
  const plugin = join(work, "credential-plugin");
  writeFileSync(plugin, `#!/bin/sh\necho '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"reader-token"}}'\n`);
  chmodSync(plugin, 0o755);
  return kubeconfig("exec", { "certificate-authority-data": Buffer.from(caPem).toString("base64") },
    { exec: { apiVersion: "client.authentication.k8s.io/v1", command: plugin, interactiveMode: "Never" } });
}

test("an exec credential plugin is run by client-node's KubeConfig, loaded for it", async () => {
  assert.equal(await whoAmI(kubeconfigFile(execKubeconfig())), "reader");
});

test("in a Pod: the service account's token and CA, the token read again once rotated", async () => {
  const dir = join(work, "serviceaccount");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "ca.crt"), caPem);
  writeFileSync(join(dir, "token"), "reader-token\n");
  const { port, hostname } = new URL(cp.server);
  const kc = inCluster(dir, { KUBERNETES_SERVICE_HOST: hostname, KUBERNETES_SERVICE_PORT: port }, 0);
  assert.equal(await whoAmI(kc), "reader");
  writeFileSync(join(dir, "token"), cp.token);
  assert.equal(await whoAmI(kc), "admin");
  assert.throws(() => inCluster(dir, {}), /KUBERNETES_SERVICE_HOST/);
});

test("a kubeconfig that names no usable cluster, or is not YAML, is refused with what is wrong", () => {
  const none = join(work, "no-context");
  writeFileSync(none, "apiVersion: v1\nkind: Config\nclusters: []\n");
  assert.throws(() => kubeconfigFile(none), /no Kubernetes cluster configured: kubeconfig ".*no-context" has no current context/);
  const broken = join(work, "broken");
  writeFileSync(broken, "clusters: [\n");
  assert.throws(() => kubeconfigFile(broken), /cannot read kubeconfig ".*broken"/);
  const plain = kubeconfig("plain-http", { server: "http://127.0.0.1:1" }, { token: "t" });
  assert.throws(() => kubeconfigFile(plain), /plain HTTP: set insecure-skip-tls-verify/);
});

test("a process using a token or certificate kubeconfig never loads client-node", async () => {
  const module = fileURLToPath(new URL("./kubeconfig.ts", import.meta.url));
  const rest = fileURLToPath(new URL("./rest.ts", import.meta.url));
  const script = `
    import { registerHooks } from "node:module";
    const loaded = [];
    registerHooks({ resolve(s, c, next) { const r = next(s, c); if (r.url.includes("@kubernetes/client-node")) loaded.push(r.url); return r; } });
    const { loadKubeConfig } = await import(${JSON.stringify(module)});
    const { KubeClient } = await import(${JSON.stringify(rest)});
    await new KubeClient(loadKubeConfig(process.argv[1])).request("/version");
    console.log(JSON.stringify(loaded));`;
  const run = (file: string) => new Promise<string[]>((resolve, reject) => {
    execFile(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script, file], { encoding: "utf8" },
      (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(JSON.parse(stdout.trim().split("\n").pop()!) as string[])));
  });
  assert.deepEqual(await run(cp.kubeconfigPath), []);
  assert.ok((await run(execKubeconfig())).length > 0, "the exec kubeconfig's process did load it (the check can see a load)");
});
