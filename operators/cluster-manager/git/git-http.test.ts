import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createServer, request, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { pino } from "pino";
import { parseAllDocuments } from "yaml";
import { createGitHttpHandler, routeGitPath, startGitServer, type GitAuthRequest, type GitServer } from "./git-http.js";
import { generateClusterRepo, type ClusterRepoInput } from "./repo-content.js";
import { RepoStore } from "./repo-store.js";
import { eventually } from "../../../e2e/harness/eventually.js";

const UUID_A = "3d9e2f41-8c7b-4a65-9f10-2e3d4c5b6a71";
const UUID_B = "a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d";
const UNKNOWN = "ffffffff-1111-4222-8333-444444444444";
const CREDS = {
  [UUID_A]: { username: "op1flux/line-a", password: "pa$&ss:w'rd A" },
  [UUID_B]: { username: "op1flux/line-b", password: "secret-B-$'" },
};
const MAX_BODY = 64 * 1024;

let root: string;
let store: RepoStore;
let server: GitServer;
let clientEnv: NodeJS.ProcessEnv;
const authCalls: GitAuthRequest[] = [];
const logLines: string[] = [];

/** Embedded-mode rule: a cluster's credentials read its own repository and the shared ones. */
async function authorize(request: GitAuthRequest): Promise<boolean> {
  authCalls.push(request);
  const owner = Object.entries(CREDS).find(([, c]) => c.username === request.username && c.password === request.password);
  if (!owner) return false;
  return request.repo.kind === "shared" || request.repo.uuid === owner[0];
}

function repoInput(uuid: string, name: string, bare: boolean): ClusterRepoInput {
  return {
    uuid, name, namespace: "fplus-edge", bare,
    selfUrl: `${server.url}/uuid/${uuid}`,
    helmChartsUrl: `${server.url}/shared/helm-charts`,
    chart: { name: "edge-cluster", values: { cluster: { name: "{{name}}", uuid: "{{uuid}}" } } },
    flux: { version: "v2.9.5", installYaml: "# Install manifest of Flux v2.9.5\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: flux-system\n" },
  };
}

before(async () => {
  root = await mkdtemp(path.join(tmpdir(), "graft-git-http-"));
  store = new RepoStore({ dataDir: path.join(root, "data") });
  const logger = pino({ level: "debug" }, { write: (line: string) => void logLines.push(line) });
  server = await startGitServer({ dataDir: store.dataDir, authorize, logger, maxBodyBytes: MAX_BODY });
  await store.syncFiles(UUID_A, generateClusterRepo(repoInput(UUID_A, "line-a", false)), "initial");
  await store.syncFiles(UUID_B, generateClusterRepo(repoInput(UUID_B, "line-b", true)), "initial");
  await store.syncSharedFiles("helm-charts", new Map([["edge-cluster/Chart.yaml", "name: edge-cluster\n"]]), "charts");

  const home = path.join(root, "home");
  const globalConfig = path.join(root, "gitconfig");
  await writeFile(globalConfig, "");
  clientEnv = {
    PATH: process.env.PATH, HOME: home, GIT_CONFIG_GLOBAL: globalConfig, GIT_CONFIG_NOSYSTEM: "1",
    GIT_TERMINAL_PROMPT: "0", GIT_ASKPASS: "", SSH_ASKPASS: "", NO_PROXY: "127.0.0.1",
    GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t",
  };
});

