// The edge's ConfigDB v2 client over real HTTP against the ACS stand-in: merge-PATCH that creates, refusals with
// their status and cause, static tokens, password login with one re-login on 401, token and password files read
// again after a refusal, Directory discovery.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Service } from "../api/constants.js";
import { freePort } from "../../e2e/harness/ports.js";
import { SecretVolume } from "../../e2e/harness/secret-volume.js";
import { addEdgeSyncAccount, startEdgeSyncCentre, type EdgeSyncCentre } from "../../e2e/support/edge-sync/acs-centre.js";
import { ConfigDbClient, DirectoryLocator, HttpError, PasswordLogin, PresetUrl, StaticToken } from "./configdb-client.js";

const CLUSTER = "0b6e6b1a-1111-4222-8333-444455556666";
const UNREGISTERED = "0b6e6b1a-9999-4222-8333-444455556666";
const APP = App.EdgeClusterStatus;

async function centre(t: { after(fn: () => Promise<void>): void }): Promise<EdgeSyncCentre> {
  const c = await startEdgeSyncCentre(CLUSTER);
  t.after(() => c.stop());
  return c;
}

const loginAs = (c: EdgeSyncCentre, password = c.account.password, now?: () => number) =>
  new PasswordLogin({ service: new PresetUrl(c.standin.urls.configdb), username: c.account.upn, password, now });

test("PATCH creates the entry, later PATCHes merge into it and leave the other field alone", async (t) => {
  const c = await centre(t);
  const db = new ConfigDbClient({ service: new PresetUrl(`${c.standin.urls.configdb}/`), auth: loginAs(c) });
  await db.patchEntry(APP, CLUSTER, { hosts: [] });
  await db.patchEntry(APP, CLUSTER, { kubeseal_cert: "PEM" });
  await db.patchEntry(APP, CLUSTER, { hosts: [{ hostname: "a" }] });
  assert.deepEqual(c.entry(), { hosts: [{ hostname: "a" }], kubeseal_cert: "PEM" });
  assert.deepEqual(await db.getEntry(APP, CLUSTER), { hosts: [{ hostname: "a" }], kubeseal_cert: "PEM" });
  assert.deepEqual(c.writes().map((w) => w.method), ["PATCH", "PATCH", "PATCH"], "never a wiping PUT");
});

