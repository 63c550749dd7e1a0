// The rollout planner on its own, table by table: scope and skipped clusters, waves, the deadline, spec.paused, and
// the refusals that only a spec change can fix (an unknown release, a canary selector matching nothing).
import { test } from "node:test";
import assert from "node:assert/strict";
import { FLUX_ROLLOUT_ANNOTATION, FLUX_VERSION_ANNOTATION } from "../../api/constants.js";
import type { EdgeCluster } from "../../api/edgecluster.js";
import type { FluxRollout, FluxRolloutSpec } from "../../api/fluxrollout.js";
import { FluxReleases } from "./flux-releases.js";
import { clusterProgress, matchesSelector, planRollout } from "./rollout-plan.js";

const releases = FluxReleases.of([{ version: "v2.9.5", installYaml: "" }, { version: "v2.7.5", installYaml: "" }]);
const NOW = new Date("2026-12-01T12:00:00Z");
const COMMIT = "a".repeat(40);

function cluster(name: string, opts: { labels?: Record<string, string>; spec?: Partial<EdgeCluster["spec"]>; annotations?: Record<string, string>; on?: string; running?: string; failing?: boolean; reportedAt?: string } = {}): EdgeCluster {
  const revision = `main@sha1:${COMMIT}`;
  return {
    metadata: { name, namespace: "fleet", labels: opts.labels, annotations: opts.annotations },
    spec: { namespace: "fplus-edge", bare: false, ...opts.spec },
    status: {
      commit: COMMIT, fluxVersion: opts.on ?? "v2.7.5",
      gitops: {
        fluxVersion: opts.running ?? opts.on ?? "v2.7.5", appliedRevision: revision, reportedAt: opts.reportedAt ?? new Date(NOW.getTime() + 5000).toISOString(),
        objects: [
          { kind: "Kustomization", namespace: "fplus-edge", name: "self-link", ready: "True", revision },
          { kind: "HelmRelease", namespace: "fplus-edge", name: "edge-cluster-x", ready: opts.failing ? "False" : "True", reason: opts.failing ? "UpgradeFailed" : "UpgradeSucceeded" },
        ],
      },
    },
  };
}

function rollout(spec: Partial<FluxRolloutSpec> = {}, status?: FluxRollout["status"]): FluxRollout {
  return {
    metadata: { name: "r", namespace: "fleet", generation: 1 },
    spec: { version: "v2.9.5", batchSize: 2, progressDeadline: "10m", failAfter: "1m", paused: false, ...spec },
    status,
  };
}

const plan = (r: FluxRollout, clusters: EdgeCluster[], now = NOW) => planRollout({ rollout: r, clusters, releases, rollouts: new Set(["r", "other"]), now });
const ready = (p: ReturnType<typeof plan>) => p.status.conditions!.find((c) => c.type === "Ready")!;

test("waves: the canary first (default: the first cluster by name), then batches; only wave 1 is assigned", () => {
  const clusters = ["d", "b", "a", "c", "e"].map((n) => cluster(n));
  const p = plan(rollout(), clusters);
  assert.deepEqual(p.status.waves!.map((w) => [w.clusters, w.state]), [[["a"], "Progressing"], [["b", "c"], "Pending"], [["d", "e"], "Pending"]]);
  assert.deepEqual(p.assign.map((c) => c.metadata.name), ["a"]);
  assert.equal(ready(p).reason, "Progressing");
  assert.ok(p.requeueAfterMs! > 0 && p.requeueAfterMs! <= 10 * 60_000 + 1000, "comes back at the deadline");
});

test("pinned, bare and other rollouts' clusters are skipped; the selector limits the scope", () => {
  const clusters = [
    cluster("a", { labels: { site: "x" } }), cluster("b", { labels: { site: "x" }, spec: { fluxVersion: "v2.7.5" } }),
    cluster("c", { labels: { site: "x" }, spec: { bare: true } }), cluster("d", { labels: { site: "x" }, annotations: { [FLUX_ROLLOUT_ANNOTATION]: "other" } }),
    cluster("e", { labels: { site: "x" }, annotations: { [FLUX_ROLLOUT_ANNOTATION]: "deleted-one" } }), cluster("f", { labels: { site: "y" } }),
  ];
  const p = plan(rollout({ selector: { matchLabels: { site: "x" } } }), clusters);
  assert.deepEqual(p.status.skipped, ["b", "c", "d"]);
  assert.deepEqual(p.status.waves!.map((w) => w.clusters), [["a"], ["e"]]);
  assert.equal(p.status.updated, "0/2");
});

test("a wave is done when its clusters run the release with every object Ready; done waves let the next start", () => {
  const annotated = { [FLUX_VERSION_ANNOTATION]: "v2.9.5", [FLUX_ROLLOUT_ANNOTATION]: "r" };
  const clusters = [cluster("a", { on: "v2.9.5", annotations: annotated }), cluster("b"), cluster("c")];
  const p = plan(rollout(), clusters);
  assert.deepEqual(p.status.waves!.map((w) => w.state), ["Succeeded", "Progressing"]);
  assert.deepEqual(p.assign.map((c) => c.metadata.name), ["b", "c"], "the annotated canary is not patched again");
  assert.equal(clusterProgress(cluster("x", { on: "v2.9.5", running: "v2.7.5" }), "v2.9.5").state, "progressing", "new commit, old controllers");
  // A finished wave stays finished while one of its clusters reconciles again.
  const again = plan(rollout({}, p.status), [cluster("a", { on: "v2.9.5", running: "v2.7.5", annotations: annotated }), cluster("b"), cluster("c")]);
  assert.deepEqual(again.status.waves!.map((w) => w.state), ["Succeeded", "Progressing"]);
  const all = plan(rollout(), clusters.map((c) => cluster(c.metadata.name, { on: "v2.9.5", annotations: annotated })));
  assert.equal(ready(all).status, "True");
  assert.equal(all.status.updated, "3/3");
});

