// Bad input at every HTTP endpoint of the cluster-manager (bootstrap, status, sealing, Git smart HTTP for cluster and
// shared repositories) and in EdgeCluster specs: each gets a specific 4xx (or a condition), and nothing changes —
// no Secret, EdgeCluster or repository moves.
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { eventually } from "../harness/eventually.js";
import { App } from "../../operators/api/constants.js";
import { EdgeClusterType, type EdgeCluster } from "../../operators/api/edgecluster.js";
import { requestBootstrapCommand } from "../../operators/cluster-manager/bootstrap-command.js";
import { issueBootstrapToken } from "../../operators/cluster-manager/bootstrap-tokens.js";
import { credentialsSecretName, type ClusterCredentials } from "../../operators/cluster-manager/credentials.js";
import { managerForFile, provisionCluster, waitForCondition } from "../support/cluster-manager/fixtures.js";
import { tempDirForFile } from "../support/api-server.js";
import { readRef } from "../../operators/cluster-manager/git/git-objects.js";
import { Core } from "../../operators/runtime/kube.js";
import { basic, rawRequest } from "./http-client.js";

const NS = "bad-input";
const dir = tempDirForFile("graft-bad-input-");
const f = await managerForFile("bad-input", NS, {}, { alice: ["sealers"], mallory: [] });
const sites: Record<"a" | "b", { uuid: string; creds: ClusterCredentials }> = {} as never;
let usedToken: string;
let expiredToken: string;
const provision = (name: string) => provisionCluster(f, name, NS);

before(async () => {
  await f.cp.kubectl(["-n", NS, "create", "role", "sealer", "--verb=update", "--resource=edgeclusters.factoryplus.app.amrc.co.uk/secrets"]);
  await f.cp.kubectl(["-n", NS, "create", "rolebinding", "sealers", "--role=sealer", "--group=sealers"]);
  sites.a = await provision("site-a");
  sites.b = await provision("site-b");
  // site-a reports a certificate (so sealing for it works); site-b never reports one.
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem"),
    "-days", "30", "-subj", "/CN=sealed-secret/O=sealed-secret"], { stdio: "ignore" });
  const report = await fetch(`${f.externalUrl}/v2/app/${App.EdgeClusterStatus}/object/${sites.a.uuid}`, {
    method: "PATCH", headers: { authorization: `Bearer ${sites.a.creds.syncToken}`, "content-type": "application/merge-patch+json" },
    body: JSON.stringify({ kubeseal_cert: readFileSync(join(dir, "cert.pem"), "utf8") }),
  });
  assert.equal(report.status, 204);
  const secret = credentialsSecretName(sites.a.uuid);
  // Served before the next is issued: issuing a token retires the older unused ones.
  usedToken = (await issueBootstrapToken(f.manager.client, NS, secret, 3_600_000)).token;
  await eventually(async () => (await fetch(`${f.externalUrl}/v1/bootstrap/${usedToken}`)).status === 200, { message: "the token is served once" });
  expiredToken = (await issueBootstrapToken(f.manager.client, NS, secret, 1)).token;
});

/** Everything a request could change: EdgeClusters and Secrets (by resourceVersion) and the repositories' heads. */
async function snapshot(): Promise<Record<string, string | null>> {
  const state: Record<string, string | null> = {};
  for (const ec of (await f.manager.client.list<EdgeCluster>(EdgeClusterType, NS)).items) state[`ec/${ec.metadata.name}`] = ec.metadata.resourceVersion ?? null;
  for (const s of (await f.manager.client.list(Core.secrets, NS)).items) state[`secret/${s.metadata.name}`] = s.metadata.resourceVersion ?? null;
  for (const kind of ["repos", "shared"]) {
    for (const repo of readdirSync(join(f.dataDir, kind))) state[`${kind}/${repo}`] = await readRef(join(f.dataDir, kind, repo), "refs/heads/main");
  }
  return state;
}

interface Case {
  what: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  status: number;
  says?: RegExp;
}