after(async () => {
  await server?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

function gitClient(args: string[], cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile("git", args, { env: clientEnv, cwd: cwd ?? root }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function urlWithCreds(repoPath: string, creds: { username: string; password: string }): string {
  const url = new URL(`${server.url}${repoPath}`);
  url.username = encodeURIComponent(creds.username);
  url.password = encodeURIComponent(creds.password);
  return url.toString();
}

function basic(creds: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString("base64")}`;
}

interface RawResponse { status: number; headers: IncomingHttpHeaders; body: Buffer }

function raw(method: string, rawPath: string, headers: Record<string, string> = {}, body?: Buffer,
  base = server.url): Promise<RawResponse> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, method, path: rawPath, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

let cloneCounter = 0;
function cloneDir(): string {
  cloneCounter += 1;
  return path.join(root, `clone-${cloneCounter}`);
}

type Manifest = { kind: string; metadata: { name: string; namespace: string }; spec: Record<string, unknown> };

async function manifestsIn(dir: string, file: string): Promise<Manifest[]> {
  return parseAllDocuments(await readFile(path.join(dir, file), "utf8")).map((d) => d.toJS() as Manifest);
}

test("a cluster's credentials clone its repository with the generated manifests", async () => {
  const dir = cloneDir();
  const result = await gitClient(["clone", "--quiet", urlWithCreds(`/uuid/${UUID_A}`, CREDS[UUID_A]), dir]);
  assert.equal(result.code, 0, result.stderr);

  const [release] = await manifestsIn(dir, "edo/cluster/edge-cluster.yaml");
  assert.equal(release?.kind, "HelmRelease");
  assert.equal(release?.metadata.name, `edge-cluster-${UUID_A}`);
  assert.equal(release?.metadata.namespace, "fplus-edge");
  assert.deepEqual(release?.spec.values, { cluster: { name: "line-a", uuid: UUID_A } });
  const [charts] = await manifestsIn(dir, "edo/cluster/helm-charts.yaml");
  assert.equal(charts?.kind, "GitRepository");
  assert.equal(charts?.spec.url, `${server.url}/shared/helm-charts`);
  const [flux] = await manifestsIn(dir, "flux-system/gotk-components.yaml");
  assert.equal(flux?.kind, "Namespace");
  const [selfSource, selfKustomization] = await manifestsIn(dir, "edo/cluster/self-link.yaml");
  assert.equal(selfSource?.metadata.name, "self-link");
  assert.equal(selfSource?.spec.url, `${server.url}/uuid/${UUID_A}`);
  assert.equal(selfKustomization?.kind, "Kustomization");
  assert.equal((await gitClient(["rev-parse", "HEAD"], dir)).stdout.trim(), await store.headCommit(UUID_A));
  assert.equal((await gitClient(["branch", "--show-current"], dir)).stdout.trim(), "main");
});

test("credentials in an extra header work too, over protocol v0 as well as v2", async () => {
  const dir = cloneDir();
  const header = `http.extraHeader=Authorization: ${basic(CREDS[UUID_B])}`;
  const result = await gitClient(["-c", header, "-c", "protocol.version=0", "clone", "--quiet",
    `${server.url}/uuid/${UUID_B}`, dir]);
  assert.equal(result.code, 0, result.stderr);
  const names = (await gitClient(["ls-files"], dir)).stdout.trim().split("\n");
  assert.deepEqual(names, ["README.md", "edo/cluster/edge-cluster.yaml", "edo/cluster/helm-charts.yaml",
    "edo/cluster/self-link.yaml"], "a bare cluster has no Flux install");
});

test("another cluster's credentials are refused", async () => {
  const result = await gitClient(["clone", "--quiet", urlWithCreds(`/uuid/${UUID_B}`, CREDS[UUID_A]), cloneDir()]);
  assert.notEqual(result.code, 0);
  assert.match(result.stderr, /Authentication failed|401/);
  const response = await raw("GET", `/uuid/${UUID_B}/info/refs?service=git-upload-pack`, { Authorization: basic(CREDS[UUID_A]) });
  assert.equal(response.status, 401);
});

test("no or malformed credentials get a Basic challenge", async () => {
  const none = await raw("GET", `/uuid/${UUID_A}/info/refs?service=git-upload-pack`);
  assert.equal(none.status, 401);
  assert.equal(none.headers["www-authenticate"], 'Basic realm="graft"');
  for (const authorization of ["Bearer abc", "Basic !!!", `Basic ${Buffer.from("no-colon").toString("base64")}`]) {
    const bad = await raw("GET", `/uuid/${UUID_A}/info/refs?service=git-upload-pack`, { Authorization: authorization });
    assert.equal(bad.status, 401, authorization);
  }
  const clone = await gitClient(["clone", "--quiet", `${server.url}/uuid/${UUID_A}`, cloneDir()]);
  assert.notEqual(clone.code, 0);
});

test("the shared repository is readable with any cluster's credentials and nothing else", async () => {
  const dir = cloneDir();
  const ok = await gitClient(["clone", "--quiet", urlWithCreds("/shared/helm-charts", CREDS[UUID_B]), dir]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(await readFile(path.join(dir, "edge-cluster/Chart.yaml"), "utf8"), "name: edge-cluster\n");
  const wrong = await gitClient(["clone", "--quiet",
    urlWithCreds("/shared/helm-charts", { username: CREDS[UUID_A].username, password: "guess" }), cloneDir()]);
  assert.notEqual(wrong.code, 0);
});

test("pushing is always refused", async () => {
  const dir = cloneDir();
  const url = urlWithCreds(`/uuid/${UUID_A}`, CREDS[UUID_A]);
  assert.equal((await gitClient(["clone", "--quiet", url, dir])).code, 0);
  await writeFile(path.join(dir, "evil.yaml"), "kind: Evil\n");
  assert.equal((await gitClient(["add", "evil.yaml"], dir)).code, 0);
  assert.equal((await gitClient(["commit", "--quiet", "-m", "evil"], dir)).code, 0);
  const before = await store.headCommit(UUID_A);
  const push = await gitClient(["push", "--quiet", "origin", "HEAD:main"], dir);
  assert.notEqual(push.code, 0);
  assert.match(push.stderr, /403/);
  assert.equal(await store.headCommit(UUID_A), before);

  const auth = { Authorization: basic(CREDS[UUID_A]) };
  assert.equal((await raw("GET", `/uuid/${UUID_A}/info/refs?service=git-receive-pack`, auth)).status, 403);
  assert.equal((await raw("POST", `/uuid/${UUID_A}/git-receive-pack`,
    { ...auth, "Content-Type": "application/x-git-receive-pack-request" }, Buffer.from("0000"))).status, 403);
});

test("malformed repository paths and traversal attempts are 404 without reaching authorization", async () => {
  const auth = { Authorization: basic(CREDS[UUID_A]) };
  const callsBefore = authCalls.length;
  const paths = [
    `/uuid/../repos/${UUID_A}.git/info/refs?service=git-upload-pack`,
    `/uuid/%2e%2e/${UUID_A}/info/refs?service=git-upload-pack`,
    `/uuid/${UUID_A}/%2e%2e/%2e%2e/HEAD`,
    `/uuid/${UUID_A}/..%2f..%2fshared%2fhelm-charts.git/info/refs`,
    `/uuid/${UUID_A}\\..\\info/refs?service=git-upload-pack`,
    `/uuid/..\\${UUID_A}/info/refs?service=git-upload-pack`,
    `/uuid/${UUID_A}.git/info/refs?service=git-upload-pack`,
    "/uuid/not-a-uuid/info/refs?service=git-upload-pack",
    "/shared/../repos/info/refs?service=git-upload-pack",
    "/shared/Helm_Charts/info/refs?service=git-upload-pack",
    `/uuid/${UUID_A}/HEAD`,
    `/uuid/${UUID_A}/objects/info/packs`,
    `/uuid/${UUID_A}/info/refs`,
    `/uuid/${UUID_A}`,
    "/uuid/",
  ];
  for (const p of paths) {
    const response = await raw("GET", p, auth);
    assert.equal(response.status, 404, p);
  }
  assert.equal(authCalls.length, callsBefore);
});

test("an unknown cluster UUID is refused like a wrong password: credentials are checked before existence is told", async () => {
  const known = `/uuid/${UUID_A}/info/refs?service=git-upload-pack`;
  const unknown = `/uuid/${UNKNOWN}/info/refs?service=git-upload-pack`;
  for (const headers of [{}, { Authorization: basic(CREDS[UUID_A]) }, { Authorization: basic({ username: "x", password: "y" }) }] as Record<string, string>[]) {
    const [k, u] = [await raw("GET", known, headers), await raw("GET", unknown, headers)];
    if (k.status === 200) assert.equal(u.status, 401, "another cluster's credentials on an unknown UUID");
    else assert.deepEqual([u.status, u.headers["www-authenticate"]], [k.status, k.headers["www-authenticate"]], JSON.stringify(headers));
  }
  const clone = await gitClient(["clone", "--quiet", urlWithCreds(`/uuid/${UNKNOWN}`, CREDS[UUID_A]), cloneDir()]);
  assert.notEqual(clone.code, 0);
  assert.doesNotMatch(clone.stderr, /not found|\b404\b/); // \b: the random port may contain "404"
  // Someone allowed to read the shared repositories is told a missing one is missing.
  assert.equal((await raw("GET", "/shared/nope/info/refs?service=git-upload-pack", { Authorization: basic(CREDS[UUID_A]) })).status, 404);
});

test("beyond maxConcurrent git processes a request gets 503 with Retry-After at once; bodies stream and are bounded", async () => {
  const busy = await startGitServer({ dataDir: store.dataDir, authorize, maxBodyBytes: MAX_BODY, maxConcurrent: 1, retryAfterSeconds: 7 });
  const { hostname, port } = new URL(busy.url);
  const refs = `/uuid/${UUID_A}/info/refs?service=git-upload-pack`;
  const auth = { Authorization: basic(CREDS[UUID_A]) };
  // An upload-pack request whose body never ends keeps its git process (and the only slot) busy.
  const held = request({ host: hostname, port, method: "POST", path: `/uuid/${UUID_A}/git-upload-pack`,
    headers: { ...auth, "Content-Type": "application/x-git-upload-pack-request", "Transfer-Encoding": "chunked" } });
  held.on("error", () => undefined);
  held.write("0000");
  try {
    const refused = await eventually(async () => { const r = await raw("GET", refs, auth, undefined, busy.url); return r.status === 503 && r; },
      { message: "a second request is refused while the slot is taken" });
    assert.equal(refused.headers["retry-after"], "7");
    held.destroy();
    await eventually(async () => (await raw("GET", refs, auth, undefined, busy.url)).status === 200, { message: "the slot is free again" });
    // A chunked body (no Content-Length) over the limit is cut off while streaming: 413, not read whole.
    const big = await raw("POST", `/uuid/${UUID_A}/git-upload-pack`, { ...auth, "Content-Type": "application/x-git-upload-pack-request", "Transfer-Encoding": "chunked" },
      Buffer.alloc(MAX_BODY * 4, 0x30), busy.url).catch((err: Error) => ({ status: -1, body: Buffer.from(err.message), headers: {} }));
    assert.ok(big.status === 413 || big.status === -1, `over the limit: ${big.status}`);
  } finally {
    held.destroy();
    await busy.close();
  }
});

test("only GET and POST on the matching endpoint", async () => {
  const auth = { Authorization: basic(CREDS[UUID_A]) };
  const put = await raw("PUT", `/uuid/${UUID_A}/git-upload-pack`, auth, Buffer.from("x"));
  assert.equal(put.status, 405);
  assert.equal(put.headers.allow, "POST");
  assert.equal((await raw("GET", `/uuid/${UUID_A}/git-upload-pack`, auth)).status, 405);
  assert.equal((await raw("POST", `/uuid/${UUID_A}/info/refs?service=git-upload-pack`, auth)).status, 405);
  assert.equal((await raw("DELETE", `/uuid/${UUID_A}/info/refs?service=git-upload-pack`, auth)).status, 405);
});

test("a fetch sees a commit only when the content changed", async () => {
  const dir = cloneDir();
  assert.equal((await gitClient(["clone", "--quiet", urlWithCreds(`/uuid/${UUID_A}`, CREDS[UUID_A]), dir])).code, 0);
  const first = (await gitClient(["rev-parse", "origin/main"], dir)).stdout.trim();

  const same = await store.syncFiles(UUID_A, generateClusterRepo(repoInput(UUID_A, "line-a", false)), "again");
  assert.equal(same.changed, false);
  assert.equal((await gitClient(["fetch", "--quiet"], dir)).code, 0);
  assert.equal((await gitClient(["rev-parse", "origin/main"], dir)).stdout.trim(), first);

  const input = { ...repoInput(UUID_A, "line-a", false), values: { image: { tag: "v2" } } };
  const changed = await store.syncFiles(UUID_A, generateClusterRepo(input), "values changed");
  assert.equal(changed.changed, true);
  assert.equal((await gitClient(["fetch", "--quiet"], dir)).code, 0);
  assert.equal((await gitClient(["rev-parse", "origin/main"], dir)).stdout.trim(), changed.commit);
  assert.equal((await gitClient(["rev-list", "--count", `${first}..origin/main`], dir)).stdout.trim(), "1");
  assert.match((await gitClient(["show", "origin/main:edo/cluster/edge-cluster.yaml"], dir)).stdout, /tag: v2/);
});

function pktLine(text: string): string {
  return (text.length + 4).toString(16).padStart(4, "0") + text;
}

test("gzip'd upload-pack requests are decoded, and oversized bodies are refused", async () => {
  const head = await store.headCommit(UUID_A);
  assert.ok(head);
  const body = Buffer.from(`${pktLine(`want ${head}\n`)}0000${pktLine("done\n")}`);
  const headers = {
    Authorization: basic(CREDS[UUID_A]),
    "Content-Type": "application/x-git-upload-pack-request",
    "Content-Encoding": "gzip",
  };
  const response = await raw("POST", `/uuid/${UUID_A}/git-upload-pack`, headers, gzipSync(body));
  assert.equal(response.status, 200, response.body.toString());
  assert.equal(response.headers["content-type"], "application/x-git-upload-pack-result");
  assert.equal(response.body.subarray(0, 8).toString(), "0008NAK\n");
  assert.equal(response.body.subarray(8, 12).toString(), "PACK");

  const plain = await raw("POST", `/uuid/${UUID_A}/git-upload-pack`,
    { ...headers, "Content-Encoding": "identity" }, body);
  assert.equal(plain.status, 200);
  assert.equal(plain.body.subarray(8, 12).toString(), "PACK");

  const bomb = gzipSync(Buffer.alloc(MAX_BODY * 4, 0x30));
  assert.ok(bomb.length < MAX_BODY);
  assert.equal((await raw("POST", `/uuid/${UUID_A}/git-upload-pack`, headers, bomb)).status, 413);
  const big = Buffer.alloc(MAX_BODY + 1, 0x30);
  assert.equal((await raw("POST", `/uuid/${UUID_A}/git-upload-pack`, { ...headers, "Content-Encoding": "identity" }, big)).status, 413);
  assert.equal((await raw("POST", `/uuid/${UUID_A}/git-upload-pack`, headers, Buffer.from("not gzip"))).status, 400);
  assert.equal((await raw("POST", `/uuid/${UUID_A}/git-upload-pack`, { ...headers, "Content-Encoding": "br" }, body)).status, 415);
});

test("the handler mounts under a prefix in a bigger server and leaves other paths alone", async (t) => {
  const handle = createGitHttpHandler({ dataDir: store.dataDir, authorize });
  const outer = createServer((req, res) => {
    const url = req.url ?? "/";
    const pathname = url.split("?")[0] ?? "/";
    const gitPath = pathname.startsWith("/git/") ? pathname.slice("/git".length) : pathname;
    void handle(req, res, gitPath).then((handled) => {
      if (!handled) res.writeHead(200, { "Content-Type": "text/plain" }).end(`outer ${pathname}\n`);
    });
  });
  await new Promise<void>((resolve) => outer.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => {
    outer.close(() => resolve());
    outer.closeAllConnections();
  }));
  const base = `http://127.0.0.1:${(outer.address() as AddressInfo).port}`;

  const other = await raw("GET", "/healthz", {}, undefined, base);
  assert.equal(other.status, 200);
  assert.equal(other.body.toString(), "outer /healthz\n");

  const url = new URL(`${base}/git/uuid/${UUID_A}`);
  url.username = encodeURIComponent(CREDS[UUID_A].username);
  url.password = encodeURIComponent(CREDS[UUID_A].password);
  const dir = cloneDir();
  const result = await gitClient(["clone", "--quiet", url.toString(), dir]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal((await gitClient(["rev-parse", "HEAD"], dir)).stdout.trim(), await store.headCommit(UUID_A));
});

test("routing is decided on the raw path", () => {
  assert.deepEqual(routeGitPath("/healthz"), { kind: "not-git" });
  assert.deepEqual(routeGitPath("/uuidx/a"), { kind: "not-git" });
  assert.deepEqual(routeGitPath(`/uuid/${UUID_A.toUpperCase()}/git-upload-pack`),
    { kind: "repo", repo: { kind: "cluster", uuid: UUID_A }, service: "git-upload-pack" });
  assert.deepEqual(routeGitPath("/shared/helm-charts/info/refs"),
    { kind: "repo", repo: { kind: "shared", name: "helm-charts" }, service: "info/refs" });
  assert.deepEqual(routeGitPath("/shared/%68elm-charts/info/refs"), { kind: "not-found" });
});

test("credentials never reach the log", () => {
  assert.ok(logLines.length > 0, "the server logged something");
  const text = logLines.join("");
  for (const creds of Object.values(CREDS)) {
    assert.ok(!text.includes(creds.password), "a password was logged");
    assert.ok(!text.includes(Buffer.from(`${creds.username}:${creds.password}`).toString("base64")),
      "an Authorization header was logged");
  }
  assert.ok(!text.includes("guess"));
});

test("a failing authorization backend is a 503, not an open door", async (t) => {
  const failing = await startGitServer({ dataDir: store.dataDir, authorize: () => Promise.reject(new Error("api down")) });
  t.after(() => failing.close());
  const response = await raw("GET", `/uuid/${UUID_A}/info/refs?service=git-upload-pack`,
    { Authorization: basic(CREDS[UUID_A]) }, undefined, failing.url);
  assert.equal(response.status, 503);
});
