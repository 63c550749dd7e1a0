import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startKdc, type Kdc } from "../../e2e/harness/kdc.js";
import { KdcUnreachableError } from "./errors.js";
import { KadminClient } from "./kadmin.js";
import { verifyKeytab, verifyPassword } from "./verify.js";

describe("verifyKeytab and verifyPassword against a real KDC", () => {
  let kdc: Kdc;
  let admin: KadminClient;
  let dir: string;
  let keytab: string;
  const p = (name: string) => `${name}@${kdc.realm}`;

  before(async () => {
    kdc = await startKdc();
    admin = new KadminClient({ realm: kdc.realm, auth: { principal: kdc.adminPrincipal, password: kdc.adminPassword }, env: kdc.env });
    await admin.addPrincipalRandkey("svc/kt");
    await admin.addPrincipalWithPassword("svc/pw", "right-Pass-1");
    dir = mkdtempSync(join(tmpdir(), "graft-verify-test-"));
    keytab = join(dir, "svc.kt");
    await admin.ktadd("svc/kt", keytab);
  });
  after(async () => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    await kdc?.stop();
  });

  test("the current keytab and password are valid", async () => {
    assert.deepEqual(await verifyKeytab(keytab, p("svc/kt"), kdc.env), { valid: true });
    assert.deepEqual(await verifyPassword(p("svc/pw"), "right-Pass-1", kdc.env), { valid: true });
  });

  test("a wrong password is invalid, with the KDC's reason", async () => {
    const r = await verifyPassword(p("svc/pw"), "wrong-Pass-1", kdc.env);
    assert.equal(r.valid, false);
    assert.match(!r.valid ? r.reason : "", /Password incorrect|Preauthentication failed/);
  });

  test("an empty password is invalid without asking the KDC", async () => {
    assert.equal((await verifyPassword(p("svc/pw"), "", kdc.env)).valid, false);
  });

  test("a keytab whose key was rotated since is invalid", async () => {
    const stale = join(dir, "stale.kt");
    await admin.addPrincipalRandkey("svc/rotated");
    await admin.ktadd("svc/rotated", stale);
    assert.equal((await verifyKeytab(stale, p("svc/rotated"), kdc.env)).valid, true);
    await admin.randkey("svc/rotated");
    assert.equal((await verifyKeytab(stale, p("svc/rotated"), kdc.env)).valid, false);
  });

  test("a keytab for another principal, a missing file and garbage are invalid", async () => {
    assert.equal((await verifyKeytab(keytab, p("svc/pw"), kdc.env)).valid, false);
    assert.equal((await verifyKeytab(join(dir, "absent.kt"), p("svc/kt"), kdc.env)).valid, false);
    const junk = join(dir, "junk.kt");
    writeFileSync(junk, "not a keytab");
    assert.equal((await verifyKeytab(junk, p("svc/kt"), kdc.env)).valid, false);
  });

  test("a deleted or disabled principal is invalid", async () => {
    await admin.addPrincipalWithPassword("svc/off", "off-Pass-1");
    await admin.disable("svc/off");
    assert.equal((await verifyPassword(p("svc/off"), "off-Pass-1", kdc.env)).valid, false);
    await admin.deletePrincipal("svc/off");
    assert.equal((await verifyPassword(p("svc/off"), "off-Pass-1", kdc.env)).valid, false);
  });

  test("an unreachable KDC throws KdcUnreachableError instead of calling the credential invalid", async () => {
    await kdc.stopServers();
    try {
      await assert.rejects(verifyKeytab(keytab, p("svc/kt"), kdc.env), KdcUnreachableError);
      await assert.rejects(verifyPassword(p("svc/pw"), "right-Pass-1", kdc.env), KdcUnreachableError);
    } finally {
      await kdc.startServers();
    }
    assert.equal((await verifyKeytab(keytab, p("svc/kt"), kdc.env)).valid, true);
  });

  test("a principal without a realm is refused", async () => {
    await assert.rejects(verifyPassword("svc/pw", "x", kdc.env), /must include its realm/);
  });
});
