// Bootstrap links stay single-use across replicas and restarts: two cluster-manager processes (leader election on,
// both serving) are asked for the same token at the same moment — exactly one serves the script, the other answers
// 410 — and a replica restarted afterwards still refuses every used token.
import { test } from "node:test";
import assert from "node:assert/strict";
import { issueBootstrapToken } from "../../operators/cluster-manager/bootstrap-tokens.js";
import { credentialsSecretName, decodeCredentials, type SecretObject } from "../../operators/cluster-manager/credentials.js";
import { Core } from "../../operators/runtime/kube.js";
import { applyEdgeClusters, waitProvisioned } from "../bench/edge-clusters.js";
import { managerReplicasForFile } from "../support/cluster-manager/replicas.js";

const NS = "replicas";
const world = managerReplicasForFile(NS);
const { replicas, replica } = world;

test("the same token asked of two replicas at once is served once; after a restart it is still refused", async () => {
  await applyEdgeClusters(world.client, NS, ["plant"]);
  const ec = (await waitProvisioned(world.client, NS, ["plant"], 90_000)).get("plant")!;
  const secretName = credentialsSecretName(ec.status!.uuid!);
  // Each token is raced as soon as it is issued (issuing one retires the older unused ones): a replica whose index
  // has not seen it yet finds it with one API read.
  const tokens: string[] = [];
  for (let i = 0; i < 8; i++) {
    const { token } = await issueBootstrapToken(world.client, NS, secretName, 3_600_000);
    tokens.push(token);
    const answers = await Promise.all(replicas.map((r) => fetch(`${r.url}/v1/bootstrap/${token}`).then((res) => res.status)));
    assert.deepEqual(answers.sort(), [200, 410], `one replica served ${token.slice(0, 6)}…, the other refused it`);
  }
  const used = decodeCredentials(await world.client.get<SecretObject>(Core.secrets, secretName, NS)).bootstrapTokens;
  assert.equal(used.filter((t) => t.usedAt).length, tokens.length, "every token served is recorded as used");

  const [a] = replicas.splice(0, 1);
  await a!.stop();
  replicas.unshift(await replica("a-restarted", a!.port));
  for (const token of tokens) {
    for (const r of replicas) assert.equal((await fetch(`${r.url}/v1/bootstrap/${token}`)).status, 410);
  }
});
