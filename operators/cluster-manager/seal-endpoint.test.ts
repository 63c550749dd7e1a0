// The central sealing API against a real API server (TokenReview + SubjectAccessReview), real git and the upstream
// kubeseal: values sealed for a cluster land in its repository and decrypt with the cluster's private key.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parse } from "yaml";
import { eventually } from "../../e2e/harness/eventually.js";
import { App } from "../api/constants.js";
import { EdgeClusterType, type EdgeCluster } from "../api/edgecluster.js";
import { Core } from "../runtime/kube.js";
import { runKubeseal } from "../seal/kubeseal-cli.js";
import { credentialsSecretName, decodeCredentials, type SecretObject } from "./credentials.js";
import { sealedSecretPath } from "./seal-endpoint.js";
import { edgeClusterYaml, startManagerFixture, type ManagerFixture } from "../../e2e/support/cluster-manager/fixtures.js";

const NS = "sealing";
const run = promisify(execFile);
const cli = fileURLToPath(new URL("../cli/main.ts", import.meta.url));
let f: ManagerFixture;
let uuid: string;
let dir: string;

before(async () => {
  f = await startManagerFixture("seal", {}, { alice: ["sealers"], bob: ["others"] });
  dir = mkdtempSync(join(tmpdir(), "graft-seal-api-"));
  await f.cp.kubectl(["create", "namespace", NS]);
  await f.cp.kubectl(["-n", NS, "create", "role", "sealer", "--verb=update", "--resource=edgeclusters.factoryplus.app.amrc.co.uk/secrets"]);
  await f.cp.kubectl(["-n", NS, "create", "rolebinding", "sealers", "--role=sealer", "--group=sealers"]);
  for (const name of ["sealed", "no-cert"]) {
    await f.cp.kubectl(["apply", "-f", "-"], { input: edgeClusterYaml(name, NS) });
    await f.cp.kubectl(["wait", "-n", NS, `ec/${name}`, "--for=condition=Provisioned", "--timeout=60s"]);
  }
  const ec = await f.manager.client.get<EdgeCluster>(EdgeClusterType, "sealed", NS);
  uuid = ec.status!.uuid!;
  // The edge reports its certificate through the status endpoint, as edge-sync does.
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:4096", "-nodes", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"), "-days", "30", "-subj", "/CN=sealed-secret/O=sealed-secret"], { stdio: "ignore" });
  const creds = decodeCredentials(await f.manager.client.get<SecretObject>(Core.secrets, credentialsSecretName(uuid), NS));
  const r = await fetch(`${f.externalUrl}/v2/app/${App.EdgeClusterStatus}/object/${uuid}`, {
    method: "PATCH", headers: { authorization: `Bearer ${creds.syncToken}`, "content-type": "application/merge-patch+json" },
    body: JSON.stringify({ kubeseal_cert: readFileSync(join(dir, "cert.pem"), "utf8") }),
  });
  assert.equal(r.status, 204);
});
after(async () => {
  await f?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const api = (path: string, method: string, token?: string, body?: Buffer | string) =>
  fetch(`${f.externalUrl}/v1/cluster/${uuid}/secret/${path}`, { method, body, headers: token ? { authorization: `Bearer ${token}` } : {} });

async function unseal(yaml: string): Promise<Record<string, Buffer>> {
  writeFileSync(join(dir, "in.yaml"), yaml);
  const r = await runKubeseal(["--recovery-unseal", "--recovery-private-key", join(dir, "key.pem"), "-o", "json", "-f", join(dir, "in.yaml")]);
  assert.equal(r.code, 0, r.stderr);
  const secret = JSON.parse(r.stdout.toString("utf8")) as { data: Record<string, string> };
  return Object.fromEntries(Object.entries(secret.data).map(([k, v]) => [k, Buffer.from(v, "base64")]));
}

const repoFile = async (path: string) => (await f.manager.repos.readFiles(uuid)).get(path)?.toString("utf8");
const commits = async () => (await run("git", ["--git-dir", join(f.dataDir, "repos", `${uuid}.git`), "rev-list", "--count", "main"])).stdout.trim();

test("an authorised user seals values into the cluster's repository; kubeseal decrypts them", async () => {
  const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const put1 = await api("app/db-creds/password", "PUT", "alice-token", "s3cret $& value");
  assert.equal(put1.status, 200, await put1.clone().text());
  const put2 = await api("app/db-creds/blob", "PUT", "alice-token", binary);
  assert.equal(put2.status, 200);
  const text = (await repoFile(sealedSecretPath("app", "db-creds")))!;
  const ss = parse(text);
  assert.equal(ss.kind, "SealedSecret");
  assert.deepEqual(Object.keys(ss.spec.encryptedData).sort(), ["blob", "password"]);
  const data = await unseal(text);
  assert.equal(data.password!.toString(), "s3cret $& value");
  assert.ok(data.blob!.equals(binary));
});

test("dry run changes nothing; a reconcile keeps the sealed secrets", async () => {
  const before = await commits();
  const dry = await api("app/other/key?dryRun=true", "PUT", "alice-token", "v");
  assert.equal(dry.status, 200);
  assert.match(await dry.text(), /kind: SealedSecret/);
  assert.equal(await commits(), before);
  assert.equal(await repoFile(sealedSecretPath("app", "other")), undefined);
  await f.cp.kubectl(["patch", "ec", "-n", NS, "sealed", "--type=merge", "-p", '{"spec":{"values":{"logLevel":"debug"}}}']);
  await eventually(async () => Number(await commits()) > Number(before), { message: "values change committed" });
  assert.ok(await repoFile(sealedSecretPath("app", "db-creds")), "sealed secret survives regeneration");
});

test("callers without the right are refused: no token 401, bad token 401, no permission 403", async () => {
  assert.equal((await api("app/x/k", "PUT", undefined, "v")).status, 401);
  assert.equal((await api("app/x/k", "PUT", "forged", "v")).status, 401);
  const bob = await api("app/x/k", "PUT", "bob-token", "v");
  assert.equal(bob.status, 403);
  assert.match(await bob.text(), /"bob" may not update edgeclusters\/secrets/);
  assert.equal(await repoFile(sealedSecretPath("app", "x")), undefined);
});

test("bad input: unknown scope 400, bad key 422, too large 413, no certificate 409, bad path 404", async () => {
  assert.equal((await api("app/x/k?scope=galaxy-wide", "PUT", "alice-token", "v")).status, 400);
  assert.equal((await api("app/x/bad~key", "PUT", "alice-token", "v")).status, 404);
  assert.equal((await api("app/x/k", "PUT", "alice-token", Buffer.alloc(1024 * 1024 + 1))).status, 413);
  const noCert = await f.manager.client.get<EdgeCluster>(EdgeClusterType, "no-cert", NS);
  const r = await fetch(`${f.externalUrl}/v1/cluster/${noCert.status!.uuid}/secret/app/x/k`, { method: "PUT", body: "v", headers: { authorization: "Bearer alice-token" } });
  assert.equal(r.status, 409);
  assert.match(await r.text(), /certificate/);
  assert.equal((await api("../../etc/passwd", "PUT", "alice-token", "v")).status, 404);
});

test("DELETE removes one key, then the file with the last key; an absent key is 404", async () => {
  assert.equal((await api("app/db-creds/blob", "DELETE", "alice-token")).status, 200);
  assert.deepEqual(Object.keys(parse((await repoFile(sealedSecretPath("app", "db-creds")))!).spec.encryptedData), ["password"]);
  assert.equal((await api("app/db-creds/password", "DELETE", "alice-token")).status, 200);
  assert.equal(await repoFile(sealedSecretPath("app", "db-creds")), undefined, "file removed with its last key");
  assert.equal((await api("app/db-creds/password", "DELETE", "alice-token")).status, 404);
});

test("graft seal reads the certificate from the EdgeCluster status", async () => {
  writeFileSync(join(dir, "value"), "from-the-cli");
  const { stdout } = await run(process.execPath, ["--import", "tsx", cli, "seal", "sealed", "app/cli-secret", "token", "-n", NS,
    "--kubeconfig", f.cp.kubeconfigPath, "--from-file", join(dir, "value")]);
  const data = await unseal(stdout);
  assert.equal(data.token!.toString(), "from-the-cli");
  await assert.rejects(run(process.execPath, ["--import", "tsx", cli, "seal", "no-cert", "app/s", "k", "-n", NS, "--kubeconfig", f.cp.kubeconfigPath, "--from-file", join(dir, "value")]),
    (err: { stderr: string }) => /certificate/i.test(err.stderr));
});
