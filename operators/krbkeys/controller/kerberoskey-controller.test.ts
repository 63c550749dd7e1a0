// krbkeys against a real MIT KDC and a real API server: keytabs kinit accepts, passwords that work, kvno in status,
// no rotation while the KDC is down (and a condition saying why), unowned Secrets left alone, disabled principals.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { eventually } from "../../../e2e/harness/eventually.js";
import { freePort } from "../../../e2e/harness/ports.js";
import { KerberosKeyType, ROTATE_REQUESTED_ANNOTATION, type KerberosKey } from "../../api/kerberoskey.js";
import { RECONCILE_REQUESTED_ANNOTATION } from "../../api/constants.js";
import { parseKeytab } from "../../kerberos/keytab.js";
import { Core } from "../../runtime/kube.js";
import {
  conditionOf, kinitWithKeytab, kinitWithPassword, readyOf, startKrbKeysFixture, type KrbKeysFixture, type SecretObject,
} from "../../../e2e/support/krbkeys/fixture.js";
import { CREATED_FOR_ANNOTATION } from "../retired-secret.js";
import { KOPF_FINALIZER } from "./kerberoskey-controller.js";

let f: KrbKeysFixture;
let realm: string;

before(async () => {
  f = await startKrbKeysFixture();
  realm = f.kdc.realm;
});
after(async () => f?.stop());

const MANAGED_BY = { "app.kubernetes.io/managed-by": "krbkeys.factoryplus.app.amrc.co.uk" };
const secretBytes = async (name: string, key: string) => {
  const s = await f.getSecret(name);
  const b64 = s?.data?.[key];
  return b64 === undefined ? undefined : Buffer.from(b64, "base64");
};
const isReady = (reason?: string) => (kk: Parameters<typeof readyOf>[0]) =>
  readyOf(kk)?.status === "True" && readyOf(kk)?.observedGeneration === kk.metadata.generation && (!reason || readyOf(kk)?.reason === reason);
const eventReasons = async (name: string) => {
  const r = await f.cp.kubectl(["get", "events.events.k8s.io", "-n", f.namespace, "-o", "json"]);
  return (JSON.parse(r.stdout).items as Array<{ regarding: { name: string }; reason: string }>)
    .filter((e) => e.regarding.name === name).map((e) => e.reason);
};

test("Random: the Secret holds a keytab kinit accepts, status shows the KDC's kvno, and a second reconcile changes nothing", async () => {
  await f.applyKey("svc-a", { type: "Random", principal: "svc-a/edge", secret: "svc-a-keytab/keytab" });
  const kk = await f.waitForKey("svc-a", (k) => isReady()(k) && k.status?.lastRotation !== undefined, "Ready after minting a keytab");

  const secret = (await f.getSecret("svc-a-keytab"))!;
  assert.deepEqual(secret.metadata.labels, MANAGED_BY);
  const keytab = (await secretBytes("svc-a-keytab", "keytab"))!;
  assert.equal(await kinitWithKeytab(f.kdc, keytab, `svc-a/edge@${realm}`), 0, "kinit -k accepts the keytab");
  const kvno = await f.kdc.kvno(`svc-a/edge@${realm}`);
  assert.ok(kvno && kvno >= 1);
  assert.equal(kk.status?.kvno, kvno, "status.kvno is the KDC's");
  assert.deepEqual(kk.status?.secretRef, { name: "svc-a-keytab", key: "keytab" });
  assert.ok(kk.status?.lastRotation);
  assert.ok(parseKeytab(keytab).every((e) => e.kvno === kvno));

  const table = await f.cp.kubectl(["get", "krb", "-n", f.namespace, "svc-a"]);
  assert.match(table.stdout, new RegExp(`Random\\s+svc-a/edge\\s+${kvno}\\s+True`));
  const reasons = await eventReasons("svc-a");
  for (const r of ["PrincipalCreated", "KeyRotated"]) assert.ok(reasons.includes(r), `event ${r} in ${reasons}`);

  await f.annotate("svc-a", RECONCILE_REQUESTED_ANNOTATION, "second");
  const again = await f.waitForKey("svc-a", (k) => k.status?.lastHandledReconcileAt === "second", "the requested reconcile is handled");
  assert.equal(readyOf(again)?.reason, "KeyVerified");
  assert.equal(again.status?.kvno, kvno);
  assert.equal(await f.kdc.kvno(`svc-a/edge@${realm}`), kvno, "no new key in the KDC");
  assert.equal(again.status?.lastRotation, kk.status?.lastRotation);
  assert.equal((await f.getSecret("svc-a-keytab"))!.metadata.resourceVersion, secret.metadata.resourceVersion, "the Secret was not rewritten");
});

