// How a Flux object or controller Deployment becomes one line of the GitOps report: Ready for its current
// generation only, the revision it applied, the Flux version the controllers agree on.
import { test } from "node:test";
import assert from "node:assert/strict";
import { controllerReport, fluxObjectReport, fluxVersionOf, type DeploymentObject, type FluxObject } from "./flux-objects.js";

const meta = (generation: number) => ({ name: "edge-cluster-x", namespace: "fplus-edge", generation });
const ready = (status: string, observedGeneration?: number) => ({ type: "Ready", status, reason: status === "True" ? "UpgradeSucceeded" : "UpgradeFailed", message: `ready ${status}`, ...(observedGeneration ? { observedGeneration } : {}) });

test("a Flux object is Ready only for the generation its Ready condition speaks for", () => {
  const hr = (generation: number, s: FluxObject["status"]): FluxObject => ({ metadata: meta(generation), status: s });
  assert.deepEqual(fluxObjectReport(hr(2, { observedGeneration: 2, conditions: [ready("True", 2)], history: [{ chartVersion: "0.2.0+abc" }] }), "HelmRelease"),
    { kind: "HelmRelease", namespace: "fplus-edge", name: "edge-cluster-x", ready: "True", reason: "UpgradeSucceeded", message: "ready True", revision: "0.2.0+abc" });
  assert.equal(fluxObjectReport(hr(3, { observedGeneration: 2, conditions: [ready("True", 2)] }), "HelmRelease").ready, "Unknown", "Ready of generation 2 says nothing of 3");
  assert.equal(fluxObjectReport(hr(3, { observedGeneration: 2, conditions: [ready("False", 3)] }), "HelmRelease").ready, "False", "a failed upgrade of generation 3 is about 3");
  assert.equal(fluxObjectReport(hr(1, {}), "HelmRelease").reason, "NotReconciled");
  assert.equal(fluxObjectReport({ metadata: meta(1), spec: { suspend: true }, status: { conditions: [ready("True", 1)] } }, "Kustomization").reason, "Suspended");
  const ks = fluxObjectReport({ metadata: meta(1), status: { observedGeneration: 1, lastAppliedRevision: "main@sha1:abc", conditions: [ready("True")] } }, "Kustomization");
  assert.equal(ks.revision, "main@sha1:abc");
  const long = fluxObjectReport({ metadata: meta(1), status: { observedGeneration: 1, conditions: [{ type: "Ready", status: "False", message: "x".repeat(10_000) }] } }, "GitRepository");
  assert.equal(long.message!.length, 4096, "messages are clipped to what the centre accepts");
});

test("a controller Deployment is Ready once rolled out and available; the Flux version is their label", () => {
  const d = (version: string, s: DeploymentObject["status"], generation = 1): DeploymentObject => ({
    metadata: { name: `c-${version}`, namespace: "flux-system", generation, labels: { "app.kubernetes.io/version": version } }, spec: { replicas: 1 }, status: s,
  });
  assert.equal(controllerReport(d("v2.9.5", { observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: 1 })).ready, "True");
  assert.equal(controllerReport(d("v2.9.5", { observedGeneration: 1, replicas: 2, updatedReplicas: 1, availableReplicas: 1 })).ready, "Unknown", "old Pods still there");
  assert.equal(controllerReport(d("v2.9.5", { observedGeneration: 1 }, 2)).reason, "Progressing");
  const stuck = controllerReport(d("v2.9.5", { observedGeneration: 1, replicas: 1, updatedReplicas: 1, availableReplicas: 0, conditions: [{ type: "Progressing", status: "False", reason: "ProgressDeadlineExceeded", message: "took too long" }] }));
  assert.deepEqual([stuck.ready, stuck.reason, stuck.revision], ["False", "ProgressDeadlineExceeded", "v2.9.5"]);
  assert.equal(fluxVersionOf([d("v2.9.5", {}), d("v2.9.5", {})]), "v2.9.5");
  assert.equal(fluxVersionOf([d("v2.9.5", {}), d("v2.10.0", {})]), "v2.10.0,v2.9.5", "mid-upgrade: both");
  assert.equal(fluxVersionOf([]), undefined);
});
