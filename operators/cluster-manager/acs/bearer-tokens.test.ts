// The Clusters API's Bearer tokens against a real API server: two replicas starting together share one signing key
// (one Secret), a token one issued is accepted by the other, and a forged, altered or expired token is refused.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Core } from "../../runtime/kube.js";
import { apiServerForFile } from "../../../e2e/support/api-server.js";
import { BearerTokens, sharedTokenKey, TOKEN_KEY_SECRET } from "./bearer-tokens.js";

const NS = "graft-system";
const { client } = await apiServerForFile({ name: "bearer-tokens", namespace: NS });
const PRINCIPAL = "8f1a1c9e-33f1-4a41-9c8e-0b5f7d2a6e10";

test("two replicas starting at once make one key; a token one issued passes at the other", async () => {
  const [a, b] = await Promise.all([sharedTokenKey(client, NS), sharedTokenKey(client, NS)]);
  assert.equal(a.length, 32);
  assert.deepEqual(a, b, "both replicas use the key in the Secret");
  const secret = await client.get<{ kind: string; metadata: { name: string }; data: Record<string, string> }>(Core.secrets, TOKEN_KEY_SECRET, NS);
  assert.deepEqual(Buffer.from(secret.data.key!, "base64"), a);

  const issuer = new BearerTokens(async () => a);
  const other = new BearerTokens(() => sharedTokenKey(client, NS));
  const { token, expiry } = await issuer.issue(PRINCIPAL, 60_000);
  assert.ok(expiry > Date.now());
  assert.equal(await other.verify(token), PRINCIPAL);
});

test("a token with another principal, another expiry or another key, an expired one and garbage are refused", async () => {
  const key = await sharedTokenKey(client, NS);
  const tokens = new BearerTokens(async () => key);
  const { token } = await tokens.issue(PRINCIPAL, 60_000);
  const [expiry, principal, mac] = token.split(".") as [string, string, string];
  const forged = [
    `${expiry}.${principal.replace(/^8/, "9")}.${mac}`,
    `${(parseInt(expiry, 36) + 3_600_000).toString(36)}.${principal}.${mac}`,
    (await new BearerTokens(async () => Buffer.alloc(32, 7)).issue(PRINCIPAL, 60_000)).token,
    (await tokens.issue(PRINCIPAL, 60_000, Date.now() - 120_000)).token,
    "", "a.b", `${expiry}.${principal}.`, `${token}x`,
  ];
  for (const t of forged) assert.equal(await tokens.verify(t), null, `refused: ${t}`);
  assert.equal(await tokens.verify(token), PRINCIPAL, "the genuine token still passes");
});

test("a Secret without a usable key is an error naming it, not a silently new key", async () => {
  await client.delete(Core.secrets, TOKEN_KEY_SECRET, NS);
  await client.create(Core.secrets, { apiVersion: "v1", kind: "Secret", metadata: { name: TOKEN_KEY_SECRET, namespace: NS }, data: { key: "c2hvcnQ=" } });
  await assert.rejects(sharedTokenKey(client, NS), new RegExp(`Secret ${NS}/${TOKEN_KEY_SECRET} holds no 32-byte "key"`));
});