test("Random with keepOldKeys and an additional principal: a rotation request adds a key version, the previous one stays", async () => {
  const [main, alt] = [`HTTP/web.edge@${realm}`, `HTTP/web-alt.edge@${realm}`];
  await f.applyKey("web", { type: "Random", principal: "HTTP/web.edge", additionalPrincipals: [alt], keepOldKeys: true, secret: "web-keytab/keytab" });
  const first = await f.waitForKey("web", isReady(), "Ready");
  const k1 = first.status!.kvno!;
  assert.deepEqual(first.status?.principals?.map((p) => p.principal), [main, alt]);

  await f.annotate("web", ROTATE_REQUESTED_ANNOTATION, "r1");
  const second = await f.waitForKey("web", (k) => k.status?.lastHandledRotateAt === "r1" && isReady()(k), "rotated once");
  assert.equal(second.status?.kvno, k1 + 1);
  await f.annotate("web", ROTATE_REQUESTED_ANNOTATION, "r2");
  const third = await f.waitForKey("web", (k) => k.status?.lastHandledRotateAt === "r2" && isReady()(k), "rotated twice");
  assert.equal(third.status?.kvno, k1 + 2);
  assert.equal(await f.kdc.kvno(main), k1 + 2);

  const keytab = (await secretBytes("web-keytab", "keytab"))!;
  const versions = (p: string) => [...new Set(parseKeytab(keytab).filter((e) => e.principal === p).map((e) => e.kvno))].sort();
  assert.deepEqual(versions(main), [k1 + 1, k1 + 2], "the newest and the previous key version, no older");
  assert.deepEqual(versions(alt), [(await f.kdc.kvno(alt))! - 1, (await f.kdc.kvno(alt))!]);
  assert.equal(await kinitWithKeytab(f.kdc, keytab, main), 0);
  assert.equal(await kinitWithKeytab(f.kdc, keytab, alt), 0);

  // A principal dropped from the spec is disabled, not deleted; the remaining keytab is still valid, so no new key.
  await f.applyKey("web", { type: "Random", principal: "HTTP/web.edge", keepOldKeys: true, secret: "web-keytab/keytab" });
  const fourth = await f.waitForKey("web", (k) => k.status?.observedGeneration === 2 && isReady()(k), "the new generation handled");
  assert.deepEqual(fourth.status?.principals?.map((p) => p.principal), [main]);
  assert.equal(fourth.status?.kvno, k1 + 2);
  assert.notEqual(await kinitWithKeytab(f.kdc, keytab, alt), 0, "the dropped principal gets no ticket");
  assert.ok((await f.kdc.kvno(alt)) !== null, "and still exists");
  assert.equal(await kinitWithKeytab(f.kdc, keytab, main), 0);
});

test("Password: the stored password gets a ticket; a rotation request replaces it", async () => {
  const principal = `op1flux/edge@${realm}`;
  await f.applyKey("op1flux", { type: "Password", principal: "op1flux/edge", secret: "flux-secrets/password" });
  const kk = await f.waitForKey("op1flux", isReady(), "Ready");
  const password = (await secretBytes("flux-secrets", "password"))!.toString("utf8");
  assert.ok(password.length >= 20);
  assert.equal(await kinitWithPassword(f.kdc, principal, password), 0, "kinit with the stored password");
  assert.equal(JSON.stringify(kk).includes(password), false, "the password is not in the KerberosKey");

  await f.annotate("op1flux", ROTATE_REQUESTED_ANNOTATION, "now");
  const rotated = await f.waitForKey("op1flux", (k) => k.status?.lastHandledRotateAt === "now" && isReady()(k), "rotated");
  const next = (await secretBytes("flux-secrets", "password"))!.toString("utf8");
  assert.notEqual(next, password);
  assert.notEqual(await kinitWithPassword(f.kdc, principal, password), 0, "the old password is refused");
  assert.equal(await kinitWithPassword(f.kdc, principal, next), 0);
  assert.equal(rotated.status?.kvno, await f.kdc.kvno(principal));
});

