// What the API server itself counts: every request it served, by verb and resource (apiserver_request_total).
import type { ControlPlane } from "../harness/control-plane.js";
import { metricValue } from "./manager-process.js";

/** Requests the API server has served (optionally only those on one resource), from its own metrics. */
export async function apiRequests(cp: ControlPlane, resource?: string): Promise<number> {
  return (await apiRequestCounts(cp, { selected: resource ? { resource } : {} })).selected;
}

/** For each name, the requests whose apiserver_request_total labels include those given (e.g. verb, resource). */
export async function apiRequestCounts<K extends string>(cp: ControlPlane, selections: Record<K, Record<string, string>>): Promise<Record<K, number>> {
  const r = await cp.kubectl(["get", "--raw", "/metrics"]);
  if (r.code !== 0) throw new Error(`cannot read the API server metrics: ${r.stderr}`);
  const counts = {} as Record<K, number>;
  for (const [name, labels] of Object.entries(selections) as Array<[K, Record<string, string>]>) {
    counts[name] = metricValue(r.stdout, "apiserver_request_total", labels);
  }
  return counts;
}

export async function apiRequestBreakdown(cp: ControlPlane): Promise<string> {
  const text = (await cp.kubectl(["get", "--raw", "/metrics"])).stdout;
  const counts = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^apiserver_request_total\{([^}]*)\}\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    const key = `${labels.verb} ${labels.resource}${labels.subresource ? `/${labels.subresource}` : ""}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(m[2]));
  }
  return [...counts].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([k, v]) => `${k}=${v}`).join(", ");
}
