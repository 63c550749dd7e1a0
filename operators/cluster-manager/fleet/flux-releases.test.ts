// The Flux release catalogue read from config/flux: the shipped releases, versions read from the manifests
// themselves, a directory claiming another version refused, and numeric version order.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FluxReleases, compareFluxVersions, installManifestVersion, shippedFluxReleases } from "./flux-releases.js";

const manifest = (v: string) => `# Install manifest of Flux ${v} (source-controller v1.0.0), laid out as \`flux install --export\` does.\n---\n`;

test("the shipped releases: the pinned one is the default, each read from its own manifest", () => {
  const shipped = shippedFluxReleases();
  assert.equal(shipped.defaultVersion, "v2.9.5");
  assert.deepEqual(shipped.versions(), ["v2.7.5", "v2.9.5"]);
  assert.match(shipped.require("v2.7.5").installYaml, /image: ghcr\.io\/fluxcd\/kustomize-controller:v1\.7\.3/);
  assert.throws(() => shipped.require("v2.8.0"), /Flux v2\.8\.0 is not available to the cluster-manager \(it has v2\.7\.5, v2\.9\.5\)/);
});

test("a release directory whose manifest is of another version is refused", () => {
  const dir = mkdtempSync(join(tmpdir(), "graft-flux-releases-"));
  try {
    writeFileSync(join(dir, "install.yaml"), manifest("v2.9.5"));
    mkdirSync(join(dir, "releases", "v2.8.1"), { recursive: true });
    writeFileSync(join(dir, "releases", "v2.8.1", "install.yaml"), manifest("v2.8.0"));
    assert.throws(() => FluxReleases.load(join(dir, "install.yaml"), join(dir, "releases")), /directory "v2\.8\.1" holds an install manifest of v2\.8\.0/);
    writeFileSync(join(dir, "releases", "v2.8.1", "install.yaml"), manifest("v2.8.1"));
    assert.deepEqual(FluxReleases.load(join(dir, "install.yaml"), join(dir, "releases")).versions(), ["v2.8.1", "v2.9.5"]);
    writeFileSync(join(dir, "other.yaml"), "apiVersion: v1\n");
    assert.throws(() => FluxReleases.load(join(dir, "other.yaml"), join(dir, "none")), /is not a Flux install manifest made by config\/flux\/regenerate\.sh/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("versions compare numerically and are read from the header only", () => {
  assert.ok(compareFluxVersions("v2.10.0", "v2.9.5") > 0);
  assert.ok(compareFluxVersions("v2.7.5", "v2.9.5") < 0);
  assert.equal(compareFluxVersions("v2.9.5", "v2.9.5"), 0);
  assert.equal(installManifestVersion(manifest("v2.9.5")), "v2.9.5");
  assert.equal(installManifestVersion(`---\n${manifest("v2.9.5")}`), undefined);
});
