// What to send: the fields of the desired status that differ from what the centre last acknowledged. A field the
// edge does not know yet (no Nodes listed, no certificate found) is left out, so it never erases the centre's value.
import type { Host } from "../api/edgecluster.js";
import type { GitopsReport } from "./gitops/gitops-watch.js";

/** The 'Edge cluster status' entry (acs-contract.md §1), plus graft's GitOps report (no ConfigSchema in ACS restricts it). */
export interface EdgeStatus {
  hosts?: Host[];
  kubeseal_cert?: string;
  gitops?: GitopsReport;
}

const FIELDS = ["hosts", "kubeseal_cert", "gitops"] as const satisfies readonly (keyof EdgeStatus)[];

/** A merge patch of the changed fields, or undefined when the centre already has everything. */
export function statusPatch(desired: EdgeStatus, acknowledged: EdgeStatus): EdgeStatus | undefined {
  const patch: EdgeStatus = {};
  for (const field of FIELDS) {
    const want = desired[field];
    if (want === undefined) continue;
    if (!sameJson(want, acknowledged[field])) (patch as Record<string, unknown>)[field] = want;
  }
  return Object.keys(patch).length ? patch : undefined;
}

/** The state the centre holds after it accepted patch on top of acknowledged. */
export function afterPatch(acknowledged: EdgeStatus, patch: EdgeStatus): EdgeStatus {
  return { ...acknowledged, ...patch };
}

/** Deep equality of JSON values, independent of object key order. */
export function sameJson(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
      : v) ?? "undefined";
}
