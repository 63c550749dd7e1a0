// The edge chart's values.schema.json, checked centrally: helm refuses values that break it only on the edge (the
// HelmRelease fails there, Synced=False), after the cluster showed Ready. The manager checks the values it would
// commit against the schema of the chart it publishes, so a bad spec.values stalls before any commit.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { parse } from "yaml";
import { mergeValues } from "./git/repo-content.js";

/** One chart's values check: the schema problems of a full values object, each as "<path>: <what the schema wants>". */
export interface ChartValuesSchema {
  /** `name@version` of the chart the schema came from. */
  chart: string;
  /** Checks values over the chart's values.yaml, as helm does (a null removes a default). */
  problems(values: unknown, specValues: unknown): string[];
}

const compiled = new Map<string, ChartValuesSchema>();

/** The schema of the chart in chartDir, compiled once per chart name and version (undefined when it ships none). */
export function chartValuesSchema(chartDir: string): ChartValuesSchema | undefined {
  const meta = parse(readFileSync(join(chartDir, "Chart.yaml"), "utf8")) as { name?: string; version?: string };
  const chart = `${meta.name}@${meta.version}`;
  const known = compiled.get(chart);
  if (known) return known;
  let text: string;
  try {
    text = readFileSync(join(chartDir, "values.schema.json"), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  // Helm ignores keywords it does not know and checks no formats: strict off keeps the same acceptance.
  const ajv = new Ajv({ allErrors: true, verbose: true, strict: false, validateFormats: false });
  const validate = ajv.compile(JSON.parse(text) as object);
  const defaults: unknown = parse(readFileSync(join(chartDir, "values.yaml"), "utf8")) ?? {};
  const schema: ChartValuesSchema = { chart, problems: (values, specValues) => problemsOf(validate, mergeValues(defaults, values), specValues) };
  compiled.set(chart, schema);
  return schema;
}

function problemsOf(validate: ValidateFunction, values: unknown, specValues: unknown): string[] {
  if (validate(values)) return [];
  const out = new Set<string>();
  for (const e of validate.errors ?? []) out.add(describe(e, specValues));
  return [...out];
}

function describe(e: ErrorObject, specValues: unknown): string {
  const segments = pointerSegments(e.instancePath);
  const params = e.params as Record<string, unknown>;
  let what = e.message ?? e.keyword;
  if (e.keyword === "additionalProperties") {
    segments.push(String(params.additionalProperty));
    const allowed = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
    const listed = allowed.length > 12 ? `${allowed.slice(0, 12).join(", ")}, …` : allowed.join(", ");
    what = `is not a value of the chart${allowed.length ? ` (it takes ${listed} here)` : ""}`;
  } else if (e.keyword === "required") {
    segments.push(String(params.missingProperty));
    what = "is required";
  } else if (e.keyword === "enum") {
    what = `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
  }
  return fromSpec(segments, specValues) ? `spec.values${pathText(segments)}: ${what}`
    : `values${pathText(segments)} (from the chart's defaults or the cluster-manager): ${what}`;
}

/** Whether the cluster's own values hold that key (a null there removed it): else the chart's or the manager's do. */
function fromSpec(segments: string[], specValues: unknown): boolean {
  let node = specValues;
  for (const s of segments) {
    if (node === null || typeof node !== "object" || !Object.hasOwn(node, s)) return false;
    node = (node as Record<string, unknown>)[s];
  }
  return true;
}

function pointerSegments(pointer: string): string[] {
  return pointer === "" ? [] : pointer.slice(1).split("/").map((s) => s.replaceAll("~1", "/").replaceAll("~0", "~"));
}

function pathText(segments: string[]): string {
  return segments.map((s) => /^\d+$/.test(s) ? `[${s}]` : /^[A-Za-z_][\w-]*$/.test(s) ? `.${s}` : `[${JSON.stringify(s)}]`).join("");
}
