// The cluster-manager in embedded mode against a real API server and real git: from `kubectl apply` to a
// provisioned cluster whose repository clones with its own credentials, and a one-time bootstrap command.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { eventually } from "../../../e2e/harness/eventually.js";
import { App } from "../../api/constants.js";
import { EdgeClusterType, type EdgeCluster } from "../../api/edgecluster.js";
import { Core, type KubeObject } from "../../runtime/kube.js";
import { issueBootstrapToken } from "../bootstrap-tokens.js";
import { requestBootstrapCommand } from "../bootstrap-command.js";
import { credentialsSecretName, decodeCredentials, type SecretObject } from "../credentials.js";
import { edgeClusterYaml, gitClient, managerForFile, withCredentials } from "../../../e2e/support/cluster-manager/fixtures.js";
import { shippedFluxReleases } from "../fleet/flux-releases.js";

const NS = "sites";
/** The site's registry (EDGE_IMAGE, config/manager's settings.env): every cluster's chart values name it. */
const EDGE_IMAGE = { repository: "registry.site.test/platform/graft", tag: "1.2.3" };
const f = await managerForFile("cm", NS, { edgeImage: EDGE_IMAGE });

const getEc = (name: string) => f.manager.client.get<EdgeCluster>(EdgeClusterType, name, NS);
const condition = (ec: EdgeCluster, type: string) => ec.status?.conditions?.find((c) => c.type === type);

async function applyAndWait(name: string, spec: Record<string, unknown> = {}) {
  const r = await f.cp.kubectl(["apply", "-f", "-"], { input: edgeClusterYaml(name, NS, spec) });
  assert.equal(r.code, 0, r.stderr);
  const w = await f.cp.kubectl(["wait", "-n", NS, `edgecluster/${name}`, "--for=condition=Provisioned", "--timeout=60s"]);
  assert.equal(w.code, 0, `kubectl wait: ${w.stderr}`);
  return getEc(name);
}

async function credentialsOf(ec: EdgeCluster) {
  const secret = await f.manager.client.get<SecretObject>(Core.secrets, credentialsSecretName(ec.status!.uuid!), NS);
  return decodeCredentials(secret);
}

async function clone(url: string, user: string, password: string) {
  const dir = mkdtempSync(join(tmpdir(), "graft-clone-"));
  try {
    await gitClient(["clone", "-q", withCredentials(url, user, password), join(dir, "repo")]);
    const read = (p: string) => readFileSync(join(dir, "repo", p), "utf8");
    const { stdout: log } = await gitClient(["log", "--format=%H"], join(dir, "repo"));
    return { read, commits: log.trim().split("\n"), exists: (p: string) => existsSync(join(dir, "repo", p)) };
  } finally {
    setTimeout(() => rmSync(dir, { recursive: true, force: true }), 0);
  }
}

test("kubectl apply → Provisioned and Ready, with status, printer columns and events", async () => {
  const ec = await applyAndWait("plant-a", { values: { podAnnotations: { greeting: "hello $& $'" } } });
  assert.match(ec.status!.uuid!, /^[0-9a-f-]{36}$/);
  assert.equal(ec.status!.sparkplugGroup, "acme-plant-a");
  assert.equal(ec.status!.repository, `${f.externalUrl}/uuid/${ec.status!.uuid}`);
  assert.equal(ec.status!.observedGeneration, ec.metadata.generation);
  assert.equal(condition(ec, "Ready")?.status, "True");
  assert.equal(condition(ec, "Ready")?.observedGeneration, ec.metadata.generation);
  assert.ok(ec.metadata.finalizers?.includes("factoryplus.app.amrc.co.uk/edgecluster-teardown"));
  assert.equal(JSON.stringify(ec).includes((await credentialsOf(ec)).gitPassword), false, "no secret in the EdgeCluster");

  const table = await f.cp.kubectl(["get", "ec", "-n", NS, "plant-a"]);
  assert.match(table.stdout, /acme-plant-a\s+.*True/);
  const events = await f.cp.kubectl(["get", "events.events.k8s.io", "-n", NS, "-o", "json"]);
  const mine = JSON.parse(events.stdout).items.filter((e: { regarding: { name: string } }) => e.regarding.name === "plant-a") as Array<{ reason: string; note: string }>;
  // One Event tells the story of the first provisioning: what was set up, and what to run next.
  const provisioned = mine.filter((e) => e.reason === "Provisioned");
  assert.equal(provisioned.length, 1, `one Provisioned event in ${mine.map((e) => e.reason)}`);
  assert.match(provisioned[0]!.note, new RegExp(`has UUID ${ec.status!.uuid}.*created Secret "graft-cluster-.*committed [0-9a-f]{12} to .*graft bootstrap-command -n ${NS} plant-a$`));
});