test("a PATCH for an object the ConfigDB does not know fails with a message saying so", async (t) => {
  const c = await centre(t);
  const db = new ConfigDbClient({ service: new PresetUrl(c.standin.urls.configdb), auth: loginAs(c) });
  await assert.rejects(db.patchEntry(APP, UNREGISTERED, { hosts: [] }),
    (e: unknown) => e instanceof HttpError && e.status === 404 && /does not know object "0b6e6b1a-9999.*register the cluster object first/.test(e.message));
  assert.equal(await db.getEntry(APP, UNREGISTERED), undefined);
});

test("an unknown token is refused with 401, an account without the edge-sync grants with 403", async (t) => {
  const c = await centre(t);
  const wrong = new ConfigDbClient({ service: new PresetUrl(c.standin.urls.configdb), auth: new StaticToken({ token: "nope" }) });
  await assert.rejects(wrong.patchEntry(APP, CLUSTER, { hosts: [] }), (e: unknown) => e instanceof HttpError && e.status === 401);
  const other = addEdgeSyncAccount(c.standin, "op1monitor/site-a", { grants: false });
  const foreign = new ConfigDbClient({ service: new PresetUrl(c.standin.urls.configdb), auth: new StaticToken({ token: await c.issueToken(other) }) });
  await assert.rejects(foreign.patchEntry(APP, CLUSTER, { hosts: [] }), (e: unknown) => e instanceof HttpError && e.status === 403);
  assert.equal(c.entry(), undefined);
});

test("a token file is kept while accepted and read again after a 401, so a token rotated in the Secret volume takes effect without a restart", async (t) => {
  const c = await centre(t);
  const dir = mkdtempSync(join(tmpdir(), "graft-edge-sync-token-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const volume = new SecretVolume(dir);
  volume.write({ token: `${await c.issueToken()}\n` });
  const read: string[] = [];
  const db = new ConfigDbClient({ service: new PresetUrl(c.standin.urls.configdb), auth: new StaticToken({
    file: volume.file("token"), readFile: async (p) => { read.push(p); return readFileSync(p, "utf8"); },
  }) });
  await db.patchEntry(APP, CLUSTER, { hosts: [] });
  await db.patchEntry(APP, CLUSTER, { hosts: [] });
  assert.equal(read.length, 1, "read once while the token is accepted");
  // The centre rotates the token; the Secret volume follows.
  c.standin.revokeTokens("configdb");
  volume.write({ token: `${await c.issueToken()}\n` });
  await db.patchEntry(APP, CLUSTER, { kubeseal_cert: "PEM" });
  assert.equal(read.length, 2, "read again after the 401");
  assert.deepEqual(c.entry(), { hosts: [], kubeseal_cert: "PEM" });
  // A token the centre refuses and the file does not replace: the 401 reaches the caller.
  c.standin.revokeTokens("configdb");
  await assert.rejects(db.patchEntry(APP, CLUSTER, { hosts: [] }), /HTTP 401/);
});

test("a password file is read again when the login is refused, and the login retried with the new password at once", async (t) => {
  const c = await centre(t);
  const dir = mkdtempSync(join(tmpdir(), "graft-edge-sync-password-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const volume = new SecretVolume(dir);
  volume.write({ password: `${c.account.password}\n` });
  const login = new PasswordLogin({ service: new PresetUrl(c.standin.urls.configdb), username: c.account.upn, password: { file: volume.file("password") } });
  const db = new ConfigDbClient({ service: new PresetUrl(c.standin.urls.configdb), auth: login });
  await db.patchEntry(APP, CLUSTER, { hosts: [] });
  // krbkeys changes the password at the KDC first, the Secret afterwards; the kubelet updates the file later still.
  c.standin.addUser(c.account.username, "new-pw");
  c.standin.revokeTokens("configdb");
  await assert.rejects(db.patchEntry(APP, CLUSTER, { hosts: [] }), /HTTP 401: .*check the service username and password/);
  volume.write({ password: "new-pw\n" });
  await db.patchEntry(APP, CLUSTER, { kubeseal_cert: "PEM" });
  assert.equal(login.logins, 2);
  // Rotated again, and this time the file is already current when the token is refused: no error at all.
  c.standin.addUser(c.account.username, "newer-pw");
  volume.write({ password: "newer-pw\n" });
  c.standin.revokeTokens("configdb");
  await db.patchEntry(APP, CLUSTER, { hosts: [] });
  assert.equal(login.logins, 3);
  assert.deepEqual(c.entry(), { hosts: [], kubeseal_cert: "PEM" });
});

test("password login: one login reused, one re-login after a 401, a renewal before expiry, a clear error for bad credentials", async (t) => {
  const c = await centre(t);
  let skewMs = 0;
  const db = new ConfigDbClient({ service: new PresetUrl(c.standin.urls.configdb), auth: loginAs(c, undefined, () => Date.now() + skewMs) });
  await db.patchEntry(APP, CLUSTER, { hosts: [] });
  await db.patchEntry(APP, CLUSTER, { kubeseal_cert: "PEM" });
  assert.equal(c.standin.logins("configdb"), 1, "the token is reused");

  c.standin.revokeTokens("configdb");
  await db.patchEntry(APP, CLUSTER, { hosts: [{ hostname: "a" }] });
  assert.equal(c.standin.logins("configdb"), 2, "exactly one re-login after the 401");
  assert.equal(c.unauthorised(), 1);

  skewMs = 3_600_000 - 30_000; // 30 s before the stand-in's one-hour token expires: inside the renewal margin
  await db.patchEntry(APP, CLUSTER, { hosts: [] });
  assert.equal(c.standin.logins("configdb"), 3, "renewed before expiry");
  assert.equal(c.unauthorised(), 1, "the renewal needed no 401");

  const bad = new ConfigDbClient({ service: new PresetUrl(c.standin.urls.configdb), auth: loginAs(c, "wrong") });
  await assert.rejects(bad.patchEntry(APP, CLUSTER, { hosts: [] }), /logging in to .* as "op1sync\/site-a@GRAFT.TEST": HTTP 401.*check the service username and password/);
  assert.deepEqual(c.entry(), { hosts: [], kubeseal_cert: "PEM" });
});

test("the ConfigDB URL is found through the Directory, with a login at the Directory and another at the ConfigDB", async (t) => {
  const c = await centre(t);
  const { urls } = c.standin;
  const directoryAuth = new PasswordLogin({ service: new PresetUrl(urls.directory), username: c.account.upn, password: c.account.password });
  const locator = new DirectoryLocator({ directoryUrl: urls.directory, service: Service.ConfigDB, auth: directoryAuth });
  const db = new ConfigDbClient({ service: locator, auth: new PasswordLogin({ service: locator, username: c.account.upn, password: c.account.password }) });
  await db.patchEntry(APP, CLUSTER, { hosts: [] });
  assert.deepEqual(c.entry(), { hosts: [] });
  assert.equal(c.standin.logins("directory"), 1);
  assert.equal(c.standin.logins("configdb"), 1);

  const unknown = new DirectoryLocator({ directoryUrl: urls.directory, service: Service.MQTT, auth: directoryAuth });
  await assert.rejects(unknown.url(), new RegExp(`knows no URL for service "${Service.MQTT.slice(0, 8)}`));
});

test("an unreachable centre is reported with its URL and the network cause", async () => {
  const port = await freePort();
  const db = new ConfigDbClient({ service: new PresetUrl(`http://127.0.0.1:${port}`), auth: new StaticToken({ token: "tok" }) });
  await assert.rejects(db.patchEntry(APP, CLUSTER, { hosts: [] }), new RegExp(`cannot reach "http://127.0.0.1:${port}/v2/app/.*": ECONNREFUSED`));
});
