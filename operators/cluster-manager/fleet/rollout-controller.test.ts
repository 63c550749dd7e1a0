// The FluxRollout controller against a real API server, with the cluster-manager's EdgeCluster controller making
// the commits: three clusters on Flux v2.7.5 are moved to v2.9.5 wave by wave (canary, then one by one), each wave
// started only after the one before reports the release running with every object Ready. Then a broken upgrade
// (the canary's HelmRelease fails after applying it) pauses the rollout after the canary, with a Warning Event and
// WaveFailed; the rest stay where they were until a retry is asked for. The test plays each edge through the status
// endpoint with the cluster's own token, exactly as edge-sync reports.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { eventually } from "../../../e2e/harness/eventually.js";
import { App, FLUX_VERSION_ANNOTATION, RECONCILE_REQUESTED_ANNOTATION } from "../../api/constants.js";
import { EdgeClusterType, type EdgeCluster } from "../../api/edgecluster.js";
import { FluxRolloutType, type FluxRollout } from "../../api/fluxrollout.js";
import { Core } from "../../runtime/kube.js";
import { credentialsSecretName, decodeCredentials, type SecretObject } from "../credentials.js";
import { repoFluxVersion } from "../git/repo-content.js";
import { edgeClusterYaml, startManagerFixture, type ManagerFixture } from "../../../e2e/support/cluster-manager/fixtures.js";

const NS = "fleet";
const OLD = "v2.7.5";
const NEW = "v2.9.5";
const NAMES = ["site-a", "site-b", "site-c"];
let f: ManagerFixture;
const tokens = new Map<string, string>();

const ec = (name: string) => f.manager.client.get<EdgeCluster>(EdgeClusterType, name, NS);
const rollout = () => f.manager.client.get<FluxRollout>(FluxRolloutType, "flux-upgrade", NS);
const assigned = async (name: string) => (await ec(name)).metadata.annotations?.[FLUX_VERSION_ANNOTATION];
const cond = (o: { status?: { conditions?: Array<{ type: string; status: string; reason: string; message: string }> } }, type: string) =>
  o.status?.conditions?.find((c) => c.type === type);

/** The edge's report: the Flux version it runs and its objects, the self-link at the given commit. */
async function report(name: string, fluxVersion: string, commit: string, release: { ready: string; reason?: string; message?: string } = { ready: "True", reason: "UpgradeSucceeded" }) {
  const e = await ec(name);
  const revision = `main@sha1:${commit}`;
  const objects = [
    { kind: "GitRepository", namespace: "fplus-edge", name: "self-link", ready: "True", reason: "Succeeded", revision },
    { kind: "Kustomization", namespace: "fplus-edge", name: "self-link", ready: "True", reason: "ReconciliationSucceeded", revision },
    { kind: "HelmRelease", namespace: "fplus-edge", name: `edge-cluster-${e.status!.uuid}`, revision: "0.1.0", ...release },
  ];
  const r = await fetch(`${f.externalUrl}/v2/app/${App.EdgeClusterStatus}/object/${e.status!.uuid}`, {
    method: "PATCH", headers: { authorization: `Bearer ${tokens.get(name)}`, "content-type": "application/merge-patch+json" },
    body: JSON.stringify({ gitops: { fluxVersion, objects } }),
  });
  assert.equal(r.status, 204, await r.text());
}

/** Waits until the cluster's repository carries `version` (committed for this generation); returns the commit. */
async function committed(name: string, version: string): Promise<string> {
  const e = await eventually(async () => {
    const got = await ec(name);
    return got.status?.fluxVersion === version && got.status.observedGeneration === got.metadata.generation && got;
  }, { timeoutMs: 60_000, message: `"${name}" committed Flux ${version}` });
  assert.equal(repoFluxVersion(await f.manager.repos.readFiles(e.status!.uuid!)), version);
  return e.status!.commit!;
}

before(async () => {
  f = await startManagerFixture("fleet");
  await f.cp.kubectl(["create", "namespace", NS]);
  for (const name of NAMES) {
    assert.equal((await f.cp.kubectl(["apply", "-f", "-"], { input: edgeClusterYaml(name, NS, { fluxVersion: OLD }) })).code, 0);
  }
  assert.equal((await f.cp.kubectl(["label", "ec", "-n", NS, "site-a", "fleet.example/canary=true"])).code, 0);
  for (const name of NAMES) {
    assert.equal((await f.cp.kubectl(["wait", "-n", NS, `ec/${name}`, "--for=condition=Provisioned", "--timeout=60s"])).code, 0);
    // Unpinned, a cluster keeps the release its repository has.
    assert.equal((await f.cp.kubectl(["patch", "ec", "-n", NS, name, "--type=json", "-p", '[{"op":"remove","path":"/spec/fluxVersion"}]'])).code, 0);
    const commit = await committed(name, OLD);
    const e = await ec(name);
    const secret = await f.manager.client.get<SecretObject>(Core.secrets, credentialsSecretName(e.status!.uuid!), NS);
    tokens.set(name, decodeCredentials(secret).syncToken);
    await report(name, OLD, commit);
  }
});
after(async () => f?.stop());