test("the repository clones with the cluster's credentials and holds the expected manifests; other credentials are refused", async () => {
  const ec = await getEc("plant-a");
  const creds = await credentialsOf(ec);
  const uuid = ec.status!.uuid!;
  const repo = await clone(ec.status!.repository!, creds.gitUsername, creds.gitPassword);
  const docs = (p: string) => parseAllDocuments(repo.read(p)).map((d) => d.toJS());
  const [release] = docs("edo/cluster/edge-cluster.yaml");
  assert.equal(release.kind, "HelmRelease");
  assert.equal(release.apiVersion, "helm.toolkit.fluxcd.io/v2");
  assert.equal(release.metadata.name, `edge-cluster-${uuid}`);
  assert.equal(release.metadata.namespace, "fplus-edge");
  assert.equal(release.spec.chart.spec.sourceRef.name, "helm-charts");
  assert.equal(release.spec.values.cluster.uuid, uuid);
  assert.equal(release.spec.values.cluster.name, "plant-a");
  assert.equal(release.spec.values.podAnnotations.greeting, "hello $& $'", "values substituted literally");
  assert.deepEqual(release.spec.values.image, EDGE_IMAGE, "the edge components' image");
  const [charts] = docs("edo/cluster/helm-charts.yaml");
  assert.equal(charts.spec.url, `${f.externalUrl}/shared/helm-charts`);
  assert.equal(charts.spec.secretRef.name, "flux-secrets");
  const selfLink = docs("edo/cluster/self-link.yaml");
  assert.deepEqual(selfLink.map((d) => `${d.kind}/${d.metadata.name}`).sort(), ["GitRepository/self-link", "Kustomization/self-link"]);
  assert.equal(selfLink.find((d) => d.kind === "GitRepository").spec.url, ec.status!.repository);
  assert.ok(repo.exists("flux-system/gotk-components.yaml"));
  assert.equal(ec.status!.fluxVersion, shippedFluxReleases().defaultVersion, "a new cluster gets the pinned Flux release");
  assert.equal(repo.commits[0], ec.status!.commit);

  const other = await applyAndWait("plant-b", { bare: true });
  const otherCreds = await credentialsOf(other);
  await assert.rejects(clone(ec.status!.repository!, otherCreds.gitUsername, otherCreds.gitPassword), /401|Authentication failed|could not read/i);
  const bare = await clone(other.status!.repository!, otherCreds.gitUsername, otherCreds.gitPassword);
  assert.equal(bare.exists("flux-system/gotk-components.yaml"), false, "bare cluster: no Flux install");
});

test("a change of spec.values yields exactly one new commit; a forced reconcile none", async () => {
  const before = await getEc("plant-a");
  const r = await f.cp.kubectl(["patch", "ec", "-n", NS, "plant-a", "--type=merge", "-p", JSON.stringify({ spec: { values: { podAnnotations: { greeting: "changed" } } } })]);
  assert.equal(r.code, 0, r.stderr);
  const after1 = await eventually(async () => {
    const ec = await getEc("plant-a");
    return ec.status?.observedGeneration === before.metadata.generation! + 1 && ec;
  }, { message: "new generation observed" });
  assert.notEqual(after1.status!.commit, before.status!.commit);
  await f.cp.kubectl(["annotate", "ec", "-n", NS, "plant-a", "--overwrite", "reconcile.factoryplus.app.amrc.co.uk/requestedAt=now-1"]);
  const after2 = await eventually(async () => {
    const ec = await getEc("plant-a");
    return ec.status?.lastHandledReconcileAt === "now-1" && ec;
  }, { message: "forced reconcile handled" });
  assert.equal(after2.status!.commit, after1.status!.commit, "no commit without a content change");
  const creds = await credentialsOf(after2);
  const repo = await clone(after2.status!.repository!, creds.gitUsername, creds.gitPassword);
  assert.equal(repo.commits.length, 2, "set-up commit plus exactly one update");
  assert.equal(parseAllDocuments(repo.read("edo/cluster/edge-cluster.yaml"))[0]!.toJS().spec.values.podAnnotations.greeting, "changed");
});

