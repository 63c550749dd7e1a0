// The edge's ConfigDB v2 client over real HTTP against the test receiver: merge-PATCH, create when absent without
// a wiping PUT, static tokens, password login with one re-login on 401, token and password files read again after
// a refusal, Directory discovery.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Service } from "../api/constants.js";
import { freePort } from "../../e2e/harness/ports.js";
import { SecretVolume } from "../../e2e/harness/secret-volume.js";
import { ConfigDbClient, DirectoryLocator, HttpError, PasswordLogin, PresetUrl, StaticToken } from "./configdb-client.js";
import { StatusReceiver } from "../../e2e/support/edge-sync/status-receiver.js";

const CLUSTER = "0b6e6b1a-1111-4222-8333-444455556666";
const OTHER = "0b6e6b1a-9999-4222-8333-444455556666";
const APP = App.EdgeClusterStatus;

async function receiver(t: { after(fn: () => Promise<void>): void }, opts: ConstructorParameters<typeof StatusReceiver>[0]) {
  const r = new StatusReceiver(opts);
  await r.start();
  t.after(() => r.stop());
  return r;
}

test("PATCH creates the entry, later PATCHes merge into it and leave the other field alone", async (t) => {
  const r = await receiver(t, { tokens: { tok: CLUSTER } });
  const db = new ConfigDbClient({ service: new PresetUrl(`${r.url}/`), auth: new StaticToken({ token: "tok" }) });
  assert.equal(await db.patchEntry(APP, CLUSTER, { hosts: [] }), "patched");
  assert.equal(await db.patchEntry(APP, CLUSTER, { kubeseal_cert: "PEM" }), "patched");
  assert.equal(await db.patchEntry(APP, CLUSTER, { hosts: [{ hostname: "a" }] }), "patched");
  assert.deepEqual(r.entry(APP, CLUSTER), { hosts: [{ hostname: "a" }], kubeseal_cert: "PEM" });
  assert.deepEqual(await db.getEntry(APP, CLUSTER), { hosts: [{ hostname: "a" }], kubeseal_cert: "PEM" });
  assert.equal(r.puts.length, 0);
});

test("a server without create-on-PATCH gets a create-only PUT when the entry is absent, and PATCHes after that", async (t) => {
  const r = await receiver(t, { tokens: { tok: CLUSTER }, createOnPatch: false });
  const db = new ConfigDbClient({ service: new PresetUrl(r.url), auth: new StaticToken({ token: "tok" }) });
  assert.equal(await db.patchEntry(APP, CLUSTER, { hosts: [{ hostname: "a" }] }), "created");
  assert.equal(await db.patchEntry(APP, CLUSTER, { kubeseal_cert: "PEM" }), "patched");
  assert.deepEqual(r.entry(APP, CLUSTER), { hosts: [{ hostname: "a" }], kubeseal_cert: "PEM" });
  assert.equal(r.puts.length, 1);
});

test("a missing or foreign token is refused and reported with the status code", async (t) => {
  const r = await receiver(t, { tokens: { mine: CLUSTER, theirs: OTHER } });
  const wrong = new ConfigDbClient({ service: new PresetUrl(r.url), auth: new StaticToken({ token: "nope" }) });
  await assert.rejects(wrong.patchEntry(APP, CLUSTER, { hosts: [] }), (e: unknown) => e instanceof HttpError && e.status === 401);
  const foreign = new ConfigDbClient({ service: new PresetUrl(r.url), auth: new StaticToken({ token: "theirs" }) });
  await assert.rejects(foreign.patchEntry(APP, CLUSTER, { hosts: [] }), (e: unknown) => e instanceof HttpError && e.status === 403);
  assert.equal(r.entry(APP, CLUSTER), undefined);
});

