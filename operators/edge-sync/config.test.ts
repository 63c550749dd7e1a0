import { test } from "node:test";
import assert from "node:assert/strict";
import { EdgeSyncConfigError, resolveEdgeSyncConfig } from "./config.js";

const UUID = "5f0c3a52-7d3e-4f57-9b1e-0c2a8d6e4b11";
// A keytab begins with its format version, 0x0502 (MIT's file format), then its entries.
const KEYTAB = Buffer.from([0x05, 0x02, 0x00, 0x00, 0x00, 0x10]);
const files: Record<string, string | Buffer> = { "/run/token": "tok\n", "/run/password": "s3cret\n", "/run/empty": "\n", "/run/keytab": KEYTAB };
const readBinary = (p: string) => {
  const content = files[p];
  if (content === undefined) throw Object.assign(new Error("no such file"), { code: "ENOENT" });
  return Buffer.from(content);
};
const readFile = (p: string) => readBinary(p).toString("utf8");
const resolve = (flags: Parameters<typeof resolveEdgeSyncConfig>[0], env: Record<string, string> = {}) => resolveEdgeSyncConfig(flags, env, readFile, readBinary);

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
  assert.throws(() => resolve({}, { ...base, SERVICE_USERNAME: "u" }), /--username \(SERVICE_USERNAME\) is set but no credential: set --keytab-file \(SERVICE_KEYTAB_FILE\), --password-file/);
  assert.throws(() => resolve({}, { ...base, SYNC_TOKEN_FILE: "/run/empty" }), /file "\/run\/empty" is empty/);
  assert.throws(() => resolve({}, { ...base, SERVICE_USERNAME: "u", SERVICE_PASSWORD_FILE: "/run/missing" }), /--password-file \(SERVICE_PASSWORD_FILE\): cannot read "\/run\/missing": ENOENT/);
  assert.throws(() => resolve({ statusUrl: "ftp://c" }, { ...base, SYNC_TOKEN: "t" }), /--status-url \(STATUS_URL\): "ftp:\/\/c" is not an http\(s\) URL/);
  assert.throws(() => resolve({ minRetryDelay: "10s", maxRetryDelay: "1s" }, { ...base, SYNC_TOKEN: "t" }), /must not be shorter/);
});

const ACS = { CLUSTER_UUID: UUID, DIRECTORY_URL: "https://directory.example", SERVICE_USERNAME: "op1sync/site-a", REALM: "EXAMPLE.COM" };

test("ACS mode with a keytab: Negotiate logins as the realm-qualified principal, at the Directory too, with Edge deployments", () => {
  const c = resolve({}, { ...ACS, SERVICE_KEYTAB_FILE: "/run/keytab", KRB5_CONFIG: "/etc/graft/krb5/krb5.conf" });
  assert.deepEqual(c.auth, { kind: "keytab", principal: "op1sync/site-a@EXAMPLE.COM", keytabFile: "/run/keytab", env: { KRB5_CONFIG: "/etc/graft/krb5/krb5.conf" } });
  assert.equal(c.directoryAuth, true);
  assert.deepEqual(c.deployments?.baseValues, { cluster: undefined, realm: "EXAMPLE.COM", directory_url: "https://directory.example" });
  const flags = resolve({ keytabFile: "/run/keytab", username: "sync@OTHER" }, { ...ACS, SERVICE_USERNAME: "" });
  assert.deepEqual(flags.auth, { kind: "keytab", principal: "sync@OTHER", keytabFile: "/run/keytab", env: {} });
});

test("a contradictory login is refused, naming what was set: two credentials, a token with an account, a keytab for the status endpoint", () => {
  assert.throws(() => resolve({}, { ...ACS, SERVICE_KEYTAB_FILE: "/run/keytab", SERVICE_PASSWORD_FILE: "/run/password" }),
    /credentials: --password-file \(SERVICE_PASSWORD_FILE\) and --keytab-file \(SERVICE_KEYTAB_FILE\) are set, but edge-sync logs in with exactly one credential/);
  assert.throws(() => resolve({}, { ...ACS, SERVICE_KEYTAB_FILE: "/run/keytab", SERVICE_PASSWORD: "pw" }), /SERVICE_PASSWORD and --keytab-file \(SERVICE_KEYTAB_FILE\) are set/);
  assert.throws(() => resolve({}, { ...ACS, SERVICE_PASSWORD_FILE: "/run/password", SERVICE_PASSWORD: "pw" }), /--password-file \(SERVICE_PASSWORD_FILE\) and SERVICE_PASSWORD are set/);
  assert.throws(() => resolve({}, { ...ACS, SYNC_TOKEN_FILE: "/run/token", SERVICE_KEYTAB_FILE: "/run/keytab" }), /--token-file \(SYNC_TOKEN_FILE\) and --keytab-file/);
  assert.throws(() => resolve({}, { ...ACS, SYNC_TOKEN: "t" }), /--username \(SERVICE_USERNAME\) is set with a token/);
  assert.throws(() => resolve({}, { ...ACS, SYNC_TOKEN: "t", SERVICE_PASSWORD: "pw", SERVICE_KEYTAB_FILE: "/run/keytab" }),
    /credentials: SYNC_TOKEN, SERVICE_PASSWORD and --keytab-file \(SERVICE_KEYTAB_FILE\) are set/);
  assert.throws(() => resolve({}, { CLUSTER_UUID: UUID, STATUS_URL: "http://c", SERVICE_USERNAME: "u@R", SERVICE_KEYTAB_FILE: "/run/keytab" }),
    /--keytab-file \(SERVICE_KEYTAB_FILE\) is set with --status-url \(STATUS_URL\): cluster-manager's status endpoint takes a token/);
});

test("a keytab that is missing, empty, not a keytab, or without an account or realm is refused at start", () => {
  files["/run/zero"] = Buffer.alloc(0);
  assert.throws(() => resolve({}, { ...ACS, SERVICE_KEYTAB_FILE: "/run/missing" }), /--keytab-file \(SERVICE_KEYTAB_FILE\): cannot read "\/run\/missing": ENOENT/);
  assert.throws(() => resolve({}, { ...ACS, SERVICE_KEYTAB_FILE: "/run/zero" }), /"\/run\/zero" is not a keytab \(empty\)/);
  assert.throws(() => resolve({}, { ...ACS, SERVICE_KEYTAB_FILE: "/run/password" }), /"\/run\/password" is not a keytab$/m);
  assert.throws(() => resolve({}, { ...ACS, SERVICE_USERNAME: "", SERVICE_KEYTAB_FILE: "/run/keytab" }),
    /--keytab-file \(SERVICE_KEYTAB_FILE\) is set but not --username \(SERVICE_USERNAME\)/);
  assert.throws(() => resolve({}, { ...ACS, REALM: "", SERVICE_KEYTAB_FILE: "/run/keytab" }), /the principal "op1sync\/site-a" has no realm/);
});
