import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { startKdc } from "../../e2e/harness/kdc.js";
import { KadminClient } from "./kadmin.js";
import { parseKeytab, withPrivateDir, writeKeytabFile } from "./keytab.js";

test("parseKeytab lists the same principals, kvnos and enctypes as klist -k", async (t) => {
  const kdc = await startKdc();
  t.after(() => kdc.stop());
  const admin = new KadminClient({ realm: kdc.realm, auth: { principal: kdc.adminPrincipal, password: kdc.adminPassword }, env: kdc.env });
  await admin.addPrincipalRandkey("svc/a");
  await admin.addPrincipalRandkey("host/b.example");
  await withPrivateDir(async (dir) => {
    const kt = join(dir, "kt");
    await admin.ktadd("svc/a", kt);
    await admin.ktadd("host/b.example", kt);
    await admin.ktadd("svc/a", kt); // appended again with kvno 3
    const klist = spawnSync("klist", ["-k", "-e", kt], { env: { ...process.env, ...kdc.env, LC_ALL: "C" }, encoding: "utf8" });
    assert.equal(klist.status, 0, klist.stderr);
    const fromKlist = [...klist.stdout.matchAll(/^\s*(\d+) (\S+) \((\S+)\)/gm)].map((m) => `${m[1]} ${m[2]}`).sort();
    const parsed = parseKeytab(readFileSync(kt)).map((e) => `${e.kvno} ${e.principal}`).sort();
    assert.ok(parsed.length >= 6);
    assert.deepEqual(parsed, fromKlist);
    assert.ok(parseKeytab(readFileSync(kt)).every((e) => [17, 18].includes(e.enctype)));
  });
});

test("parseKeytab refuses bytes that are not a keytab", () => {
  assert.throws(() => parseKeytab(Buffer.from("hello")), /not a keytab/);
  assert.throws(() => parseKeytab(Buffer.from([0x05, 0x02, 0, 0, 0, 50, 1])), /runs past the end/);
  assert.deepEqual(parseKeytab(Buffer.from([0x05, 0x02])), []);
});

test("withPrivateDir gives a 0700 dir, keytab files are 0600, and everything goes afterwards", async () => {
  let seen = "";
  await assert.rejects(withPrivateDir(async (dir) => {
    seen = dir;
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const f = await writeKeytabFile(dir, Buffer.from([0x05, 0x02]));
    assert.equal(statSync(f).mode & 0o777, 0o600);
    throw new Error("boom");
  }), /boom/);
  assert.notEqual(seen, "");
  assert.equal(existsSync(seen), false);
});
