import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { App, Class, Perm } from "../../operators/api/constants.js";
import { startKdc, type Kdc } from "../harness/kdc.js";
import { startAcsStandin, type AcsStandin } from "./standin.js";

/**
 * The stand-in with a real MIT KDC: Basic passwords of principals created with kadmin are checked with kinit, the
 * Kerberos identity in Auth maps them to their ACS principal (whoami, Git grants), and a KDC outage is a 503.
 */

let kdc: Kdc;
let standin: AcsStandin;
let work: string;

before(async () => {
  kdc = await startKdc();
  standin = await startAcsStandin({ kdc: { realm: kdc.realm, env: kdc.env } });
  work = await mkdtemp(path.join(tmpdir(), "graft-standin-kdc-"));
});

after(async () => {
  await standin?.stop();
  await kdc?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
}

/** A principal with a password, created in the KDC (as enrolment does with kadmin). */
async function kdcPrincipal(name: string): Promise<{ upn: string; password: string }> {
  const upn = `${name}@${kdc.realm}`;
  const password = randomBytes(12).toString("hex");
  await kdc.kadminLocal(`addprinc -pw ${password} ${upn}`);
  return { upn, password };
}

const tokenStatus = async (authorization: string) =>
  (await fetch(`${standin.urls.configdb}/token`, { method: "POST", headers: { authorization } })).status;

describe("Basic passwords checked by the real KDC", () => {
  test("the stand-in takes the KDC's realm; other realms are refused when both are given", async () => {
    assert.equal(standin.realm, kdc.realm);
    await assert.rejects(startAcsStandin({ realm: "OTHER.TEST", kdc: { realm: kdc.realm, env: kdc.env } }), /differs from the KDC realm/);
  });

  test("a principal's KDC password gets a token, with or without the realm; wrong or unknown ones get 401", async () => {
    const sync = await kdcPrincipal("op1sync/line-k");
    assert.equal(await tokenStatus(basic(sync.upn, sync.password)), 200);
    assert.equal(await tokenStatus(basic("op1sync/line-k", sync.password)), 200, "the realm is appended to a bare name");
    assert.equal(await tokenStatus(basic(sync.upn, `${sync.password}x`)), 401);
    assert.equal(await tokenStatus(basic(`nobody/line-k@${kdc.realm}`, sync.password)), 401);
    assert.equal(await tokenStatus(basic("op1sync/line-k@ELSEWHERE.TEST", sync.password)), 401, "another realm is never asked");
    assert.equal(await tokenStatus(basic("bad name", sync.password)), 401);

    await kdc.kadminLocal(`cpw -pw ${sync.password}2 ${sync.upn}`);
    assert.equal(await tokenStatus(basic(sync.upn, sync.password)), 401, "a changed password is seen at once");
    assert.equal(await tokenStatus(basic(sync.upn, `${sync.password}2`)), 200);
  });

  test("the stand-in's own users stay in its store: a KDC principal of the same name does not override them", async () => {
    const own = standin.addUser("sv1local", "local-pw");
    await kdc.kadminLocal(`addprinc -pw kdc-pw ${own.upn}`);
    assert.equal(await tokenStatus(basic("sv1local", "local-pw")), 200);
    assert.equal(await tokenStatus(basic("sv1local", "kdc-pw")), 401);
  });

  test("whoami names the ACS principal that the Kerberos identity maps the KDC principal to", async () => {
    const flux = await kdcPrincipal("op1flux/line-w");
    const auth = (p: string, init: RequestInit = {}) => fetch(`${standin.urls.auth}${p}`, {
      ...init, headers: { authorization: basic(flux.upn, flux.password), ...init.headers },
    });
    assert.equal((await auth("/v2/whoami")).status, 404, "authenticated, but no ACS principal yet");

    const account = randomUUID();
    const put = await fetch(`${standin.urls.auth}/v2/principal/${account}/kerberos`, {
      method: "PUT",
      headers: { authorization: basic(standin.adminUser.username, standin.adminUser.password), "content-type": "application/json" },
      body: JSON.stringify(flux.upn),
    });
    assert.equal(put.status, 204);
    assert.deepEqual(await (await auth("/v2/whoami")).json(), { kerberos: flux.upn, uuid: account });
  });

  test("a KDC outage is a 503, not a wrong password; tokens, local users and the KDC's return keep working", async () => {
    const sync = await kdcPrincipal("op1sync/line-o");
    const res = await fetch(`${standin.urls.configdb}/token`, { method: "POST", headers: { authorization: basic(sync.upn, sync.password) } });
    const { token } = (await res.json()) as { token: string };

    await kdc.stopServers("kdc");
    try {
      const down = await fetch(`${standin.urls.configdb}/token`, { method: "POST", headers: { authorization: basic(sync.upn, sync.password) } });
      assert.equal(down.status, 503);
      assert.match(await down.text(), /the KDC cannot be reached/);
      const list = await fetch(`${standin.urls.configdb}/v2/app/${App.GeneralInfo}/object`, { headers: { authorization: `Bearer ${token}` } });
      // Authenticated without the KDC (not 401/503); refused only because this principal holds no grant.
      assert.equal(list.status, 403, "a token issued before the outage needs no KDC");
      assert.equal(await tokenStatus(basic(standin.adminUser.username, standin.adminUser.password)), 200);
    } finally {
      await kdc.startServers();
    }
    assert.equal(await tokenStatus(basic(sync.upn, sync.password)), 200);
  });
});

describe("git with KDC credentials", () => {
  function git(args: string[], username: string, password: string): Promise<{ code: number; stderr: string }> {
    const env = { PATH: process.env.PATH, HOME: work, GIT_CONFIG_NOSYSTEM: "1", GIT_CONFIG_GLOBAL: path.join(work, "gitconfig"), GIT_TERMINAL_PROMPT: "0" };
    const auth = `http.extraHeader=Authorization: ${basic(username, password)}`;
    return new Promise((resolve) => {
      execFile("git", ["-c", auth, ...args], { env, cwd: work }, (err, _out, stderr) => {
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stderr });
      });
    });
  }

  test("flux's principal (full name, as in flux-secrets) pulls once its identity maps to an account with Git Pull", async () => {
    await writeFile(path.join(work, "gitconfig"), "");
    const repo = randomUUID();
    standin.configdb.register(repo, Class.EdgeCluster);
    standin.configdb.put(App.GitRepoConfig, repo, { path: "cluster/line-g" });
    const url = `${standin.urls.git}/uuid/${repo}`;
    const flux = await kdcPrincipal("op1flux/line-g");

    const unmapped = await git(["ls-remote", url], flux.upn, flux.password);
    assert.notEqual(unmapped.code, 0);
    assert.match(unmapped.stderr, /403/);

    const account = randomUUID();
    standin.configdb.register(account, Class.EdgeAccount);
    assert.equal(standin.auth.setKerberos(account, flux.upn), 204);
    standin.auth.addGrant({ principal: account, permission: Perm.GitPull, target: repo, plural: false });
    const pulled = await git(["ls-remote", url], flux.upn, flux.password);
    assert.equal(pulled.code, 0, pulled.stderr);

    const wrong = await git(["ls-remote", url], flux.upn, "not-the-password");
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /could not read Username|Authentication failed/, "a 401: git asks for other credentials");
  });
});
