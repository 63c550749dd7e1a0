// Figures a benchmark reports, with the target beside each, and the table `npm run bench` prints.
import type { CompiledCli } from "./compiled-cli.js";

export interface Figure {
  /** Which benchmark, e.g. "provisioning 1000". */
  group: string;
  name: string;
  value: number;
  unit: string;
  /** A target to reach: below or above a bound. Absent for figures shown for context. */
  target?: { op: "<" | "<=" | ">=" | "=="; bound: number };
}

/** What every benchmark takes: the compiled CLI to run (as the image does), and where to say how it is going. */
export interface BenchOptions {
  compiled?: CompiledCli;
  say?: (line: string) => void;
}

/** The benchmark's progress reporter: the one it was given, or silence. */
export const sayer = (opts: BenchOptions): ((line: string) => void) => opts.say ?? (() => undefined);

export function met(f: Figure): boolean | undefined {
  if (!f.target) return undefined;
  const { op, bound } = f.target;
  switch (op) {
    case "<": return f.value < bound;
    case "<=": return f.value <= bound;
    case ">=": return f.value >= bound;
    case "==": return f.value === bound;
  }
}

/** The p-th percentile (0–100) by nearest rank; NaN for no samples. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2);
}

export function formatTable(figures: Figure[]): string {
  const rows = figures.map((f) => {
    const ok = met(f);
    return [
      f.group, f.name, `${formatValue(f.value)} ${f.unit}`,
      f.target ? `${f.target.op} ${formatValue(f.target.bound)} ${f.unit}` : "",
      ok === undefined ? "" : ok ? "met" : "MISSED",
    ];
  });
  const header = ["benchmark", "figure", "value", "target", ""];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}
