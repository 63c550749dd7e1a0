// A replica that loses leadership stops reconciling but keeps serving: its EdgeCluster cache (shared by the status,
// bootstrap and seal endpoints) keeps watching, so a cluster the new leader provisions afterwards is served by the old
// one too. Two replicas on one real API server.
import { test } from "node:test";
import assert from "node:assert/strict";
import { eventually } from "../../e2e/harness/eventually.js";
import { apiServerForFile } from "../../e2e/support/api-server.js";
import { edgeClusterYaml, replicasForFile } from "../../e2e/support/cluster-manager/fixtures.js";
import { App } from "../api/constants.js";
import { EdgeClusterType, type EdgeCluster } from "../api/edgecluster.js";
import { Core, type KubeObject } from "../runtime/kube.js";
import { credentialsSecretName, decodeCredentials, type SecretObject } from "./credentials.js";
import { CONTROLLER_NAME } from "./controller/edgecluster-controller.js";

const NS = "leadership";
const api = await apiServerForFile({ name: "leadership-loss", namespace: NS, crds: true });
const replica = replicasForFile(() => api.cp.kubeConfig, NS, { organisationPrefix: "acme" });

type Lease = KubeObject & { spec: Record<string, unknown> };

test("after losing leadership a replica still serves the clusters the new leader provisions", async () => {
  const a = await replica("a");
  let b: Awaited<ReturnType<typeof replica>> | undefined;
  try {
    await eventually(() => a.manager.isLeader, { message: "a leads" });
    b = await replica("b");
    const leaseName = `${CONTROLLER_NAME}-leader-election`;
    // a renews every 300 ms: a replace of an older version is refused (409), so read and write again until one lands.
    await eventually(async () => {
      const lease = await api.client.get<Lease>(Core.leases, leaseName, NS);
      await api.client.replace(Core.leases, { ...lease, spec: { ...lease.spec, holderIdentity: "b" } });
      return true;
    }, { message: "the lease handed to b" });
    await eventually(() => !a.manager.isLeader && b!.manager.isLeader, { timeoutMs: 20_000, message: "a lost the lease to b" });

    assert.equal((await api.cp.kubectl(["apply", "-f", "-"], { input: edgeClusterYaml("late", NS) })).code, 0);
    assert.equal((await api.cp.kubectl(["wait", "-n", NS, "ec/late", "--for=condition=Provisioned", "--timeout=60s"])).code, 0);
    const ec = await api.client.get<EdgeCluster>(EdgeClusterType, "late", NS);
    const uuid = ec.status!.uuid!;
    const secret = await api.client.get<SecretObject>(Core.secrets, credentialsSecretName(uuid), NS);
    const token = decodeCredentials(secret).syncToken;

    await eventually(() => a.manager.clusterByUuid(uuid) !== undefined, { message: "a's EdgeCluster cache saw the cluster b provisioned" });
    const hosts = [{ hostname: "n1", control_plane: true, k8s_version: "v1.36.3", arch: "amd64", os_version: "Debian 12", ready: true }];
    const r = await fetch(`${a.url}/v2/app/${App.EdgeClusterStatus}/object/${uuid}`, {
      method: "PATCH", headers: { authorization: `Bearer ${token}`, "content-type": "application/merge-patch+json" }, body: JSON.stringify({ hosts }),
    });
    assert.equal(r.status, 204, `the former leader's status endpoint took the report: ${await r.text()}`);
    assert.deepEqual((await api.client.get<EdgeCluster>(EdgeClusterType, "late", NS)).status?.hosts?.map((h) => h.hostname), ["n1"]);
  } finally {
    await a.manager.stop();
    await b?.manager.stop();
  }
});
