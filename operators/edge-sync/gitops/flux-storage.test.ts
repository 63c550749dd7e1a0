// edge-sync's stored-version migration against a real API server with Flux v2.7.5's CRDs and RBAC: with exactly the
// rights of the chart's migration ClusterRole (rendered by helm from config/edge-cluster), a GitRepository CRD that
// still lists v1beta2 as stored is migrated by itself — its object rewritten, storedVersions v1 alone; with only the
// right to read CRDs, the CRD becomes a not-Ready object of the GitOps report saying what to do, and once someone
// runs `graft flux-migrate` the problem goes away with no restart.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments, stringify } from "yaml";
import { apiServerForFile, atFileEnd, tempDirForFile } from "../../../e2e/support/api-server.js";
import { eventually } from "../../../e2e/harness/eventually.js";
import { helm } from "../../../e2e/deploy/helm.js";
import { migrateFluxStorage } from "../../cluster-manager/fleet/storage-migration.js";
import { loadKubeConfig } from "../../runtime/kube.js";
import { silentLogger } from "../../runtime/logger.js";
import { KubeClient } from "../../runtime/rest.js";
import { FluxStorageKeeper } from "./flux-storage.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const dir = tempDirForFile("graft-flux-storage-");
const CRD = "gitrepositories.source.toolkit.fluxcd.io";
const { cp, client: admin } = await apiServerForFile({ name: "flux-storage", namespace: "fplus-edge", users: { "edge-sync": [], "crd-reader": [] } });

type Doc = { kind?: string; metadata?: { name?: string }; rules?: unknown[] };
const docsOf = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as Doc).filter(Boolean);
const crds = docsOf(readFileSync(join(root, "config/flux/releases/v2.7.5/install.yaml"), "utf8")).filter((d) => d.kind === "CustomResourceDefinition");
writeFileSync(join(dir, "crds.yaml"), crds.map((d) => `---\n${stringify(d)}`).join(""));
await cp.installCrds([join(dir, "crds.yaml")]);

// The chart's ClusterRole, as helm renders it, for the "edge-sync" user; only its first rule for "crd-reader".
const rendered = await helm(["template", "edge-cluster-x", "config/edge-cluster", "-n", "fplus-edge", "-f", "config/edge-cluster/ci/embedded-values.yaml",
  "--show-only", "templates/edge-sync.yaml"], { stateDir: dir });
assert.equal(rendered.code, 0, rendered.stderr);
const role = docsOf(rendered.stdout).find((d) => d.kind === "ClusterRole" && d.metadata?.name?.endsWith("-flux-storage"));
assert.ok(role, "the chart has the migration ClusterRole");
const grant = (user: string, rules: unknown[]) => [
  { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: user }, rules },
  { apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRoleBinding", metadata: { name: user },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: user }, subjects: [{ kind: "User", name: user }] },
];
const rbac = [...grant("edge-sync", role.rules!), ...grant("crd-reader", role.rules!.slice(0, 1))];
assert.equal((await cp.kubectl(["apply", "-f", "-"], { input: rbac.map((d) => `---\n${stringify(d)}`).join("") })).code, 0);

const storedVersions = async () => JSON.parse((await cp.kubectl(["get", "crd", CRD, "-o", "json"])).stdout).status.storedVersions as string[];
async function makeStale(): Promise<void> {
  const r = await cp.kubectl(["patch", "crd", CRD, "--subresource=status", "--type=merge", "-p", '{"status":{"storedVersions":["v1beta2","v1"]}}']);
  assert.equal(r.code, 0, r.stderr);
}
function keeperAs(user: string, onChange: () => void = () => undefined): FluxStorageKeeper {
  const keeper = new FluxStorageKeeper({ client: new KubeClient(loadKubeConfig(cp.userKubeconfig(user))), log: silentLogger, onChange, retryMs: 600_000 });
  atFileEnd(() => keeper.stop());
  return keeper;
}

const repo = { apiVersion: "source.toolkit.fluxcd.io/v1", kind: "GitRepository", metadata: { name: "self-link", namespace: "fplus-edge" }, spec: { interval: "1m", url: "https://example.invalid/repo", ref: { branch: "main" } } };
assert.equal((await cp.kubectl(["apply", "-f", "-"], { input: JSON.stringify(repo) })).code, 0);

test("with the chart's ClusterRole edge-sync migrates a stale stored version by itself, and again when it comes back", async () => {
  await makeStale();
  const keeper = keeperAs("edge-sync");
  keeper.start();
  await eventually(async () => (await storedVersions()).join() === "v1", { timeoutMs: 30_000, message: "storedVersions v1 alone" });
  assert.deepEqual(keeper.objects(), []);
  assert.equal((await cp.kubectl(["get", "gitrepositories.source.toolkit.fluxcd.io", "-n", "fplus-edge", "self-link"])).code, 0, "the object is still there");
  // Level-triggered: the CRD changing again is seen by the watch.
  await makeStale();
  await eventually(async () => (await storedVersions()).join() === "v1", { timeoutMs: 30_000, message: "migrated again" });
  await keeper.stop();
});

test("without the right to write Flux objects the CRD is reported not Ready with what to do; graft flux-migrate clears it", async () => {
  await makeStale();
  let changes = 0;
  const keeper = keeperAs("crd-reader", () => changes++);
  keeper.start();
  const [problem] = await eventually(() => { const o = keeper.objects(); return o.length > 0 && o; }, { timeoutMs: 30_000, message: "the CRD reported" });
  assert.deepEqual({ ...problem, message: undefined }, { kind: "CustomResourceDefinition", namespace: "", name: CRD, ready: "False", reason: "StoredVersionsNotMigrated", message: undefined });
  assert.match(problem!.message!, /stores v1beta2,v1, more than its storage version v1, and edge-sync could not migrate it \(.*forbidden.*\): a Flux upgrade that drops v1beta2 cannot apply its CRDs; run `graft flux-migrate`/);
  assert.equal(changes, 1);
  assert.deepEqual(await storedVersions(), ["v1beta2", "v1"], "nothing changed");

  await migrateFluxStorage(admin);
  await eventually(() => keeper.objects().length === 0, { timeoutMs: 30_000, message: "the problem cleared once migrated" });
  assert.equal(changes, 2);
});
