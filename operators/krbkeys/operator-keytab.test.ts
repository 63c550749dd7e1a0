// The operator's private keytab copy: it follows the mounted file and keeps the operator's own freshly minted keys,
// so a rotation of the operator's principal never locks kadmin out.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { startKdc } from "../../e2e/harness/kdc.js";
import { atFileEnd, tempDirForFile } from "../../e2e/support/api-server.js";
import { parseKeytab } from "../kerberos/keytab.js";
import { OperatorKeytab } from "./operator-keytab.js";
import { kinitWithKeytab } from "../../e2e/support/krbkeys/fixture.js";

const dir = tempDirForFile("graft-opkt-");
const kdc = await startKdc();
atFileEnd(() => kdc.stop());
const me = `op1krbkeys/site@${kdc.realm}`;
await kdc.kadminLocal(`addprinc -randkey ${me}`);
await kdc.kadminLocal(`addprinc -randkey someone/else@${kdc.realm}`);

async function ktadd(name: string, principal: string): Promise<Buffer> {
  const path = join(dir, name);
  await kdc.kadminLocal(`ktadd -k ${path} ${principal}`);
  return readFileSync(path);
}

test("a missing or malformed source keytab is a clear error", async () => {
  await assert.rejects(OperatorKeytab.open(join(dir, "absent"), me), /the operator keytab ".*absent" cannot be read/);
  const junk = join(dir, "junk");
  copyFileSync(new URL(import.meta.url), junk);
  await assert.rejects(OperatorKeytab.open(junk, me), /the operator keytab ".*junk" is not a keytab/);
});

test("the private copy follows the source and keeps the operator's own new keys until the source has them", async () => {
  const source = join(dir, "mounted");
  const mounted = await ktadd("mounted", me);
  const kt = await OperatorKeytab.open(source, me);
  try {
    assert.notEqual(kt.path, source);
    assert.deepEqual(readFileSync(kt.path), mounted);
    assert.equal(await kinitWithKeytab(kdc, readFileSync(kt.path), me), 0);

    // Someone else's keys are not taken.
    await kt.absorb(await ktadd("else", `someone/else@${kdc.realm}`));
    assert.deepEqual(readFileSync(kt.path), mounted);

    // The operator's key is replaced (as krbkeys does for KerberosKey op1krbkeys): the mounted file is now stale.
    const minted = await ktadd("minted", me);
    assert.notEqual(await kinitWithKeytab(kdc, mounted, me), 0, "the mounted keytab no longer works");
    await kt.absorb(minted);
    assert.equal(await kinitWithKeytab(kdc, readFileSync(kt.path), me), 0, "the private copy does");

    // The kubelet catches up: the source now holds the new key; the copy still works and still follows the source.
    copyFileSync(join(dir, "minted"), source);
    await kt.refresh();
    const kvnos = new Set(parseKeytab(readFileSync(kt.path)).map((e) => e.kvno));
    assert.deepEqual([...kvnos], [parseKeytab(minted)[0]!.kvno]);
    assert.equal(await kinitWithKeytab(kdc, readFileSync(kt.path), me), 0);
  } finally {
    await kt.close();
  }
  assert.equal(existsSync(dirname(kt.path)), false, "close removes the private copy");
});
