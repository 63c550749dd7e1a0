// Keytab byte handling against keytabs MIT kadmin.local wrote, checked with MIT kinit.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startKdc, type Kdc } from "../../e2e/harness/kdc.js";
import { parseKeytab } from "../kerberos/keytab.js";
import { joinKeytab, keepNewestVersions, mergeKeytabs, principalsIn, splitKeytab } from "./keytab-bytes.js";
import { kinitWithKeytab } from "../../e2e/support/krbkeys/fixture.js";

let kdc: Kdc;
let dir: string;
let older: Buffer; // svc kvno 2 and 3, in one file
let newer: Buffer; // svc kvno 4 and other kvno 2
let svc: string;
let other: string;

before(async () => {
  kdc = await startKdc();
  dir = mkdtempSync(join(tmpdir(), "graft-ktbytes-"));
  [svc, other] = [`svc/a@${kdc.realm}`, `other/a@${kdc.realm}`];
  await kdc.kadminLocal(`addprinc -randkey ${svc}`);
  await kdc.kadminLocal(`addprinc -randkey ${other}`);
  await kdc.kadminLocal(`ktadd -k ${join(dir, "older")} ${svc}`);
  await kdc.kadminLocal(`ktadd -k ${join(dir, "older")} ${svc}`);
  await kdc.kadminLocal(`ktadd -k ${join(dir, "newer")} ${svc}`);
  await kdc.kadminLocal(`ktadd -k ${join(dir, "newer")} ${other}`);
  older = readFileSync(join(dir, "older"));
  newer = readFileSync(join(dir, "newer"));
});
after(async () => {
  await kdc?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const kvnos = (kt: Buffer, p: string) => [...new Set(parseKeytab(kt).filter((e) => e.principal === p).map((e) => e.kvno))].sort();

test("split and join give back the same bytes, entry for entry", () => {
  const entries = splitKeytab(older);
  assert.deepEqual(entries.map((e) => e.entry), parseKeytab(older));
  assert.ok(entries.length >= 2);
  assert.deepEqual(joinKeytab(entries), older);
  assert.deepEqual(kvnos(older, svc), [2, 3]);
});

test("merge keeps every entry once; the merged keytab works with the KDC", async () => {
  const merged = mergeKeytabs(older, newer, older);
  assert.equal(splitKeytab(merged).length, splitKeytab(older).length + splitKeytab(newer).length);
  assert.deepEqual(kvnos(merged, svc), [2, 3, 4]);
  assert.deepEqual(principalsIn(merged), new Set([svc, other]));
  assert.equal(await kinitWithKeytab(kdc, merged, svc), 0);
  assert.equal(await kinitWithKeytab(kdc, merged, other), 0);
  assert.notEqual(await kinitWithKeytab(kdc, older, svc), 0, "the older keytab alone is out of date");
});

test("keepNewestVersions keeps the newest versions per principal", async () => {
  const merged = mergeKeytabs(older, newer);
  const trimmed = keepNewestVersions(merged, 2);
  assert.deepEqual(kvnos(trimmed, svc), [3, 4]);
  assert.deepEqual(kvnos(trimmed, other), kvnos(newer, other));
  assert.deepEqual(kvnos(keepNewestVersions(merged, 1), svc), [4]);
  assert.equal(await kinitWithKeytab(kdc, trimmed, svc), 0);
});

test("anything that is not a keytab is refused", () => {
  assert.throws(() => splitKeytab(Buffer.from("not a keytab")), /not a keytab/);
  assert.throws(() => splitKeytab(older.subarray(0, older.length - 3)), /not a keytab/);
});
