// The API server goes away in the middle of provisioning 50 EdgeClusters and comes back (same etcd): the
// cluster-manager process keeps running, retries, and every cluster ends Provisioned exactly once. Meanwhile what
// needs no API server keeps working (Git reads, refusing unknown bootstrap tokens), and a valid bootstrap token that
// cannot be redeemed during the outage gets a 5xx and is not spent.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { eventually } from "../harness/eventually.js";
import { issueBootstrapToken } from "../../operators/cluster-manager/bootstrap-tokens.js";
import { credentialsSecretName, decodeCredentials, type SecretObject } from "../../operators/cluster-manager/credentials.js";
import { EdgeClusterType, type EdgeCluster } from "../../operators/api/edgecluster.js";
import { Core } from "../../operators/runtime/kube.js";
import { applyEdgeClusters, isProvisioned, waitProvisioned } from "../bench/edge-clusters.js";
import { startManagerProcess, type ManagerProcess } from "../bench/manager-process.js";
import { assertProvisionedOnce } from "./provisioned-state.js";
import { apiServerForFile, atFileEnd, tempDirForFile } from "../support/api-server.js";

const run = promisify(execFile);
const NS = "faults-api";
const work = tempDirForFile("graft-faults-api-");
const api = await apiServerForFile({ name: "faults-api", namespace: NS, crds: true });
let manager: ManagerProcess;

before(async () => {
  manager = await startManagerProcess({
    kubeconfigPath: api.cp.kubeconfigPath, namespace: NS, dataDir: join(work, "data"), logFile: join(work, "manager.log"),
    concurrent: 2, logLevel: "warn",
  });
  atFileEnd(() => manager.stop());
});

test("API server restart mid-provisioning: 50 clusters end Provisioned, none duplicated; Git and token checks carry on", async () => {
  await applyEdgeClusters(api.client, NS, ["early"]);
  const early = (await waitProvisioned(api.client, NS, ["early"])).get("early")!;
  const secret = credentialsSecretName(early.status!.uuid!);
  const creds = decodeCredentials(await api.client.get<SecretObject>(Core.secrets, secret, NS));
  // Issuing a link retires older unused ones: spend the probe before issuing the token the outage must not spend.
  const probe = (await issueBootstrapToken(api.client, NS, secret, 3_600_000)).token;
  await eventually(async () => (await fetch(`${manager.url}/v1/bootstrap/${probe}`)).status === 200, { message: "the manager knows the tokens" });
  const token = (await issueBootstrapToken(api.client, NS, secret, 3_600_000)).token;

  const names = Array.from({ length: 50 }, (_, i) => `site-${i}`);
  await applyEdgeClusters(api.client, NS, names);
  const provisionedBefore = (await api.client.list<EdgeCluster>(EdgeClusterType, NS)).items.filter(isProvisioned).length - 1;
  await api.cp.stopApiServer();
  assert.ok(provisionedBefore < names.length, `the API server stopped mid-provisioning (${provisionedBefore} of 50 were done)`);
  const outage = Date.now();
  const repo = new URL(`${manager.url}/uuid/${early.status!.uuid}`);
  repo.username = creds.gitUsername;
  repo.password = creds.gitPassword;
  const env = { PATH: process.env.PATH, HOME: work, GIT_TERMINAL_PROMPT: "0", GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: "/dev/null" };
  const refs = await run("git", ["ls-remote", repo.toString(), "main"], { env });
  assert.match(refs.stdout, /refs\/heads\/main/, "Git reads need no API server");
  const unknown = await fetch(`${manager.url}/v1/bootstrap/${randomBytes(32).toString("base64url")}`);
  // The index may lag the API server, so a token it lacks is looked up; without the API server that cannot be done.
  assert.equal(unknown.status, 503, "an unknown token cannot be checked without the API server: try again later");
  assert.ok(Number(unknown.headers.get("retry-after")) > 0, "the refusal says when to try again");
  // 500 when the index already holds the token (its redemption fails), 503 when it must be looked up first.
  const during = (await fetch(`${manager.url}/v1/bootstrap/${token}`)).status;
  assert.ok(during === 500 || during === 503, `a valid token cannot be redeemed without the API server (got ${during})`);
  // Long enough for requests, watches and status writes to fail and be retried.
  await new Promise((r) => setTimeout(r, Math.max(0, 4_000 - (Date.now() - outage))));
  await api.cp.startApiServer();

  await waitProvisioned(api.client, NS, names, 180_000);
  assert.equal(manager.proc.child.exitCode, null, "the manager kept running");
  assert.match(manager.log(), /watch failed|reconcile failed/, "the manager saw the outage");
  const redeemed = await fetch(`${manager.url}/v1/bootstrap/${token}`);
  assert.equal(redeemed.status, 200, `the token was not spent by the failed attempt: ${redeemed.status === 200 ? "" : await redeemed.text()}`);
  await assertProvisionedOnce(api.client, NS, join(work, "data"), names.length + 1);
});
