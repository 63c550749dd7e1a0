// A GSSAPI exchange's environment (keytab, credential cache) is its own: a tool spawned while one is in flight, as
// krbkeys runs kadmin while its Negotiate login to ACS waits for the KDC, gets the process's environment as it is
// outside the exchange. The exchange is real: MIT's library gets a ticket from a real KDC with the keytab it names.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startKdc, type Kdc } from "../../e2e/harness/kdc.js";
import { childProcessEnv, setProcessEnvForNow } from "../runtime/child-env.js";
import { isolatedGitEnv } from "../cluster-manager/git/git-cli.js";
import { loadKerberosAddon, withKerberosEnv } from "./gssapi.js";
import { runTool } from "./run-tool.js";

const SERVICE_HOST = "gssapi-test.graft.test";
const PRINT = 'printf "%s|%s|%s\\n" "${KRB5CCNAME-unset}" "${KRB5_CLIENT_KTNAME-unset}" "${KRB5_CONFIG-unset}"';

describe("withKerberosEnv and child processes", () => {
  let kdc: Kdc;
  let dir: string;
  let principal: string;
  let keytab: string;

  before(async () => {
    kdc = await startKdc();
    dir = mkdtempSync(join(tmpdir(), "graft-gssapi-"));
    principal = `op1krbkeys/line-a@${kdc.realm}`;
    keytab = join(dir, "client.keytab");
    await kdc.kadminLocal(`addprinc -randkey ${principal}`);
    await kdc.kadminLocal(`ktadd -norandkey -k ${keytab} ${principal}`);
    await kdc.kadminLocal(`addprinc -randkey HTTP/${SERVICE_HOST}@${kdc.realm}`);
  });
  after(async () => {
    await kdc?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("a tool spawned while an exchange holds its keytab and ccache sees the environment outside the exchange", async () => {
    const before = { ccache: process.env.KRB5CCNAME, config: process.env.KRB5_CONFIG };
    process.env.KRB5CCNAME = `FILE:${join(dir, "outside-ccache")}`;
    try {
      const kerberos = await loadKerberosAddon();
      const env = { KRB5_CONFIG: kdc.krb5ConfPath, KRB5_CLIENT_KTNAME: `FILE:${keytab}`, KRB5CCNAME: "MEMORY:graft-gssapi-test" };
      let entered!: () => void;
      const inside = new Promise<void>((resolve) => { entered = resolve; });
      let release!: () => void;
      const gate = new Promise<void>((resolve) => { release = resolve; });
      const exchange = withKerberosEnv(env, async () => {
        const client = await kerberos.initializeClient(`HTTP@${SERVICE_HOST}`, { principal });
        entered();
        await gate;
        await client.step("");
        return client.response;
      });

      await inside;
      // The window is real: the process's environment is the exchange's now.
      assert.equal(process.env.KRB5_CLIENT_KTNAME, env.KRB5_CLIENT_KTNAME);
      const kadminLike = await runTool("sh", ["-c", PRINT]);
      const withOwnConfig = await runTool("sh", ["-c", PRINT], { env: { KRB5_CONFIG: "/etc/graft/krb5.conf" } });
      const gitEnv = isolatedGitEnv();
      release();
      assert.ok((await exchange).length > 0, "the exchange got a ticket for HTTP@<host> with the keytab");

      assert.equal(kadminLike.stdout.trim(), `FILE:${join(dir, "outside-ccache")}|unset|${before.config ?? "unset"}`);
      assert.equal(withOwnConfig.stdout.trim(), `FILE:${join(dir, "outside-ccache")}|unset|/etc/graft/krb5.conf`, "a tool's own settings still apply");
      assert.equal(gitEnv.KRB5CCNAME, undefined);
      // And afterwards the process's environment is as it was.
      assert.equal(process.env.KRB5_CLIENT_KTNAME, undefined);
      assert.equal(process.env.KRB5CCNAME, `FILE:${join(dir, "outside-ccache")}`);
    } finally {
      if (before.ccache === undefined) delete process.env.KRB5CCNAME;
      else process.env.KRB5CCNAME = before.ccache;
    }
  });

  test("nested settings of one variable: children see the outermost value until the last one ends", () => {
    const key = "GRAFT_CHILD_ENV_TEST";
    assert.equal(process.env[key], undefined);
    const outer = setProcessEnvForNow({ [key]: "outer" });
    const inner = setProcessEnvForNow({ [key]: "inner" });
    assert.equal(process.env[key], "inner");
    assert.equal(childProcessEnv()[key], undefined);
    inner();
    assert.equal(process.env[key], "outer");
    assert.equal(childProcessEnv()[key], undefined);
    outer();
    assert.equal(process.env[key], undefined);
    process.env[key] = "set for good";
    assert.equal(childProcessEnv()[key], "set for good");
    assert.equal(childProcessEnv({ [key]: undefined })[key], undefined, "extra undefined unsets");
    delete process.env[key];
  });
});
