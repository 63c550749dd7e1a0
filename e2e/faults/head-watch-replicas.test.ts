// The head watch works across cluster-manager replicas: two processes (leader election on, both serving) each hold
// one of the cluster's watches; a values change is committed by the leader alone, and both answer with that commit
// from their own informer — so whichever replica a Service sends edge-sync to, it hears of the new head.
import { test } from "node:test";
import assert from "node:assert/strict";
import { eventually } from "../harness/eventually.js";
import { EdgeClusterType, type EdgeCluster } from "../../operators/api/edgecluster.js";
import { credentialsSecretName, decodeCredentials, type SecretObject } from "../../operators/cluster-manager/credentials.js";
import { Core } from "../../operators/runtime/kube.js";
import { applyEdgeClusters, waitProvisioned } from "../bench/edge-clusters.js";
import { metricValue } from "../bench/manager-process.js";
import { managerReplicasForFile } from "../support/cluster-manager/replicas.js";

const NS = "head-replicas";
const world = managerReplicasForFile(NS);
const { replicas } = world;

test("a watch held on either replica is answered with the commit the leader made", async () => {
  await applyEdgeClusters(world.client, NS, ["plant"]);
  const ec = (await waitProvisioned(world.client, NS, ["plant"], 90_000)).get("plant")!;
  const uuid = ec.status!.uuid!;
  const before = ec.status!.commit!;
  const { syncToken } = decodeCredentials(await world.client.get<SecretObject>(Core.secrets, credentialsSecretName(uuid), NS));
  const watches = replicas.map((r) => fetch(`${r.url}/v1/cluster/${uuid}/head?after=${before}`, { headers: { authorization: `Bearer ${syncToken}` } })
    .then(async (res) => ({ status: res.status, body: await res.json() as { commit?: string } })));
  await eventually(async () => {
    const held = await Promise.all(replicas.map(async (r) => metricValue(await r.metrics(), "graft_head_watches_held")));
    return held.every((n) => n === 1);
  }, { message: "each replica holds one watch" });

  await world.client.patch(EdgeClusterType, "plant", NS, { spec: { values: { logLevel: "debug" } } });
  const answers = await Promise.all(watches);
  const after = (await world.client.get<EdgeCluster>(EdgeClusterType, "plant", NS)).status!.commit!;
  assert.notEqual(after, before);
  assert.deepEqual(answers, [{ status: 200, body: { commit: after } }, { status: 200, body: { commit: after } }]);
  // Only the Lease holder reconciles: the other replica answered from its informer alone.
  const leases = JSON.parse((await world.cp.kubectl(["get", "leases.coordination.k8s.io", "-n", NS, "-o", "json"])).stdout) as { items: Array<{ spec: { holderIdentity?: string } }> };
  assert.equal(leases.items.filter((l) => l.spec.holderIdentity).length, 1, "one leader");
});
