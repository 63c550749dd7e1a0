// Synced and status.gitops from the edge's report: which object wins the message, when lastAppliedAt moves.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { EdgeClusterStatus, GitopsObject } from "../api/edgecluster.js";
import { applyGitops, commitOf, syncedCondition } from "./gitops-report.js";

const commit = "a".repeat(40);
const obj = (kind: string, name: string, ready: GitopsObject["ready"], revision?: string, message?: string): GitopsObject =>
  ({ kind, namespace: "fplus-edge", name, ready, ...(revision ? { revision } : {}), ...(message ? { message, reason: "Failed" } : {}) });
const report = (...objects: GitopsObject[]) => ({ fluxVersion: "v2.9.5", objects });

test("commitOf reads Flux revisions", () => {
  assert.equal(commitOf(`main@sha1:${commit}`), commit);
  assert.equal(commitOf(commit), commit);
  assert.equal(commitOf("0.1.0+abc"), undefined);
});

test("Synced: a failing object first, then an older commit, then an object reconciling, then True", () => {
  const s: EdgeClusterStatus = { commit };
  applyGitops(s, report(obj("Kustomization", "self-link", "True", "main@sha1:" + "b".repeat(40)), obj("HelmRelease", "edge", "False", undefined, "boom")), "T1");
  assert.deepEqual([syncedCondition(s)?.reason, syncedCondition(s)?.message], ["FluxObjectNotReady", "HelmRelease fplus-edge/edge is not Ready: Failed: boom"]);
  applyGitops(s, report(obj("Kustomization", "self-link", "True", "main@sha1:" + "b".repeat(40)), obj("HelmRelease", "edge", "Unknown")), "T2");
  assert.equal(syncedCondition(s)?.reason, "RevisionPending");
  applyGitops(s, report(obj("Kustomization", "self-link", "True", `main@sha1:${commit}`), obj("HelmRelease", "edge", "Unknown")), "T3");
  assert.equal(syncedCondition(s)?.reason, "Progressing");
  applyGitops(s, report(obj("Kustomization", "self-link", "True", `main@sha1:${commit}`), obj("HelmRelease", "edge", "True")), "T4");
  assert.equal(syncedCondition(s)?.status, "True");
  assert.match(syncedCondition(s)!.message, /applied graft's latest commit aaaaaaaaaaaa at T3; 2 Flux objects Ready/);
  assert.equal(syncedCondition({ commit }), undefined, "no report, no condition");
});

test("applyGitops: an unchanged report changes nothing; lastAppliedAt stays while the revision does", () => {
  const s: EdgeClusterStatus = {};
  const r = report(obj("Kustomization", "self-link", "True", `main@sha1:${commit}`));
  applyGitops(s, r, "T1");
  const first = structuredClone(s.gitops);
  applyGitops(s, structuredClone(r), "T2");
  assert.deepEqual(s.gitops, first);
  applyGitops(s, report(obj("Kustomization", "self-link", "Unknown", `main@sha1:${commit}`)), "T3");
  assert.deepEqual([s.gitops!.lastAppliedAt, s.gitops!.reportedAt], ["T1", "T3"]);
  applyGitops(s, undefined, "T4");
  assert.equal(s.gitops, undefined);
});