test("a branch moved away from the commit a pass made is put back by the next pass with the same spec", async () => {
  const ec = await applyAndWait("plant-moved");
  const made = ec.status!.commit!;
  const gitDir = f.manager.repos.repoPath({ kind: "cluster", uuid: ec.status!.uuid! });
  const git = async (...args: string[]) => (await gitClient(["--git-dir", gitDir, "-c", "user.name=Operator", "-c", "user.email=op@test.invalid", ...args])).stdout.trim();
  // Someone empties the repository with git itself (graft refuses pushes; this is its data directory).
  const emptyTree = await git("hash-object", "-t", "tree", "-w", "/dev/null");
  const emptied = await git("commit-tree", emptyTree, "-p", made, "-m", "emptied by hand");
  await git("update-ref", "refs/heads/main", emptied, made);
  await f.cp.kubectl(["annotate", "ec", "-n", NS, "plant-moved", "--overwrite", "reconcile.factoryplus.app.amrc.co.uk/requestedAt=after-move"]);
  const after = await eventually(async () => {
    const now = await getEc("plant-moved");
    return now.status?.lastHandledReconcileAt === "after-move" && now;
  }, { message: "forced reconcile handled" });
  assert.notEqual(after.status!.commit, made);
  assert.equal(await git("rev-parse", "main^"), emptied, "a new commit on top of the moved branch");
  assert.equal(await git("rev-parse", "main^{tree}"), await git("rev-parse", `${made}^{tree}`), "the content the spec makes");
});

test("a second EdgeCluster with the same name gets NameConflict and no side effects", async () => {
  const r = await f.cp.kubectl(["apply", "-f", "-"], { input: edgeClusterYaml("plant-a-copy", NS, { name: "plant-a" }) });
  assert.equal(r.code, 0, r.stderr);
  const ec = await eventually(async () => {
    const e = await getEc("plant-a-copy");
    return condition(e, "Provisioned")?.reason === "NameConflict" && e;
  }, { message: "NameConflict reported" });
  assert.equal(condition(ec, "Provisioned")?.status, "False");
  assert.equal(condition(ec, "Ready")?.status, "False");
  assert.match(condition(ec, "Provisioned")!.message, /^cluster name "plant-a" \(Sparkplug group "acme-plant-a", from spec.name\) is already used by EdgeCluster "sites\/plant-a", which is older: .*delete this one and create it again with another spec.name/);
  assert.equal(condition(ec, "Stalled")?.reason, "NameConflict");
  assert.equal(await f.manager.client.getOrNull(Core.secrets, credentialsSecretName(ec.status!.uuid!), NS), null, "no credentials");
  assert.ok(!(await f.manager.repos.listRepos()).includes(ec.status!.uuid!), "no repository");
  await f.cp.kubectl(["delete", "ec", "-n", NS, "plant-a-copy", "--wait=true", "--timeout=30s"]);
  assert.ok((await f.manager.repos.listRepos()).includes((await getEc("plant-a")).status!.uuid!), "deleting the loser leaves the winner alone");
});

test("a second EdgeCluster with another's UUID is told the UUID collided, not the name", async () => {
  const taken = (await getEc("plant-a")).status!.uuid!;
  assert.equal((await f.cp.kubectl(["apply", "-f", "-"], { input: edgeClusterYaml("plant-u", NS, { uuid: taken }) })).code, 0);
  const ec = await eventually(async () => {
    const e = await getEc("plant-u");
    return condition(e, "Provisioned")?.reason === "NameConflict" && e;
  }, { message: "UUID conflict reported" });
  assert.match(condition(ec, "Provisioned")!.message, new RegExp(`^UUID ${taken} \\(from spec.uuid\\) is already used by EdgeCluster "sites/plant-a".*no spec.uuid \\(one is derived\\) or an unused one`));
  assert.doesNotMatch(condition(ec, "Provisioned")!.message, /cluster name/);
  await f.cp.kubectl(["delete", "ec", "-n", NS, "plant-u", "--wait=true", "--timeout=30s"]);
  assert.ok((await f.manager.repos.listRepos()).includes(taken), "deleting the loser leaves the winner's repository");
});

test("deleting the older of two clusters with one name provisions the younger at once, not after the stall retry", async () => {
  await applyAndWait("plant-w");
  assert.equal((await f.cp.kubectl(["apply", "-f", "-"], { input: edgeClusterYaml("plant-w-late", NS, { name: "plant-w" }) })).code, 0);
  await eventually(async () => condition(await getEc("plant-w-late"), "Provisioned")?.reason === "NameConflict", { message: "NameConflict reported" });
  await f.cp.kubectl(["delete", "ec", "-n", NS, "plant-w", "--wait=true", "--timeout=30s"]);
  // The stall retry is 10 minutes away: only the requeue of clusters sharing the deleted one's name gets here.
  const w = await f.cp.kubectl(["wait", "-n", NS, "edgecluster/plant-w-late", "--for=condition=Provisioned", "--timeout=60s"]);
  assert.equal(w.code, 0, `kubectl wait: ${w.stderr}`);
  await f.cp.kubectl(["delete", "ec", "-n", NS, "plant-w-late", "--wait=true", "--timeout=30s"]);
});

