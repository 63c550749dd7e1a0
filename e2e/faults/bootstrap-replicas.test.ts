// Bootstrap links stay single-use across replicas and restarts: two cluster-manager processes (leader election on,
// both serving) are asked for the same token at the same moment — exactly one serves the script, the other answers
// 410 — and a replica restarted afterwards still refuses every used token.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startControlPlane, type ControlPlane } from "../harness/control-plane.js";
import { issueBootstrapToken } from "../../operators/cluster-manager/bootstrap-tokens.js";
import { credentialsSecretName, decodeCredentials, type SecretObject } from "../../operators/cluster-manager/credentials.js";
import { Core } from "../../operators/runtime/kube.js";
import { KubeClient } from "../../operators/runtime/rest.js";
import { applyEdgeClusters, waitProvisioned } from "../bench/edge-clusters.js";
import { startManagerProcess, type ManagerProcess } from "../bench/manager-process.js";

const NS = "replicas";
let cp: ControlPlane;
let client: KubeClient;
let work: string;
const replicas: ManagerProcess[] = [];

const replica = (name: string, port?: number) => startManagerProcess({
  kubeconfigPath: cp.kubeconfigPath, namespace: NS, dataDir: join(work, "data"), logFile: join(work, `${name}.log`), logLevel: "warn", port,
  extraArgs: ["--enable-leader-election", `--leader-election-namespace=${NS}`],
});

before(async () => {
  cp = await startControlPlane({ name: "replicas" });
  await cp.installCrds();
  client = new KubeClient(cp.kubeConfig);
  await client.create(Core.namespaces, { metadata: { name: NS } });
  work = mkdtempSync(join(tmpdir(), "graft-faults-replicas-"));
  replicas.push(await replica("a"), await replica("b"));
});

after(async () => {
  for (const r of replicas) await r.stop();
  await cp?.stop();
  rmSync(work, { recursive: true, force: true });
});

test("the same token asked of two replicas at once is served once; after a restart it is still refused", async () => {
  await applyEdgeClusters(client, NS, ["plant"]);
  const ec = (await waitProvisioned(client, NS, ["plant"], 90_000)).get("plant")!;
  const secretName = credentialsSecretName(ec.status!.uuid!);
  // Each token is raced as soon as it is issued (issuing one retires the older unused ones): a replica whose index
  // has not seen it yet finds it with one API read.
  const tokens: string[] = [];
  for (let i = 0; i < 8; i++) {
    const { token } = await issueBootstrapToken(client, NS, secretName, 3_600_000);
    tokens.push(token);
    const answers = await Promise.all(replicas.map((r) => fetch(`${r.url}/v1/bootstrap/${token}`).then((res) => res.status)));
    assert.deepEqual(answers.sort(), [200, 410], `one replica served ${token.slice(0, 6)}…, the other refused it`);
  }
  const used = decodeCredentials(await client.get<SecretObject>(Core.secrets, secretName, NS)).bootstrapTokens;
  assert.equal(used.filter((t) => t.usedAt).length, tokens.length, "every token served is recorded as used");

  const [a] = replicas.splice(0, 1);
  await a!.stop();
  replicas.unshift(await replica("a-restarted", a!.port));
  for (const token of tokens) {
    for (const r of replicas) assert.equal((await fetch(`${r.url}/v1/bootstrap/${token}`)).status, 410);
  }
});
