import { parse, stringify } from "yaml";
import { z } from "zod";
import { SEALED_SECRET_API_VERSION, type SealedSecret } from "./seal.js";

/** Reading and writing the one-file-per-secret SealedSecret manifests kept in an edge cluster's repository. */

const stringMap = z.record(z.string(), z.string());

const objectMeta = z.looseObject({
  name: z.string().min(1),
  namespace: z.string().min(1),
  labels: stringMap.optional(),
  annotations: stringMap.optional(),
});

const sealedSecretSchema = z.looseObject({
  apiVersion: z.literal(SEALED_SECRET_API_VERSION),
  kind: z.literal("SealedSecret"),
  metadata: objectMeta,
  spec: z.looseObject({
    encryptedData: stringMap.default({}),
    template: z.looseObject({
      metadata: z.looseObject({
        name: z.string().optional(),
        namespace: z.string().optional(),
        labels: stringMap.optional(),
        annotations: stringMap.optional(),
      }).default({}),
      type: z.string().optional(),
    }).default({ metadata: {} }),
  }),
});

export class SealedSecretFileError extends Error {
  override name = "SealedSecretFileError";
}

/** Parses a stored SealedSecret manifest; `source` names it in errors (e.g. its path in the repository). */
export function parseSealedSecretYaml(text: string, source = "sealed secret"): SealedSecret {
  let document: unknown;
  try {
    document = parse(text);
  } catch (err) {
    throw new SealedSecretFileError(`${source} is not valid YAML: ${(err as Error).message}`);
  }
  const result = sealedSecretSchema.safeParse(document);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue?.path.length ? issue.path.join(".") : "document";
    throw new SealedSecretFileError(`${source} is not a ${SEALED_SECRET_API_VERSION} SealedSecret: ${where}: ${issue?.message ?? "invalid"}`);
  }
  const parsed = result.data;
  const { name, namespace } = parsed.metadata;
  return {
    ...parsed,
    spec: {
      ...parsed.spec,
      template: { ...parsed.spec.template, metadata: { ...parsed.spec.template.metadata, name, namespace } },
    },
  } as SealedSecret;
}

/** The manifest text graft writes: one YAML document, sealed values never folded across lines. */
export function sealedSecretToYaml(sealed: SealedSecret): string {
  return stringify(sealed, { lineWidth: 0 });
}