function cases(): Case[] {
  const { a, b } = sites;
  const status = (uuid: string, app: string = App.EdgeClusterStatus) => `/v2/app/${app}/object/${uuid}`;
  const bearerA = { authorization: `Bearer ${a.creds.syncToken}` };
  const mergePatch = { ...bearerA, "content-type": "application/merge-patch+json" };
  const seal = (rest: string, uuid = a.uuid) => `/v1/cluster/${uuid}/secret/${rest}`;
  const alice = { authorization: "Bearer alice-token" };
  const gitA = { authorization: basic(a.creds.gitUsername, a.creds.gitPassword) };
  const refs = (repo: string, service = "git-upload-pack") => `${repo}/info/refs?service=${service}`;
  const randomToken = randomBytes(32).toString("base64url");
  return [
    // bootstrap
    { what: "bootstrap: POST", method: "POST", path: `/v1/bootstrap/${randomToken}`, status: 405, says: /use GET/ },
    { what: "bootstrap: malformed token", method: "GET", path: "/v1/bootstrap/not-a-token", status: 404, says: /unknown bootstrap token/ },
    { what: "bootstrap: unknown token", method: "GET", path: `/v1/bootstrap/${randomToken}`, status: 404, says: /unknown bootstrap token/ },
    { what: "bootstrap: reused token", method: "GET", path: `/v1/bootstrap/${usedToken}`, status: 410, says: /already used .*works only once/ },
    { what: "bootstrap: expired token", method: "GET", path: `/v1/bootstrap/${expiredToken}`, status: 410, says: /expired/ },
    { what: "bootstrap: path traversal", method: "GET", path: "/v1/bootstrap/../../etc/passwd", status: 404, says: /unknown bootstrap token/ },
    { what: "bootstrap: encoded traversal", method: "GET", path: `/v1/bootstrap/${usedToken}%2f..%2f..`, status: 404 },
    // status endpoint
    { what: "status: no token", method: "PATCH", path: status(a.uuid), headers: { "content-type": "application/merge-patch+json" }, body: "{}", status: 401 },
    { what: "status: wrong token", method: "PATCH", path: status(a.uuid), headers: { authorization: `Bearer ${randomToken}`, "content-type": "application/merge-patch+json" }, body: "{}", status: 401 },
    { what: "status: another cluster's token", method: "PATCH", path: status(a.uuid), headers: { authorization: `Bearer ${b.creds.syncToken}`, "content-type": "application/merge-patch+json" }, body: "{}", status: 403 },
    { what: "status: token for an unknown cluster UUID", method: "GET", path: status("00000000-0000-4000-8000-000000000000"), headers: bearerA, status: 403 },
    { what: "status: PATCH as application/json", method: "PATCH", path: status(a.uuid), headers: { ...bearerA, "content-type": "application/json" }, body: "{}", status: 415 },
    { what: "status: PUT as text/plain", method: "PUT", path: status(a.uuid), headers: { ...bearerA, "content-type": "text/plain" }, body: "{}", status: 415 },
    { what: "status: malformed JSON", method: "PATCH", path: status(a.uuid), headers: mergePatch, body: "{\"hosts\": [", status: 422, says: /not valid JSON/ },
    { what: "status: JSON array", method: "PATCH", path: status(a.uuid), headers: mergePatch, body: "[]", status: 422 },
    { what: "status: hosts not a list", method: "PATCH", path: status(a.uuid), headers: mergePatch, body: "{\"hosts\": \"x\"}", status: 422, says: /hosts/ },
    { what: "status: unknown field", method: "PATCH", path: status(a.uuid), headers: mergePatch, body: "{\"evil\": 1}", status: 422 },
    { what: "status: certificate not PEM", method: "PATCH", path: status(a.uuid), headers: mergePatch, body: "{\"kubeseal_cert\": \"not a cert\"}", status: 422, says: /PEM/ },
    { what: "status: body over 1 MiB", method: "PATCH", path: status(a.uuid), headers: mergePatch, body: `{"hosts": [], "pad": "${"x".repeat(1024 * 1024)}"}`, status: 413 },
    { what: "status: app not a UUID", method: "GET", path: status(a.uuid, "not-a-uuid"), headers: bearerA, status: 410 },
    { what: "status: another application", method: "GET", path: status(a.uuid, "00000000-0000-4000-8000-000000000001"), headers: bearerA, status: 404 },
    { what: "status: DELETE", method: "DELETE", path: status(a.uuid), headers: bearerA, status: 405 },
    { what: "status: unknown route", method: "GET", path: "/v2/app/x", headers: bearerA, status: 404 },
    // sealing
    { what: "seal: no token", method: "PUT", path: seal("apps/db/password"), body: "s3cret", status: 401 },
    { what: "seal: invalid token", method: "PUT", path: seal("apps/db/password"), headers: { authorization: `Bearer ${randomToken}` }, body: "s3cret", status: 401 },
    { what: "seal: user without RBAC", method: "PUT", path: seal("apps/db/password"), headers: { authorization: "Bearer mallory-token" }, body: "s3cret", status: 403 },
    { what: "seal: the edge's sync token is no Kubernetes token", method: "PUT", path: seal("apps/db/password"), headers: bearerA, body: "s3cret", status: 401 },
    { what: "seal: unknown cluster", method: "PUT", path: seal("apps/db/password", "00000000-0000-4000-8000-000000000000"), headers: alice, body: "s3cret", status: 404 },
    { what: "seal: GET", method: "GET", path: seal("apps/db/password"), headers: alice, status: 405 },
    { what: "seal: key '..' (the raw path reaches the seal endpoint)", method: "PUT", path: seal("apps/db/.."), headers: alice, body: "s3cret", status: 422, says: /invalid secret key "\.\."/ },
    { what: "seal: key with a space", method: "PUT", path: seal("apps/db/bad%20key"), headers: alice, body: "s3cret", status: 404 },
    { what: "seal: namespace traversal", method: "PUT", path: seal("../../../x/db/k"), headers: alice, body: "s3cret", status: 404 },
    { what: "seal: unknown scope", method: "PUT", path: `${seal("apps/db/password")}?scope=everywhere`, headers: alice, body: "s3cret", status: 400, says: /unknown scope/ },
    { what: "seal: value over 1 MiB", method: "PUT", path: seal("apps/db/password"), headers: alice, body: Buffer.alloc(1024 * 1024 + 1, 1), status: 413 },
    { what: "seal: cluster without a certificate", method: "PUT", path: seal("apps/db/password", b.uuid), headers: alice, body: "s3cret", status: 409, says: /cannot seal/ },
    // git, cluster repositories
    { what: "git: unknown repository (refused like wrong credentials: existence is not told)", method: "GET", path: refs("/uuid/00000000-0000-4000-8000-000000000000"), headers: gitA, status: 401 },
    { what: "git: not a UUID", method: "GET", path: refs("/uuid/not-a-uuid"), headers: gitA, status: 404 },
    { what: "git: path traversal", method: "GET", path: refs("/uuid/../../../etc"), headers: gitA, status: 404 },
    { what: "git: encoded traversal", method: "GET", path: refs("/uuid/%2e%2e%2f%2e%2e%2fshared%2fhelm-charts"), headers: gitA, status: 404 },
    { what: "git: backslash traversal", method: "GET", path: refs(`/uuid/${a.uuid}\\..\\..`), headers: gitA, status: 404 },
    { what: "git: no credentials", method: "GET", path: refs(`/uuid/${a.uuid}`), status: 401 },
    { what: "git: wrong password", method: "GET", path: refs(`/uuid/${a.uuid}`), headers: { authorization: basic(a.creds.gitUsername, randomToken) }, status: 401 },
    { what: "git: another cluster's credentials", method: "GET", path: refs(`/uuid/${a.uuid}`), headers: { authorization: basic(b.creds.gitUsername, b.creds.gitPassword) }, status: 401 },
    { what: "git: push advertisement", method: "GET", path: refs(`/uuid/${a.uuid}`, "git-receive-pack"), headers: gitA, status: 403 },
    { what: "git: push", method: "POST", path: `/uuid/${a.uuid}/git-receive-pack`, headers: { ...gitA, "content-type": "application/x-git-receive-pack-request" }, body: "0000", status: 403 },
    { what: "git: dumb protocol", method: "GET", path: `/uuid/${a.uuid}/info/refs`, headers: gitA, status: 404 },
    { what: "git: GET of the RPC", method: "GET", path: `/uuid/${a.uuid}/git-upload-pack`, headers: gitA, status: 405 },
    { what: "git: objects path", method: "GET", path: `/uuid/${a.uuid}/objects/info/packs`, headers: gitA, status: 404 },
    { what: "git: gzip that is not gzip", method: "POST", path: `/uuid/${a.uuid}/git-upload-pack`, headers: { ...gitA, "content-encoding": "gzip", "content-type": "application/x-git-upload-pack-request" }, body: "not gzip", status: 400 },
    { what: "git: unknown content encoding", method: "POST", path: `/uuid/${a.uuid}/git-upload-pack`, headers: { ...gitA, "content-encoding": "br" }, body: "x", status: 415 },
    { what: "git: body over 16 MiB", method: "POST", path: `/uuid/${a.uuid}/git-upload-pack`, headers: gitA, body: Buffer.alloc(16 * 1024 * 1024 + 1), status: 413 },
    { what: "git: gzip bomb (small body, over 16 MiB inflated)", method: "POST", path: `/uuid/${a.uuid}/git-upload-pack`, headers: { ...gitA, "content-encoding": "gzip", "content-type": "application/x-git-upload-pack-request" }, body: gzipSync(Buffer.alloc(17 * 1024 * 1024)), status: 413 },
    // git, shared repositories
    { what: "shared: no credentials", method: "GET", path: refs("/shared/helm-charts"), status: 401 },
    { what: "shared: wrong password", method: "GET", path: refs("/shared/helm-charts"), headers: { authorization: basic(a.creds.gitUsername, "wrong") }, status: 401 },
    { what: "shared: unknown repository", method: "GET", path: refs("/shared/no-such-repo"), headers: gitA, status: 404 },
    { what: "shared: invalid name", method: "GET", path: refs("/shared/Bad_Name"), headers: gitA, status: 404 },
    { what: "shared: push", method: "GET", path: refs("/shared/helm-charts", "git-receive-pack"), headers: gitA, status: 403 },
    // anything else
    { what: "unknown path", method: "GET", path: "/nope", status: 404 },
    { what: "unknown /v1 path", method: "GET", path: "/v1/other", status: 404 },
  ];
}