test("a token file is kept while accepted and read again after a 401, so a token rotated in the Secret volume takes effect without a restart", async (t) => {
  const tokens: Record<string, string> = { first: CLUSTER };
  const r = await receiver(t, { tokens });
  const dir = mkdtempSync(join(tmpdir(), "graft-edge-sync-token-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const volume = new SecretVolume(dir);
  volume.write({ token: "first\n" });
  const read: string[] = [];
  const db = new ConfigDbClient({ service: new PresetUrl(r.url), auth: new StaticToken({
    file: volume.file("token"), readFile: async (p) => { read.push(p); return readFileSync(p, "utf8"); },
  }) });
  await db.patchEntry(APP, CLUSTER, { hosts: [] });
  await db.patchEntry(APP, CLUSTER, { hosts: [] });
  assert.equal(read.length, 1, "read once while the token is accepted");
  // The centre rotates the token; the Secret volume follows.
  delete tokens.first;
  tokens.second = CLUSTER;
  volume.write({ token: "second\n" });
  await db.patchEntry(APP, CLUSTER, { kubeseal_cert: "PEM" });
  assert.equal(read.length, 2, "read again after the 401");
  assert.deepEqual(r.entry(APP, CLUSTER), { hosts: [], kubeseal_cert: "PEM" });
  // A token the centre refuses and the file does not replace: the 401 reaches the caller.
  delete tokens.second;
  await assert.rejects(db.patchEntry(APP, CLUSTER, { hosts: [] }), /HTTP 401/);
});

test("a password file is read again when the login is refused, and the login retried with the new password at once", async (t) => {
  const logins = { "sv1sync/site-a": { password: "old-pw", object: CLUSTER } };
  const r = await receiver(t, { logins, tokenTtlMs: 3_600_000 });
  const dir = mkdtempSync(join(tmpdir(), "graft-edge-sync-password-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const volume = new SecretVolume(dir);
  volume.write({ password: "old-pw\n" });
  const login = new PasswordLogin({ service: new PresetUrl(r.url), username: "sv1sync/site-a", password: { file: volume.file("password") } });
  const db = new ConfigDbClient({ service: new PresetUrl(r.url), auth: login });
  await db.patchEntry(APP, CLUSTER, { hosts: [] });
  // krbkeys changes the password at the KDC first, the Secret afterwards; the kubelet updates the file later still.
  logins["sv1sync/site-a"].password = "new-pw";
  r.revokeLoginTokens();
  await assert.rejects(db.patchEntry(APP, CLUSTER, { hosts: [] }), /HTTP 401: .*check the service username and password/);
  volume.write({ password: "new-pw\n" });
  await db.patchEntry(APP, CLUSTER, { kubeseal_cert: "PEM" });
  assert.equal(login.logins, 2);
  // Rotated again, and this time the file is already current when the token is refused: no error at all.
  logins["sv1sync/site-a"].password = "newer-pw";
  volume.write({ password: "newer-pw\n" });
  r.revokeLoginTokens();
  await db.patchEntry(APP, CLUSTER, { hosts: [] });
  assert.equal(login.logins, 3);
  assert.deepEqual(r.entry(APP, CLUSTER), { hosts: [], kubeseal_cert: "PEM" });
});

test("password login: one login reused, one re-login after a 401, a renewal before expiry, a clear error for bad credentials", async (t) => {
  const r = await receiver(t, { logins: { "sv1sync/site-a": { password: "p:w d", object: CLUSTER } }, tokenTtlMs: 3_600_000 });
  let skewMs = 0;
  const login = new PasswordLogin({ service: new PresetUrl(r.url), username: "sv1sync/site-a", password: "p:w d", now: () => Date.now() + skewMs });
  const db = new ConfigDbClient({ service: new PresetUrl(r.url), auth: login });
  await db.patchEntry(APP, CLUSTER, { hosts: [] });
  await db.patchEntry(APP, CLUSTER, { kubeseal_cert: "PEM" });
  assert.equal(r.logins, 1, "the token is reused");

  r.revokeLoginTokens();
  await db.patchEntry(APP, CLUSTER, { hosts: [{ hostname: "a" }] });
  assert.equal(r.logins, 2, "exactly one re-login after the 401");
  assert.equal(r.unauthorised, 1);

  skewMs = 3_600_000 - 30_000; // 30 s before the token expires: inside the renewal margin
  await db.patchEntry(APP, CLUSTER, { hosts: [] });
  assert.equal(r.logins, 3, "renewed before expiry");
  assert.equal(r.unauthorised, 1, "the renewal needed no 401");

  const bad = new ConfigDbClient({ service: new PresetUrl(r.url), auth: new PasswordLogin({ service: new PresetUrl(r.url), username: "sv1sync/site-a", password: "wrong" }) });
  await assert.rejects(bad.patchEntry(APP, CLUSTER, { hosts: [] }), /logging in to .* as "sv1sync\/site-a": HTTP 401.*check the service username and password/);
  assert.deepEqual(r.entry(APP, CLUSTER), { hosts: [], kubeseal_cert: "PEM" });
});

test("the ConfigDB URL is found through the Directory, with a login at the Directory and another at the ConfigDB", async (t) => {
  const configdb = await receiver(t, { logins: { sync: { password: "pw", object: CLUSTER } } });
  const directory = await receiver(t, { logins: { sync: { password: "pw", object: CLUSTER } }, directory: { [Service.ConfigDB]: `${configdb.url}/` } });
  const directoryAuth = new PasswordLogin({ service: new PresetUrl(directory.url), username: "sync", password: "pw" });
  const locator = new DirectoryLocator({ directoryUrl: directory.url, service: Service.ConfigDB, auth: directoryAuth });
  const db = new ConfigDbClient({ service: locator, auth: new PasswordLogin({ service: locator, username: "sync", password: "pw" }) });
  await db.patchEntry(APP, CLUSTER, { hosts: [] });
  assert.deepEqual(configdb.entry(APP, CLUSTER), { hosts: [] });
  assert.equal(directory.logins, 1);
  assert.equal(configdb.logins, 1);

  const unknown = new DirectoryLocator({ directoryUrl: directory.url, service: Service.Git, auth: directoryAuth });
  await assert.rejects(unknown.url(), /knows no URL for service "7adf4db0/);
});

test("an unreachable centre is reported with its URL and the network cause", async () => {
  const port = await freePort();
  const db = new ConfigDbClient({ service: new PresetUrl(`http://127.0.0.1:${port}`), auth: new StaticToken({ token: "tok" }) });
  await assert.rejects(db.patchEntry(APP, CLUSTER, { hosts: [] }), new RegExp(`cannot reach "http://127.0.0.1:${port}/v2/app/.*": ECONNREFUSED`));
});
