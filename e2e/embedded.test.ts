// End to end, embedded mode: `kubectl apply` of an EdgeCluster on a central API server → the one-time bootstrap
// script served by the cluster-manager, run with dash against an edge API server → the upstream Flux source- and
// kustomize-controllers pull the cluster's repository from the embedded Git server with the `flux-secrets`
// credentials and apply it → edge-sync reports hosts and the Sealed Secrets certificate → the EdgeCluster is Ready.
// Then a change of spec.values reaches the edge through Flux, and deleting the EdgeCluster cleans up centrally.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { eventually } from "./harness/eventually.js";
import { createSealedSecretsKey } from "./harness/sealed-secrets-key.js";
import { EdgeClusterType, type EdgeCluster } from "../operators/api/edgecluster.js";
import { credentialsSecretName } from "../operators/cluster-manager/credentials.js";
import { edgeClusterYaml } from "./support/cluster-manager/fixtures.js";
import { edgeWorldForFile } from "./support/cluster-manager/edge-world.js";

const NS = "sites";
const EDGE_NS = "fplus-edge";
const { central, edge, work, edgeJson, ...site } = await edgeWorldForFile({ name: "central", namespace: NS });

const ec = () => central.manager.client.get<EdgeCluster>(EdgeClusterType, "line-1", NS);
const isReady = (obj: { status?: { conditions?: Array<{ type: string; status: string }> } }) =>
  obj.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
const node = (name: string, labels: Record<string, string> = {}) => JSON.stringify({
  apiVersion: "v1", kind: "Node", metadata: { name, labels: { "kubernetes.io/hostname": name, ...labels } },
});

test("embedded mode: apply → bootstrap with dash → Flux reconciles → edge-sync reports → Ready", async () => {
  assert.equal((await central.cp.kubectl(["apply", "-f", "-"], { input: edgeClusterYaml("line-1", NS, { values: { podLabels: { line: "1" } } }) })).code, 0);
  assert.equal((await central.cp.kubectl(["wait", "-n", NS, "ec/line-1", "--for=condition=Provisioned", "--timeout=60s"])).code, 0);
  assert.equal((await edge.kubectl(["apply", "-f", "-"], { input: node("edge-cp-1", { "node-role.kubernetes.io/control-plane": "" }) })).code, 0);

  // The one-time script, fetched from the manager and run with dash against the edge cluster.
  const { url, stdout } = await site.bootstrap("line-1");
  assert.match(stdout, /==>/);
  // The .sh form answers a spent link with a script that explains; the plain link keeps the status code.
  assert.equal((await fetch(url.replace(/\.sh$/, ""))).status, 410, "the link worked once");

  // Flux, as real controller processes against the edge API server (no kubelet runs Pods here).
  const flux = await site.startFlux();
  const uuid = (await ec()).status!.uuid!;
  await eventually(async () => isReady(await edgeJson(["-n", EDGE_NS, "get", "kustomizations.kustomize.toolkit.fluxcd.io", "self-link"])),
    { timeoutMs: 120_000, intervalMs: 1000, message: () => `self-link Kustomization Ready (flux logs: ${flux.recentLogs(20)})` });
  const release = await eventually(() => edgeJson(["-n", EDGE_NS, "get", "helmreleases.helm.toolkit.fluxcd.io", `edge-cluster-${uuid}`]),
    { timeoutMs: 60_000, message: "HelmRelease applied by Flux" });
  assert.equal(release.spec.values.cluster.uuid, uuid);
  assert.equal(release.spec.values.podLabels.line, "1");
  await eventually(async () => isReady(await edgeJson(["-n", EDGE_NS, "get", "gitrepositories.source.toolkit.fluxcd.io", "helm-charts"])),
    { timeoutMs: 60_000, intervalMs: 1000, message: "helm-charts GitRepository pulled from the shared repository" });

  // edge-sync with the credentials and settings the bootstrap left on the edge.
  await site.startEdgeSync();
  assert.equal((await edge.kubectl(["apply", "-f", "-"], { input: node("edge-worker-1") })).code, 0);
  const { certPem } = await createSealedSecretsKey(edge, work);

  const ready = await eventually(async () => {
    const e = await ec();
    const ok = e.status?.hostCount === 2 && e.status.kubesealCertificate && isReady(e)
      && e.status.conditions?.some((c) => c.type === "Bootstrapped" && c.status === "True");
    return ok && e;
  }, { timeoutMs: 60_000, message: () => `EdgeCluster Ready with hosts and certificate (edge-sync log: ${safeRead(join(work, "edge-sync.log"))})` });
  assert.deepEqual(ready.status!.hosts!.map((h) => [h.hostname, h.control_plane]), [["edge-cp-1", true], ["edge-worker-1", false]]);
  assert.equal(ready.status!.kubesealCertificate!.pem, certPem);
  const table = await central.cp.kubectl(["get", "ec", "-n", NS, "-o", "wide"]);
  assert.match(table.stdout, /line-1\s+acme-line-1\s+2\s+\d{4}-\d\d-\d\dT\S+\s+True/);

  // A change of spec.values reaches the edge through Flux.
  await central.cp.kubectl(["patch", "ec", "-n", NS, "line-1", "--type=merge", "-p", '{"spec":{"values":{"podLabels":{"line":"2"}}}}']);
  await eventually(async () => (await ec()).status?.observedGeneration === 2, { message: "new generation committed" });
  await edge.kubectl(["-n", EDGE_NS, "annotate", "--overwrite", "gitrepositories.source.toolkit.fluxcd.io", "self-link", `reconcile.fluxcd.io/requestedAt=${Date.now()}`]);
  await eventually(async () => (await edgeJson(["-n", EDGE_NS, "get", "helmreleases.helm.toolkit.fluxcd.io", `edge-cluster-${uuid}`])).spec.values.podLabels.line === "2",
    { timeoutMs: 90_000, intervalMs: 1000, message: "new values applied on the edge" });

  // Deleting the EdgeCluster cleans up centrally.
  assert.equal((await central.cp.kubectl(["delete", "ec", "-n", NS, "line-1", "--wait=true", "--timeout=60s"])).code, 0);
  assert.ok(!(await central.manager.repos.listRepos()).includes(uuid), "repository removed");
  assert.equal((await central.cp.kubectl(["get", "secret", "-n", NS, credentialsSecretName(uuid)])).code, 1, "credentials removed");
});

function safeRead(path: string): string {
  try {
    return readFileSync(path, "utf8").split("\n").slice(-20).join("\n");
  } catch {
    return "(no log)";
  }
}