test("every HTTP endpoint answers bad requests with a specific 4xx and changes nothing", async () => {
  // Let the reconciles that follow provisioning settle, so only the requests below could change anything.
  await new Promise((r) => setTimeout(r, 1_500));
  const before = await snapshot();
  const wrong: string[] = [];
  for (const c of cases()) {
    const res = await rawRequest(f.externalUrl, c.method, c.path, c.headers, c.body);
    if (res.status !== c.status || (c.says && !c.says.test(res.body))) {
      wrong.push(`${c.what}: expected ${c.status}${c.says ? ` ${c.says}` : ""}, got ${res.status} ${res.body.trim().slice(0, 160)}`);
    }
  }
  assert.deepEqual(wrong, []);
  assert.deepEqual(await snapshot(), before, "no EdgeCluster, Secret or repository changed");
  const git = await rawRequest(f.externalUrl, "GET", `/uuid/${sites.a.uuid}/info/refs?service=git-upload-pack`,
    { authorization: basic(sites.a.creds.gitUsername, sites.a.creds.gitPassword) });
  assert.equal(git.status, 200, "the right credentials still work afterwards");
});

const ecJson = (name: string, spec: Record<string, unknown>) => JSON.stringify({
  apiVersion: "factoryplus.app.amrc.co.uk/v1alpha1", kind: "EdgeCluster", metadata: { name, namespace: NS }, spec,
});