test("a key changed from Password to Random and back (the edge chart's op1sync on upgrade, edgeSync.acsLogin): each time the new kind of key in its Secret, the old one refused", async () => {
  const principal = `op1sync/upgrade@${realm}`;
  await f.applyKey("op1sync-upgrade", { type: "Password", principal: "op1sync/upgrade", secret: "sync-upgrade-credentials/password" });
  await f.waitForKey("op1sync-upgrade", isReady(), "Ready with a password");
  const password = (await secretBytes("sync-upgrade-credentials", "password"))!.toString("utf8");
  assert.equal(await kinitWithPassword(f.kdc, principal, password), 0);

  await f.applyKey("op1sync-upgrade", { type: "Random", principal: "op1sync/upgrade", secret: "sync-upgrade-keytabs/client" });
  const random = await f.waitForKey("op1sync-upgrade", (k) => isReady()(k) && k.status?.secretRef?.name === "sync-upgrade-keytabs", "Ready with a keytab");
  const keytab = (await secretBytes("sync-upgrade-keytabs", "client"))!;
  assert.equal(await kinitWithKeytab(f.kdc, keytab, principal), 0, "kinit -k accepts the new keytab");
  assert.notEqual(await kinitWithPassword(f.kdc, principal, password), 0, "the old password is refused");
  assert.equal(random.status?.kvno, await f.kdc.kvno(principal));
  assert.equal(await f.getSecret("sync-upgrade-credentials"), null, "the Secret krbkeys made for the password is deleted");
  assert.equal((await f.getSecret("sync-upgrade-keytabs"))!.metadata.annotations?.[CREATED_FOR_ANNOTATION], "op1sync-upgrade");
  assert.ok((await eventReasons("op1sync-upgrade")).includes("PreviousSecretDeleted"));

  await f.applyKey("op1sync-upgrade", { type: "Password", principal: "op1sync/upgrade", secret: "sync-upgrade-credentials/password" });
  await f.waitForKey("op1sync-upgrade", (k) => isReady()(k) && k.status?.secretRef?.name === "sync-upgrade-credentials", "Ready with a password again");
  const next = (await secretBytes("sync-upgrade-credentials", "password"))!.toString("utf8");
  assert.equal(await kinitWithPassword(f.kdc, principal, next), 0, "kinit with the password now stored");
  assert.notEqual(await kinitWithKeytab(f.kdc, keytab, principal), 0, "the keytab is refused");
  assert.equal(await f.getSecret("sync-upgrade-keytabs"), null, "the keytab's Secret is deleted in turn");
});

test("a pass cut short between writing the new Secret and deleting the old one deletes it on the next pass, minting nothing", async () => {
  await f.applyKey("cut-short", { type: "Password", principal: "cut/short", secret: "cut-short-old/password" });
  await f.waitForKey("cut-short", isReady(), "Ready with a password");
  const oldSecret = (await f.getSecret("cut-short-old"))!;
  await f.applyKey("cut-short", { type: "Random", principal: "cut/short", secret: "cut-short-new/keytab" });
  const moved = await f.waitForKey("cut-short", (k) => isReady()(k) && k.status?.secretRef?.name === "cut-short-new", "moved");
  assert.equal(await f.getSecret("cut-short-old"), null);

  // The state a crash right after the new Secret's write leaves: the old Secret still there, status.secretRef on it.
  const left = { apiVersion: "v1", kind: "Secret", metadata: { name: "cut-short-old", namespace: f.namespace, labels: oldSecret.metadata.labels, annotations: oldSecret.metadata.annotations }, data: oldSecret.data };
  assert.equal((await f.cp.kubectl(["apply", "-f", "-"], { input: JSON.stringify(left) })).code, 0);
  const status = JSON.stringify({ status: { secretRef: { name: "cut-short-old", key: "password" } } });
  assert.equal((await f.cp.kubectl(["patch", "krb", "-n", f.namespace, "cut-short", "--subresource=status", "--type=merge", "-p", status])).code, 0);
  await f.annotate("cut-short", RECONCILE_REQUESTED_ANNOTATION, "after-crash");
  const resumed = await f.waitForKey("cut-short", (k) => k.status?.lastHandledReconcileAt === "after-crash", "the next pass");
  assert.equal(await f.getSecret("cut-short-old"), null, "the old Secret is deleted on the next pass");
  assert.deepEqual(resumed.status?.secretRef, { name: "cut-short-new", key: "keytab" });
  assert.equal(readyOf(resumed)?.reason, "KeyVerified", "the keytab in the new Secret still works: no new key");
  assert.equal(resumed.status?.kvno, moved.status?.kvno);
});

