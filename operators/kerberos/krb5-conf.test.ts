import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { startKdc } from "../../e2e/harness/kdc.js";
import { renderEdgeKrb5Conf } from "./krb5-conf.js";
import { KadminClient } from "./kadmin.js";

test("the edge krb5.conf carries the contract's settings", () => {
  const conf = renderEdgeKrb5Conf({ realm: "FACTORY.EXAMPLE.COM", domain: "factory.example.com" });
  assert.match(conf, /^\[libdefaults\]\n\s+default_realm = FACTORY\.EXAMPLE\.COM$/m);
  assert.match(conf, /^\s+dns_canonicalize_hostname = false$/m);
  assert.match(conf, /^\s+udp_preference_limit = 1$/m);
  assert.match(conf, /^\[domain_realm\]\n\s+\.factory\.example\.com = FACTORY\.EXAMPLE\.COM\n\s+factory\.example\.com = FACTORY\.EXAMPLE\.COM$/m);
  assert.match(conf, /FACTORY\.EXAMPLE\.COM = \{\n\s+kdc = kdc\.factory\.example\.com\n\s+admin_server = kadmin\.factory\.example\.com\n\s+\}/);
});

test("bad realm, domain or addresses are refused rather than written into the file", () => {
  assert.throws(() => renderEdgeKrb5Conf({ realm: "A B", domain: "x.com" }), /invalid Kerberos realm/);
  assert.throws(() => renderEdgeKrb5Conf({ realm: "X.COM", domain: "x.com\n[realms]" }), /invalid DNS domain/);
  assert.throws(() => renderEdgeKrb5Conf({ realm: "X.COM", domain: "x.com", kdc: "h }" }), /invalid KDC address/);
});

test("MIT kinit and kadmin work with the rendered file (addresses overridden to the test KDC)", async (t) => {
  const kdc = await startKdc();
  t.after(() => kdc.stop());
  const path = join(kdc.dir, "edge-krb5.conf");
  writeFileSync(path, renderEdgeKrb5Conf({
    realm: kdc.realm, domain: "graft.test", kdc: `127.0.0.1:${kdc.kdcPort}`, adminServer: `127.0.0.1:${kdc.kadminPort}`,
  }));
  const env = { KRB5_CONFIG: path, KRB5CCNAME: `FILE:${join(kdc.dir, "edge-cc")}` };
  // default_realm must come from the file: the principal is given without a realm.
  const kinit = spawnSync("kinit", ["graft/admin"], { env: { ...process.env, ...env }, input: `${kdc.adminPassword}\n`, encoding: "utf8" });
  assert.equal(kinit.status, 0, kinit.stderr);
  const admin = new KadminClient({ realm: kdc.realm, auth: { principal: "graft/admin", password: kdc.adminPassword }, env });
  assert.ok((await admin.checkAccess()).includes("ADD"));
});
