// edge-sync's head watch (head-follower.ts) against a real cluster-manager and a real edge API server with Flux's
// CRDs (no source-controller: the GitRepository's artifact is written as it would write it): a values change at the
// centre → the reconcile request on the self-link GitRepository, once; a link that goes silent fails the held
// request, which is retried with backoff, and the commit made meanwhile is asked for once the link is back.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { eventually } from "../../../e2e/harness/eventually.js";
import { installFluxCrds } from "../../../e2e/harness/flux.js";
import { startControlPlane } from "../../../e2e/harness/control-plane.js";
import { startTcpProxy } from "../../../e2e/harness/tcp-proxy.js";
import { managerForFile, provisionCluster } from "../../../e2e/support/cluster-manager/fixtures.js";
import { EdgeClusterType, type EdgeCluster } from "../../api/edgecluster.js";
import { silentLogger } from "../../runtime/logger.js";
import { KubeClient } from "../../runtime/rest.js";
import { PresetUrl, StaticToken } from "../configdb-client.js";
import { FLUX_RECONCILE_ANNOTATION, HeadFollower } from "./head-follower.js";

const NS = "follow";
const EDGE_NS = "fplus-edge";
const central = await managerForFile("head-follower", NS);
const { uuid, creds } = await provisionCluster(central, "follow-a", NS);
const edge = await startControlPlane({ name: "head-follower-edge" });
after(() => edge.stop());
await installFluxCrds(edge);
assert.equal((await edge.kubectl(["create", "namespace", EDGE_NS])).code, 0);

const ec = () => central.manager.client.get<EdgeCluster>(EdgeClusterType, "follow-a", NS);
const selfLink = async () => JSON.parse((await edge.kubectl(["-n", EDGE_NS, "get", "gitrepositories.source.toolkit.fluxcd.io", "self-link", "-o", "json"])).stdout);
const held = async () => {
  const metric = await central.manager.metrics.registry.getSingleMetric("graft_head_watches_held")!.get();
  return metric.values[0]?.value ?? 0;
};
/** What source-controller would write after fetching `commit` because it was asked (or at its poll). */
async function fetched(commit: string, handled?: string) {
  const artifact = {
    revision: `main@sha1:${commit}`, digest: `sha256:${"0".repeat(64)}`, lastUpdateTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    path: `gitrepository/${EDGE_NS}/self-link/${commit}.tar.gz`, url: `http://source-controller/gitrepository/${EDGE_NS}/self-link/${commit}.tar.gz`,
  };
  const status = { status: { artifact, ...(handled ? { lastHandledReconcileAt: handled } : {}) } };
  const r = await edge.kubectl(["-n", EDGE_NS, "patch", "gitrepositories.source.toolkit.fluxcd.io", "self-link", "--subresource=status", "--type=merge", "-p", JSON.stringify(status)]);
  assert.equal(r.code, 0, r.stderr);
}
async function newCommit(values: unknown): Promise<string> {
  const before = (await ec()).status!.commit;
  assert.equal((await central.cp.kubectl(["patch", "ec", "-n", NS, "follow-a", "--type=merge", "-p", JSON.stringify({ spec: { values } })])).code, 0);
  return eventually(async () => {
    const c = (await ec()).status?.commit;
    return c !== before && c;
  }, { message: "the values change committed" }) as Promise<string>;
}

const gitRepository = {
  apiVersion: "source.toolkit.fluxcd.io/v1", kind: "GitRepository", metadata: { name: "self-link", namespace: EDGE_NS },
  spec: { interval: "1h", url: `${central.externalUrl}/uuid/${uuid}`, ref: { branch: "main" } },
};
assert.equal((await edge.kubectl(["apply", "-f", "-"], { input: JSON.stringify(gitRepository) })).code, 0);
await fetched((await ec()).status!.commit!);

test("a values change → one reconcile request on the self-link GitRepository; a silent link is retried and the commit made meanwhile still asked for", async () => {
  const host = new URL(central.externalUrl);
  const proxy = await startTcpProxy({ host: host.hostname, port: Number(host.port) });
  const follower = new HeadFollower({
    client: new KubeClient(edge.kubeConfig), clusterUuid: uuid, namespace: EDGE_NS,
    centre: new PresetUrl(`http://127.0.0.1:${proxy.port}`), auth: new StaticToken({ token: creds.syncToken }),
    log: silentLogger, minRetryMs: 100, maxRetryMs: 1000, requestTimeoutMs: 3000, spreadMs: 0,
  });
  follower.start();
  try {
    // At start the artifact is at the head already: the first answer asks for nothing, the next watch is held.
    await eventually(async () => (await held()) === 1, { message: "the follower's watch is held" });
    assert.equal(follower.requests, 0);
    assert.equal((await selfLink()).metadata.annotations?.[FLUX_RECONCILE_ANNOTATION], undefined);

    const second = await newCommit({ logLevel: "debug" });
    const asked = await eventually(async () => (await selfLink()).metadata.annotations?.[FLUX_RECONCILE_ANNOTATION] as string | undefined,
      { message: "edge-sync asked Flux to fetch the new commit" });
    assert.equal(follower.requests, 1);
    await fetched(second, asked);
    await eventually(async () => (await held()) === 1, { message: "the next watch is held after the answer" });
    assert.equal(follower.requests, 1, "one request per commit");

    // The link goes silent: the held request times out, is retried (into the silence) with backoff.
    proxy.freeze();
    const third = await newCommit({ logLevel: "info" });
    await eventually(async () => follower.failures >= 2, { timeoutMs: 30_000, message: "the silent watch failed and was retried" });
    assert.equal((await selfLink()).metadata.annotations?.[FLUX_RECONCILE_ANNOTATION], asked, "nothing got through the silence");
    proxy.thaw();
    const again = await eventually(async () => {
      const a = (await selfLink()).metadata.annotations?.[FLUX_RECONCILE_ANNOTATION] as string | undefined;
      return a !== asked && a;
    }, { timeoutMs: 30_000, message: `the commit ${third} made during the silence was asked for` });
    assert.equal(follower.requests, 2);
    assert.ok(Date.parse(again as string) > Date.parse(asked!));
  } finally {
    await follower.stop();
    await proxy.close();
  }
});