test("a moved key's previous Secret is kept when krbkeys did not make it for that key, another key still uses it, or it holds other data", async () => {
  const person = { apiVersion: "v1", kind: "Secret", metadata: { name: "handed-over", namespace: f.namespace, labels: MANAGED_BY }, data: {} };
  assert.equal((await f.cp.kubectl(["apply", "-f", "-"], { input: JSON.stringify(person) })).code, 0);
  await Promise.all([
    f.applyKey("moves-handed", { type: "Random", principal: "moves/handed", secret: "handed-over/keytab" }),
    f.applyKey("moves-shared", { type: "Random", principal: "moves/shared", secret: "moves-shared/a" }),
    f.applyKey("stays-shared", { type: "Random", principal: "stays/shared", secret: "moves-shared/b" }),
    f.applyKey("moves-extra", { type: "Password", principal: "moves/extra", secret: "moves-extra/password" }),
  ]);
  for (const name of ["moves-handed", "moves-shared", "stays-shared", "moves-extra"]) await f.waitForKey(name, isReady(), `${name} Ready`);
  const extra = JSON.stringify({ data: { note: Buffer.from("a person's note").toString("base64") } });
  assert.equal((await f.cp.kubectl(["patch", "secret", "-n", f.namespace, "moves-extra", "--type=merge", "-p", extra])).code, 0);

  for (const name of ["moves-handed", "moves-shared", "moves-extra"]) {
    await f.applyKey(name, { type: "Random", principal: name.replace("-", "/"), secret: `${name}-new/keytab` });
  }
  for (const name of ["moves-handed", "moves-shared", "moves-extra"]) {
    await f.waitForKey(name, (k) => isReady()(k) && k.status?.secretRef?.name === `${name}-new`, `${name} moved`);
    assert.ok((await eventReasons(name)).includes("PreviousSecretKept"), `${name}: an event says the old Secret was kept`);
  }
  assert.ok(await f.getSecret("handed-over"), "a Secret a person made and handed over stays");
  assert.ok((await f.getSecret("moves-shared"))?.data?.b, "a Secret holding another key's key stays");
  assert.ok((await f.getSecret("moves-extra"))?.data?.note, "a Secret holding other data stays");

  // Once the last key using it moves too, the Secret moves-shared/a was made for is still not stays-shared's to delete.
  await f.applyKey("stays-shared", { type: "Random", principal: "stays/shared", secret: "stays-shared-new/keytab" });
  await f.waitForKey("stays-shared", (k) => isReady()(k) && k.status?.secretRef?.name === "stays-shared-new", "stays-shared moved");
  assert.ok(await f.getSecret("moves-shared"), "made for moves-shared, not for stays-shared");
});

test("two keys sharing one Secret each keep their own key in it, each minted once", async () => {
  await Promise.all([
    f.applyKey("shared-kt", { type: "Random", principal: "shared/kt", secret: "shared/keytab" }),
    f.applyKey("shared-pw", { type: "Password", principal: "shared/pw", secret: "shared/password" }),
  ]);
  await f.waitForKey("shared-kt", isReady(), "Ready");
  await f.waitForKey("shared-pw", isReady(), "Ready");
  assert.equal(await kinitWithKeytab(f.kdc, (await secretBytes("shared", "keytab"))!, `shared/kt@${realm}`), 0);
  assert.equal(await kinitWithPassword(f.kdc, `shared/pw@${realm}`, (await secretBytes("shared", "password"))!.toString("utf8")), 0);
  // addprinc -randkey then ktadd gives kvno 2; addprinc with a password gives kvno 1: anything higher is a wasted rotation.
  assert.equal(await f.kdc.kvno(`shared/kt@${realm}`), 2);
  assert.equal(await f.kdc.kvno(`shared/pw@${realm}`), 1);
});

