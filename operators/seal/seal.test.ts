import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import assert from "node:assert/strict";
import {
  CLUSTER_WIDE_ANNOTATION, CertificateError, NAMESPACE_WIDE_ANNOTATION, SEALING_SCOPES, SealInputError, buildSealedSecret,
  mergeSealedSecret, parseCertificate, removeKey, sealValue, sealedSecretScope, type SealedSecret, type SealingScope,
} from "./seal.js";
import { parseSealedSecretYaml, sealedSecretToYaml } from "./sealed-secret-file.js";
import { runKubeseal } from "./kubeseal-cli.js";

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

let dir: string;
let keyPath: string;
let certPath: string;
let certPem: string;
let expiredPem: string;
let ecCertPem: string;

async function openssl(args: string[]): Promise<string> {
  return (await run("openssl", args, { cwd: dir })).stdout;
}

/** A self-signed RSA certificate that expired in 2020, signed by `openssl ca` (which can set any validity). */
async function makeExpiredCertificate(): Promise<string> {
  await writeFile(join(dir, "ca.cnf"), [
    "[ ca ]", "default_ca = throwaway", "[ throwaway ]", "database = ./index.txt", "new_certs_dir = .",
    "serial = ./serial", "default_md = sha256", "policy = anything", "unique_subject = no",
    "[ anything ]", "commonName = supplied", "",
  ].join("\n"));
  await writeFile(join(dir, "index.txt"), "");
  await writeFile(join(dir, "serial"), "01\n");
  await openssl(["req", "-new", "-key", keyPath, "-subj", "/CN=sealed-secret", "-out", "req.csr"]);
  await openssl(["ca", "-batch", "-config", "ca.cnf", "-selfsign", "-keyfile", keyPath, "-in", "req.csr",
    "-startdate", "20200101000000Z", "-enddate", "20200102000000Z", "-notext", "-out", "expired.pem"]);
  return readFile(join(dir, "expired.pem"), "utf8");
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "graft-seal-"));
  keyPath = join(dir, "key.pem");
  certPath = join(dir, "cert.pem");
  // 4096 bits, as the Sealed Secrets controller generates: the RSA ciphertext is 512 bytes.
  await openssl(["req", "-x509", "-newkey", "rsa:4096", "-nodes", "-keyout", keyPath, "-out", certPath, "-days", "30",
    "-subj", "/CN=sealed-secret/O=sealed-secret"]);
  certPem = await readFile(certPath, "utf8");
  expiredPem = await makeExpiredCertificate();
  await openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ec-key.pem",
    "-out", "ec-cert.pem", "-days", "30", "-subj", "/CN=not-rsa"]);
  ecCertPem = await readFile(join(dir, "ec-cert.pem"), "utf8");
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Decrypts with the upstream kubeseal and the private key; returns the Secret's data as bytes. */
async function unsealWithKubeseal(sealed: SealedSecret | string): Promise<Record<string, Buffer>> {
  const text = typeof sealed === "string" ? sealed : sealedSecretToYaml(sealed);
  const result = await runKubeseal(["--recovery-unseal", "--recovery-private-key", keyPath, "-o", "json"], text);
  if (result.code !== 0) throw new Error(`kubeseal --recovery-unseal failed (${result.code}): ${result.stderr.trim()}`);
  // Go writes an empty []byte as null.
  const secret = JSON.parse(result.stdout.toString("utf8")) as { kind: string; data?: Record<string, string | null> };
  assert.equal(secret.kind, "Secret");
  return Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v ?? "", "base64")]));
}

function sealedFor(scope: SealingScope, namespace: string, name: string, data: Record<string, Buffer>): SealedSecret {
  const encryptedData = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, sealValue(certPem, v, scope, namespace, name)]));
  return buildSealedSecret({ name, namespace, scope, encryptedData });
}

