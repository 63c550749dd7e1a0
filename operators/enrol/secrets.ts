// The edge Secrets enrolment writes. graft only ever overwrites a Secret that carries the krbkeys managed-by
// label (acs-contract §5); anything else is somebody else's and is refused.
import { Core, type KubeObject } from "../runtime/kube.js";
import { describeApiError, statusOf, type KubeClient } from "../runtime/rest.js";

/** A Secret as the API server returns it (values base64). */
export type SecretObject = KubeObject & { type?: string; data?: Record<string, string> };

export const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";
export const KRBKEYS_MANAGER = "krbkeys.factoryplus.app.amrc.co.uk";

/** Secret `krb-keys-keytabs`, key `client`: the krbkeys operator's own keytab. */
export const KRBKEYS_SECRET = { name: "krb-keys-keytabs", key: "client" } as const;
/** Secret `flux-secrets`, keys `username` (full principal) and `password`: Flux's Git credentials. */
export const FLUX_SECRET = { name: "flux-secrets", usernameKey: "username", passwordKey: "password" } as const;

export class SecretNotOwnedError extends Error {
  constructor(readonly namespace: string, readonly secretName: string) {
    super(`Secret "${namespace}/${secretName}" exists but is not managed by krbkeys (label "${MANAGED_BY_LABEL}" is not ` +
      `"${KRBKEYS_MANAGER}"): graft will not overwrite it; delete it, or label it to hand it over, and run enrolment again`);
    this.name = "SecretNotOwnedError";
  }
}

export function isOwned(secret: SecretObject): boolean {
  return secret.metadata.labels?.[MANAGED_BY_LABEL] === KRBKEYS_MANAGER;
}


/** The Secret, or null when it does not exist. */
export async function readSecret(client: KubeClient, namespace: string, name: string): Promise<SecretObject | null> {
  try {
    return await client.getOrNull<SecretObject>(Core.secrets, name, namespace);
  } catch (err) {
    throw new Error(`reading Secret "${namespace}/${name}" failed: ${describeApiError(err)}`);
  }
}

/** A Secret's value as bytes, or undefined when the key is absent. */
export function secretValue(secret: SecretObject | null, key: string): Buffer | undefined {
  const b64 = secret?.data?.[key];
  return b64 === undefined ? undefined : Buffer.from(b64, "base64");
}

/**
 * Creates the Secret with the krbkeys label (and annotationsOnCreate), or replaces the values in `existing` (which must be owned), keeping its
 * other keys, labels and annotations. The replace carries existing's resourceVersion, so a concurrent change fails
 * instead of being lost. Returns the stored Secret.
 */
export async function writeOwnedSecret(
  client: KubeClient, namespace: string, name: string, values: Record<string, Buffer>, existing: SecretObject | null,
  opts: { dryRun?: boolean; annotationsOnCreate?: Record<string, string> } = {},
): Promise<SecretObject> {
  const data = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v.toString("base64")]));
  try {
    if (!existing) {
      return await client.create<SecretObject>(Core.secrets, {
        type: "Opaque",
        metadata: { name, namespace, labels: { [MANAGED_BY_LABEL]: KRBKEYS_MANAGER }, annotations: opts.annotationsOnCreate },
        data,
      }, undefined, { dryRun: opts.dryRun });
    }
    if (!isOwned(existing)) throw new SecretNotOwnedError(namespace, name);
    return await client.replace<SecretObject>(Core.secrets, {
      ...existing,
      metadata: { ...existing.metadata, labels: { ...existing.metadata.labels, [MANAGED_BY_LABEL]: KRBKEYS_MANAGER } },
      data: { ...existing.data, ...data },
    }, undefined, { dryRun: opts.dryRun });
  } catch (err) {
    if (err instanceof SecretNotOwnedError) throw err;
    const status = statusOf(err);
    if (status === 404 && !existing) throw new Error(`writing Secret "${namespace}/${name}" failed: namespace "${namespace}" does not exist`);
    if (status === 403) throw new Error(`writing Secret "${namespace}/${name}" is not allowed: ${describeApiError(err)}`);
    if (status === 409) throw new Error(`writing Secret "${namespace}/${name}" failed: it was changed at the same time by someone else; run enrolment again`);
    throw new Error(`writing Secret "${namespace}/${name}" failed: ${describeApiError(err)}`);
  }
}

/**
 * Proves, without storing anything, that the Secret can be written (namespace exists, RBAC allows it), so a
 * problem on the Kubernetes side shows up before any key is changed in the KDC.
 */
export async function assertSecretWritable(
  client: KubeClient, namespace: string, name: string, existing: SecretObject | null,
): Promise<void> {
  await writeOwnedSecret(client, namespace, name, {}, existing, { dryRun: true });
}
