// Choosing the certificate to publish among the active key Secrets (certificates made with openssl).
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { controllerCertPath, newestActiveCertificate, parseCertificate, type SecretObject } from "./certificate.js";
import { makeCertificate } from "../../e2e/support/edge-sync/openssl.js";

let older: string;
let newer: string;
before(async () => {
  [older, newer] = (await Promise.all([makeCertificate("older"), makeCertificate("newer")])).map((c) => c.certPem) as [string, string];
});

const keySecret = (name: string, created: string, pem: string | undefined, state = "active"): SecretObject => ({
  metadata: { name, namespace: "sealed-secrets", creationTimestamp: created, labels: { "sealedsecrets.bitnami.com/sealed-secrets-key": state } },
  type: "kubernetes.io/tls",
  data: pem === undefined ? {} : { "tls.crt": Buffer.from(pem).toString("base64"), "tls.key": "" },
});

test("the newest active key's certificate wins, whatever the list order", () => {
  const secrets = [keySecret("sealed-secrets-keyaaaaa", "2026-01-01T00:00:00Z", older), keySecret("sealed-secrets-keybbbbb", "2026-02-01T00:00:00Z", newer)];
  assert.equal(newestActiveCertificate(secrets), newer);
  assert.equal(newestActiveCertificate([...secrets].reverse()), newer);
});

test("Secrets that are not active or whose tls.crt is missing or not a certificate are skipped", () => {
  const secrets = [
    keySecret("k1", "2026-01-01T00:00:00Z", older),
    keySecret("k2", "2026-03-01T00:00:00Z", newer, "compromised"),
    keySecret("k3", "2026-04-01T00:00:00Z", undefined),
    keySecret("k4", "2026-05-01T00:00:00Z", "-----BEGIN CERTIFICATE-----\nnot base64 der\n-----END CERTIFICATE-----\n"),
  ];
  assert.equal(newestActiveCertificate(secrets), older);
  assert.equal(newestActiveCertificate([]), undefined);
});

test("the same creation second is decided by name, so every replica picks the same one", () => {
  const a = keySecret("sealed-secrets-key1", "2026-01-01T00:00:00Z", older);
  const b = keySecret("sealed-secrets-key2", "2026-01-01T00:00:00Z", newer);
  assert.equal(newestActiveCertificate([a, b]), newer);
  assert.equal(newestActiveCertificate([b, a]), newer);
});

test("parseCertificate accepts a PEM certificate and rejects anything else", () => {
  assert.equal(parseCertificate(older.trimEnd()), older.endsWith("\n") ? older : `${older}\n`);
  assert.equal(parseCertificate("hello"), undefined);
  assert.equal(parseCertificate(undefined), undefined);
});

test("the fallback asks the controller through the API server's service proxy, as kubeseal does", () => {
  assert.equal(controllerCertPath("sealed-secrets", "sealed-secrets", "http"),
    "/api/v1/namespaces/sealed-secrets/services/http:sealed-secrets:http/proxy/v1/cert.pem");
});
