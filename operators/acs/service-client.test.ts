import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { App } from "../api/constants.js";
import { freePort } from "../../e2e/harness/ports.js";
import { startAcsStandin } from "../../e2e/acs-standin/standin.js";
import { AcsConnection } from "./discovery.js";
import { AcsHttpError, AcsUnavailableError, isTransientAcsError } from "./errors.js";
import { ServiceClient } from "./service-client.js";
import { startStandinFixture, type StandinFixture } from "../../e2e/acs-standin/client-fixture.js";

let fx: StandinFixture;

before(async () => {
  fx = await startStandinFixture();
});

after(async () => {
  await fx?.standin.stop();
});

function adminClient(service: "configdb" | "auth", extra: Partial<ConstructorParameters<typeof ServiceClient>[0]> = {}) {
  const { username, password } = fx.standin.adminUser;
  return new ServiceClient({ service, baseUrl: fx.standin.urls[service], credentials: { username, password }, ...extra });
}

const listApps = (client: ServiceClient) =>
  client.request({ method: "GET", path: `v2/app/${App.EdgeClusterConfiguration}/object` });

test("logs in once with Basic, then sends the Bearer token on every request", async () => {
  const client = adminClient("configdb");
  const before = fx.standin.logins("configdb");
  assert.equal((await listApps(client)).status, 200);
  assert.equal((await listApps(client)).status, 200);
  assert.equal(fx.standin.logins("configdb") - before, 1);
});

test("on 401 the client logs in again once and retries the request", async () => {
  const client = adminClient("configdb");
  await listApps(client);
  const before = fx.standin.logins("configdb");
  fx.standin.revokeTokens("configdb");
  const res = await listApps(client);
  assert.equal(res.status, 200);
  assert.equal(fx.standin.logins("configdb") - before, 1);
});

test("a request still refused after the one re-login fails with AcsHttpError 401", async (t) => {
  // Tokens that are expired the moment they are issued: every Bearer request is refused.
  const standin = await startAcsStandin({ tokenLifetimeMs: 0 });
  t.after(() => standin.stop());
  const { username, password } = standin.adminUser;
  const client = new ServiceClient({ service: "configdb", baseUrl: standin.urls.configdb, credentials: { username, password } });
  const err = await listApps(client).then(() => null, (e: unknown) => e);
  assert.ok(err instanceof AcsHttpError, String(err));
  assert.equal(err.status, 401);
  assert.equal(err.path, `/v2/app/${App.EdgeClusterConfiguration}/object`);
  assert.equal(standin.logins("configdb"), 2, "the first login plus exactly one re-login");
  assert.equal(err.message.includes(password), false);
});

test("wrong credentials fail the login with AcsHttpError 401 on /token, without the password in the message", async () => {
  const client = new ServiceClient({
    service: "configdb", baseUrl: fx.standin.urls.configdb, credentials: { username: "admin", password: "not-the-password" },
  });
  const err = await listApps(client).then(() => null, (e: unknown) => e);
  assert.ok(err instanceof AcsHttpError);
  assert.equal(err.status, 401);
  assert.equal(err.path, "/token");
  assert.equal(err.message.includes("not-the-password"), false);
  assert.equal(isTransientAcsError(err), false);
});

test("a token is valid only at the service that issued it", async () => {
  const configdb = adminClient("configdb");
  const token = await configdb.token();
  const res = await fetch(`${fx.standin.urls.auth}/v2/whoami`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 401);
  assert.equal(res.headers.get("www-authenticate"), 'Basic realm="Factory+"');
});

test("the token is refreshed ahead of its expiry, without waiting for a 401", async () => {
  let now = Date.now();
  const client = adminClient("configdb", { now: () => now, refreshAheadMs: 5 * 60_000 });
  await listApps(client);
  const before = fx.standin.logins("configdb");
  now += 30 * 60_000;
  await listApps(client);
  assert.equal(fx.standin.logins("configdb"), before, "half-way through the token's hour: no new login");
  now += 26 * 60_000;
  await listApps(client);
  assert.equal(fx.standin.logins("configdb") - before, 1, "within five minutes of expiry: a new login");
});

test("services without a preset URL are found through the Directory", async () => {
  const { username, password } = fx.standin.adminUser;
  const acs = new AcsConnection({ credentials: { username, password }, urls: { directory: fx.standin.urls.directory } });
  assert.equal(await acs.resolveUrl("configdb"), fx.standin.urls.configdb);
  assert.equal(await acs.resolveUrl("git"), fx.standin.urls.git);
  const res = await listApps(acs.service("configdb"));
  assert.equal(res.status, 200);
  await assert.rejects(acs.resolveUrl("mqtt"), (e: unknown) => e instanceof AcsUnavailableError && /no provider/.test(e.message));
});

test("a service with neither a preset nor a Directory is reported with the variables to set", async () => {
  const acs = new AcsConnection({ credentials: { username: "u", password: "p" } });
  await assert.rejects(listApps(acs.service("configdb")),
    (e: unknown) => e instanceof AcsUnavailableError && /CONFIGDB_URL or DIRECTORY_URL/.test(e.message));
});

test("an unreachable service gives AcsUnavailableError, a transient error", async () => {
  const port = await freePort();
  const client = new ServiceClient({ service: "configdb", baseUrl: `http://127.0.0.1:${port}`, credentials: { username: "u", password: "p" } });
  const err = await listApps(client).then(() => null, (e: unknown) => e);
  assert.ok(err instanceof AcsUnavailableError, String(err));
  assert.equal(isTransientAcsError(err), true);
});