test("PresetPassword: waits for the person's Secret, sets that password, and sets it again after it was changed behind its back", async () => {
  const principal = `person/edge@${realm}`;
  const preset = "Correct-Horse-Battery-1";
  await f.applyKey("person", { type: "PresetPassword", principal: "person/edge", secret: "person-pw/password" });
  await f.waitForKey("person", (k) => readyOf(k)?.status === "False" && readyOf(k)?.reason === "PresetPasswordMissing", "waiting for the Secret");
  assert.equal(await f.kdc.kvno(principal), null, "nothing is created without the password");

  const created = await f.cp.kubectl(["create", "secret", "generic", "-n", f.namespace, "person-pw", `--from-literal=password=${preset}`]);
  assert.equal(created.code, 0, created.stderr);
  await f.waitForKey("person", isReady("PasswordSet"), "Ready once the Secret exists");
  assert.equal(await kinitWithPassword(f.kdc, principal, preset), 0);

  await f.kdc.kadminLocal(`cpw -pw Someone-Else-2 ${principal}`);
  await f.annotate("person", RECONCILE_REQUESTED_ANNOTATION, "check");
  await f.waitForKey("person", (k) => k.status?.lastHandledReconcileAt === "check" && isReady("PasswordSet")(k), "the preset password is set again");
  assert.equal(await kinitWithPassword(f.kdc, principal, preset), 0);
  const secret = (await f.getSecret("person-pw"))!;
  assert.equal(secret.metadata.labels?.["app.kubernetes.io/managed-by"], undefined, "a preset Secret is only read");
  assert.equal(Buffer.from(secret.data!.password!, "base64").toString("utf8"), preset);
});

test("a Secret krbkeys does not own is refused: nothing written, no principal created; labelling it hands it over", async () => {
  const made = await f.cp.kubectl(["create", "secret", "generic", "-n", f.namespace, "foreign", "--from-literal=keytab=not-mine"]);
  assert.equal(made.code, 0, made.stderr);
  const before = (await f.getSecret("foreign"))!;
  await f.applyKey("foreign", { type: "Random", principal: "foreign/edge", secret: "foreign/keytab" });
  const kk = await f.waitForKey("foreign", (k) => readyOf(k)?.reason === "SecretNotOwned", "refused");
  assert.equal(readyOf(kk)?.status, "False");
  assert.equal(conditionOf(kk, "Stalled")?.status, "True");
  assert.match(readyOf(kk)!.message, /Secret "edge\/foreign" exists but is not managed by krbkeys/);
  const after = (await f.getSecret("foreign"))!;
  assert.equal(after.metadata.resourceVersion, before.metadata.resourceVersion);
  assert.equal(await f.kdc.kvno(`foreign/edge@${realm}`), null, "no principal was created");

  const label = await f.cp.kubectl(["label", "-n", f.namespace, "secret/foreign", "app.kubernetes.io/managed-by=krbkeys.factoryplus.app.amrc.co.uk"]);
  assert.equal(label.code, 0, label.stderr);
  await f.waitForKey("foreign", isReady(), "Ready after the hand-over");
  assert.equal(await kinitWithKeytab(f.kdc, (await secretBytes("foreign", "keytab"))!, `foreign/edge@${realm}`), 0);
});

test("Disabled: the principal can no longer get a ticket and is not deleted", async () => {
  const principal = `olduser/edge@${realm}`;
  await f.kdc.kadminLocal(`addprinc -pw Old-User-Pass-3 ${principal}`);
  assert.equal(await kinitWithPassword(f.kdc, principal, "Old-User-Pass-3"), 0);
  await f.applyKey("olduser", { type: "Disabled", principal: "olduser/edge" });
  const kk = await f.waitForKey("olduser", isReady("PrincipalDisabled"), "Ready and disabled");
  assert.notEqual(await kinitWithPassword(f.kdc, principal, "Old-User-Pass-3"), 0, "no ticket for a disabled principal");
  assert.ok((await f.kdc.kvno(principal)) !== null, "the principal still exists");
  assert.equal(kk.status?.principals?.[0]?.enabled, false);
});