test("a Flux upgrade rolls out canary first, then wave by wave, each gated on the one before being Ready", async () => {
  const manifest = {
    apiVersion: "factoryplus.app.amrc.co.uk/v1alpha1", kind: "FluxRollout",
    metadata: { name: "flux-upgrade", namespace: NS },
    spec: { version: NEW, canary: { matchLabels: { "fleet.example/canary": "true" } }, batchSize: 1, failAfter: "2s" },
  };
  assert.equal((await f.cp.kubectl(["apply", "-f", "-"], { input: JSON.stringify(manifest) })).code, 0);

  // Wave 1, the canary: assigned and committed; the others are not touched while it has not reported.
  const canaryCommit = await committed("site-a", NEW);
  assert.equal(await assigned("site-a"), NEW);
  let r = await eventually(async () => { const got = await rollout(); return got.status?.waves?.[0]?.state === "Progressing" && got; }, { message: "wave 1 progressing" });
  assert.deepEqual(r.status!.waves!.map((w) => [w.clusters, w.state]), [[["site-a"], "Progressing"], [["site-b"], "Pending"], [["site-c"], "Pending"]]);
  assert.equal(cond(r, "Ready")?.reason, "Progressing");
  assert.equal(r.status!.updated, "0/3");
  for (const name of ["site-b", "site-c"]) {
    assert.equal(await assigned(name), undefined, `"${name}" waits for the canary`);
    assert.equal((await ec(name)).status!.fluxVersion, OLD);
  }
  // The canary applied the commit but still runs the old controllers: not done.
  await report("site-a", OLD, canaryCommit);
  await eventually(async () => (await rollout()).status?.waves?.[0]?.message?.includes("the edge reports Flux v2.7.5"), { message: "canary waits for the new controllers" });
  assert.equal(await assigned("site-b"), undefined);

  // The canary runs the release, every object Ready: wave 2 starts, wave 3 still waits.
  await report("site-a", NEW, canaryCommit);
  const bCommit = await committed("site-b", NEW);
  assert.equal(await assigned("site-c"), undefined, "wave 3 waits for wave 2");
  r = await rollout();
  assert.equal(r.status!.waves![0]!.state, "Succeeded");
  await report("site-b", NEW, bCommit);
  const cCommit = await committed("site-c", NEW);
  await report("site-c", NEW, cCommit);
  r = await eventually(async () => { const got = await rollout(); return cond(got, "Ready")?.status === "True" && got; }, { message: "rollout Ready" });
  assert.equal(r.status!.updated, "3/3");
  assert.match(cond(r, "Ready")!.message, /3\/3 clusters run Flux v2\.9\.5 with every Flux object Ready/);
  const table = await f.cp.kubectl(["get", "fluxrollout", "-n", NS]);
  assert.match(table.stdout, /flux-upgrade\s+v2\.9\.5\s+3\/3\s+True/);
  const clusters = await f.cp.kubectl(["get", "ec", "-n", NS]);
  for (const name of NAMES) assert.match(clusters.stdout, new RegExp(`${name}\\s.*\\bv2\\.9\\.5\\b`), "kubectl get ec shows the Flux each edge runs");
});

test("a broken upgrade pauses the rollout after the canary, until a retry is asked for", async () => {
  // The "upgrade" to OLD is broken on the canary: its HelmRelease fails once the commit is applied.
  assert.equal((await f.cp.kubectl(["patch", "fluxrollout", "-n", NS, "flux-upgrade", "--type=merge", "-p", JSON.stringify({ spec: { version: OLD } })])).code, 0);
  const canaryCommit = await committed("site-a", OLD);
  const failure = "Helm upgrade failed: the server could not find the requested resource";
  await report("site-a", OLD, canaryCommit, { ready: "False", reason: "UpgradeFailed", message: failure });

  const r = await eventually(async () => { const got = await rollout(); return cond(got, "WaveFailed")?.status === "True" && got; }, { message: "WaveFailed" });
  assert.equal(cond(r, "Ready")?.status, "False");
  assert.equal(cond(r, "Ready")?.reason, "WaveFailed");
  assert.match(cond(r, "WaveFailed")!.message, /wave 1 of 3 \(site-a\) failed: "site-a": HelmRelease fplus-edge\/edge-cluster-\S+ is not Ready: UpgradeFailed: Helm upgrade failed/);
  assert.match(cond(r, "WaveFailed")!.message, /retry with: kubectl annotate fluxrollout flux-upgrade/);
  assert.deepEqual(r.status!.waves!.map((w) => w.state), ["Failed", "Pending", "Pending"]);
  const events = JSON.parse((await f.cp.kubectl(["get", "events.events.k8s.io", "-n", NS, "-o", "json"])).stdout).items as Array<{ reason: string; type: string; note: string; regarding: { kind: string } }>;
  const paused = events.filter((e) => e.regarding.kind === "FluxRollout" && e.reason === "RolloutPaused");
  assert.equal(paused.length, 1);
  assert.equal(paused[0]!.type, "Warning");
  for (const name of ["site-b", "site-c"]) {
    assert.equal(await assigned(name), NEW, `"${name}" keeps its release`);
    assert.equal((await ec(name)).status!.fluxVersion, NEW);
  }

  // The canary recovers; the rollout stays paused (a person decides), until the retry annotation.
  await report("site-a", OLD, canaryCommit);
  await eventually(async () => (await rollout()).status?.waves?.[0]?.state === "Succeeded", { message: "canary recovered" });
  const still = await rollout();
  assert.equal(cond(still, "WaveFailed")?.status, "True", "still paused");
  assert.equal(await assigned("site-b"), NEW);
  assert.equal((await f.cp.kubectl(["annotate", "fluxrollout", "-n", NS, "flux-upgrade", `${RECONCILE_REQUESTED_ANNOTATION}=retry-1`, "--overwrite"])).code, 0);
  await committed("site-b", OLD);
  const resumed = await rollout();
  assert.equal(cond(resumed, "WaveFailed"), undefined);
  assert.equal(resumed.status!.lastHandledReconcileAt, "retry-1");
});
