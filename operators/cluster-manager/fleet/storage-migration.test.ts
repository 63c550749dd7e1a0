// `graft flux-migrate` against a real API server with Flux v2.7.5's CRDs: a GitRepository CRD that still lists
// v1beta2 as stored (a cluster that came from an older Flux) is migrated — its objects rewritten at v1, storedVersions
// v1 alone — after which v2.9.5's CRD (which no longer has v1beta2) applies; before, the API server refuses it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments, stringify } from "yaml";
import { apiServerForFile, tempDirForFile } from "../../../e2e/support/api-server.js";
import { migrateFluxStorage } from "./storage-migration.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const dir = tempDirForFile("graft-flux-migrate-");

function crdsOf(install: string, out: string, only?: string): string {
  const docs = parseAllDocuments(readFileSync(join(root, install), "utf8")).map((d) => d.toJS() as { kind?: string; metadata?: { name?: string } })
    .filter((d) => d?.kind === "CustomResourceDefinition" && (!only || d.metadata?.name === only));
  const path = join(dir, out);
  writeFileSync(path, docs.map((d) => `---\n${stringify(d)}`).join(""));
  return path;
}

test("storedVersions trimmed to the storage version after every object is rewritten; the next release's CRD then applies", async () => {
  const { cp, client } = await apiServerForFile({ name: "flux-migrate", namespace: "fplus-edge" });
  await cp.installCrds([crdsOf("config/flux/releases/v2.7.5/install.yaml", "old.yaml")]);
  const repo = { apiVersion: "source.toolkit.fluxcd.io/v1", kind: "GitRepository", metadata: { name: "self-link", namespace: "fplus-edge" }, spec: { interval: "3m", url: "https://example.invalid/repo", ref: { branch: "main" } } };
  assert.equal((await cp.kubectl(["apply", "-f", "-"], { input: JSON.stringify(repo) })).code, 0);
  const crd = "gitrepositories.source.toolkit.fluxcd.io";
  assert.equal((await cp.kubectl(["patch", "crd", crd, "--subresource=status", "--type=merge", "-p", '{"status":{"storedVersions":["v1beta2","v1"]}}'])).code, 0);

  const newCrd = crdsOf("config/flux/install.yaml", "new.yaml", crd);
  const refused = await cp.kubectl(["apply", "--server-side", "--force-conflicts", "-f", newCrd]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /storedVersions\[0\]: Invalid value: "v1beta2": missing from spec\.versions|must appear in spec\.versions/);

  const lines: string[] = [];
  const done = await migrateFluxStorage(client, (l) => lines.push(l));
  assert.deepEqual(done.map((d) => [d.crd, d.storageVersion, d.storedBefore, d.rewritten]), [[crd, "v1", ["v1beta2", "v1"], 1]]);
  assert.match(lines[0]!, /gitrepositories\.source\.toolkit\.fluxcd\.io: 1 objects stored as v1; storedVersions v1beta2,v1 -> v1/);
  const after = JSON.parse((await cp.kubectl(["get", "crd", crd, "-o", "json"])).stdout);
  assert.deepEqual(after.status.storedVersions, ["v1"]);
  assert.equal((await cp.kubectl(["get", "gitrepositories.source.toolkit.fluxcd.io", "-n", "fplus-edge", "self-link"])).code, 0, "the object is still there");
  assert.deepEqual(await migrateFluxStorage(client), [], "nothing left to do");

  const applied = await cp.kubectl(["apply", "--server-side", "--force-conflicts", "-f", newCrd]);
  assert.equal(applied.code, 0, applied.stderr);
});