describe("values sealed by graft are unsealed by the upstream kubeseal", () => {
  for (const scope of SEALING_SCOPES) {
    test(`${scope} scope`, async () => {
      const value = Buffer.from(`password for ${scope}\n`);
      const sealed = sealedFor(scope, "fplus-edge", "db-credentials", { password: value });
      const data = await unsealWithKubeseal(sealed);
      assert.deepEqual(Object.keys(data), ["password"]);
      assert.ok(data.password!.equals(value), "kubeseal returned different bytes");
    });
  }

  test("a binary value holding all 256 byte values and a 3 MB random value, merged into one SealedSecret", async () => {
    const binary = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const large = randomBytes(3 * 1024 * 1024);
    let sealed = mergeSealedSecret(null, {
      name: "blobs", namespace: "edge-apps", scope: "namespace-wide", key: "binary",
      encryptedValue: sealValue(certPem, binary, "namespace-wide", "edge-apps", "blobs"),
    });
    sealed = mergeSealedSecret(sealed, {
      name: "blobs", namespace: "edge-apps", scope: "namespace-wide", key: "large.bin",
      encryptedValue: sealValue(certPem, large, "namespace-wide", "edge-apps", "blobs"),
    });
    const data = await unsealWithKubeseal(sealedSecretToYaml(sealed));
    assert.ok(data.binary!.equals(binary), "binary value differs after kubeseal unsealing");
    assert.equal(data["large.bin"]!.length, large.length);
    assert.ok(data["large.bin"]!.equals(large), "3 MB value differs after kubeseal unsealing");
  });

  test("an empty value", async () => {
    const data = await unsealWithKubeseal(sealedFor("strict", "ns", "empty", { none: Buffer.alloc(0) }));
    assert.deepEqual(Object.keys(data), ["none"]);
    assert.equal(data.none!.length, 0);
  });
});

describe("kubeseal refuses graft's values moved to where they were not sealed for", () => {
  const value = Buffer.from("not for you");

  type Placement = { scope: SealingScope; namespace: string; name: string };
  async function assertRefused(sealedFor: Placement, placedAs: Placement) {
    const encrypted = sealValue(certPem, value, sealedFor.scope, sealedFor.namespace, sealedFor.name);
    const sealed = buildSealedSecret({ ...placedAs, encryptedData: { k: encrypted } });
    const result = await runKubeseal(["--recovery-unseal", "--recovery-private-key", keyPath, "-o", "json"], sealedSecretToYaml(sealed));
    assert.notEqual(result.code, 0, "kubeseal unsealed a value placed in the wrong Secret");
    assert.match(result.stderr, /no key could decrypt secret/);
  }

  const placements: Array<[string, Placement, Placement]> = [
    ["strict value under another name", { scope: "strict", namespace: "ns", name: "a" }, { scope: "strict", namespace: "ns", name: "b" }],
    ["strict value in another namespace", { scope: "strict", namespace: "ns", name: "a" }, { scope: "strict", namespace: "other", name: "a" }],
    ["namespace-wide value presented as strict", { scope: "namespace-wide", namespace: "ns", name: "a" }, { scope: "strict", namespace: "ns", name: "a" }],
    ["namespace-wide value in another namespace", { scope: "namespace-wide", namespace: "ns", name: "a" }, { scope: "namespace-wide", namespace: "other", name: "a" }],
    ["cluster-wide value presented as namespace-wide", { scope: "cluster-wide", namespace: "ns", name: "a" }, { scope: "namespace-wide", namespace: "ns", name: "a" }],
    ["strict value presented as cluster-wide", { scope: "strict", namespace: "ns", name: "a" }, { scope: "cluster-wide", namespace: "ns", name: "a" }],
  ];
  for (const [what, sealedFor, placedAs] of placements) test(what, () => assertRefused(sealedFor, placedAs));
});

