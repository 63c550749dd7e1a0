// One-time bootstrap tokens. Only a token's SHA-256 is kept (in the cluster's credentials Secret); redeeming marks
// it used with an optimistic lock on the Secret, so a token works once even with several manager replicas.
import { randomBytes } from "node:crypto";
import { Core } from "../runtime/kube.js";
import { isConflict, type KubeClient } from "../runtime/rest.js";
import { decodeCredentials, encodeCredentials, sha256, type ClusterCredentials, type SecretObject } from "./credentials.js";

/** Records older than this past their expiry are dropped from the Secret. */
const KEEP_EXPIRED_MS = 24 * 60 * 60_000;
/** The Secret the manager writes an EdgeCluster's one-time bootstrap command into. */
export const bootstrapCommandSecretName = (edgeClusterName: string) => `${edgeClusterName}-bootstrap`;

export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export type RedeemResult =
  | { outcome: "ok"; credentials: ClusterCredentials }
  | { outcome: "used"; usedAt: string }
  | { outcome: "expired"; expiredAt: string }
  | { outcome: "unknown" };

/** Adds a new token to the cluster's credentials Secret and returns it (the only time it exists in clear). */
export async function issueBootstrapToken(client: KubeClient, namespace: string, secretName: string, ttlMs: number,
  now = new Date()): Promise<{ token: string; expiresAt: string }> {
  const token = randomBytes(32).toString("base64url");
  const expiresAt = new Date(now.getTime() + ttlMs).toISOString();
  await mutateCredentials(client, namespace, secretName, (c) => {
    c.bootstrapTokens = c.bootstrapTokens
      .filter((t) => Date.parse(t.expiresAt) + KEEP_EXPIRED_MS > now.getTime())
      .concat({ hash: sha256(token), issuedAt: now.toISOString(), expiresAt });
    return true;
  });
  return { token, expiresAt };
}

/** Marks the token used if it is valid; says why not otherwise. */
export async function redeemBootstrapToken(client: KubeClient, namespace: string, secretName: string, token: string,
  now = new Date()): Promise<RedeemResult> {
  const hash = sha256(token);
  let result: RedeemResult = { outcome: "unknown" };
  await mutateCredentials(client, namespace, secretName, (c) => {
    const rec = c.bootstrapTokens.find((t) => t.hash === hash);
    if (!rec) return (result = { outcome: "unknown" }), false;
    if (rec.usedAt) return (result = { outcome: "used", usedAt: rec.usedAt }), false;
    if (Date.parse(rec.expiresAt) <= now.getTime()) return (result = { outcome: "expired", expiredAt: rec.expiresAt }), false;
    rec.usedAt = now.toISOString();
    result = { outcome: "ok", credentials: c };
    return true;
  });
  return result;
}

/** Re-reads and re-applies the change on a conflict; change returns false to write nothing. */
async function mutateCredentials(client: KubeClient, namespace: string, name: string, change: (c: ClusterCredentials) => boolean) {
  for (let attempt = 0; ; attempt++) {
    const secret = await client.get<SecretObject>(Core.secrets, name, namespace);
    const creds = decodeCredentials(secret);
    if (!change(creds)) return;
    try {
      await client.replace<SecretObject>(Core.secrets, { ...secret, data: encodeCredentials(creds) });
      return;
    } catch (err) {
      if (!isConflict(err) || attempt >= 10) throw err;
    }
  }
}
