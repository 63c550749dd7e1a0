// The cluster-manager as a process at debug level through a whole flow — provisioning, a bootstrap link issued and
// fetched (and fetched again), status reports with the edge-sync token (and with a wrong one), a git clone with the
// cluster's password (and a wrong password), sealing with a Kubernetes bearer token — then its whole log is searched
// for every secret value of the run, in clear, base64 and URL-encoded: none may appear.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { eventually } from "../harness/eventually.js";
import { App, BOOTSTRAP_REQUEST_ANNOTATION } from "../../operators/api/constants.js";
import { EdgeClusterType, type EdgeCluster } from "../../operators/api/edgecluster.js";
import { credentialsSecretName, decodeCredentials, type SecretObject } from "../../operators/cluster-manager/credentials.js";
import { Core } from "../../operators/runtime/kube.js";
import { waitProvisioned } from "../bench/edge-clusters.js";
import { startManagerProcess, type ManagerProcess } from "../bench/manager-process.js";
import { basic, rawRequest } from "./http-client.js";
import { apiServerForFile, atFileEnd, tempDirForFile } from "../support/api-server.js";

const run = promisify(execFile);
const NS = "log-secrets";
const work = tempDirForFile("graft-log-secrets-");
const api = await apiServerForFile({ name: "log-secrets", users: { alice: ["sealers"] }, namespace: NS, crds: true });
let manager: ManagerProcess;

before(async () => {
  await api.cp.kubectl(["-n", NS, "create", "role", "sealer", "--verb=update", "--resource=edgeclusters.factoryplus.app.amrc.co.uk/secrets"]);
  await api.cp.kubectl(["-n", NS, "create", "rolebinding", "sealers", "--role=sealer", "--group=sealers"]);
  manager = await startManagerProcess({
    kubeconfigPath: api.cp.kubeconfigPath, namespace: NS, dataDir: join(work, "data"), logFile: join(work, "manager.log"), logLevel: "debug",
  });
  atFileEnd(() => manager.stop());
});

test("no secret value of a whole flow appears anywhere in the cluster-manager's debug log", async () => {
  const secrets: Record<string, string> = { "admin bearer token": api.cp.token, "alice's bearer token": "alice-token" };

  await api.client.apply(EdgeClusterType, {
    metadata: { name: "plant", namespace: NS, annotations: { [BOOTSTRAP_REQUEST_ANNOTATION]: "1" } }, spec: {},
  } as unknown as EdgeCluster, "log-test");
  const ec = (await waitProvisioned(api.client, NS, ["plant"])).get("plant")!;
  const uuid = ec.status!.uuid!;
  const creds = decodeCredentials(await api.client.get<SecretObject>(Core.secrets, credentialsSecretName(uuid), NS));
  secrets["git password"] = creds.gitPassword;
  secrets["edge-sync token"] = creds.syncToken;

  // The bootstrap link: served once, refused the second time.
  const command = await eventually(async () => {
    const s = await api.client.get<SecretObject>(Core.secrets, "plant-bootstrap", NS);
    return s.data?.url && Buffer.from(s.data.url, "base64").toString("utf8");
  }, { message: "the bootstrap command Secret" });
  const token = command.slice(command.lastIndexOf("/") + 1);
  secrets["bootstrap token"] = token;
  const script = await fetch(command);
  assert.equal(script.status, 200);
  assert.ok((await script.text()).includes(Buffer.from(creds.gitPassword).toString("base64")), "the script carries the git password (so the log must not)");
  assert.equal((await fetch(command)).status, 410);

  // Status reports: the right token, then a wrong one.
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(work, "key.pem"), "-out", join(work, "cert.pem"),
    "-days", "30", "-subj", "/CN=sealed-secret/O=sealed-secret"], { stdio: "ignore" });
  const statusUrl = `${manager.url}/v2/app/${App.EdgeClusterStatus}/object/${uuid}`;
  const report = await fetch(statusUrl, {
    method: "PATCH", headers: { authorization: `Bearer ${creds.syncToken}`, "content-type": "application/merge-patch+json" },
    body: JSON.stringify({ hosts: [{ hostname: "n1", control_plane: true, k8s_version: "v1.36.3", arch: "amd64" }], kubeseal_cert: readFileSync(join(work, "cert.pem"), "utf8") }),
  });
  assert.equal(report.status, 204);
  secrets["a wrong edge-sync token"] = randomBytes(32).toString("base64url");
  assert.equal((await fetch(statusUrl, { headers: { authorization: `Bearer ${secrets["a wrong edge-sync token"]}` } })).status, 401);

  // Git: a clone with the password, and a refused attempt with a wrong one.
  const repo = new URL(`${manager.url}/uuid/${uuid}`);
  repo.username = creds.gitUsername;
  repo.password = creds.gitPassword;
  const env = { PATH: process.env.PATH, HOME: work, GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" };
  await run("git", ["clone", "--quiet", repo.toString(), join(work, "clone")], { env });
  secrets["a wrong git password"] = randomBytes(24).toString("base64url");
  const refused = await rawRequest(manager.url, "GET", `/uuid/${uuid}/info/refs?service=git-upload-pack`,
    { authorization: basic(creds.gitUsername, secrets["a wrong git password"]) });
  assert.equal(refused.status, 401);

  // Sealing with a bearer token: a dry run, then for real.
  secrets["sealed plaintext"] = `plain-${randomBytes(16).toString("hex")}`;
  for (const query of ["?dryRun=true", ""]) {
    const sealed = await fetch(`${manager.url}/v1/cluster/${uuid}/secret/apps/db/password${query}`, {
      method: "PUT", headers: { authorization: "Bearer alice-token" }, body: secrets["sealed plaintext"],
    });
    assert.equal(sealed.status, 200, await sealed.text());
  }
  assert.equal((await fetch(`${manager.url}/v1/cluster/${uuid}/secret/apps/db/password`, {
    method: "PUT", headers: { authorization: `Bearer ${secrets["a wrong edge-sync token"]}` }, body: secrets["sealed plaintext"],
  })).status, 401);

  await manager.stop();
  const log = manager.log();
  for (const expected of ["bootstrap script served", "sealed a secret value", "git access refused"]) {
    assert.ok(log.includes(expected), `the log covers the flow: "${expected}"`);
  }
  const leaks: string[] = [];
  for (const [what, value] of Object.entries(secrets)) {
    const forms = { clear: value, base64: Buffer.from(value).toString("base64"), "URL-encoded": encodeURIComponent(value) };
    for (const [form, text] of Object.entries(forms)) if (log.includes(text)) leaks.push(`${what} (${form})`);
  }
  leaks.push(...[[creds.gitUsername, creds.gitPassword], [creds.gitUsername, secrets["a wrong git password"]!]]
    .filter(([u, p]) => log.includes(basic(u!, p!).slice(6))).map(() => "a Basic authorization header"));
  assert.deepEqual(leaks, [], `secret values in ${log.split("\n").length} log lines`);
});