describe("parseCertificate", () => {
  test("reads fingerprint and expiry as openssl reports them", async () => {
    const parsed = parseCertificate(certPem);
    const fingerprint = (await openssl(["x509", "-in", certPath, "-noout", "-fingerprint", "-sha256"])).trim().split("=")[1];
    const endDate = (await openssl(["x509", "-in", certPath, "-noout", "-enddate"])).trim().split("=")[1]!;
    assert.equal(parsed.fingerprint, fingerprint);
    assert.equal(parsed.notAfter.getTime(), new Date(endDate).getTime());
    assert.equal(parsed.publicKey.asymmetricKeyType, "rsa");
  });

  test("refuses an expired certificate, saying when it expired", () => {
    assert.throws(() => parseCertificate(expiredPem), (err: Error) =>
      err instanceof CertificateError && /sealing certificate expired on 2020-01-02T00:00:00\.000Z/.test(err.message));
    assert.throws(() => sealValue(expiredPem, Buffer.from("x"), "strict", "ns", "a"), /expired/);
  });

  test("judges expiry at the time it is given", () => {
    const notAfter = parseCertificate(certPem).notAfter;
    assert.doesNotThrow(() => parseCertificate(certPem, new Date(notAfter.getTime() - 1000)));
    assert.throws(() => parseCertificate(certPem, new Date(notAfter.getTime() + 1000)), /expired/);
  });

  test("refuses a missing, unparsable or non-RSA certificate", () => {
    for (const missing of [undefined, null, "", "  \n"]) {
      assert.throws(() => parseCertificate(missing), /no sealing certificate/);
    }
    assert.throws(() => parseCertificate("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"),
      /not a valid PEM X\.509 certificate/);
    assert.throws(() => parseCertificate(ecCertPem), /must hold an RSA public key: found "ec"/);
  });
});

describe("SealedSecret objects", () => {
  const sealedValue = (tag: string) => Buffer.from(tag).toString("base64");

  test("scope annotations sit on the SealedSecret and its template, and round-trip through YAML", () => {
    const expected: Record<SealingScope, Record<string, string> | undefined> = {
      "strict": undefined,
      "namespace-wide": { [NAMESPACE_WIDE_ANNOTATION]: "true" },
      "cluster-wide": { [CLUSTER_WIDE_ANNOTATION]: "true" },
    };
    for (const scope of SEALING_SCOPES) {
      const sealed = buildSealedSecret({ name: "s", namespace: "ns", scope, encryptedData: { k: sealedValue("v") } });
      assert.equal(sealed.apiVersion, "bitnami.com/v1alpha1");
      assert.equal(sealed.kind, "SealedSecret");
      assert.deepEqual(sealed.metadata.annotations, expected[scope]);
      assert.deepEqual(sealed.spec.template.metadata, { name: "s", namespace: "ns", ...(expected[scope] ? { annotations: expected[scope] } : {}) });
      const reread = parseSealedSecretYaml(sealedSecretToYaml(sealed));
      assert.deepEqual(reread, sealed);
      assert.equal(sealedSecretScope(reread), scope);
    }
  });

  test("merging adds and replaces keys and keeps what else the stored file holds", () => {
    const stored = buildSealedSecret({ name: "s", namespace: "ns", scope: "strict", encryptedData: { a: sealedValue("a1") } });
    stored.metadata.labels = { team: "edge" };
    const added = mergeSealedSecret(stored, { name: "s", namespace: "ns", scope: "strict", key: "b", encryptedValue: sealedValue("b1") });
    const replaced = mergeSealedSecret(added, { name: "s", namespace: "ns", scope: "strict", key: "a", encryptedValue: sealedValue("a2") });
    assert.deepEqual(replaced.spec.encryptedData, { a: sealedValue("a2"), b: sealedValue("b1") });
    assert.deepEqual(replaced.metadata.labels, { team: "edge" });
    assert.deepEqual(stored.spec.encryptedData, { a: sealedValue("a1") }, "the stored object was modified");
  });

  test("merging refuses another Secret, a different scope while other keys remain, and bad keys", () => {
    const stored = buildSealedSecret({ name: "s", namespace: "ns", scope: "strict", encryptedData: { a: sealedValue("a") } });
    const base = { name: "s", namespace: "ns", scope: "strict" as SealingScope, key: "b", encryptedValue: sealedValue("b") };
    assert.throws(() => mergeSealedSecret(stored, { ...base, name: "t" }), /existing sealed secret is "ns\/s", not "ns\/t"/);
    assert.throws(() => mergeSealedSecret(stored, { ...base, scope: "cluster-wide" }),
      (err: Error) => err instanceof SealInputError && /sealed with scope "strict", not "cluster-wide": re-seal its other keys \(a\)/.test(err.message));
    const rescoped = mergeSealedSecret(stored, { ...base, key: "a", scope: "cluster-wide" });
    assert.equal(sealedSecretScope(rescoped), "cluster-wide", "replacing the only key may change the scope");
    assert.throws(() => mergeSealedSecret(stored, { ...base, key: "a/b" }), /invalid secret key "a\/b"/);
    assert.throws(() => mergeSealedSecret(null, { ...base, namespace: "Bad_NS" }), /invalid namespace "Bad_NS"/);
    assert.throws(() => sealValue(certPem, Buffer.from("x"), "strict", "ns", "a/b"), /invalid secret name "a\/b"/);
  });

  test("removing keys: null once the last one goes", () => {
    const stored = buildSealedSecret({ name: "s", namespace: "ns", scope: "strict", encryptedData: { a: sealedValue("a"), b: sealedValue("b") } });
    const one = removeKey(stored, "a");
    assert.deepEqual(one?.spec.encryptedData, { b: sealedValue("b") });
    assert.deepEqual(removeKey(one!, "missing")?.spec.encryptedData, { b: sealedValue("b") });
    assert.equal(removeKey(one!, "b"), null);
  });

  test("parseSealedSecretYaml refuses what is not a SealedSecret", () => {
    assert.throws(() => parseSealedSecretYaml("kind: Secret\napiVersion: v1\n", "cluster/x/s.yaml"), /cluster\/x\/s\.yaml is not a bitnami\.com\/v1alpha1 SealedSecret/);
    assert.throws(() => parseSealedSecretYaml("a: [", "f.yaml"), /f\.yaml is not valid YAML/);
  });
});