test("invalid EdgeCluster specs are refused by the API server with the field and the rule", async () => {
  const refused: Array<[Record<string, unknown>, RegExp]> = [
    [{ name: "bad.name" }, /spec\.name must consist of letters \(either case\), digits/],
    [{ uuid: "nope" }, /spec\.uuid must be a lowercase UUID/],
    [{ namespace: "Bad NS" }, /spec\.namespace must be a DNS label/],
    [{ bare: "yes" }, /spec\.bare in body must be of type boolean/],
    [{ chart: "" }, /spec\.chart in body should be at least 1 chars long/],
    [{ unknownField: 1 }, /unknown field "spec\.unknownField"/],
  ];
  for (const [spec, message] of refused) {
    const r = await f.cp.kubectl(["apply", "-f", "-"], { input: ecJson("invalid", spec) });
    assert.notEqual(r.code, 0, JSON.stringify(spec));
    assert.match(r.stderr, message);
  }
  assert.equal((await f.manager.client.getOrNull(EdgeClusterType, "invalid", NS)), null, "nothing was created");
  const nameAdded = await f.cp.kubectl(["patch", "-n", NS, "ec/site-a", "--type=merge", "-p", "{\"spec\":{\"name\":\"other\"}}"]);
  assert.notEqual(nameAdded.code, 0);
  assert.match(nameAdded.stderr, /spec\.name cannot be added after creation/);
});

