// Turns a zod schema into a CustomResourceDefinition with a structural OpenAPI v3 schema.
import { z } from "zod";

export interface CrdSource {
  type: { group: string; version: string; plural: string; kind: string; namespaced: boolean };
  /** Left out when the API server's default (the lower-cased kind) is what an existing CRD of the same name has. */
  singular?: string;
  shortNames?: string[];
  categories?: string[];
  spec: z.ZodType;
  status?: z.ZodType;
  /** What `kubectl explain <kind>` says about the kind. */
  description?: string;
  /** CEL rules on the whole object (they may compare spec with status); fieldPath names the field a refusal is about. */
  rules?: Array<{ rule: string; message: string; fieldPath?: string; reason?: string }>;
  /** CRDs of the central install are also copied into config/crd/bases (kustomize reads only below its folder). */
  central?: boolean;
  printerColumns?: Array<{ name: string; type: string; jsonPath: string; priority?: number; description?: string }>;
}

type Schema = Record<string, unknown>;

/** Rewrites zod's JSON schema into what the API server accepts as a structural schema. */
function structural(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(structural);
  if (!node || typeof node !== "object") return node;
  const out: Schema = {};
  for (const [k, v] of Object.entries(node as Schema)) {
    if (k === "$schema" || k === "id") continue;
    if (k === "additionalProperties" && v === false) continue;
    out[k] = k === "properties" ? Object.fromEntries(Object.entries(v as Schema).map(([p, s]) => [p, structural(s)])) : structural(v);
  }
  // A pattern failure reads as a regular expression; a CEL rule carries a message a person understands.
  if (typeof out.pattern === "string" && typeof out.patternMessage === "string") {
    const rule = { rule: `self.matches(${JSON.stringify(out.pattern)})`, message: out.patternMessage };
    out["x-kubernetes-validations"] = [rule, ...((out["x-kubernetes-validations"] as unknown[]) ?? [])];
    delete out.pattern;
  }
  delete out.patternMessage;
  if (out["x-kubernetes-preserve-unknown-fields"]) {
    delete out.additionalProperties;
    out.type = "object";
  }
  // `{ additionalProperties: {} }` (a record of anything) is not structural: keep unknown fields instead.
  const ap = out.additionalProperties;
  if (ap && typeof ap === "object" && Object.keys(ap).length === 0) {
    delete out.additionalProperties;
    out["x-kubernetes-preserve-unknown-fields"] = true;
  }
  return out;
}

export function toOpenApi(schema: z.ZodType, io: "input" | "output"): Schema {
  return structural(z.toJSONSchema(schema, { target: "openapi-3.0", io, unrepresentable: "any" })) as Schema;
}

export function buildCrd(src: CrdSource): Record<string, unknown> {
  const { group, version, plural, kind, namespaced } = src.type;
  // A rule may name metadata.name as its field only when the schema declares it (the API server's own checks still apply).
  const aboutName = src.rules?.some((r) => r.fieldPath === ".metadata.name");
  const properties: Schema = { ...(aboutName ? { metadata: { type: "object", properties: { name: { type: "string" } } } } : {}), spec: toOpenApi(src.spec, "input") };
  if (src.status) properties.status = toOpenApi(src.status, "output");
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.${group}`, annotations: { "graft.factoryplus.app.amrc.co.uk/generated-by": "operators/api/gen-crds.ts" } },
    spec: {
      group,
      names: { kind, listKind: `${kind}List`, plural, ...(src.singular ? { singular: src.singular } : {}), shortNames: src.shortNames, categories: src.categories },
      scope: namespaced ? "Namespaced" : "Cluster",
      versions: [{
        name: version,
        served: true,
        storage: true,
        subresources: src.status ? { status: {} } : undefined,
        additionalPrinterColumns: src.printerColumns,
        schema: { openAPIV3Schema: {
          ...(src.description ? { description: src.description } : {}), type: "object", required: ["spec"], properties,
          ...(src.rules ? { "x-kubernetes-validations": src.rules } : {}),
        } },
      }],
    },
  };
}
