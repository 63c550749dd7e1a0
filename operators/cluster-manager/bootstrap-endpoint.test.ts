// The bootstrap link as a person uses it (real API server, real curl and sh): the printed `curl -fsSL … | sh -` with
// a dead link prints why and fails; a newer link retires older unused ones; a deleted cluster's link says so (not
// 500); a replica whose index has not seen a fresh token yet still serves it; the script names its one-time link;
// traversal in the raw path is refused by the bootstrap handler itself; run with no terminal, it says how to run again.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { EdgeClusterType, type EdgeCluster } from "../api/edgecluster.js";
import { silentLogger } from "../runtime/logger.js";
import { rawRequest } from "../../e2e/faults/http-client.js";
import { eventually } from "../../e2e/harness/eventually.js";
import { tempDirForFile } from "../../e2e/support/api-server.js";
import { edgeClusterYaml, managerForFile } from "../../e2e/support/cluster-manager/fixtures.js";
import { requestBootstrapCommand } from "./bootstrap-command.js";
import { createBootstrapHandler } from "./bootstrap-endpoint.js";
import { bootstrapLink, issueBootstrapToken } from "./bootstrap-tokens.js";
import { CredentialIndex } from "./credential-index.js";
import { defaultConfig } from "./config.js";
import { credentialsSecretName } from "./credentials.js";
import { startPublicServer, type PublicServer } from "./http-server.js";

const NS = "boot";
const f = await managerForFile("bootstrap-endpoint", NS);
const config = () => defaultConfig({ dataDir: f.dataDir, externalUrl: f.externalUrl, organisationPrefix: "acme" });

async function provision(name: string): Promise<EdgeCluster> {
  assert.equal((await f.cp.kubectl(["apply", "-f", "-"], { input: edgeClusterYaml(name, NS) })).code, 0);
  assert.equal((await f.cp.kubectl(["wait", "-n", NS, `ec/${name}`, "--for=condition=Provisioned", "--timeout=60s"])).code, 0);
  return f.manager.client.get<EdgeCluster>(EdgeClusterType, name, NS);
}

/**
 * Runs a printed command the way a person pastes it: sh -c, real curl (asynchronously: the server is in this process),
 * in a session of its own, so there is no terminal to ask on (as in automation).
 */
function runCommand(command: string, env: NodeJS.ProcessEnv = process.env): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", command], { stdio: ["ignore", "ignore", "pipe"], env, detached: true });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stderr }));
  });
}

/** A second endpoint on its own listener, over an index frozen or never started: a replica whose watch lags. */
async function laggingReplica(index: CredentialIndex, clusterByUuid: (uuid: string) => EdgeCluster | undefined,
  lookupRate?: { burst: number; perSecond: number }): Promise<PublicServer & { url: string }> {
  const handler = createBootstrapHandler({ client: f.manager.client, index, config: config(), log: silentLogger, clusterByUuid, lookupRate });
  const server = await startPublicServer([handler], { host: "127.0.0.1", port: 0, log: silentLogger });
  return Object.assign(server, { url: `http://127.0.0.1:${server.port}` });
}

test("the printed command with a used, expired or unknown link prints the reason and exits non-zero", async () => {
  const ec = await provision("printed");
  const { command } = await requestBootstrapCommand(f.manager.client, NS, "printed", 30_000);
  assert.match(command, /^curl -fsSL '[^']+' \| sh -$/);
  const url = /'([^']+)'/.exec(command)![1]!.replace(/\.sh$/, "");
  assert.equal((await fetch(url)).status, 200, "the plain link serves the script once");

  const used = await runCommand(command);
  assert.notEqual(used.status, 0, `exit status of a used link: ${used.status}`);
  assert.match(used.stderr, /already used at .* works only once: get a new one with: graft bootstrap-command -n boot printed/);

  const { token } = await issueBootstrapToken(f.manager.client, NS, credentialsSecretName(ec.status!.uuid!), 1);
  const expired = bootstrapLink(config(), ec.status!.uuid!, token);
  const late = await eventually(async () => { const r = await runCommand(expired.command); return /expired/.test(r.stderr) && r; }, { message: "the expired token is refused as expired" });
  assert.notEqual(late.status, 0);

  const unknown = await runCommand(bootstrapLink(config(), ec.status!.uuid!, randomBytes(32).toString("base64url")).command);
  assert.notEqual(unknown.status, 0);
  assert.match(unknown.stderr, /unknown bootstrap token/);
  // The plain link keeps its HTTP status for other clients.
  assert.equal((await fetch(url)).status, 410);
});

test("the printed command run with no terminal says its link is spent, how to get a new one and how to add --yes", async () => {
  await provision("notty");
  const { command } = await requestBootstrapCommand(f.manager.client, NS, "notty", 30_000);
  const { GRAFT_BOOTSTRAP_YES: _unset, ...env } = process.env;
  const r = await runCommand(command, { ...env, KUBECTL: f.cp.kubectlPath, KUBECONFIG: f.cp.kubeconfigPath });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /error: there is no terminal to ask for confirmation on\n {2}nothing was changed/);
  assert.ok(r.stderr.includes("curl -fsSL '<new link>' | sh -s -- --yes"), r.stderr);
  assert.match(r.stderr, /this script's link works only once: get a new one with: graft bootstrap-command -n boot notty/);
  const again = await runCommand(command, { ...env, KUBECTL: f.cp.kubectlPath, KUBECONFIG: f.cp.kubeconfigPath });
  assert.match(again.stderr, /already used/, "which is so");
});

