// The `{{…}}` templates of Helm chart templates and K8s resource templates as ACS's edge-sync expands them
// (acs-contract.md §10, the json-templates rules), which differ from the cluster-manager's Flux templates:
// - a string that is exactly one placeholder becomes the raw value (object, number, …); when the value is missing the
//   key disappears from its object (and the item from its array);
// - placeholders inside a longer string are replaced by their text, a missing one by "";
// - `{{path.to.key}}` follows own properties; `{{key:default}}` gives a default (a string) for a missing value.
// Values are inserted literally (no `$&` mangling) and never scanned again.

const PLACEHOLDER = /\{\{\s*([^{}:]+?)\s*(?::([^{}]*))?\}\}/g;
const WHOLE = /^\{\{\s*([^{}:]+?)\s*(?::([^{}]*))?\}\}$/;

/** Marks "leave this key out"; never escapes this module. */
const MISSING = Symbol("missing");

export function expandTemplate<T = unknown>(template: unknown, vars: Record<string, unknown>): T {
  const out = expand(template, vars);
  return (out === MISSING ? undefined : out) as T;
}

function expand(value: unknown, vars: Record<string, unknown>): unknown {
  if (typeof value === "string") return expandString(value, vars);
  if (Array.isArray(value)) return value.map((v) => expand(v, vars)).filter((v) => v !== MISSING);
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const expanded = expand(item, vars);
      if (expanded !== MISSING) out[key] = expanded;
    }
    return out;
  }
  return value;
}

function expandString(text: string, vars: Record<string, unknown>): unknown {
  const whole = WHOLE.exec(text);
  if (whole) {
    const found = lookup(vars, whole[1]!);
    if (found !== undefined) return structuredClone(found);
    return whole[2] !== undefined ? whole[2] : MISSING;
  }
  return text.replace(PLACEHOLDER, (_all: string, path: string, fallback: string | undefined) => {
    const found = lookup(vars, path);
    if (found === undefined) return fallback ?? "";
    return typeof found === "string" ? found : typeof found === "object" ? JSON.stringify(found) : String(found);
  });
}

function lookup(vars: Record<string, unknown>, path: string): unknown {
  let current: unknown = vars;
  for (const part of path.split(".")) {
    if (current === null || typeof current !== "object" || !Object.hasOwn(current, part)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current === null ? undefined : current;
}