test("a failing object fails the wave once its report stood for spec.failAfter, and pauses; a wave past its deadline fails too", () => {
  // Reported 5 s after the wave started: not yet a failure (Flux replacing its controllers fails a reconcile or two).
  const settling = plan(rollout(), [cluster("a", { on: "v2.9.5", failing: true }), cluster("b")]);
  assert.equal(settling.status.waves![0]!.state, "Progressing");
  assert.equal(settling.paused, undefined);
  assert.equal(settling.requeueAfterMs, 66_000, "looked at again once the report has stood for failAfter (1m)");
  const failing = plan(rollout({}, settling.status), [cluster("a", { on: "v2.9.5", failing: true }), cluster("b")], new Date(NOW.getTime() + 65_000));
  assert.equal(failing.paused?.wave, 0);
  assert.deepEqual(failing.status.waves!.map((w) => w.state), ["Failed", "Pending"]);
  assert.equal(failing.status.pause?.wave, 0);
  assert.deepEqual(failing.assign.map((c) => c.metadata.name), ["a"]);
  assert.equal(failing.status.conditions!.find((c) => c.type === "WaveFailed")?.status, "True");

  // A failure reported before the wave started (stale: e.g. before a retry) does not count.
  const stale = plan(rollout({ failAfter: "0s" }), [cluster("a", { on: "v2.9.5", failing: true, reportedAt: new Date(NOW.getTime() - 60_000).toISOString() }), cluster("b")]);
  assert.equal(stale.status.waves![0]!.state, "Progressing");
  assert.equal(plan(rollout({ failAfter: "soon" }), [cluster("a")]).status.conditions!.find((c) => c.type === "Stalled")?.reason, "InvalidSpec");

  const started = plan(rollout(), [cluster("a"), cluster("b")]);
  const later = new Date(NOW.getTime() + 11 * 60_000);
  const overdue = plan(rollout({}, started.status), [cluster("a"), cluster("b")], later);
  assert.equal(overdue.status.waves![0]!.state, "Failed");
  assert.match(overdue.status.waves![0]!.message!, /not done within spec\.progressDeadline 10m: "a": Flux v2\.9\.5 not yet committed/);
  // Still paused on the next pass, without a second Event, even once the canary is fine.
  const next = plan(rollout({}, overdue.status), [cluster("a", { on: "v2.9.5" }), cluster("b")], later);
  assert.equal(next.paused, undefined);
  assert.equal(ready(next).reason, "WaveFailed");
  assert.deepEqual(next.assign.map((c) => c.metadata.name), ["a"]);
});

test("a cluster whose new CRDs were refused for a stored version: the failure says to run graft flux-migrate", () => {
  const refused = cluster("a", { on: "v2.9.5" });
  refused.status!.gitops!.objects[0] = {
    kind: "Kustomization", namespace: "fplus-edge", name: "self-link", ready: "False", reason: "ReconciliationFailed",
    message: "CustomResourceDefinition/gitrepositories.source.toolkit.fluxcd.io dry-run failed (Invalid): status.storedVersions[0]: Invalid value: \"v1beta2\"\n",
  };
  const p = clusterProgress(refused, "v2.9.5");
  assert.equal(p.state, "failed");
  assert.match(p.message, /Invalid value: "v1beta2" — the edge's Flux CRDs still store an API version the new release drops: run `graft flux-migrate --kubeconfig/);
  assert.doesNotMatch(clusterProgress(cluster("b", { on: "v2.9.5", failing: true }), "v2.9.5").message, /flux-migrate/, "only for that refusal");
});

test("spec.paused starts no further wave; refusals stall", () => {
  const p = plan(rollout({ paused: true }), [cluster("a"), cluster("b")]);
  assert.deepEqual(p.status.waves!.map((w) => w.state), ["Pending", "Pending"]);
  assert.equal(p.assign.length, 0);
  assert.equal(ready(p).reason, "Paused");

  const unknown = plan(rollout({ version: "v2.8.0" }), [cluster("a")]);
  assert.equal(ready(unknown).reason, "UnknownFluxVersion");
  assert.equal(unknown.status.conditions!.find((c) => c.type === "Stalled")?.status, "True");
  assert.match(ready(unknown).message, /it has v2\.7\.5, v2\.9\.5/);
  const noCanary = plan(rollout({ canary: { matchLabels: { canary: "yes" } } }), [cluster("a")]);
  assert.equal(ready(noCanary).reason, "InvalidSpec");
  assert.match(ready(noCanary).message, /spec\.canary matches none of the 1 EdgeClusters/);
});

test("label selectors follow Kubernetes' matchLabels and matchExpressions", () => {
  const l = { tier: "edge", site: "a" };
  assert.equal(matchesSelector(l, undefined), true);
  assert.equal(matchesSelector(l, { matchLabels: { tier: "edge" } }), true);
  assert.equal(matchesSelector(l, { matchLabels: { tier: "core" } }), false);
  assert.equal(matchesSelector(l, { matchExpressions: [{ key: "site", operator: "In", values: ["a", "b"] }] }), true);
  assert.equal(matchesSelector(l, { matchExpressions: [{ key: "site", operator: "NotIn", values: ["a"] }] }), false);
  assert.equal(matchesSelector(l, { matchExpressions: [{ key: "zone", operator: "DoesNotExist" }] }), true);
  assert.equal(matchesSelector(l, { matchExpressions: [{ key: "zone", operator: "Exists" }] }), false);
});