test("graft bootstrap-command takes the kubeconfig context's namespace when -n is not given, as kubectl and graft seal do", async () => {
  await provision("in-context");
  const kubeconfig = join(tempDirForFile("graft-bootstrap-cli-"), "kubeconfig");
  copyFileSync(f.cp.kubeconfigPath, kubeconfig);
  assert.equal((await f.cp.kubectl(["config", "set-context", "--current", `--namespace=${NS}`, `--kubeconfig=${kubeconfig}`])).code, 0);
  const cli = fileURLToPath(new URL("../cli/main.ts", import.meta.url));
  const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = execFile(process.execPath, ["--import", "tsx", cli, "bootstrap-command", "in-context", "--kubeconfig", kubeconfig],
      (_err, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }));
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^curl -fsSL '[^']+\.sh' \| sh -$/m);
});

test("the served script names its one-time link, token included, and says it is spent", async () => {
  const ec = await provision("header");
  const { command } = await requestBootstrapCommand(f.manager.client, NS, "header", 30_000);
  const link = /'([^']+)'/.exec(command)![1]!;
  const script = await (await fetch(link)).text();
  const head = script.split("\n").slice(0, 8).join("\n");
  assert.ok(head.includes(`'${link}'`), `the header shows the link it came from:\n${head}`);
  assert.match(head, /one-time link .* now used up/);
  assert.match(head, new RegExp(`uuid ${ec.status!.uuid}`));
});

test("issuing a new link retires older unused ones", async () => {
  const ec = await provision("renewed");
  const secret = credentialsSecretName(ec.status!.uuid!);
  const older = (await issueBootstrapToken(f.manager.client, NS, secret, 3_600_000)).token;
  const newer = (await issueBootstrapToken(f.manager.client, NS, secret, 3_600_000)).token;
  const base = `${f.externalUrl}/v1/bootstrap`;
  const res = await eventually(async () => { const r = await fetch(`${base}/${older}`); return r.status !== 404 && r; }, { message: "token indexed" });
  assert.equal(res.status, 410);
  assert.match(await res.text(), /newer bootstrap link was issued .* replaces this one/);
  assert.equal((await fetch(`${base}/${newer}`)).status, 200);
});

test("a replica whose index has not seen a fresh token reads it from the API once; unknown tokens are rate-limited", async () => {
  const ec = await provision("fresh");
  const replica = await laggingReplica(new CredentialIndex(f.manager.client, silentLogger, NS), f.manager.clusterByUuid, { burst: 1, perSecond: 0.001 });
  try {
    const { token } = await issueBootstrapToken(f.manager.client, NS, credentialsSecretName(ec.status!.uuid!), 3_600_000);
    const served = await fetch(`${replica.url}/v1/bootstrap/${token}`);
    assert.equal(served.status, 200, await served.text());
    const limited = await fetch(`${replica.url}/v1/bootstrap/${randomBytes(32).toString("base64url")}`);
    assert.equal(limited.status, 503, "the lookup budget is spent");
    assert.ok(Number(limited.headers.get("retry-after")) > 0);
  } finally {
    await replica.close();
  }
});

test("the link of a deleted cluster answers 410 saying so, even where the index still knows the token", async () => {
  const ec = await provision("doomed");
  const { token } = await issueBootstrapToken(f.manager.client, NS, credentialsSecretName(ec.status!.uuid!), 3_600_000);
  const stale = new CredentialIndex(f.manager.client, silentLogger, NS);
  await stale.start();
  await eventually(() => stale.secretForBootstrapToken(token), { message: "the index knows the token" });
  await stale.stop();
  const frozenCluster = f.manager.clusterByUuid(ec.status!.uuid!)!;
  const staleClusters = await laggingReplica(stale, () => frozenCluster);
  const liveClusters = await laggingReplica(stale, f.manager.clusterByUuid);
  try {
    const d = await f.cp.kubectl(["delete", "ec", "-n", NS, "doomed", "--wait=true", "--timeout=30s"]);
    assert.equal(d.code, 0, d.stderr);
    for (const [what, r] of [["stale cluster list", staleClusters], ["live cluster list", liveClusters], ["the manager", { url: f.externalUrl }]] as const) {
      const res = await fetch(`${r.url}/v1/bootstrap/${token}`);
      const text = await res.text();
      assert.ok(res.status === 410 || res.status === 404, `${what}: ${res.status} ${text}`);
      assert.match(text, res.status === 410 ? /has been deleted/ : /unknown bootstrap token/, what);
    }
  } finally {
    await staleClusters.close();
    await liveClusters.close();
  }
});

test("a traversal path sent raw is refused by the bootstrap handler, not resolved to another path", async () => {
  for (const path of ["/v1/bootstrap/../../etc/passwd", "/v1/bootstrap/..%2f..%2fetc%2fpasswd", "/v1/bootstrap/x/../../../etc/passwd.sh"]) {
    const res = await rawRequest(f.externalUrl, "GET", path);
    const said = path.endsWith(".sh") ? res.status === 200 && /unknown bootstrap token/.test(res.body) && /exit 1/.test(res.body)
      : res.status === 404 && /unknown bootstrap token/.test(res.body);
    assert.ok(said, `${path}: ${res.status} ${res.body.trim().slice(0, 120)}`);
  }
});
