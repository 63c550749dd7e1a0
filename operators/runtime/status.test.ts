// updateStatus against a real API server, with a copy of the object the caller already has (an informer's): a
// current copy costs one write and no read; a stale one conflicts, is read again, and the other writer's change is
// kept; a copy of a deleted object answers null, as a read would.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startControlPlane, type ControlPlane } from "../../e2e/harness/control-plane.js";
import { EdgeClusterType, type EdgeCluster, type EdgeClusterStatus } from "../api/edgecluster.js";
import { Core } from "./kube.js";
import { KubeClient, type RequestArgs } from "./rest.js";
import { updateStatus } from "./status.js";

const NS = "status";
let cp: ControlPlane;

/** The real client, noting the method of each request it sends. */
class CountingClient extends KubeClient {
  readonly sent: string[] = [];
  override requestText(path: string, args: RequestArgs & { accept?: string } = {}): Promise<string> {
    this.sent.push(args.method ?? "GET");
    return super.requestText(path, args);
  }
}

before(async () => {
  cp = await startControlPlane({ name: "status" });
  await cp.installCrds();
  await new KubeClient(cp.kubeConfig).create(Core.namespaces, { metadata: { name: NS } });
});

after(async () => {
  await cp?.stop();
});

async function edgeCluster(name: string): Promise<EdgeCluster> {
  return new KubeClient(cp.kubeConfig).create<EdgeCluster>(EdgeClusterType,
    { metadata: { name, namespace: NS }, spec: { namespace: "edge" } } as EdgeCluster);
}

const setHostCount = (n: number) => (s: EdgeClusterStatus) => {
  s.hostCount = n;
};

test("with a current copy: one write, no read", async () => {
  const copy = await edgeCluster("current");
  const client = new CountingClient(cp.kubeConfig);
  const written = await updateStatus<EdgeClusterStatus, EdgeCluster>(client, EdgeClusterType, "current", NS, setHostCount(3), { from: copy });
  assert.deepEqual(client.sent, ["PUT"]);
  assert.equal(written?.status?.hostCount, 3);
  client.sent.length = 0;
  assert.equal((await updateStatus<EdgeClusterStatus, EdgeCluster>(client, EdgeClusterType, "current", NS, setHostCount(3), { from: written! }))?.metadata.resourceVersion,
    written!.metadata.resourceVersion, "nothing to change: nothing written");
  assert.deepEqual(client.sent, []);
});

test("with a stale copy: the write conflicts, the object is read again and another writer's change is kept", async () => {
  const stale = await edgeCluster("stale");
  const other = new KubeClient(cp.kubeConfig);
  await updateStatus<EdgeClusterStatus, EdgeCluster>(other, EdgeClusterType, "stale", NS, (s) => {
    s.repository = "written by another writer";
  });
  const client = new CountingClient(cp.kubeConfig);
  const written = await updateStatus<EdgeClusterStatus, EdgeCluster>(client, EdgeClusterType, "stale", NS, setHostCount(5), { from: stale });
  assert.deepEqual(client.sent, ["PUT", "GET", "PUT"]);
  assert.equal(written?.status?.hostCount, 5);
  assert.equal(written?.status?.repository, "written by another writer");
});

test("with a copy of an object deleted since: null, as without one", async () => {
  const copy = await edgeCluster("deleted");
  await new KubeClient(cp.kubeConfig).delete(EdgeClusterType, "deleted", NS);
  const client = new CountingClient(cp.kubeConfig);
  assert.equal(await updateStatus<EdgeClusterStatus, EdgeCluster>(client, EdgeClusterType, "deleted", NS, setHostCount(1), { from: copy }), null);
  assert.deepEqual(client.sent, ["PUT", "GET"]);
});
