import { X509Certificate, constants, createCipheriv, publicEncrypt, randomBytes, type KeyObject } from "node:crypto";

/**
 * Sealed Secrets hybrid encryption, byte-compatible with the upstream controller and `kubeseal`:
 *   uint16 big-endian length of the RSA ciphertext ‖ RSA-OAEP-SHA256(session key, label) ‖ AES-256-GCM(value) ‖ tag
 * The OAEP label binds the ciphertext to where it may be unsealed, so the controller refuses to decrypt a value
 * copied into another SealedSecret.
 */

export type SealingScope = "strict" | "namespace-wide" | "cluster-wide";
export const SEALING_SCOPES: readonly SealingScope[] = ["strict", "namespace-wide", "cluster-wide"];

export const NAMESPACE_WIDE_ANNOTATION = "sealedsecrets.bitnami.com/namespace-wide";
export const CLUSTER_WIDE_ANNOTATION = "sealedsecrets.bitnami.com/cluster-wide";
export const SEALED_SECRET_API_VERSION = "bitnami.com/v1alpha1";

const SESSION_KEY_BYTES = 32;
const GCM_ZERO_NONCE = Buffer.alloc(12);

/** A certificate refused for sealing: missing, unparsable, not RSA or expired. */
export class CertificateError extends Error {
  override name = "CertificateError";
}

/** Input that cannot name a Secret: bad scope, namespace, name or key. */
export class SealInputError extends Error {
  override name = "SealInputError";
}

export interface SealingCertificate {
  pem: string;
  publicKey: KeyObject;
  /** SHA-256 of the certificate's DER, upper-case hex pairs joined by colons (as `openssl x509 -fingerprint -sha256`). */
  fingerprint: string;
  notAfter: Date;
}

