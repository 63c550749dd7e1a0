import { test } from "node:test";
import assert from "node:assert/strict";
import { EdgeSyncConfigError, resolveEdgeSyncConfig } from "./config.js";

const UUID = "5f0c3a52-7d3e-4f57-9b1e-0c2a8d6e4b11";
const files: Record<string, string> = { "/run/token": "tok\n", "/run/password": "s3cret\n", "/run/empty": "\n" };
const readFile = (p: string) => {
  if (p in files) return files[p]!;
  throw Object.assign(new Error("no such file"), { code: "ENOENT" });
};
const resolve = (flags: Parameters<typeof resolveEdgeSyncConfig>[0], env: Record<string, string> = {}) => resolveEdgeSyncConfig(flags, env, readFile);

test("embedded mode from the cluster-config variables and a mounted token, with the documented defaults", () => {
  const c = resolve({}, { CLUSTER_UUID: UUID, CLUSTER_NAME: "site-a", STATUS_URL: "https://central.example/", SYNC_TOKEN_FILE: "/run/token" });
  assert.deepEqual(c.centre, { kind: "preset", url: "https://central.example" });
  assert.deepEqual(c.auth, { kind: "token", file: "/run/token" });
  assert.deepEqual(c.sealedSecrets, { namespace: "sealed-secrets", controller: "sealed-secrets", port: undefined, pollIntervalMs: 600_000 });
  assert.equal(c.debounceMs, 250);
  assert.equal(c.resyncIntervalMs, 300_000);
  assert.deepEqual([c.minRetryMs, c.maxRetryMs], [1_000, 120_000]);
  assert.deepEqual(c.health, { host: "0.0.0.0", port: 8081 });
});

test("flags win over variables", () => {
  const c = resolve({ debounce: "500ms", sealedSecretsNamespace: "kube-system", sealedSecretsController: "sealed-secrets-controller", sealedSecretsPort: "8080", healthAddr: "127.0.0.1:9000" },
    { CLUSTER_UUID: UUID, STATUS_URL: "http://c", SYNC_TOKEN: "t", SYNC_DEBOUNCE: "9s", SEALED_SECRETS_NAMESPACE: "x" });
  assert.equal(c.debounceMs, 500);
  assert.deepEqual(c.sealedSecrets, { namespace: "kube-system", controller: "sealed-secrets-controller", port: "8080", pollIntervalMs: 600_000 });
  assert.deepEqual(c.health, { host: "127.0.0.1", port: 9000 });
  assert.deepEqual(c.auth, { kind: "token", token: "t" });
});

test("ACS mode: Directory discovery with a password login (realm appended), or a preset ConfigDB URL", () => {
  const viaDirectory = resolve({}, { CLUSTER_UUID: UUID, DIRECTORY_URL: "https://directory.example", SERVICE_USERNAME: "op1sync/site-a", SERVICE_PASSWORD_FILE: "/run/password", REALM: "EXAMPLE.COM" });
  assert.deepEqual(viaDirectory.centre, { kind: "directory", directoryUrl: "https://directory.example" });
  assert.deepEqual(viaDirectory.auth, { kind: "password", username: "op1sync/site-a@EXAMPLE.COM", passwordFile: "/run/password" });
  assert.equal(viaDirectory.directoryAuth, true);
  const preset = resolve({}, { CLUSTER_UUID: UUID, CONFIGDB_URL: "https://configdb.example", DIRECTORY_URL: "https://directory.example", SERVICE_USERNAME: "sync@OTHER", SERVICE_PASSWORD: "pw", REALM: "EXAMPLE.COM" });
  assert.deepEqual(preset.centre, { kind: "preset", url: "https://configdb.example" });
  assert.deepEqual(preset.auth, { kind: "password", username: "sync@OTHER", password: "pw" });
});

test("every problem is reported at once, naming flag and variable", () => {
  assert.throws(() => resolve({ debounce: "soon", tokenFile: "/run/missing", healthAddr: "nowhere" }, { CLUSTER_UUID: "NOT-A-UUID" }), (err: unknown) => {
    assert.ok(err instanceof EdgeSyncConfigError);
    const text = err.problems.join("\n");
    assert.match(text, /--cluster-uuid \(CLUSTER_UUID\): "NOT-A-UUID" is not a lowercase UUID/);
    assert.match(text, /set --status-url \(STATUS_URL\) \(embedded mode\) or --configdb-url/);
    assert.match(text, /--token-file \(SYNC_TOKEN_FILE\): cannot read "\/run\/missing": ENOENT/);
    assert.match(text, /--debounce \(SYNC_DEBOUNCE\): invalid duration "soon"/);
    assert.match(text, /--health-addr \(HEALTH_ADDR\): invalid address/);
    return true;
  });
});

test("missing credentials, a username without password, an empty token file and a bad URL are refused", () => {
  const base = { CLUSTER_UUID: UUID, STATUS_URL: "http://c" };
  assert.throws(() => resolve({}, base), /credentials: set --token-file/);
  assert.throws(() => resolve({}, { ...base, SERVICE_USERNAME: "u" }), /--username \(SERVICE_USERNAME\) is set but no password/);
  assert.throws(() => resolve({}, { ...base, SYNC_TOKEN_FILE: "/run/empty" }), /file "\/run\/empty" is empty/);
  assert.throws(() => resolve({}, { ...base, SERVICE_USERNAME: "u", SERVICE_PASSWORD_FILE: "/run/missing" }), /--password-file \(SERVICE_PASSWORD_FILE\): cannot read "\/run\/missing": ENOENT/);
  assert.throws(() => resolve({ statusUrl: "ftp://c" }, { ...base, SYNC_TOKEN: "t" }), /--status-url \(STATUS_URL\): "ftp:\/\/c" is not an http\(s\) URL/);
  assert.throws(() => resolve({ minRetryDelay: "10s", maxRetryDelay: "1s" }, { ...base, SYNC_TOKEN: "t" }), /must not be shorter/);
});
