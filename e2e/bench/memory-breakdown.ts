// Where a process's resident memory is, for the benches' --profile output: /proc/<pid>/smaps grouped by what backs
// each mapping (glibc's heap, anonymous memory — V8's heap and other allocators' —, the node binary, other files)
// beside the V8 heap spaces the process's own metrics report. Printed, never asserted.
import { readFileSync } from "node:fs";
import { metricValue } from "./manager-process.js";

/** Resident MiB by kind of mapping, from smaps. */
export function residentByMapping(pid: number): Record<string, number> {
  const kb: Record<string, number> = {};
  let kind = "anonymous";
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const path = head[1]!;
      kind = path === "" ? "anonymous" : path === "[heap]" ? "glibc heap" : path.startsWith("[stack") ? "stack"
        : path.startsWith("[") ? "other" : /\/node$/.test(path) ? "node binary" : "other files";
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) kb[kind] = (kb[kind] ?? 0) + Number(rss[1]);
  }
  return Object.fromEntries(Object.entries(kb).map(([k, v]) => [k, v / 1024]));
}

/** One line: resident memory by mapping and the V8 heap (used/size per space, from graft_nodejs_* metrics). */
export function describeMemory(pid: number, metrics: string): string {
  const mib = (n: number) => (n / 2 ** 20).toFixed(1);
  const rss = Object.entries(residentByMapping(pid)).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ");
  const names = [...metrics.matchAll(/^graft_nodejs_heap_space_size_total_bytes\{space="([^"]+)"/gm)].map((m) => m[1]!);
  const spaces = names.map((space) => {
    const used = metricValue(metrics, "graft_nodejs_heap_space_size_used_bytes", { space });
    const size = metricValue(metrics, "graft_nodejs_heap_space_size_total_bytes", { space });
    return size > 0 ? `${space} ${mib(used)}/${mib(size)}` : "";
  }).filter(Boolean).join(", ");
  return `resident MiB by mapping: ${rss}; V8 heap MiB used/size: ${spaces}; ` +
    `external ${mib(metricValue(metrics, "graft_nodejs_external_memory_bytes"))} (array buffers included)`;
}
