// The central status endpoint against a real API server: only a cluster's own token writes its status, bodies are
// validated, and reports reach `kubectl get edgecluster` (hosts, certificate, Bootstrapped/Reporting conditions).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually } from "../../e2e/harness/eventually.js";
import { App } from "../api/constants.js";
import { EdgeClusterType, type EdgeCluster } from "../api/edgecluster.js";
import { MAX_STATUS_BODY } from "./status-endpoint.js";
import { managerForFile, provisionCluster } from "../../e2e/support/cluster-manager/fixtures.js";

const NS = "edge-status";
const f = await managerForFile("status", NS, { reportTimeoutMs: 4000 });
const provision = async (name: string) => {
  const { uuid, creds } = await provisionCluster(f, name, NS);
  return { uuid, token: creds.syncToken };
};
const a = await provision("edge-a");
const b = await provision("edge-b");

const url = (uuid: string, app: string = App.EdgeClusterStatus) => `${f.externalUrl}/v2/app/${app}/object/${uuid}`;
const patch = (uuid: string, token: string, body: string, type = "application/merge-patch+json") =>
  fetch(url(uuid), { method: "PATCH", headers: { authorization: `Bearer ${token}`, "content-type": type }, body });
const ec = (name: string) => f.manager.client.get<EdgeCluster>(EdgeClusterType, name, NS);
const cond = (e: EdgeCluster, type: string) => e.status?.conditions?.find((c) => c.type === type);

const host = (hostname: string, cp = false) => ({ hostname, control_plane: cp, k8s_version: "v1.36.3", arch: "amd64", os_version: "Debian 12", ready: true });

test("a PATCH creates the entry and reaches the EdgeCluster status", async () => {
  assert.equal((await fetch(url(a.uuid), { headers: { authorization: `Bearer ${a.token}` } })).status, 404, "nothing reported yet");
  const r = await patch(a.uuid, a.token, JSON.stringify({ hosts: [host("n1", true), host("n2")] }));
  assert.equal(r.status, 204, await r.text());
  const got = await ec("edge-a");
  assert.deepEqual(got.status!.hosts!.map((h) => h.hostname), ["n1", "n2"]);
  assert.equal(got.status!.hostCount, 2);
  assert.equal(cond(got, "Bootstrapped")?.status, "True");
  assert.equal(cond(got, "Reporting")?.status, "True");
  const table = await f.cp.kubectl(["get", "ec", "-n", NS, "edge-a"]);
  assert.match(table.stdout, /edge-a\s+acme-edge-a\s+2\s/);
  const read = await fetch(url(a.uuid), { headers: { authorization: `Bearer ${a.token}` } });
  assert.deepEqual(await read.json(), { hosts: [host("n1", true), host("n2")] });
});

test("a certificate PATCH keeps the hosts; fingerprint and expiry show in status", async () => {
  const dir = mkdtempSync(join(tmpdir(), "graft-cert-"));
  try {
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "k.pem"), "-out", join(dir, "c.pem"), "-days", "30", "-subj", "/CN=sealed-secret"], { stdio: "ignore" });
    const pem = readFileSync(join(dir, "c.pem"), "utf8");
    const r = await patch(a.uuid, a.token, JSON.stringify({ kubeseal_cert: pem }));
    assert.equal(r.status, 204, await r.text());
    const got = await ec("edge-a");
    assert.equal(got.status!.hostCount, 2, "merge patch left hosts alone");
    assert.equal(got.status!.kubesealCertificate!.pem, pem);
    const fp = execFileSync("openssl", ["x509", "-in", join(dir, "c.pem"), "-noout", "-fingerprint", "-sha256"], { encoding: "utf8" }).split("=")[1]!.trim();
    assert.equal(got.status!.kubesealCertificate!.fingerprint, fp);
    assert.ok(Date.parse(got.status!.kubesealCertificate!.notAfter) > Date.now() + 29 * 86_400_000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a GitOps report becomes status.gitops and Synced; a failing object's message shows in kubectl describe", async () => {
  const commit = (await ec("edge-a")).status!.commit!;
  const objects = (revision: string, release: Record<string, string> = { ready: "True", reason: "UpgradeSucceeded", message: "Helm upgrade succeeded" }) => [
    { kind: "GitRepository", namespace: "fplus-edge", name: "self-link", ready: "True", reason: "Succeeded", revision },
    { kind: "Kustomization", namespace: "fplus-edge", name: "self-link", ready: "True", reason: "ReconciliationSucceeded", revision },
    { kind: "HelmRelease", namespace: "fplus-edge", name: `edge-cluster-${a.uuid}`, revision: "0.1.0+abc", ...release },
  ];
  const old = "main@sha1:" + "0".repeat(40);
  assert.equal((await patch(a.uuid, a.token, JSON.stringify({ gitops: { fluxVersion: "v2.9.5", objects: objects(old) } }))).status, 204);
  let got = await ec("edge-a");
  assert.equal(got.status!.gitops!.appliedRevision, old);
  assert.equal(got.status!.hostCount, 2, "merge patch left hosts alone");
  assert.equal(cond(got, "Synced")?.status, "False");
  assert.equal(cond(got, "Synced")?.reason, "RevisionPending");
  assert.match(cond(got, "Synced")!.message, new RegExp(`graft's latest is ${commit.slice(0, 12)}`));
  assert.equal(cond(got, "Ready")?.status, "True", "an edge still applying is not a fault");

  const current = `main@sha1:${commit}`;
  assert.equal((await patch(a.uuid, a.token, JSON.stringify({ gitops: { fluxVersion: "v2.9.5", objects: objects(current) } }))).status, 204);
  got = await ec("edge-a");
  assert.equal(cond(got, "Synced")?.status, "True");
  assert.equal(got.status!.gitops!.lastAppliedAt, got.status!.gitops!.reportedAt);
  const table = await f.cp.kubectl(["get", "ec", "-n", NS, "edge-a", "-o", "wide"]);
  assert.match(table.stdout, new RegExp(`True\\s+v2\\.9\\.5\\s+${current}`), table.stdout);

  const failure = "Helm upgrade failed for release fplus-edge/edge-cluster: values don't meet the specifications of the schema(s)";
  assert.equal((await patch(a.uuid, a.token, JSON.stringify({ gitops: { fluxVersion: "v2.9.5", objects: objects(current, { ready: "False", reason: "UpgradeFailed", message: failure }) } }))).status, 204);
  got = await ec("edge-a");
  assert.equal(cond(got, "Synced")?.reason, "FluxObjectNotReady");
  const described = await f.cp.kubectl(["describe", "ec", "-n", NS, "edge-a"]);
  assert.match(described.stdout.replace(/\s+/g, " "), /HelmRelease fplus-edge\/edge-cluster-\S+ is not Ready: UpgradeFailed: Helm upgrade failed/);
  const read = await (await fetch(url(a.uuid), { headers: { authorization: `Bearer ${a.token}` } })).json() as { gitops: { objects: unknown[] } };
  assert.equal(read.gitops.objects.length, 3);

  const bad = await patch(a.uuid, a.token, JSON.stringify({ gitops: { objects: [{ kind: "HelmRelease", namespace: "x", name: "y", ready: "Maybe" }] } }));
  assert.equal(bad.status, 422);
  assert.match(await bad.text(), /gitops\.objects\.0\.ready/);
});