test("oversize spec.values: over 3 MiB the API server refuses the request (413), over 2 MiB etcd does; nothing is created", async () => {
  for (const [name, bytes, message] of [["huge", 3.5 * 2 ** 20, /Request entity too large: limit is 3145728/], ["big", 2 * 2 ** 20, /larger than max/]] as const) {
    const r = await f.cp.kubectl(["apply", "--server-side", "-f", "-"], { input: ecJson(name, { values: { blob: "x".repeat(bytes) } }) });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, message);
    assert.equal(await f.manager.client.getOrNull(EdgeClusterType, name, NS), null);
  }
  // Client-side apply stores the whole object in an annotation, limited to 256 KiB.
  const r = await f.cp.kubectl(["apply", "-f", "-"], { input: ecJson("medium", { values: { blob: "x".repeat(300 * 1024) } }) });
  assert.match(r.stderr, /metadata\.annotations: Too long: may not be more than 262144 bytes/);
  assert.equal(await f.manager.client.getOrNull(EdgeClusterType, "medium", NS), null);
});

test("a spec.uuid added that differs from the provisioned UUID is refused by the API server; nothing changes", async () => {
  const site = await provision("site-u");
  const other = "0b6e6b1a-1111-4222-8333-444455556666";
  const r = await f.cp.kubectl(["patch", "-n", NS, "ec/site-u", "--type=merge", "-p", JSON.stringify({ spec: { uuid: other } })]);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /spec\.uuid must equal the UUID this cluster was provisioned with/);
  const ec = await f.manager.client.get<EdgeCluster>(EdgeClusterType, "site-u", NS);
  assert.equal(ec.spec.uuid, undefined);
  assert.equal(ec.status!.uuid, site.uuid, "the provisioned UUID is kept");
  assert.equal(await f.manager.client.getOrNull(Core.secrets, credentialsSecretName(other), NS), null);
  assert.ok(!readdirSync(join(f.dataDir, "repos")).includes(`${other}.git`));
  const same = await f.cp.kubectl(["patch", "-n", NS, "ec/site-u", "--type=merge", "-p", JSON.stringify({ spec: { uuid: site.uuid } })]);
  assert.equal(same.code, 0, `recording the provisioned UUID in spec is allowed: ${same.stderr}`);
});

