// One-time bootstrap tokens. Only a token's SHA-256 is kept (in the cluster's credentials Secret); redeeming marks
// it used with an optimistic lock on the Secret, so a token works once even with several manager replicas. Issuing a
// token retires the cluster's older unused ones: only the newest link works.
import { randomBytes } from "node:crypto";
import { Core } from "../runtime/kube.js";
import { isConflict, isNotFound, type KubeClient } from "../runtime/rest.js";
import { urlsFor, type ClusterManagerConfig } from "./config.js";
import {
  CREDENTIALS_LABEL, decodeCredentials, encodeCredentials, sha256, type ClusterCredentials, type SecretObject,
} from "./credentials.js";

/** Records older than this past their expiry are dropped from the Secret. */
const KEEP_EXPIRED_MS = 24 * 60 * 60_000;
/** The Secret the manager writes an EdgeCluster's one-time bootstrap command into. */
export const bootstrapCommandSecretName = (edgeClusterName: string) => `${edgeClusterName}-bootstrap`;

export const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** How a person gets a new one-time link for a cluster: said wherever a link is refused or must be used again. */
export const renewalHint = (ec?: { metadata: { namespace?: string; name?: string } }) => ec
  ? `get a new one with: graft bootstrap-command -n ${ec.metadata.namespace} ${ec.metadata.name}`
  : "get a new one with: graft bootstrap-command <edgecluster>";

/**
 * The link of a token and the command printed for it. The command fetches the `.sh` form, which always answers 200
 * with a script: for a used, expired or unknown link a two-line script that prints why to stderr and exits 1, so
 * `curl -fsSL … | sh -` shows the reason and fails (with the plain link, curl -f would swallow a 410's text and sh
 * would run nothing and exit 0). The plain link answers with the HTTP status itself.
 */
export function bootstrapLink(cfg: ClusterManagerConfig, uuid: string, token: string): { url: string; command: string } {
  const url = `${urlsFor(cfg, uuid).bootstrap}/${token}`;
  return { url, command: `curl -fsSL '${url}.sh' | sh -` };
}

export type RedeemResult =
  | { outcome: "ok"; credentials: ClusterCredentials }
  | { outcome: "used"; usedAt: string }
  | { outcome: "expired"; expiredAt: string }
  | { outcome: "superseded"; supersededAt: string }
  /** The credentials Secret is gone: the cluster was deleted. */
  | { outcome: "cluster-gone" }
  | { outcome: "unknown" };

/** Adds a new token to the cluster's credentials Secret and returns it (the only time it exists in clear). */
export async function issueBootstrapToken(client: KubeClient, namespace: string, secretName: string, ttlMs: number,
  now = new Date()): Promise<{ token: string; expiresAt: string }> {
  const token = randomBytes(32).toString("base64url");
  const expiresAt = new Date(now.getTime() + ttlMs).toISOString();
  await mutateCredentials(client, namespace, secretName, (c) => {
    c.bootstrapTokens = c.bootstrapTokens
      .filter((t) => Date.parse(t.expiresAt) + KEEP_EXPIRED_MS > now.getTime())
      .map((t) => (t.usedAt || t.supersededAt ? t : { ...t, supersededAt: now.toISOString() }))
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
  const found = await mutateCredentials(client, namespace, secretName, (c) => {
    const rec = c.bootstrapTokens.find((t) => t.hash === hash);
    if (!rec) return (result = { outcome: "unknown" }), false;
    if (rec.usedAt) return (result = { outcome: "used", usedAt: rec.usedAt }), false;
    if (Date.parse(rec.expiresAt) <= now.getTime()) return (result = { outcome: "expired", expiredAt: rec.expiresAt }), false;
    if (rec.supersededAt) return (result = { outcome: "superseded", supersededAt: rec.supersededAt }), false;
    rec.usedAt = now.toISOString();
    result = { outcome: "ok", credentials: c };
    return true;
  }).then(() => true, (err: unknown) => {
    if (isNotFound(err)) return false;
    throw err;
  });
  return found ? result : { outcome: "cluster-gone" };
}

/**
 * Finds the credentials Secret holding this token with one (paginated) list of the credentials Secrets: for a
 * token this replica's index has not seen yet (its Secret watch lags the replica that issued it).
 */
export async function findTokenSecret(client: KubeClient, namespace: string | undefined, token: string):
  Promise<{ namespace: string; name: string; uuid: string } | undefined> {
  const hash = sha256(token);
  let cont: string | undefined;
  do {
    const page = await client.list<SecretObject>(Core.secrets, namespace, { labelSelector: `${CREDENTIALS_LABEL}=edgecluster`, limit: 500, continue: cont });
    for (const secret of page.items) {
      const c = decodeCredentials(secret);
      if (c.uuid && c.bootstrapTokens.some((t) => t.hash === hash)) return { namespace: secret.metadata.namespace ?? "", name: secret.metadata.name, uuid: c.uuid };
    }
    cont = page.metadata.continue || undefined;
  } while (cont);
  return undefined;
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