test("spec.values may not set what graft derives: Stalled=True ReservedValue naming the key, nothing committed", async () => {
  const r = await f.cp.kubectl(["apply", "-f", "-"], { input: edgeClusterYaml("plant-v", NS, { values: { cluster: { uuid: "mine" } } }) });
  assert.equal(r.code, 0, r.stderr);
  const ec = await eventually(async () => {
    const e = await getEc("plant-v");
    return condition(e, "Stalled")?.status === "True" && e;
  }, { message: "plant-v stalls" });
  assert.equal(condition(ec, "Stalled")!.reason, "ReservedValue");
  assert.match(condition(ec, "Stalled")!.message, /^spec.values sets "cluster.uuid", which graft derives itself \(the cluster's UUID \(status.uuid\)\): remove "cluster.uuid" from spec.values$/);
  assert.equal(condition(ec, "Ready")?.status, "False");
  assert.equal(condition(ec, "Reconciling"), undefined, "Reconciling and Stalled exclude each other");
  assert.equal(ec.status?.uuid, undefined, "stalled before any side effect");

  // On a provisioned cluster the new generation is refused and the repository keeps the last good commit.
  const before = await getEc("plant-a");
  assert.equal((await f.cp.kubectl(["patch", "ec", "-n", NS, "plant-a", "--type=merge", "-p", JSON.stringify({ spec: { values: { central: { url: "http://elsewhere" } } } })])).code, 0);
  const refused = await eventually(async () => {
    const e = await getEc("plant-a");
    return e.status?.observedGeneration === before.metadata.generation! + 1 && e;
  }, { message: "new generation handled" });
  assert.equal(condition(refused, "Stalled")?.reason, "ReservedValue");
  assert.match(condition(refused, "Stalled")!.message, /"central.url"/);
  assert.equal(condition(refused, "Provisioned")?.status, "False", "Provisioned speaks for the current generation");
  assert.equal(condition(refused, "Ready")?.status, "False");
  assert.equal(refused.status!.commit, before.status!.commit, "nothing committed");
  assert.equal((await f.cp.kubectl(["patch", "ec", "-n", NS, "plant-a", "--type=json", "-p", JSON.stringify([{ op: "remove", path: "/spec/values/central" }])])).code, 0);
  const w = await f.cp.kubectl(["wait", "-n", NS, "ec/plant-a", "--for=condition=Ready", "--timeout=60s"]);
  assert.equal(w.code, 0, w.stderr);
  assert.equal(condition(await getEc("plant-a"), "Stalled"), undefined);
  await f.cp.kubectl(["delete", "ec", "-n", NS, "plant-v", "--wait=true", "--timeout=30s"]);
});

test("bootstrap: a one-time command; reuse → 410, unknown → 404, expired → 410", async () => {
  const { command } = await requestBootstrapCommand(f.manager.client, NS, "plant-a", 30_000);
  // The command fetches the link's .sh form (refusals as a failing script); the plain link answers with statuses.
  const url = /curl -fsSL '([^']+)\.sh' \| sh -/.exec(command)![1]!;
  assert.ok(url.startsWith(`${f.externalUrl}/v1/bootstrap/`));
  const first = await fetch(url);
  assert.equal(first.status, 200);
  assert.match(first.headers.get("content-type")!, /^text\/plain/);
  const script = await first.text();
  assert.match(script, /^#!\/bin\/sh/);
  const again = await fetch(url);
  assert.equal(again.status, 410);
  assert.match(await again.text(), /already used .* graft bootstrap-command -n sites plant-a/);

  const unknown = await fetch(`${f.externalUrl}/v1/bootstrap/${"A".repeat(43)}`);
  assert.equal(unknown.status, 404);

  const ec = await getEc("plant-a");
  const { token } = await issueBootstrapToken(f.manager.client, NS, credentialsSecretName(ec.status!.uuid!), 1);
  await new Promise((r) => setTimeout(r, 20));
  const expired = await eventually(async () => {
    const res = await fetch(`${f.externalUrl}/v1/bootstrap/${token}`);
    return res.status !== 404 && res;
  }, { message: "token known to the index" });
  assert.equal(expired.status, 410);
  assert.match(await expired.text(), /expired .* graft bootstrap-command/);
  const stored = JSON.stringify((await f.manager.client.get<SecretObject>(Core.secrets, credentialsSecretName(ec.status!.uuid!), NS)).data);
  assert.equal(Buffer.from(stored).includes(token), false);
  const decoded = (await credentialsOf(ec)).bootstrapTokens.map((t) => JSON.stringify(t)).join();
  assert.equal(decoded.includes(token), false, "tokens are stored only as hashes");
});

test("edge reports do not re-run provisioning; the first one (Bootstrapped) does", async () => {
  const reconciler = f.manager.reconciler;
  const key = `${NS}/plant-a`;
  const ec0 = await getEc("plant-a");
  const { syncToken } = await credentialsOf(ec0);
  const report = async (hostname: string) => {
    const r = await fetch(`${f.externalUrl}/v2/app/${App.EdgeClusterStatus}/object/${ec0.status!.uuid}`, {
      method: "PATCH", headers: { authorization: `Bearer ${syncToken}`, "content-type": "application/merge-patch+json" },
      body: JSON.stringify({ hosts: [{ hostname, control_plane: true, k8s_version: "v1.36.3", arch: "amd64", os_version: "Debian 12", ready: true }] }),
    });
    assert.equal(r.status, 204, await r.text());
    return (await getEc("plant-a")).metadata.resourceVersion!;
  };
  const calls: string[] = [];
  const original = reconciler.reconcile.bind(reconciler);
  reconciler.reconcile = (k, ctx) => {
    calls.push(k);
    return original(k, ctx);
  };
  const forced = async (value: string) => {
    assert.equal((await f.cp.kubectl(["annotate", "ec", "-n", NS, "plant-a", "--overwrite", `reconcile.factoryplus.app.amrc.co.uk/requestedAt=${value}`])).code, 0);
    await eventually(async () => (await getEc("plant-a")).status?.lastHandledReconcileAt === value, { message: `forced reconcile ${value} handled` });
  };
  try {
    await report("n0");
    await eventually(() => calls.includes(key), { message: "the first report (Bootstrapped) is handed to the reconciler" });
    await forced("before-reports");
    assert.equal(condition(await getEc("plant-a"), "Bootstrapped")?.status, "True");
    calls.length = 0;
    let last = "";
    for (let i = 1; i <= 10; i++) last = await report(`n${i}`);
    // Every report has passed the reconciler's informer (and so its event filter) before the forced reconcile.
    await eventually(() => reconciler.informer.get(key)?.metadata.resourceVersion === last, { message: "informer saw the last report" });
    await forced("after-reports");
    assert.deepEqual(calls.filter((k) => k === key), [key], "one reconcile, the forced one: none for the 10 reports");
  } finally {
    reconciler.reconcile = original;
  }
});

test("deletion tears down repository and credentials of that cluster only", async () => {
  const doomed = await applyAndWait("plant-c");
  const keep = await getEc("plant-a");
  const uuid = doomed.status!.uuid!;
  const d = await f.cp.kubectl(["delete", "ec", "-n", NS, "plant-c", "--wait=true", "--timeout=30s"]);
  assert.equal(d.code, 0, d.stderr);
  assert.ok(!(await f.manager.repos.listRepos()).includes(uuid), "repository removed");
  assert.equal(await f.manager.client.getOrNull(Core.secrets, credentialsSecretName(uuid), NS), null, "credentials removed");
  assert.ok((await f.manager.repos.listRepos()).includes(keep.status!.uuid!));
  assert.ok(await f.manager.client.getOrNull<KubeObject>(Core.secrets, credentialsSecretName(keep.status!.uuid!), NS));
  const events = JSON.parse((await f.cp.kubectl(["get", "events.events.k8s.io", "-n", NS, "-o", "json"])).stdout).items
    .filter((e: { regarding: { name: string } }) => e.regarding.name === "plant-c").map((e: { reason: string }) => e.reason);
  assert.ok(events.includes("RepositoryDeleted") && events.includes("CredentialsDeleted"), `teardown events: ${events}`);
});

test("the shared helm-charts repository holds the edge-cluster chart and Flux, readable with any cluster's credentials", async () => {
  const ec = await getEc("plant-a");
  const creds = await credentialsOf(ec);
  const charts = await clone(`${f.externalUrl}/shared/helm-charts`, creds.gitUsername, creds.gitPassword);
  assert.match(charts.read("edge-cluster/Chart.yaml"), /name: edge-cluster/);
  assert.match(charts.read("flux-system/gotk-components.yaml"), /kind: CustomResourceDefinition/);
  await assert.rejects(clone(`${f.externalUrl}/shared/helm-charts`, creds.gitUsername, "wrong"), /401|Authentication failed|could not read/i);
});
