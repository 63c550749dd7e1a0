// The edge's GitOps report at the centre: the `gitops` member of the 'Edge cluster status' entry (the Flux objects
// graft put on the edge and the Flux version, as edge-sync sees them) becomes status.gitops, and the `Synced`
// condition says whether the edge has applied graft's latest commit with every one of those objects Ready.
// Pure functions: every writer of EdgeCluster status derives Synced the same way (summarize.ts calls syncedCondition),
// so a new commit turns Synced False at once, before the edge has said anything about it.
import { z } from "zod";
import { ConditionType as T, Reason } from "../api/conditions.js";
import { gitopsObject, type EdgeClusterStatus, type GitopsObject, type GitopsStatus } from "../api/edgecluster.js";
import type { ConditionInput } from "../runtime/conditions.js";
import { SELF_LINK } from "./git/repo-content.js";

/** What edge-sync sends under `gitops` (a null Flux version: none known). */
export const gitopsEntry = z.object({
  fluxVersion: z.string().max(63).nullish(),
  objects: z.array(gitopsObject).max(64),
}).strict();
export type GitopsEntry = z.infer<typeof gitopsEntry>;

/** The self-link Kustomization applies the cluster's repository: its revision is the commit the edge runs. */
export function appliedRevisionOf(objects: readonly GitopsObject[]): string | undefined {
  return objects.find((o) => o.kind === "Kustomization" && o.name === SELF_LINK)?.revision;
}

/** The commit id in a Flux revision (`main@sha1:<40 hex>`, or a bare id). */
export function commitOf(revision: string | undefined): string | undefined {
  return revision ? /(?:^|[:@])([0-9a-f]{40}|[0-9a-f]{64})$/.exec(revision)?.[1] : undefined;
}

/** The entry member as the centre last stored it (for GET and merge patches). */
export function gitopsEntryOf(status: GitopsStatus | undefined): GitopsEntry | undefined {
  if (!status) return undefined;
  return { ...(status.fluxVersion !== undefined ? { fluxVersion: status.fluxVersion } : {}), objects: status.objects };
}

/**
 * Stores a report in status.gitops. reportedAt moves only when the report changed; lastAppliedAt is when the centre
 * first saw the current applied revision (the edge reports a change as it happens, so this is when it was applied).
 */
export function applyGitops(s: EdgeClusterStatus, entry: GitopsEntry | undefined, now: string): void {
  if (!entry) {
    delete s.gitops;
    return;
  }
  const previous = s.gitops;
  const objects = [...entry.objects].sort(byIdentity);
  const appliedRevision = appliedRevisionOf(objects);
  const fluxVersion = entry.fluxVersion ?? undefined;
  const unchanged = previous && previous.fluxVersion === fluxVersion && JSON.stringify(previous.objects) === JSON.stringify(objects);
  if (unchanged) return;
  const lastAppliedAt = appliedRevision === undefined ? undefined
    : previous?.appliedRevision === appliedRevision && previous.lastAppliedAt ? previous.lastAppliedAt : now;
  s.gitops = {
    ...(fluxVersion !== undefined ? { fluxVersion } : {}),
    ...(appliedRevision !== undefined ? { appliedRevision } : {}),
    ...(lastAppliedAt !== undefined ? { lastAppliedAt } : {}),
    objects,
    reportedAt: now,
  };
}

const short = (commit: string) => commit.slice(0, 12);
const describeObject = (o: GitopsObject) => `${o.kind} ${o.namespace}/${o.name}`;
const why = (o: GitopsObject) => [o.reason, o.message].filter(Boolean).join(": ") || "no reason given";

/**
 * Synced from status.gitops and status.commit, or undefined before the edge's first report. A failing object wins
 * (its message is what a person needs), then an edge still on an older commit, then an object still reconciling.
 */
export function syncedCondition(s: EdgeClusterStatus): ConditionInput | undefined {
  const report = s.gitops;
  if (!report) return undefined;
  const type = T.Synced;
  const failing = report.objects.find((o) => o.ready === "False");
  if (failing) return { type, status: "False", reason: Reason.FluxObjectNotReady, message: `${describeObject(failing)} is not Ready: ${why(failing)}` };
  const applied = commitOf(report.appliedRevision);
  if (s.commit && applied !== s.commit) {
    const at = applied ? `commit ${short(applied)}` : "no commit of the cluster's repository";
    return { type, status: "False", reason: Reason.RevisionPending, message: `the edge has applied ${at}; graft's latest is ${short(s.commit)}` };
  }
  const pending = report.objects.find((o) => o.ready !== "True");
  if (pending) return { type, status: "False", reason: Reason.Progressing, message: `${describeObject(pending)} is reconciling: ${why(pending)}` };
  if (!applied) return { type, status: "False", reason: Reason.RevisionPending, message: "the edge has not reported the self-link Kustomization yet" };
  return {
    type, status: "True", reason: Reason.Applied,
    message: `the edge applied ${s.commit ? "graft's latest commit" : "commit"} ${short(applied)} at ${report.lastAppliedAt ?? report.reportedAt}; ${report.objects.length} Flux objects Ready`,
  };
}

function byIdentity(a: GitopsObject, b: GitopsObject): number {
  const ka = `${a.kind}/${a.namespace}/${a.name}`;
  const kb = `${b.kind}/${b.namespace}/${b.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