test("wrong, foreign and missing tokens are refused and change nothing", async () => {
  const before = JSON.stringify((await ec("edge-a")).status!.hosts);
  const body = JSON.stringify({ hosts: [] });
  assert.equal((await patch(a.uuid, "not-a-token", body)).status, 401);
  assert.equal((await fetch(url(a.uuid), { method: "PATCH", headers: { "content-type": "application/merge-patch+json" }, body })).status, 401);
  const foreign = await patch(a.uuid, b.token, body);
  assert.equal(foreign.status, 403);
  assert.match(await foreign.text(), /only report the status of its own cluster/);
  assert.equal(JSON.stringify((await ec("edge-a")).status!.hosts), before);
});

test("malformed bodies get 422, wrong content types 415, oversize bodies 413, bad paths 410/404 — nothing changes", async () => {
  const before = JSON.stringify((await ec("edge-a")).status);
  const cases: Array<[string, number, RegExp]> = [
    ["{not json", 422, /not valid JSON/],
    [JSON.stringify([1, 2]), 422, /must be a JSON object/],
    [JSON.stringify({ hosts: [{ hostname: "x" }] }), 422, /hosts\.0\.control_plane/],
    [JSON.stringify({ hosts: "many" }), 422, /hosts/],
    [JSON.stringify({ colour: "blue" }), 422, /Unrecognized key/i],
    [JSON.stringify({ kubeseal_cert: "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n" }), 422, /not a PEM X\.509 certificate/],
  ];
  for (const [body, status, message] of cases) {
    const r = await patch(a.uuid, a.token, body);
    assert.equal(r.status, status, body);
    assert.match(await r.text(), message, body);
  }
  assert.equal((await patch(a.uuid, a.token, "{}", "application/json")).status, 415);
  assert.equal((await patch(a.uuid, a.token, "x".repeat(MAX_STATUS_BODY + 1))).status, 413);
  assert.equal((await fetch(`${f.externalUrl}/v2/app/not-a-uuid/object/${a.uuid}`, { headers: { authorization: `Bearer ${a.token}` } })).status, 410);
  assert.equal((await fetch(url(a.uuid, App.EdgeClusterConfiguration), { headers: { authorization: `Bearer ${a.token}` } })).status, 404);
  assert.equal(JSON.stringify((await ec("edge-a")).status), before);
});

test("PUT replaces the entry: 201 when new, 204 after", async () => {
  const put = (body: unknown) => fetch(url(b.uuid), { method: "PUT", headers: { authorization: `Bearer ${b.token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  assert.equal((await put({ hosts: [host("b1")] })).status, 201);
  assert.equal((await put({ hosts: [host("b1"), host("b2")] })).status, 204);
  assert.equal((await ec("edge-b")).status!.hostCount, 2);
});

test("Reporting goes False with a reason when reports stop, and back to True on the next report", async () => {
  const silent = await eventually(async () => {
    const e = await ec("edge-b");
    return cond(e, "Reporting")?.status === "False" && e;
  }, { timeoutMs: 30_000, message: "Reporting went False" });
  assert.equal(cond(silent, "Reporting")?.reason, "ReportsStopped");
  assert.equal(cond(silent, "Ready")?.status, "False");
  assert.equal((await patch(b.uuid, b.token, JSON.stringify({ hosts: [host("b1")] }))).status, 204);
  const back = await ec("edge-b");
  assert.equal(cond(back, "Reporting")?.status, "True");
  assert.equal(cond(back, "Ready")?.status, "True");
});
