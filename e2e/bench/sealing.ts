// Sealing: graft's native sealing next to the upstream kubeseal CLI, from the seal module's own benchmark.
import { benchSealing } from "../../operators/seal/bench.js";
import type { Figure } from "./figures.js";

const LINE = /^seal (\d+) × (.+?) \(scopes cycled\): graft in-process ([\d.]+) values\/s, kubeseal CLI \(one run per value\) ([\d.]+) values\/s/;

export async function benchSealingFigures(): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const line of await benchSealing()) {
    const m = LINE.exec(line);
    if (!m) throw new Error(`unexpected line from the seal benchmark: "${line}"`);
    const [, , size, graft, kubeseal] = m as unknown as [string, string, string, string, string];
    const group = `sealing (${size})`;
    figures.push(
      { group, name: "graft native", value: Number(graft), unit: "values/s" },
      { group, name: "kubeseal CLI, one run per value", value: Number(kubeseal), unit: "values/s" },
      { group, name: "graft / kubeseal", value: Number(graft) / Number(kubeseal), unit: "x" },
    );
  }
  return figures;
}