/** Parses the edge cluster's Sealed Secrets certificate and refuses one that cannot be used to seal at `now`. */
export function parseCertificate(pem: string | null | undefined, now: Date = new Date()): SealingCertificate {
  if (pem === null || pem === undefined || pem.trim() === "") {
    throw new CertificateError("no sealing certificate: the edge cluster has not reported its Sealed Secrets certificate yet");
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (err) {
    throw new CertificateError(`sealing certificate is not a valid PEM X.509 certificate: ${(err as Error).message}`);
  }
  const publicKey = cert.publicKey;
  if (publicKey.asymmetricKeyType !== "rsa") {
    throw new CertificateError(`sealing certificate must hold an RSA public key: found "${publicKey.asymmetricKeyType ?? "unknown"}"`);
  }
  const notAfter = new Date(cert.validTo);
  if (Number.isNaN(notAfter.getTime())) {
    throw new CertificateError(`sealing certificate has an unreadable expiry: "${cert.validTo}"`);
  }
  if (now.getTime() > notAfter.getTime()) {
    throw new CertificateError(
      `sealing certificate expired on ${notAfter.toISOString()} (fingerprint ${cert.fingerprint256}): ` +
      "the edge cluster must report its renewed certificate before secrets can be sealed for it",
    );
  }
  return { pem, publicKey, fingerprint: cert.fingerprint256, notAfter };
}

/** The RSA-OAEP label for a scope: `<namespace>/<name>`, `<namespace>` or empty. */
export function encryptionLabel(scope: SealingScope, namespace: string, name: string): Buffer {
  switch (scope) {
    case "strict": return Buffer.from(`${namespace}/${name}`, "utf8");
    case "namespace-wide": return Buffer.from(namespace, "utf8");
    case "cluster-wide": return Buffer.alloc(0);
  }
}

/**
 * Seals one value for the Secret `<namespace>/<name>` and returns the base64 text for `spec.encryptedData[key]`.
 * Pass a parsed certificate when sealing many values, so the PEM is parsed and checked once.
 */
export function sealValue(
  cert: string | SealingCertificate, value: Buffer, scope: SealingScope, namespace: string, name: string,
): string {
  const certificate = typeof cert === "string" ? parseCertificate(cert) : cert;
  checkTarget(scope, namespace, name);
  const sessionKey = randomBytes(SESSION_KEY_BYTES);
  const label = encryptionLabel(scope, namespace, name);
  const rsaCiphertext = publicEncrypt(
    {
      key: certificate.publicKey,
      padding: constants.RSA_PKCS1_OAEP_PADDING,
      oaepHash: "sha256",
      ...(label.length > 0 ? { oaepLabel: label } : {}),
    },
    sessionKey,
  );
  // The session key is used for exactly one message, which is what makes the all-zero nonce safe.
  const cipher = createCipheriv("aes-256-gcm", sessionKey, GCM_ZERO_NONCE);
  const length = Buffer.alloc(2);
  length.writeUInt16BE(rsaCiphertext.length);
  return Buffer.concat([length, rsaCiphertext, cipher.update(value), cipher.final(), cipher.getAuthTag()]).toString("base64");
}

function checkTarget(scope: SealingScope, namespace: string, name: string): void {
  if (!SEALING_SCOPES.includes(scope)) {
    throw new SealInputError(`unknown sealing scope "${String(scope)}": use one of ${SEALING_SCOPES.join(", ")}`);
  }
  checkNamespace(namespace);
  checkName(name);
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

function checkNamespace(namespace: string): void {
  if (namespace.length > 63 || !DNS_LABEL.test(namespace)) {
    throw new SealInputError(`invalid namespace "${namespace}": must be a DNS label (lower-case letters, digits and "-", at most 63)`);
  }
}

function checkName(name: string): void {
  if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    throw new SealInputError(`invalid secret name "${name}": must be a DNS subdomain (lower-case letters, digits, "-" and ".")`);
  }
}

export function checkSecretKey(key: string): void {
  if (key.length > 253 || !SECRET_KEY.test(key) || key === "." || key === "..") {
    throw new SealInputError(`invalid secret key "${key}": use letters, digits, "-", "_" and "." (at most 253)`);
  }
}

export interface SealedSecretMetadata {
  name: string;
  namespace: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

export interface SealedSecret {
  apiVersion: typeof SEALED_SECRET_API_VERSION;
  kind: "SealedSecret";
  metadata: SealedSecretMetadata;
  spec: {
    encryptedData: Record<string, string>;
    template: {
      metadata: SealedSecretMetadata;
      type?: string;
      [field: string]: unknown;
    };
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

/** The scope a SealedSecret is unsealed with, read from its annotations the way the controller does. */
export function sealedSecretScope(sealed: Pick<SealedSecret, "metadata">): SealingScope {
  const annotations = sealed.metadata.annotations ?? {};
  if (annotations[CLUSTER_WIDE_ANNOTATION] === "true") return "cluster-wide";
  if (annotations[NAMESPACE_WIDE_ANNOTATION] === "true") return "namespace-wide";
  return "strict";
}

function withScopeAnnotations(annotations: Record<string, string> | undefined, scope: SealingScope): Record<string, string> | undefined {
  const result = { ...annotations };
  delete result[NAMESPACE_WIDE_ANNOTATION];
  delete result[CLUSTER_WIDE_ANNOTATION];
  if (scope === "namespace-wide") result[NAMESPACE_WIDE_ANNOTATION] = "true";
  if (scope === "cluster-wide") result[CLUSTER_WIDE_ANNOTATION] = "true";
  return Object.keys(result).length > 0 ? result : undefined;
}

function withAnnotations(metadata: SealedSecretMetadata, scope: SealingScope): SealedSecretMetadata {
  const { annotations, ...rest } = metadata;
  const scoped = withScopeAnnotations(annotations, scope);
  return scoped ? { ...rest, annotations: scoped } : rest;
}

export interface BuildSealedSecretOptions {
  name: string;
  namespace: string;
  scope: SealingScope;
  /** Key → base64 sealed value (from `sealValue`), sealed for this name, namespace and scope. */
  encryptedData: Record<string, string>;
  /** The SealedSecret already stored for this Secret: its other keys, labels and template are kept. */
  existing?: SealedSecret | null;
  /** Secret type for a new SealedSecret's template (default "Opaque"); an existing template keeps its own. */
  type?: string;
}

/**
 * A `bitnami.com/v1alpha1` SealedSecret for `<namespace>/<name>`. With `existing`, the new keys are added to or
 * replace its keys; an existing SealedSecret for another Secret or sealed with another scope is refused, because
 * its other values could no longer be unsealed.
 */
export function buildSealedSecret(options: BuildSealedSecretOptions): SealedSecret {
  const { name, namespace, scope, encryptedData, existing } = options;
  checkTarget(scope, namespace, name);
  for (const key of Object.keys(encryptedData)) checkSecretKey(key);
  if (existing) {
    if (existing.metadata.name !== name || existing.metadata.namespace !== namespace) {
      throw new SealInputError(
        `existing sealed secret is "${existing.metadata.namespace}/${existing.metadata.name}", not "${namespace}/${name}"`,
      );
    }
    const existingScope = sealedSecretScope(existing);
    const keptKeys = Object.keys(existing.spec.encryptedData).filter((k) => !(k in encryptedData));
    if (existingScope !== scope && keptKeys.length > 0) {
      throw new SealInputError(
        `sealed secret "${namespace}/${name}" is sealed with scope "${existingScope}", not "${scope}": ` +
        `re-seal its other keys (${keptKeys.join(", ")}) with the new scope or use scope "${existingScope}"`,
      );
    }
    const copy = structuredClone(existing);
    return {
      ...copy,
      metadata: withAnnotations(copy.metadata, scope),
      spec: {
        ...copy.spec,
        encryptedData: { ...copy.spec.encryptedData, ...encryptedData },
        template: { ...copy.spec.template, metadata: withAnnotations({ ...copy.spec.template.metadata, name, namespace }, scope) },
      },
    };
  }
  return {
    apiVersion: SEALED_SECRET_API_VERSION,
    kind: "SealedSecret",
    metadata: withAnnotations({ name, namespace }, scope),
    spec: {
      encryptedData: { ...encryptedData },
      template: { metadata: withAnnotations({ name, namespace }, scope), type: options.type ?? "Opaque" },
    },
  };
}

export interface SealedKey {
  name: string;
  namespace: string;
  scope: SealingScope;
  key: string;
  /** Base64 sealed value from `sealValue`. */
  encryptedValue: string;
}

/** Adds or replaces one key of the SealedSecret stored for a Secret (or starts one). */
export function mergeSealedSecret(existing: SealedSecret | null | undefined, sealed: SealedKey): SealedSecret {
  return buildSealedSecret({
    name: sealed.name,
    namespace: sealed.namespace,
    scope: sealed.scope,
    encryptedData: { [sealed.key]: sealed.encryptedValue },
    existing,
  });
}

/** Removes one key; null when it was the last, meaning the SealedSecret's file should be deleted. */
export function removeKey(existing: SealedSecret, key: string): SealedSecret | null {
  const copy = structuredClone(existing);
  delete copy.spec.encryptedData[key];
  return Object.keys(copy.spec.encryptedData).length === 0 ? null : copy;
}