describe("graft seal (CLI with --cert)", () => {
  let entry: string;

  before(async () => {
    entry = join(dir, "graft-seal.mjs");
    await writeFile(entry, [
      `import { sealCommand } from ${JSON.stringify(pathToFileURL(join(repoRoot, "operators/seal/main.ts")).href)};`,
      "await sealCommand().parseAsync(process.argv);",
      "",
    ].join("\n"));
  });

  async function graftSeal(args: string[], stdin?: Buffer): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = execFile(process.execPath, ["--import", "tsx", entry, ...args],
        { cwd: repoRoot, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => {
          if (err && typeof err.code !== "number") reject(err);
          else resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
        });
      child.stdin!.end(stdin ?? "");
    });
  }

  test("seals a value read from stdin; kubeseal unseals it", async () => {
    const value = Buffer.from("from stdin, with a trailing newline\n");
    const result = await graftSeal(["edge-1", "fplus-edge/mqtt", "password", "--cert", certPath, "--scope", "namespace-wide"], value);
    assert.equal(result.code, 0, result.stderr);
    const sealed = parseSealedSecretYaml(result.stdout);
    assert.equal(sealed.metadata.name, "mqtt");
    assert.equal(sealedSecretScope(sealed), "namespace-wide");
    assert.ok((await unsealWithKubeseal(result.stdout)).password!.equals(value));
  });

  test("seals a binary value read with --from-file", async () => {
    const value = randomBytes(4096);
    await writeFile(join(dir, "value.bin"), value);
    const result = await graftSeal(["edge-1", "ns/blob", "data.bin", "--cert", certPath, "--from-file", join(dir, "value.bin")]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(sealedSecretScope(parseSealedSecretYaml(result.stdout)), "strict");
    assert.ok((await unsealWithKubeseal(result.stdout))["data.bin"]!.equals(value));
  });

  test("refuses an expired certificate and a target without a namespace, exit code 1", async () => {
    await writeFile(join(dir, "expired-cert.pem"), expiredPem);
    const expired = await graftSeal(["edge-1", "ns/s", "k", "--cert", join(dir, "expired-cert.pem")], Buffer.from("v"));
    assert.equal(expired.code, 1);
    assert.match(expired.stderr, /error: sealing certificate expired on 2020-01-02/);
    assert.equal(expired.stdout, "");
    const noNamespace = await graftSeal(["edge-1", "just-a-name", "k", "--cert", certPath], Buffer.from("v"));
    assert.equal(noNamespace.code, 1);
    assert.match(noNamespace.stderr, /invalid secret "just-a-name": write it as <namespace>\/<name>/);
  });
});
