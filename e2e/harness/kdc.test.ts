import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import { startKdc, type Kdc } from "./kdc.js";
import { childProcessEnv } from "../../operators/runtime/child-env.js";

function kinitPassword(kdc: Kdc, principal: string, password: string) {
  const r = spawnSync("kinit", ["-c", `FILE:${kdc.dir}/test-cc`, principal], { env: { ...childProcessEnv(), ...kdc.env }, input: `${password}\n`, encoding: "utf8" });
  return { code: r.status, stderr: r.stderr };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    s.once("connect", () => { s.destroy(); resolve(true); });
    s.once("error", () => resolve(false));
  });
}

describe("test KDC harness", () => {
  let kdc: Kdc;
  before(async () => { kdc = await startKdc(); });
  after(async () => { await kdc?.stop(); });

  test("serves a random throwaway realm on loopback with a client krb5.conf", () => {
    assert.match(kdc.realm, /^GRAFT-[0-9A-F]{8}\.TEST$/);
    assert.equal(kdc.adminPrincipal, `graft/admin@${kdc.realm}`);
    const conf = readFileSync(kdc.krb5ConfPath, "utf8");
    assert.match(conf, new RegExp(`kdc = 127\\.0\\.0\\.1:${kdc.kdcPort}`));
    assert.match(conf, new RegExp(`admin_server = 127\\.0\\.0\\.1:${kdc.kadminPort}`));
    assert.match(conf, /udp_preference_limit = 1/);
    assert.ok(kdc.env.KRB5CCNAME?.includes(kdc.dir), "the default ccache is inside the temp dir");
  });

  test("the admin password gets a ticket from the real KDC and a wrong one does not", () => {
    assert.equal(kinitPassword(kdc, kdc.adminPrincipal, kdc.adminPassword).code, 0);
    const wrong = kinitPassword(kdc, kdc.adminPrincipal, `${kdc.adminPassword}x`);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /Password incorrect/);
  });

  test("the admin may use kadmin over the network", () => {
    const r = spawnSync("kadmin", ["-r", kdc.realm, "-p", kdc.adminPrincipal, "-q", "getprivs"],
      { env: { ...childProcessEnv(), ...kdc.env }, input: `${kdc.adminPassword}\n`, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /current privileges: .*ADD.*DELETE/);
  });

  test("kvno reads the database directly", async () => {
    assert.equal(await kdc.kvno(kdc.adminPrincipal), 1);
    assert.equal(await kdc.kvno(`nobody@${kdc.realm}`), null);
  });

  test("stopServers takes the realm offline and startServers brings the same database back", async () => {
    await kdc.stopServers();
    assert.equal(await listening(kdc.kdcPort), false);
    assert.equal(await listening(kdc.kadminPort), false);
    const offline = kinitPassword(kdc, kdc.adminPrincipal, kdc.adminPassword);
    assert.match(offline.stderr, /Cannot contact any KDC/);
    await kdc.startServers();
    assert.equal(kinitPassword(kdc, kdc.adminPrincipal, kdc.adminPassword).code, 0);
  });

  test("stopServers can stop kadmind alone", async () => {
    await kdc.stopServers("kadmind");
    assert.equal(await listening(kdc.kadminPort), false);
    assert.equal(await listening(kdc.kdcPort), true);
    await kdc.startServers();
    assert.equal(await listening(kdc.kadminPort), true);
  });
});

test("stop() ends both daemons and removes the temp dir", async () => {
  const kdc = await startKdc({ realm: "GRAFT-FIXED.TEST" });
  assert.equal(kdc.realm, "GRAFT-FIXED.TEST");
  assert.ok(existsSync(kdc.dir));
  await kdc.stop();
  assert.equal(existsSync(kdc.dir), false);
  assert.equal(await listening(kdc.kdcPort), false);
  assert.equal(await listening(kdc.kadminPort), false);
});
