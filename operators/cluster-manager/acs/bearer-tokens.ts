// Bearer tokens of the Clusters API (`POST /token`) that every manager replica accepts. ACS's clients (the admin UI
// among them) log in once and send the token with each request, and an Ingress or Service spreads those requests over
// the replicas, so a token only the issuing replica remembered would be refused by the others. A token here is
// self-contained — the caller's principal and the expiry, signed with HMAC-SHA256 — under a key the replicas share
// through a Secret in the mirror namespace, the one they watch (made by whichever replica comes first, 32 random bytes).
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { Core } from "../../runtime/kube.js";
import { isAlreadyExists, type KubeClient } from "../../runtime/rest.js";
import type { SecretObject } from "../credentials.js";

/** The Secret holding the signing key (key `key`), in the mirror namespace (config/acs: graft-system). */
export const TOKEN_KEY_SECRET = "graft-clusters-api-token-key";

/** Reads the shared signing key, making it first when no replica has yet. */
export async function sharedTokenKey(client: KubeClient, namespace: string): Promise<Buffer> {
  const read = async () => {
    const s = await client.getOrNull<SecretObject>(Core.secrets, TOKEN_KEY_SECRET, namespace);
    const key = s?.data?.key ? Buffer.from(s.data.key, "base64") : undefined;
    if (s && (!key || key.length < 32)) throw new Error(`Secret ${namespace}/${TOKEN_KEY_SECRET} holds no 32-byte "key": delete it and a replica makes a new one`);
    return key;
  };
  const found = await read();
  if (found) return found;
  try {
    await client.create<SecretObject>(Core.secrets, {
      apiVersion: "v1", kind: "Secret", type: "Opaque",
      metadata: { name: TOKEN_KEY_SECRET, namespace, labels: { "app.kubernetes.io/name": "cluster-manager", "app.kubernetes.io/part-of": "graft" } },
      data: { key: randomBytes(32).toString("base64") },
    });
  } catch (err) {
    if (!isAlreadyExists(err)) throw err; // another replica made it first: use theirs
  }
  return (await read())!;
}

export class BearerTokens {
  constructor(private readonly key: () => Promise<Buffer>) {}

  /** A token for `principal` that expires after `lifetimeMs`. */
  async issue(principal: string, lifetimeMs: number, now = Date.now()): Promise<{ token: string; expiry: number }> {
    const expiry = now + lifetimeMs;
    const body = `${expiry.toString(36)}.${principal}`;
    return { token: `${body}.${await this.mac(body)}`, expiry };
  }

  /** The principal a token was issued to, or null when it is malformed, forged or expired. */
  async verify(token: string, now = Date.now()): Promise<string | null> {
    const last = token.lastIndexOf(".");
    const first = token.indexOf(".");
    if (first <= 0 || last <= first) return null;
    const body = token.slice(0, last);
    const given = Buffer.from(token.slice(last + 1), "base64url");
    const expected = Buffer.from(await this.mac(body), "base64url");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    const expiry = parseInt(body.slice(0, first), 36);
    return Number.isFinite(expiry) && expiry > now ? body.slice(first + 1) : null;
  }

  private async mac(body: string): Promise<string> {
    return createHmac("sha256", await this.key()).update(body).digest("base64url");
  }
}
