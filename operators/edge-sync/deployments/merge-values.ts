// Helm values as ACS's edge-sync combines them (acs-contract.md §10): base values, then the expanded chart template's
// values, then the deployment's own, each merged over the last as JSON merge patches are combined (RFC 7396 objects
// merge key by key, anything else replaces). A null is kept, so Helm removes that key from the chart's defaults.

export function mergeValues(...layers: unknown[]): Record<string, unknown> {
  let result: unknown = {};
  for (const layer of layers) if (layer !== undefined) result = combine(result, layer);
  return isObject(result) ? result : {};
}

function combine(base: unknown, over: unknown): unknown {
  if (!isObject(base) || !isObject(over)) return structuredClone(over);
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    out[key] = Object.hasOwn(base, key) ? combine(base[key], value) : structuredClone(value);
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