test("with the KDC stopped nothing rotates and Ready says why; once it is back the missing keytab is replaced", async () => {
  const principal = `svc-a/edge@${realm}`;
  const kvno = (await f.kdc.kvno(principal))!;
  const flux = (await secretBytes("flux-secrets", "password"))!;
  await f.kdc.stopServers();
  let restarted = false;
  try {
    assert.equal((await f.cp.kubectl(["delete", "secret", "-n", f.namespace, "svc-a-keytab"])).code, 0);
    await f.annotate("op1flux", ROTATE_REQUESTED_ANNOTATION, "while-down");
    for (const name of ["svc-a", "op1flux"]) {
      const kk = await f.waitForKey(name, (k) => readyOf(k)?.reason === "KdcUnreachable", "Ready=False because the KDC is unreachable");
      assert.equal(readyOf(kk)?.status, "False");
      assert.match(readyOf(kk)!.message, /cannot be reached.*no key was changed/);
      assert.equal(conditionOf(kk, "KeyFailed")?.reason, "KdcUnreachable");
    }
    assert.equal(await f.kdc.kvno(principal), kvno, "no new key while the KDC is down");
    assert.equal((await f.getKey("svc-a")).status?.kvno, kvno);
    assert.equal(await f.getSecret("svc-a-keytab"), null, "no keytab written");
    assert.deepEqual(await secretBytes("flux-secrets", "password"), flux, "the password was not replaced");
    assert.ok((await eventReasons("svc-a")).includes("KdcUnreachable"));

    await f.kdc.startServers();
    restarted = true;
    await f.waitForKey("svc-a", (k) => isReady()(k) && k.status?.kvno === kvno + 1, "Ready with a new key after the KDC is back");
    assert.equal(await f.kdc.kvno(principal), kvno + 1);
    assert.equal(await kinitWithKeytab(f.kdc, (await secretBytes("svc-a-keytab", "keytab"))!, principal), 0);
    await f.waitForKey("op1flux", (k) => k.status?.lastHandledRotateAt === "while-down" && isReady()(k), "the requested rotation happens once the KDC is back");
  } finally {
    if (!restarted) await f.kdc.startServers();
  }
});

test("keys graft cannot serve stall with a reason; the CRD refuses a malformed secret reference", async () => {
  await f.applyKey("trust", { type: "Trust", principal: "krbtgt/OTHER.TEST", secret: "trust/key" });
  const trust = await f.waitForKey("trust", (k) => conditionOf(k, "Stalled")?.status === "True", "stalled");
  assert.equal(readyOf(trust)?.reason, "Unsupported");
  assert.match(readyOf(trust)!.message, /type "Trust"/);

  await f.applyKey("elsewhere", { type: "Random", principal: "svc/edge@OTHER.TEST", secret: "elsewhere/keytab" });
  const other = await f.waitForKey("elsewhere", (k) => conditionOf(k, "Stalled")?.status === "True", "stalled");
  assert.equal(readyOf(other)?.reason, "InvalidSpec");
  assert.match(readyOf(other)!.message, new RegExp(`not in realm "${realm.replace(/\./g, "\\.")}"`));

  await assert.rejects(f.applyKey("bad-ref", { type: "Random", principal: "x/edge", secret: "no-slash" }), /spec\.secret must be '<Secret name>\/<key>'/);
});

test("a second key for the same principal waits its turn; deleting the first keeps the principal and releases ACS's finalizer", async () => {
  const principal = `svc-a/edge@${realm}`;
  await f.applyKey("svc-a-copy", { type: "Random", principal: "svc-a/edge", secret: "svc-a-copy/keytab" });
  const copy = await f.waitForKey("svc-a-copy", (k) => readyOf(k)?.reason === "PrincipalConflict", "refused");
  assert.match(readyOf(copy)!.message, /already managed by KerberosKey "edge\/svc-a"/);
  assert.equal(await f.getSecret("svc-a-copy"), null);
  const kvno = (await f.kdc.kvno(principal))!;

  await f.operator.client.patch(KerberosKeyType, "svc-a", f.namespace, { metadata: { finalizers: [KOPF_FINALIZER] } });
  assert.equal((await f.cp.kubectl(["delete", "-n", f.namespace, "kerberos-keys/svc-a", "--timeout=30s"])).code, 0, "deletion completes");
  assert.ok((await f.kdc.kvno(principal)) !== null, "the principal is kept");
  assert.ok(await f.getSecret("svc-a-keytab"), "the Secret is kept");

  // The second key's Secret is empty, so taking over means a new key version.
  await f.waitForKey("svc-a-copy", (k) => isReady()(k) && k.status?.kvno === kvno + 1, "the second key takes over");
  assert.equal(await kinitWithKeytab(f.kdc, (await secretBytes("svc-a-copy", "keytab"))!, principal), 0);
});