test("spec.values too large for a Helm release on the edge: Stalled=True InvalidSpec, no repository", async () => {
  const r = await f.cp.kubectl(["apply", "--server-side", "-f", "-"], { input: ecJson("bulky", { values: { blob: "x".repeat(300 * 1024) } }) });
  assert.equal(r.code, 0, r.stderr);
  const ec = await waitForCondition(f, "bulky", NS, (c) => c.type === "Stalled" && c.status === "True", "bulky stalls");
  const stalled = ec.status!.conditions!.find((c) => c.type === "Stalled")!;
  assert.equal(stalled.reason, "InvalidSpec");
  assert.match(stalled.message, /spec\.values is \d+ bytes as JSON: at most 262144 are accepted/);
  assert.equal(ec.status!.conditions!.find((c) => c.type === "Ready")!.status, "False");
  assert.equal(ec.status?.uuid, undefined, "stalled before any side effect");
  // graft bootstrap-command of a cluster that cannot be provisioned says why, instead of waiting for a command.
  await assert.rejects(requestBootstrapCommand(f.manager.client, NS, "bulky", 60_000),
    /EdgeCluster "bad-input\/bulky" is Stalled \(InvalidSpec\), so no bootstrap command can be issued: spec\.values is \d+ bytes/);
});

test("graft bootstrap-command of an EdgeCluster not in that namespace says where to look", async () => {
  await assert.rejects(requestBootstrapCommand(f.manager.client, "default", "site-a", 30_000),
    /EdgeCluster "default\/site-a" not found: check its name and namespace \(-n; kubectl get ec -A lists them/);
});

test("spec.chart naming a chart the helm-charts repository does not hold: Stalled=True InvalidSpec before any side effect; the chart fixed, it is provisioned", async () => {
  assert.equal((await f.cp.kubectl(["apply", "-f", "-"], { input: ecJson("no-chart", { chart: "edge-clutser" }) })).code, 0);
  const ec = await waitForCondition(f, "no-chart", NS, (c) => c.type === "Stalled" && c.status === "True", "no-chart stalls");
  const stalled = ec.status!.conditions!.find((c) => c.type === "Stalled")!;
  assert.equal(stalled.reason, "InvalidSpec");
  assert.match(stalled.message, /spec\.chart "edge-clutser" is not a chart of the helm-charts repository \(it holds edge-cluster\)/);
  assert.equal(ec.status!.conditions!.find((c) => c.type === "Ready")!.status, "False");
  assert.equal(ec.status?.uuid, undefined, "stalled before any side effect");
  assert.equal((await f.cp.kubectl(["patch", "-n", NS, "ec/no-chart", "--type=merge", "-p", "{\"spec\":{\"chart\":\"edge-cluster\"}}"])).code, 0);
  await waitForCondition(f, "no-chart", NS, (c) => c.type === "Provisioned" && c.status === "True", "no-chart provisioned once its chart is fixed");
});

test("spec.namespace changed after the edge reported: Stalled=True, nothing committed (the edge's credentials and Flux link live in the old one); before, and changed back, it is provisioned", async () => {
  const { uuid, creds } = await provision("mover");
  const repo = join(f.dataDir, "repos", `${uuid}.git`);
  const ns = (namespace: string) => f.cp.kubectl(["patch", "-n", NS, "ec/mover", "--type=merge", "-p", JSON.stringify({ spec: { namespace } })]);
  const head = () => readRef(repo, "refs/heads/main");
  const first = await head();
  assert.equal((await ns("edge-early")).code, 0);
  await eventually(async () => (await head()) !== first, { message: "a namespace change before any report is committed" });
  const report = await fetch(`${f.externalUrl}/v2/app/${App.EdgeClusterStatus}/object/${uuid}`, {
    method: "PATCH", headers: { authorization: `Bearer ${creds.syncToken}`, "content-type": "application/merge-patch+json" }, body: JSON.stringify({ hosts: [] }),
  });
  assert.equal(report.status, 204);
  await eventually(async () => (await f.manager.client.get<EdgeCluster>(EdgeClusterType, "mover", NS)).status?.lastReportTime, { message: "the report is recorded" });
  const reported = await head();
  assert.equal((await ns("edge-late")).code, 0);
  const ec = await waitForCondition(f, "mover", NS, (c) => c.type === "Stalled" && c.status === "True", "mover stalls");
  const stalled = ec.status!.conditions!.find((c) => c.type === "Stalled")!;
  assert.equal(stalled.reason, "InvalidSpec");
  assert.match(stalled.message, /spec\.namespace "edge-late" differs from "edge-early", which the edge was bootstrapped into and reports from: .*delete this EdgeCluster and create it again, then run its new bootstrap command; or set spec\.namespace back to "edge-early"/);
  assert.equal(await head(), reported, "nothing committed");
  assert.equal((await ns("edge-early")).code, 0);
  await waitForCondition(f, "mover", NS, (c) => c.type === "Ready" && c.status === "True", "mover Ready again with its namespace back");
});

test("spec.values the edge chart's values.schema.json refuses: Stalled=True InvalidSpec naming each path, nothing committed; fixed, it is provisioned again", async () => {
  const { uuid } = await provision("schema-site");
  const head = () => readRef(join(f.dataDir, "repos", `${uuid}.git`), "refs/heads/main");
  const good = await head();
  const values = (v: object) => f.cp.kubectl(["patch", "-n", NS, "ec/schema-site", "--type=merge", "-p", JSON.stringify({ spec: { values: v } })]);
  assert.equal((await values({ mqtt: "x", colour: "blue", podLabels: { line: 1 } })).code, 0);
  const ec = await waitForCondition(f, "schema-site", NS, (c) => c.type === "Stalled" && c.status === "True", "schema-site stalls");
  const stalled = ec.status!.conditions!.find((c) => c.type === "Stalled")!;
  assert.equal(stalled.reason, "InvalidSpec");
  assert.match(stalled.message, /^the chart values break edge-cluster@[\d.]+'s values\.schema\.json, so helm on the edge would refuse them: /);
  assert.match(stalled.message, /spec\.values\.mqtt: must be object/);
  assert.match(stalled.message, /spec\.values\.colour: is not a value of the chart \(it takes mode, cluster, central, /);
  assert.match(stalled.message, /spec\.values\.podLabels\.line: must be string/);
  assert.match(stalled.message, /Nothing was committed \(the edge keeps its last values\): fix spec\.values$/);
  assert.equal(ec.status!.conditions!.find((c) => c.type === "Ready")!.status, "False");
  assert.equal(await head(), good, "nothing committed: the last good commit stays");
  assert.equal((await values({ mqtt: null, colour: null, podLabels: { line: "1" } })).code, 0);
  const fixed = await eventually(async () => {
    const e = await f.manager.client.get<EdgeCluster>(EdgeClusterType, "schema-site", NS);
    return e.status?.observedGeneration === e.metadata.generation && e.status?.conditions?.some((c) => c.type === "Provisioned" && c.status === "True") && e;
  }, { message: "schema-site provisioned once its values are fixed" });
  assert.equal(fixed.status!.conditions!.find((c) => c.type === "Stalled"), undefined);
  assert.equal(fixed.status!.conditions!.find((c) => c.type === "Ready")!.status, "True");
  assert.notEqual(await head(), good, "the fixed values are committed");
});

test("a cluster reusing another's spec.name gets Provisioned=False NameConflict and no Secret or repository", async () => {
  const reposBefore = readdirSync(join(f.dataDir, "repos")).sort();
  assert.equal((await f.cp.kubectl(["apply", "-f", "-"], { input: ecJson("copycat", { name: "site-a" }) })).code, 0);
  const ec = await waitForCondition(f, "copycat", NS, (c) => c.type === "Provisioned" && c.reason === "NameConflict", "copycat gets NameConflict");
  assert.equal(ec.status!.conditions!.find((c) => c.type === "Provisioned")!.status, "False");
  assert.match(ec.status!.conditions!.find((c) => c.type === "Provisioned")!.message, /already used by EdgeCluster "bad-input\/site-a"/);
  const uuid = ec.status?.uuid;
  assert.ok(uuid, "an identity is recorded, nothing else");
  assert.equal(await f.manager.client.getOrNull(Core.secrets, credentialsSecretName(uuid), NS), null, "no credentials Secret");
  assert.deepEqual(readdirSync(join(f.dataDir, "repos")).sort(), reposBefore, "no repository");
});
