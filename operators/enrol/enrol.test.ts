import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import * as k8s from "@kubernetes/client-node";
import { startControlPlane, type ControlPlane } from "../../e2e/harness/control-plane.js";
import { startKdc, type Kdc } from "../../e2e/harness/kdc.js";
import { AuthFailedError, KdcUnreachableError } from "../kerberos/errors.js";
import { enrol, type EnrolOptions } from "./enrol.js";
import { enrolCommand, EXIT_ADMIN_REJECTED } from "./main.js";
import { KRBKEYS_MANAGER, MANAGED_BY_LABEL, SecretNotOwnedError } from "./secrets.js";

describe("graft enrol against a real KDC and a real edge API server", () => {
  let kdc: Kdc;
  let cp: ControlPlane;
  let core: k8s.CoreV1Api;
  let scratch: string;

  before(async () => {
    [kdc, cp] = await Promise.all([startKdc(), startControlPlane({ name: "edge", users: { reader: ["graft:readers"] } })]);
    core = cp.kubeConfig.makeApiClient(k8s.CoreV1Api);
    scratch = mkdtempSync(join(tmpdir(), "graft-enrol-test-"));
  });
  after(async () => {
    await Promise.all([kdc?.stop(), cp?.stop()]);
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  /** A fresh cluster name and edge namespace per test, so tests do not see each other's principals or Secrets. */
  async function freshCluster(): Promise<{ cluster: string; namespace: string }> {
    const suffix = randomBytes(3).toString("hex");
    const namespace = `edge-${suffix}`;
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    return { cluster: `c-${suffix}`, namespace };
  }

  function options(c: { cluster: string; namespace: string }, extra: Partial<EnrolOptions> = {}): EnrolOptions {
    return {
      ...c, realm: kdc.realm, admin: { principal: kdc.adminPrincipal, password: kdc.adminPassword },
      kubeConfig: cp.kubeConfig, kadminEnv: kdc.env, ...extra,
    };
  }

  const readSecret = (namespace: string, name: string) => core.readNamespacedSecret({ name, namespace });
  const maybeSecret = (namespace: string, name: string) => readSecret(namespace, name).catch(() => null);
  const value = (s: k8s.V1Secret, key: string) => Buffer.from(s.data?.[key] ?? "", "base64");

  /** Independent witnesses: the MIT tools themselves, not graft's verify module. */
  function kinitKeytab(keytab: Buffer, principal: string): number | null {
    const path = join(scratch, `${randomBytes(4).toString("hex")}.kt`);
    writeFileSync(path, keytab, { mode: 0o600 });
    return spawnSync("kinit", ["-c", "MEMORY:enrol-test", "-k", "-t", path, principal], { env: { ...process.env, ...kdc.env } }).status;
  }
  function kinitPassword(principal: string, password: string): number | null {
    return spawnSync("kinit", ["-c", "MEMORY:enrol-test", principal], { env: { ...process.env, ...kdc.env }, input: `${password}\n` }).status;
  }

  /** Everything a run could change: both kvnos and both Secrets' resourceVersions. */
  async function snapshot(c: { cluster: string; namespace: string }) {
    return {
      krbkeysKvno: await kdc.kvno(`op1krbkeys/${c.cluster}`),
      fluxKvno: await kdc.kvno(`op1flux/${c.cluster}`),
      keytabRv: (await maybeSecret(c.namespace, "krb-keys-keytabs"))?.metadata?.resourceVersion ?? null,
      fluxRv: (await maybeSecret(c.namespace, "flux-secrets"))?.metadata?.resourceVersion ?? null,
    };
  }

  test("creates both principals and labelled Secrets whose keytab and password the KDC accepts", async () => {
    const c = await freshCluster();
    const summary = await enrol(options(c));
    const krbkeys = `op1krbkeys/${c.cluster}@${kdc.realm}`;
    const flux = `op1flux/${c.cluster}@${kdc.realm}`;
    assert.deepEqual(summary.credentials.map((x) => [x.principal, x.action]), [[krbkeys, "created"], [flux, "created"]]);
    assert.equal(summary.changed, true);

    const keytabSecret = await readSecret(c.namespace, "krb-keys-keytabs");
    const fluxSecret = await readSecret(c.namespace, "flux-secrets");
    for (const s of [keytabSecret, fluxSecret]) assert.equal(s.metadata?.labels?.[MANAGED_BY_LABEL], KRBKEYS_MANAGER);
    assert.equal(kinitKeytab(value(keytabSecret, "client"), krbkeys), 0);
    assert.equal(value(fluxSecret, "username").toString(), flux);
    assert.ok(value(fluxSecret, "password").length >= 32);
    assert.equal(kinitPassword(flux, value(fluxSecret, "password").toString()), 0);
    assert.equal(summary.credentials[0]?.kvno, await kdc.kvno(krbkeys));
  });

  test("a second run verifies and changes nothing (same kvnos, same resourceVersions)", async () => {
    const c = await freshCluster();
    await enrol(options(c));
    const before = await snapshot(c);
    const summary = await enrol(options(c));
    assert.deepEqual(summary.credentials.map((x) => x.action), ["verified", "verified"]);
    assert.equal(summary.changed, false);
    assert.deepEqual(await snapshot(c), before);
  });

  test("--rotate replaces both credentials (kvno + 1) and the old password stops working", async () => {
    const c = await freshCluster();
    await enrol(options(c));
    const before = await snapshot(c);
    const oldPassword = value(await readSecret(c.namespace, "flux-secrets"), "password").toString();
    const summary = await enrol(options(c, { rotate: true }));
    assert.deepEqual(summary.credentials.map((x) => [x.action, x.reason]), [["rotated", "--rotate"], ["rotated", "--rotate"]]);
    const after = await snapshot(c);
    assert.equal(after.krbkeysKvno, before.krbkeysKvno! + 1);
    assert.equal(after.fluxKvno, before.fluxKvno! + 1);
    assert.notEqual(after.keytabRv, before.keytabRv);
    const flux = `op1flux/${c.cluster}@${kdc.realm}`;
    assert.notEqual(kinitPassword(flux, oldPassword), 0);
    assert.equal(kinitPassword(flux, value(await readSecret(c.namespace, "flux-secrets"), "password").toString()), 0);
    assert.equal(kinitKeytab(value(await readSecret(c.namespace, "krb-keys-keytabs"), "client"), `op1krbkeys/${c.cluster}@${kdc.realm}`), 0);
  });

  test("a wrong admin password fails with a clear error and creates nothing", async () => {
    const c = await freshCluster();
    await assert.rejects(enrol(options(c, { admin: { principal: kdc.adminPrincipal, password: "wrong-password" } })), (err) => {
      assert.ok(err instanceof AuthFailedError);
      assert.match(err.message, /admin credentials were rejected/);
      return true;
    });
    assert.deepEqual(await snapshot(c), { krbkeysKvno: null, fluxKvno: null, keytabRv: null, fluxRv: null });
  });

  test("a wrong admin password on an enrolled cluster changes nothing", async () => {
    const c = await freshCluster();
    await enrol(options(c));
    const before = await snapshot(c);
    await assert.rejects(enrol(options(c, { admin: { principal: kdc.adminPrincipal, password: "wrong-password" } })), AuthFailedError);
    assert.deepEqual(await snapshot(c), before);
  });

  test("a stopped KDC fails clearly and rotates nothing, even with --rotate", async () => {
    const c = await freshCluster();
    await enrol(options(c));
    const before = await snapshot(c);
    try {
      await kdc.stopServers();
      for (const rotate of [false, true]) {
        await assert.rejects(enrol(options(c, { rotate })), (err) => {
          assert.ok(err instanceof KdcUnreachableError, String(err));
          assert.match(err.message, /cannot be reached/);
          return true;
        });
      }
      // kadmind down while the KDC answers: the same, nothing changes.
      await kdc.startServers();
      await kdc.stopServers("kadmind");
      await assert.rejects(enrol(options(c, { rotate: true })), KdcUnreachableError);
    } finally {
      await kdc.startServers();
    }
    assert.deepEqual(await snapshot(c), before);
    assert.deepEqual((await enrol(options(c))).credentials.map((x) => x.action), ["verified", "verified"]);
  });

  test("an existing Secret without the krbkeys label is refused before the KDC is touched", async () => {
    const c = await freshCluster();
    await core.createNamespacedSecret({
      namespace: c.namespace,
      body: { metadata: { name: "flux-secrets" }, stringData: { username: "someone", password: "theirs" } },
    });
    const before = await snapshot(c);
    await assert.rejects(enrol(options(c)), (err) => {
      assert.ok(err instanceof SecretNotOwnedError);
      assert.match(err.message, /"edge-[0-9a-f]+\/flux-secrets" exists but is not managed by krbkeys/);
      return true;
    });
    assert.deepEqual(await snapshot(c), before);
    assert.equal(before.krbkeysKvno, null);
    assert.equal(value(await readSecret(c.namespace, "flux-secrets"), "password").toString(), "theirs");
  });

  test("a lost or stale Secret is repaired and only that credential is rotated", async () => {
    const c = await freshCluster();
    await enrol(options(c));
    const before = await snapshot(c);
    await core.deleteNamespacedSecret({ name: "krb-keys-keytabs", namespace: c.namespace });
    const fluxSecret = await readSecret(c.namespace, "flux-secrets");
    await core.replaceNamespacedSecret({
      name: "flux-secrets", namespace: c.namespace,
      body: { ...fluxSecret, data: { ...fluxSecret.data, password: Buffer.from("stale").toString("base64"), extra: Buffer.from("kept").toString("base64") } },
    });
    const summary = await enrol(options(c));
    assert.deepEqual(summary.credentials.map((x) => x.action), ["rotated", "rotated"]);
    assert.match(summary.credentials[0]?.reason ?? "", /Secret "krb-keys-keytabs" missing/);
    assert.match(summary.credentials[1]?.reason ?? "", /Password incorrect|Preauthentication failed/);
    const after = await snapshot(c);
    assert.equal(after.krbkeysKvno, before.krbkeysKvno! + 1);
    const repaired = await readSecret(c.namespace, "flux-secrets");
    assert.equal(value(repaired, "extra").toString(), "kept", "keys graft does not own are kept");
    assert.equal(kinitPassword(`op1flux/${c.cluster}@${kdc.realm}`, value(repaired, "password").toString()), 0);
  });

  test("a principal left without a Secret by an interrupted run is rotated, and a disabled one re-enabled", async () => {
    const c = await freshCluster();
    await kdc.kadminLocal(`addprinc -randkey op1krbkeys/${c.cluster}`);
    await kdc.kadminLocal(`addprinc -randkey op1flux/${c.cluster}`);
    await kdc.kadminLocal(`modprinc -allow_tix op1flux/${c.cluster}`);
    const summary = await enrol(options(c));
    assert.deepEqual(summary.credentials.map((x) => [x.action, x.kvno]), [["rotated", 2], ["rotated", 2]]);
    const fluxSecret = await readSecret(c.namespace, "flux-secrets");
    assert.equal(kinitPassword(`op1flux/${c.cluster}@${kdc.realm}`, value(fluxSecret, "password").toString()), 0);
  });

  test("a missing namespace is reported by name before any principal is created", async () => {
    await assert.rejects(enrol(options({ cluster: "c-nons", namespace: "does-not-exist" })), /namespace "does-not-exist" does not exist/);
    assert.equal(await kdc.kvno("op1krbkeys/c-nons"), null);
  });

  test("a service account that may not write Secrets is stopped before any principal is created", async () => {
    const c = await freshCluster();
    const rbac = cp.kubeConfig.makeApiClient(k8s.RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({ namespace: c.namespace, body: {
      metadata: { name: "secret-reader" }, rules: [{ apiGroups: [""], resources: ["secrets"], verbs: ["get"] }],
    } });
    await rbac.createNamespacedRoleBinding({ namespace: c.namespace, body: {
      metadata: { name: "secret-reader" },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "secret-reader" },
      subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "reader" }],
    } });
    const reader = cp.userKubeconfig("reader");
    const kc = new k8s.KubeConfig();
    kc.loadFromFile(reader);
    await assert.rejects(enrol(options(c, { kubeConfig: kc })), /writing Secret "edge-[0-9a-f]+\/krb-keys-keytabs" is not allowed/);
    assert.equal(await kdc.kvno(`op1krbkeys/${c.cluster}`), null);
  });

  /** Runs `graft enrol <args>` in-process and returns its output and exit code. */
  async function runCli(args: string[], opts: { stdin?: string; env?: NodeJS.ProcessEnv } = {}) {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = "";
    let errOut = "";
    stdout.on("data", (b: Buffer) => { out += b.toString(); });
    stderr.on("data", (b: Buffer) => { errOut += b.toString(); });
    const saved = process.exitCode;
    process.exitCode = undefined;
    try {
      await enrolCommand({ stdin: Readable.from([opts.stdin ?? ""]), stdout, stderr, env: opts.env ?? {} })
        .parseAsync(args, { from: "user" });
      return { code: process.exitCode ?? 0, stdout: out, stderr: errOut };
    } finally {
      process.exitCode = saved;
    }
  }

  test("the CLI enrols with the password on stdin, the realm from krb5.conf, and reports a re-run as verified", async () => {
    const c = await freshCluster();
    const common = ["--cluster", c.cluster, "--namespace", c.namespace, "--kubeconfig", cp.kubeconfigPath,
      "--krb5-conf", kdc.krb5ConfPath, "--admin-principal", "graft/admin"];
    const first = await runCli([...common, "--admin-password-stdin"], { stdin: `${kdc.adminPassword}\n` });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, new RegExp(`^enrolled cluster "${c.cluster}" in realm "${kdc.realm}"`));
    assert.match(first.stdout, /op1krbkeys\/\S+ +created/);
    assert.doesNotMatch(first.stdout + first.stderr, new RegExp(kdc.adminPassword));

    const second = await runCli([...common, "--json"], { env: { GRAFT_ADMIN_PASSWORD: kdc.adminPassword } });
    assert.equal(second.code, 0, second.stderr);
    const summary = JSON.parse(second.stdout) as { changed: boolean; credentials: { action: string }[] };
    assert.equal(summary.changed, false);
    assert.deepEqual(summary.credentials.map((x) => x.action), ["verified", "verified"]);
  });

  test("the CLI refuses to guess: no cluster, or no Pod without --local, is a usage error", async () => {
    const noCluster = await runCli(["--local"], { env: {} });
    assert.equal(noCluster.code, 1);
    assert.match(noCluster.stderr, /cluster name is missing: give --cluster/);
    const notInPod = await runCli(["--cluster", "c1", "--realm", kdc.realm], { env: {} });
    assert.equal(notInPod.code, 1);
    assert.match(notInPod.stderr, /not running in a Pod .*use --local or --kubeconfig/);
  });

  test("the CLI exits 3 on a wrong admin password and says nothing was changed", async () => {
    const c = await freshCluster();
    const r = await runCli(["--cluster", c.cluster, "--namespace", c.namespace, "--kubeconfig", cp.kubeconfigPath,
      "--krb5-conf", kdc.krb5ConfPath, "--realm", kdc.realm, "--admin-principal", kdc.adminPrincipal],
    { env: { GRAFT_ADMIN_PASSWORD: "wrong" } });
    assert.equal(r.code, EXIT_ADMIN_REJECTED);
    assert.match(r.stderr, /^graft enrol: .*admin credentials were rejected: .*; nothing was changed\n$/);
    assert.equal(await kdc.kvno(`op1flux/${c.cluster}`), null);
  });
});
