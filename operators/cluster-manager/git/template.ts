/**
 * `{{path.to.key}}` templates as the ACS ConfigDB templates use them (Helm chart template values, Flux template).
 *
 * - A string that is exactly one placeholder is replaced by the raw value, so an object, array or number keeps its type.
 * - Any other string gets literal text substitution. Values are inserted through a replacer function, so `$&`, `$'`,
 *   `` $` `` and `$$` in a value arrive unchanged (ACS mangles them with String.replace), and inserted text is never
 *   scanned for placeholders again.
 * - Only values are templated, never object keys. Lookups follow own properties only.
 */

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TemplateError";
  }
}

export interface RenderOptions {
  /** What to do with a placeholder whose path has no value: throw (default) or leave the text as it is. */
  onMissing?: "error" | "keep";
}

const PLACEHOLDER = /\{\{\s*([A-Za-z_][\w-]*(?:\.[\w-]+)*)\s*\}\}/g;
const WHOLE_PLACEHOLDER = /^\{\{\s*([A-Za-z_][\w-]*(?:\.[\w-]+)*)\s*\}\}$/;

export function renderTemplate<T = unknown>(template: unknown, context: Record<string, unknown>,
  options: RenderOptions = {}): T {
  return renderValue(template, context, options.onMissing ?? "error") as T;
}

/** Renders a single string; the result is always a string (objects are inserted as JSON). */
export function renderString(template: string, context: Record<string, unknown>, options: RenderOptions = {}): string {
  return substituteText(template, context, options.onMissing ?? "error");
}

function renderValue(value: unknown, context: Record<string, unknown>, onMissing: "error" | "keep"): unknown {
  if (typeof value === "string") return renderStringValue(value, context, onMissing);
  if (Array.isArray(value)) return value.map((item) => renderValue(item, context, onMissing));
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = renderValue(item, context, onMissing);
    return out;
  }
  return value;
}

function renderStringValue(text: string, context: Record<string, unknown>, onMissing: "error" | "keep"): unknown {
  const whole = WHOLE_PLACEHOLDER.exec(text);
  if (whole) {
    const path = whole[1] as string;
    const found = lookup(context, path);
    if (found === undefined) return missing(text, path, onMissing);
    return structuredClone(found);
  }
  return substituteText(text, context, onMissing);
}

function substituteText(text: string, context: Record<string, unknown>, onMissing: "error" | "keep"): string {
  return text.replace(PLACEHOLDER, (placeholder: string, path: string) => {
    const found = lookup(context, path);
    if (found === undefined) return missing(placeholder, path, onMissing);
    return asText(found);
  });
}

function missing(text: string, path: string, onMissing: "error" | "keep"): string {
  if (onMissing === "keep") return text;
  throw new TemplateError(`template placeholder "{{${path}}}" has no value`);
}

function asText(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  return JSON.stringify(value);
}

function lookup(context: Record<string, unknown>, path: string): unknown {
  let current: unknown = context;
  for (const part of path.split(".")) {
    if (current === null || typeof current !== "object" || !Object.hasOwn(current, part)) return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
