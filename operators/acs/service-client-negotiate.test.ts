// The Negotiate login (acs-contract.md §3) against a real MIT KDC and the stand-in holding a real service keytab:
// a keytab account gets a token and is the same ACS principal a Basic login would be; a refused token is replaced by
// a new login; a missing, foreign or stale keytab fails with an error naming the principal; a ticket the service's
// keytab cannot verify is a 401.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAcsStandin, type AcsStandin } from "../../e2e/acs-standin/standin.js";
import { AcsPerm } from "../../e2e/acs-standin/acs-uuids.js";
import { startKdc, type Kdc } from "../../e2e/harness/kdc.js";
import { App, Class } from "../api/constants.js";
import { ServiceClient } from "./service-client.js";

let kdc: Kdc;
let standin: AcsStandin;
let dir: string;
let principal: string;
let keytab: string;

/** A principal with a random key, its keytab extracted with kadmin.local. */
async function keytabPrincipal(name: string): Promise<{ principal: string; keytab: string }> {
  const full = `${name}@${kdc.realm}`;
  await kdc.kadminLocal(`addprinc -randkey ${full}`);
  const file = join(dir, `${name.replace(/\//g, "_")}.keytab`);
  await kdc.kadminLocal(`ktadd -norandkey -k ${file} ${full}`);
  return { principal: full, keytab: file };
}

/** An ACS account for a Kerberos name, allowed to list General information (the stand-in enforces ACS's ACLs). */
function account(upn: string): string {
  const uuid = randomUUID();
  standin.configdb.register(uuid, Class.EdgeAccount);
  standin.auth.setKerberos(uuid, upn);
  standin.auth.addGrant({ principal: uuid, permission: AcsPerm.ReadConfig, target: App.GeneralInfo, plural: false });
  return uuid;
}

const client = (creds: { principal: string; keytabFile: string }, baseUrl = standin.urls.configdb) =>
  new ServiceClient({ service: "configdb", baseUrl, credentials: { ...creds, env: kdc.env } });
const list = (http: ServiceClient) => http.request({ method: "GET", path: `v2/app/${App.GeneralInfo}/object` });

before(async () => {
  kdc = await startKdc();
  standin = await startAcsStandin({ kdc });
  dir = mkdtempSync(join(tmpdir(), "graft-negotiate-"));
  ({ principal, keytab } = await keytabPrincipal("op1krbkeys/line-a"));
  account(principal);
});
after(async () => {
  await standin?.stop();
  await kdc?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("the stand-in holds a keytab for HTTP/<its host> made in the KDC", async () => {
  assert.equal(standin.negotiatePrincipal, `HTTP/127.0.0.1@${kdc.realm}`);
  assert.notEqual(await kdc.kvno(`HTTP/127.0.0.1@${kdc.realm}`), null);
});

test("a keytab account logs in with Negotiate and acts as the ACS principal its Kerberos name maps to", async () => {
  const http = client({ principal, keytabFile: keytab });
  const before = standin.logins("configdb");
  assert.equal((await list(http)).status, 200);
  assert.equal(standin.logins("configdb"), before + 1);
  const token = standin.requests.filter((r) => r.service === "configdb" && r.path === "/token").at(-1);
  assert.deepEqual({ upn: token?.upn, status: token?.status }, { upn: principal, status: 200 });
  const listed = standin.requests.at(-1);
  assert.deepEqual({ path: listed?.path, upn: listed?.upn, status: listed?.status }, { path: `/v2/app/${App.GeneralInfo}/object`, upn: principal, status: 200 });
});

test("a token the service stops accepting is replaced by a new Negotiate login, once", async () => {
  const http = client({ principal, keytabFile: keytab });
  assert.equal((await list(http)).status, 200);
  const logins = standin.logins("configdb");
  standin.revokeTokens("configdb");
  assert.equal((await list(http)).status, 200);
  assert.equal(standin.logins("configdb"), logins + 1);
});

test("a missing keytab fails before any request, naming the file and the principal", async () => {
  const sent = standin.requests.length;
  await assert.rejects(list(client({ principal, keytabFile: join(dir, "absent.keytab") })),
    (err: Error) => err.name === "AcsLoginError" && err.message.includes(`"${principal}"`) && /absent\.keytab.*ENOENT/.test(err.message));
  assert.equal(standin.requests.length, sent);
});

test("a keytab of another principal fails, naming the principal asked for", async () => {
  const other = await keytabPrincipal("op1other/line-a");
  await assert.rejects(list(client({ principal, keytabFile: other.keytab })),
    (err: Error) => err.name === "AcsLoginError" && err.message.includes(`as "${principal}"`) && err.message.includes(other.keytab));
});

test("a stale keytab (the principal re-keyed at the KDC) fails, naming the principal", async () => {
  const stale = await keytabPrincipal("op1stale/line-a");
  account(stale.principal);
  assert.equal((await list(client({ principal: stale.principal, keytabFile: stale.keytab }))).status, 200);
  await kdc.kadminLocal(`cpw -randkey ${stale.principal}`);
  await assert.rejects(list(client({ principal: stale.principal, keytabFile: stale.keytab })),
    (err: Error) => err.name === "AcsLoginError" && err.message.includes(`as "${stale.principal}"`));
});

test("a ticket for another service is refused with 401, and the client's one retry with new tickets too", async () => {
  // HTTP/localhost exists in the KDC, but the stand-in holds only HTTP/127.0.0.1's key.
  await kdc.kadminLocal(`addprinc -randkey HTTP/localhost@${kdc.realm}`);
  const refusals = standin.negotiateRefusals.length;
  const elsewhere = standin.urls.configdb.replace("127.0.0.1", "localhost");
  await assert.rejects(list(client({ principal, keytabFile: keytab }, elsewhere)),
    (err: Error) => err.name === "AcsHttpError" && /status 401/.test(err.message) && err.message.includes(principal));
  assert.equal(standin.negotiateRefusals.length, refusals + 2);
});

test("a Negotiate header that is not a GSSAPI token gets 401", async () => {
  const refusals = standin.negotiateRefusals.length;
  const res = await fetch(new URL("token", `${standin.urls.configdb}/`), { method: "POST", headers: { authorization: "Negotiate AAAA" } });
  assert.equal(res.status, 401);
  assert.equal(standin.negotiateRefusals.length, refusals + 1);
});
