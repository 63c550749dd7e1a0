import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startKdc, type Kdc } from "../../e2e/harness/kdc.js";
import {
  AlreadyExistsError, AuthFailedError, KdcUnreachableError, NotFoundError, PermissionDeniedError,
} from "./errors.js";
import { KadminClient } from "./kadmin.js";
import { parseKeytab, withPrivateDir } from "./keytab.js";

/** kinit run directly (not through graft's code), as an independent witness. */
function kinit(kdc: Kdc, args: string[], input = ""): number | null {
  return spawnSync("kinit", ["-c", "MEMORY:kadmin-test", ...args], { env: { ...process.env, ...kdc.env }, input, encoding: "utf8" }).status;
}

describe("KadminClient against a real kadmind", () => {
  let kdc: Kdc;
  let admin: KadminClient;
  before(async () => {
    kdc = await startKdc();
    admin = new KadminClient({ realm: kdc.realm, auth: { principal: kdc.adminPrincipal, password: kdc.adminPassword }, env: kdc.env });
  });
  after(async () => { await kdc?.stop(); });

  test("checkAccess lists the admin's privileges", async () => {
    const privs = await admin.checkAccess();
    for (const p of ["ADD", "MODIFY", "DELETE"]) assert.ok(privs.includes(p), `missing ${p} in ${privs.join(" ")}`);
  });

  test("getPrincipal is null for a missing principal", async () => {
    assert.equal(await admin.getPrincipal("nobody/here"), null);
  });

  test("addPrincipalRandkey, randkey and ktadd move the kvno as kadmin.local sees it", async () => {
    await admin.addPrincipalRandkey("svc/rand");
    const info = await admin.getPrincipal("svc/rand");
    assert.deepEqual({ principal: info?.principal, kvno: info?.kvno, enabled: info?.enabled }, { principal: `svc/rand@${kdc.realm}`, kvno: 1, enabled: true });
    await admin.randkey("svc/rand");
    assert.equal(await kdc.kvno("svc/rand"), 2);
    await withPrivateDir(async (dir) => {
      const keytab = join(dir, "kt");
      const kvno = await admin.ktadd("svc/rand", keytab);
      assert.equal(kvno, 3);
      assert.equal(await kdc.kvno("svc/rand"), 3);
      const entries = parseKeytab(readFileSync(keytab));
      assert.ok(entries.length > 0);
      assert.ok(entries.every((e) => e.principal === `svc/rand@${kdc.realm}` && e.kvno === 3));
      assert.equal(kinit(kdc, ["-k", "-t", keytab, `svc/rand@${kdc.realm}`]), 0);
    });
  });

  test("passwords set with addPrincipalWithPassword and changePassword are the ones the KDC accepts", async () => {
    const p = `svc/pw@${kdc.realm}`;
    await admin.addPrincipalWithPassword("svc/pw", "first-Pass-1");
    assert.equal(kinit(kdc, [p], "first-Pass-1\n"), 0);
    await admin.changePassword("svc/pw", "second-Pass-2");
    assert.equal(kinit(kdc, [p], "second-Pass-2\n"), 0);
    assert.notEqual(kinit(kdc, [p], "first-Pass-1\n"), 0);
    assert.equal((await admin.getPrincipal(p))?.kvno, 2);
  });

  test("disable and enable toggle whether the KDC issues tickets", async () => {
    await admin.addPrincipalWithPassword("svc/toggle", "toggle-Pass-1");
    await admin.disable("svc/toggle");
    assert.equal((await admin.getPrincipal("svc/toggle"))?.enabled, false);
    assert.notEqual(kinit(kdc, [`svc/toggle@${kdc.realm}`], "toggle-Pass-1\n"), 0);
    await admin.enable("svc/toggle");
    assert.equal((await admin.getPrincipal("svc/toggle"))?.enabled, true);
    assert.equal(kinit(kdc, [`svc/toggle@${kdc.realm}`], "toggle-Pass-1\n"), 0);
  });

  test("deletePrincipal removes it; operations on missing principals raise NotFoundError", async () => {
    await admin.addPrincipalRandkey("svc/gone");
    await admin.deletePrincipal("svc/gone");
    assert.equal(await kdc.kvno("svc/gone"), null);
    await assert.rejects(admin.deletePrincipal("svc/gone"), NotFoundError);
    await assert.rejects(admin.changePassword("svc/gone", "x-Pass-1"), NotFoundError);
    await assert.rejects(admin.randkey("svc/gone"), NotFoundError);
    await assert.rejects(admin.enable("svc/gone"), NotFoundError);
    await withPrivateDir(async (dir) => {
      await assert.rejects(admin.ktadd("svc/gone", join(dir, "kt")), NotFoundError);
    });
  });

  test("adding an existing principal raises AlreadyExistsError", async () => {
    await admin.addPrincipalRandkey("svc/twice");
    await assert.rejects(admin.addPrincipalRandkey("svc/twice"), AlreadyExistsError);
  });

  test("ktadd -norandkey without the extract-keys privilege raises PermissionDeniedError and keeps the key", async () => {
    await admin.addPrincipalRandkey("svc/keep");
    await withPrivateDir(async (dir) => {
      await assert.rejects(admin.ktadd("svc/keep", join(dir, "kt"), { norandkey: true }), (err) => {
        assert.ok(err instanceof PermissionDeniedError);
        assert.match(err.message, /"extract-keys" privilege/);
        return true;
      });
    });
    assert.equal(await kdc.kvno("svc/keep"), 1);
  });

  test("a wrong admin password raises AuthFailedError and changes nothing", async () => {
    const wrong = new KadminClient({ realm: kdc.realm, auth: { principal: kdc.adminPrincipal, password: "not-the-password" }, env: kdc.env });
    await assert.rejects(wrong.addPrincipalRandkey("svc/never"), (err) => {
      assert.ok(err instanceof AuthFailedError);
      assert.match(err.message, /admin credentials were rejected/);
      assert.doesNotMatch(err.message + err.detail, /not-the-password/);
      return true;
    });
    assert.equal(await kdc.kvno("svc/never"), null);
  });

  test("an unknown admin principal raises AuthFailedError", async () => {
    const unknown = new KadminClient({ realm: kdc.realm, auth: { principal: "ghost/admin", password: "x" }, env: kdc.env });
    await assert.rejects(unknown.checkAccess(), AuthFailedError);
  });

  test("a principal outside the ACL raises PermissionDeniedError", async () => {
    await kdc.kadminLocal("addprinc -pw plain-Pass-1 plainuser");
    const plain = new KadminClient({ realm: kdc.realm, auth: { principal: "plainuser", password: "plain-Pass-1" }, env: kdc.env });
    await assert.rejects(plain.addPrincipalRandkey("svc/denied"), PermissionDeniedError);
    assert.equal(await kdc.kvno("svc/denied"), null);
  });

  test("an admin can authenticate with a keytab", async () => {
    await admin.addPrincipalRandkey("robot/admin");
    await withPrivateDir(async (dir) => {
      const keytab = join(dir, "admin.kt");
      await admin.ktadd("robot/admin", keytab);
      const robot = new KadminClient({ realm: kdc.realm, auth: { principal: "robot/admin", keytab }, env: kdc.env });
      await robot.addPrincipalRandkey("svc/by-robot");
      assert.equal(await kdc.kvno("svc/by-robot"), 1);
    });
  });

  test("names that could smuggle words into a query are refused before kadmin runs", async () => {
    for (const bad of ["a b", "x\"y", "-randkey", "svc/ok -pw", "a\\b", "svc/x@OTHER.REALM", "svc//x", ""]) {
      await assert.rejects(admin.getPrincipal(bad), /invalid Kerberos principal|not in realm/, bad);
    }
    await assert.rejects(admin.addPrincipalWithPassword("svc/nl", "a\nb"), /line breaks/);
    await assert.rejects(admin.ktadd("svc/rand", "relative/kt"), /must be absolute/);
    await assert.rejects(admin.ktadd("svc/rand", "/tmp/a b"), /cannot be passed to kadmin/);
    assert.equal(await kdc.kvno("svc/nl"), null);
  });

  test("a stopped KDC raises KdcUnreachableError; a stopped kadmind too", async () => {
    try {
      await kdc.stopServers("kadmind");
      await assert.rejects(admin.getPrincipal("svc/rand"), KdcUnreachableError);
      await kdc.stopServers();
      await assert.rejects(admin.addPrincipalRandkey("svc/offline"), (err) => {
        assert.ok(err instanceof KdcUnreachableError);
        assert.match(err.message, /cannot be reached/);
        return true;
      });
    } finally {
      await kdc.startServers();
    }
    assert.equal(await kdc.kvno("svc/offline"), null);
  });
});

describe("KadminClient with the extract-keys privilege", () => {
  let kdc: Kdc;
  before(async () => { kdc = await startKdc({ extractKeys: true }); });
  after(async () => { await kdc?.stop(); });

  test("ktadd -norandkey writes the current keys without a new kvno", async () => {
    const admin = new KadminClient({ realm: kdc.realm, auth: { principal: kdc.adminPrincipal, password: kdc.adminPassword }, env: kdc.env });
    await admin.addPrincipalRandkey("svc/extract");
    await withPrivateDir(async (dir) => {
      const keytab = join(dir, "kt");
      assert.equal(await admin.ktadd("svc/extract", keytab, { norandkey: true }), 1);
      assert.equal(await kdc.kvno("svc/extract"), 1);
      assert.equal(kinit(kdc, ["-k", "-t", keytab, `svc/extract@${kdc.realm}`]), 0);
    });
  });
});