test("krbkeys rotates its own key and keeps working with the key it minted", async () => {
  const before = (await f.kdc.kvno(f.operatorPrincipal))!;
  await f.applyKey("op1krbkeys", { type: "Random", principal: f.operatorPrincipal, secret: "krb-keys-keytabs/client" });
  await f.waitForKey("op1krbkeys", (k) => isReady()(k) && k.status?.kvno === before + 1, "Ready with a new key");
  assert.equal(await f.kdc.kvno(f.operatorPrincipal), before + 1, "the operator's own key was replaced");
  const client = (await secretBytes("krb-keys-keytabs", "client"))!;
  assert.equal(await kinitWithKeytab(f.kdc, client, f.operatorPrincipal), 0);

  // The file the operator started with now holds a stale key; kadmin must still work.
  await f.applyKey("after-self", { type: "Password", principal: "after-self/edge", secret: "after-self/password" });
  await f.waitForKey("after-self", isReady(), "a later key still reconciles");
  assert.ok((await f.operator.client.getOrNull(Core.secrets, "after-self", f.namespace)));
});

test("graft krbkeys as a process: chart environment, the keytab krbkeys itself stored, probes, metrics, SIGTERM", async (t) => {
  const ns = "edge-proc";
  assert.equal((await f.cp.kubectl(["create", "namespace", ns])).code, 0);
  const dir = mkdtempSync(join(tmpdir(), "graft-krbkeys-proc-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  // The operator's keytab as the chart mounts it: from Secret krb-keys-keytabs, written by the previous test.
  const keytab = join(dir, "client");
  writeFileSync(keytab, (await secretBytes("krb-keys-keytabs", "client"))!, { mode: 0o600 });
  const port = await freePort();
  const main = fileURLToPath(new URL("../main.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e",
    `import { krbkeysCommand } from ${JSON.stringify(main)}; await krbkeysCommand().parseAsync(process.argv.slice(1), { from: "user" });`,
    "--", "--kubeconfig", f.cp.kubeconfigPath, "--health-addr", `127.0.0.1:${port}`, "--min-retry-delay", "200ms"], {
    env: {
      ...process.env, WATCH_NAMESPACE: ns, REALM: realm, KADMIN_PRINCIPAL: f.operatorPrincipal,
      KRB5_CLIENT_KTNAME: keytab, KRB5_CONFIG: f.kdc.krb5ConfPath, LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (s: string) => { stderr += s; });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  t.after(() => { if (child.exitCode === null) child.kill("SIGKILL"); });

  const body = JSON.stringify({ apiVersion: "factoryplus.app.amrc.co.uk/v1", kind: "KerberosKey", metadata: { name: "op1sync", namespace: ns },
    spec: { type: "Password", principal: "op1sync/edge", secret: "edge-sync-credentials/password" } });
  assert.equal((await f.cp.kubectl(["apply", "-f", "-"], { input: body })).code, 0);
  const kk = await Promise.race([
    eventually(async () => {
      const k = await f.operator.client.get<KerberosKey>(KerberosKeyType, "op1sync", ns);
      return isReady()(k) ? k : undefined;
    }, { timeoutMs: 30_000, message: "the process did not make op1sync Ready" }),
    exited.then((code) => { throw new Error(`graft krbkeys exited with ${code}: ${stderr.slice(-2000)}`); }),
  ]);
  const s = await f.operator.client.get<SecretObject>(Core.secrets, "edge-sync-credentials", ns);
  assert.equal(await kinitWithPassword(f.kdc, `op1sync/edge@${realm}`, Buffer.from(s.data!.password!, "base64").toString("utf8")), 0);
  assert.equal(kk.status?.kvno, await f.kdc.kvno(`op1sync/edge@${realm}`));

  assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
  const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  assert.match(metrics, /graft_condition\{kind="KerberosKey",name="op1sync",namespace="edge-proc",type="Ready",status="True"\} 1/);
  assert.match(metrics, /graft_reconcile_total\{controller="krbkeys",result="success"\}/);

  child.kill("SIGTERM");
  assert.equal(await exited, 0, `clean exit on SIGTERM (stderr: ${stderr.slice(-2000)})`);
});
