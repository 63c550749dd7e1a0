import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import WebSocket from "ws";
import { App, Class, Perm, Service } from "../../operators/api/constants.js";
import { eventually } from "../harness/eventually.js";
import { startAcsStandin, type AcsStandin } from "./standin.js";

/** Protocol checks of the stand-in made with plain HTTP, raw WebSockets and the git CLI (not graft's clients). */

let standin: AcsStandin;
let basicAdmin: string;

before(async () => {
  standin = await startAcsStandin({
    schemas: { [App.SparkplugAddress]: (v) => typeof (v as { group_id?: unknown })?.group_id === "string" },
  });
  basicAdmin = basic(standin.adminUser.username, standin.adminUser.password);
});

after(async () => {
  await standin?.stop();
});

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
}

async function token(service: "configdb" | "auth" | "git", authorization = basicAdmin): Promise<string> {
  const res = await fetch(`${standin.urls[service]}/token`, { method: "POST", headers: { authorization } });
  assert.equal(res.status, 200);
  const body = (await res.json()) as { token: string; expiry: number };
  assert.match(body.token, /^[A-Za-z0-9+/]+$/);
  assert.ok(body.expiry > Date.now());
  return body.token;
}

function cdb(pathname: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (!headers.has("authorization")) headers.set("authorization", basicAdmin);
  return fetch(`${standin.urls.configdb}${pathname}`, { ...init, headers });
}

function newCluster(): string {
  const uuid = randomUUID();
  standin.configdb.register(uuid, Class.EdgeCluster);
  return uuid;
}

describe("directory and tokens", () => {
  test("the Directory lists each service's URL and nothing for unknown services", async () => {
    const res = await fetch(`${standin.urls.directory}/v1/service/${Service.ConfigDB}`, { headers: { authorization: basicAdmin } });
    assert.deepEqual(await res.json(), [{ service: Service.ConfigDB, device: null, url: standin.urls.configdb }]);
    const none = await fetch(`${standin.urls.directory}/v1/service/${randomUUID()}`, { headers: { authorization: basicAdmin } });
    assert.deepEqual(await none.json(), []);
    const anonymous = await fetch(`${standin.urls.directory}/v1/service/${Service.ConfigDB}`);
    assert.equal(anonymous.status, 401);
  });

  test("tokens work only at their own service and only until revoked", async () => {
    const configdbToken = await token("configdb");
    const ok = await cdb(`/v2/app/${App.GeneralInfo}/object`, { headers: { authorization: `Bearer ${configdbToken}` } });
    assert.equal(ok.status, 200);
    const elsewhere = await fetch(`${standin.urls.auth}/v2/whoami`, { headers: { authorization: `Bearer ${configdbToken}` } });
    assert.equal(elsewhere.status, 401);
    standin.revokeTokens("configdb");
    const revoked = await cdb(`/v2/app/${App.GeneralInfo}/object`, { headers: { authorization: `Bearer ${configdbToken}` } });
    assert.equal(revoked.status, 401);
    const badPassword = await fetch(`${standin.urls.configdb}/token`, { method: "POST", headers: { authorization: basic("admin", "x") } });
    assert.equal(badPassword.status, 401);
  });
});

describe("configdb REST", () => {
  test("GET gives the ETag; If-None-Match with it gives 304; a malformed If-Match 400", async () => {
    const obj = newCluster();
    assert.equal(standin.configdb.put(App.GeneralInfo, obj, { name: "x" }), 201);
    const res = await cdb(`/v2/app/${App.GeneralInfo}/object/${obj}`);
    assert.equal(res.status, 200);
    const etag = res.headers.get("etag");
    assert.equal(etag, `"${standin.configdb.get(App.GeneralInfo, obj)?.etag}"`);
    const cached = await cdb(`/v2/app/${App.GeneralInfo}/object/${obj}`, { headers: { "if-none-match": etag! } });
    assert.equal(cached.status, 304);
    const malformed = await cdb(`/v2/app/${App.GeneralInfo}/object/${obj}`, {
      method: "PUT", headers: { "content-type": "application/json", "if-match": "not-quoted" }, body: "{}",
    });
    assert.equal(malformed.status, 400);
  });

  test("bad bodies: 415 for a non-JSON type, 400 for broken JSON, 422 for a schema failure, 409 patching a non-object", async () => {
    const obj = newCluster();
    const url = `/v2/app/${App.SparkplugAddress}/object/${obj}`;
    assert.equal((await cdb(url, { method: "PUT", headers: { "content-type": "text/plain" }, body: "{}" })).status, 415);
    assert.equal((await cdb(url, { method: "PUT", headers: { "content-type": "application/json" }, body: "{" })).status, 400);
    assert.equal((await cdb(url, { method: "PUT", headers: { "content-type": "application/json" }, body: '{"node_id":"n"}' })).status, 422);
    assert.equal((await cdb(url, { method: "PUT", headers: { "content-type": "application/json" }, body: '{"group_id":"g"}' })).status, 201);

    const listUrl = `/v2/app/${App.GeneralInfo}/object/${obj}`;
    assert.equal((await cdb(listUrl, { method: "PUT", headers: { "content-type": "application/json" }, body: "[1]" })).status, 201);
    const patch = await cdb(listUrl, { method: "PATCH", headers: { "content-type": "application/merge-patch+json" }, body: '{"a":1}' });
    assert.equal(patch.status, 409);
  });

  test("objects have registration entries naming their creator as owner; only `deleted` may be patched", async () => {
    const res = await cdb("/v2/object", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ class: Class.EdgeCluster }) });
    assert.equal(res.status, 201);
    const { uuid } = (await res.json()) as { uuid: string };
    const reg = await cdb(`/v2/app/${App.Registration}/object/${uuid}`);
    assert.deepEqual(await reg.json(), { uuid, class: Class.EdgeCluster, owner: standin.adminUser.principal, deleted: false });
    const write = await cdb(`/v2/app/${App.Registration}/object/${uuid}`, { method: "PUT", headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(write.status, 405);
    const mark = await cdb(`/v2/app/${App.Registration}/object/${uuid}`, { method: "PATCH", headers: { "content-type": "application/merge-patch+json" }, body: '{"deleted":true}' });
    assert.equal(mark.status, 204);
    assert.equal(((await (await cdb(`/v2/app/${App.Registration}/object/${uuid}`)).json()) as { deleted: boolean }).deleted, true);
    const other = await cdb(`/v2/app/${App.Registration}/object/${uuid}`, { method: "PATCH", headers: { "content-type": "application/merge-patch+json" }, body: '{"class":"x"}' });
    assert.equal(other.status, 422);
    const noClass = await cdb("/v2/object", { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(noClass.status, 422);
    const unknownClass = await cdb("/v2/object", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ class: randomUUID() }) });
    assert.equal(unknownClass.status, 409);
  });
});

/** A raw notify/v2 connection that records every frame. */
async function openNotify(): Promise<{ ws: WebSocket; frames: string[]; next(from: number): Promise<string> }> {
  const ws = new WebSocket(`${standin.urls.configdb.replace("http:", "ws:")}/notify/v2`);
  const frames: string[] = [];
  ws.on("message", (data) => frames.push(String(data)));
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  return { ws, frames, next: (from) => eventually(() => frames[from], { timeoutMs: 5000, message: "expected a frame" }) };
}

function closed(ws: WebSocket): Promise<void> {
  return ws.readyState === WebSocket.CLOSED ? Promise.resolve() : new Promise((resolve) => ws.once("close", () => resolve()));
}

describe("notify/v2 framing", () => {
  test("the first frame must be `Bearer <configdb token>`: 400 for anything else, 401 for an unknown token", async () => {
    for (const [frame, answer] of [["hello", "400"], ["Bearer not a token", "400"], ["Bearer abc", "401"]] as const) {
      const conn = await openNotify();
      conn.ws.send(frame);
      assert.equal(await conn.next(0), answer);
      await closed(conn.ws);
    }
    const authToken = await token("auth");
    const conn = await openNotify();
    conn.ws.send(`Bearer ${authToken}`);
    assert.equal(await conn.next(0), "401", "a token of another service is unknown here");
    await closed(conn.ws);
  });

  test("subscriptions: bad requests 400, unknown paths 404, WATCH 201 then 200, SEARCH children, CLOSE 410", async (t) => {
    const conn = await openNotify();
    t.after(() => conn.ws.terminate());
    conn.ws.send(`Bearer ${await token("configdb")}`);
    assert.equal(await conn.next(0), "200");
    const ask = async (request: object) => {
      const from = conn.frames.length;
      conn.ws.send(JSON.stringify(request));
      return JSON.parse(await conn.next(from)) as Record<string, unknown>;
    };
    const id = () => randomUUID();

    let u = id();
    assert.deepEqual(await ask({ uuid: u, method: "WATCH" }), { uuid: u, status: 400 });
    u = id();
    assert.deepEqual(await ask({ uuid: u, method: "SEARCH", parent: `v2/app/${App.GeneralInfo}/object` }), { uuid: u, status: 400 });
    u = id();
    assert.deepEqual(await ask({ uuid: u, method: "FETCH" }), { uuid: u, status: 400 });
    u = id();
    assert.deepEqual(await ask({ uuid: u, method: "WATCH", request: { url: "v2/elsewhere" } }), { uuid: u, status: 404 });
    u = id();
    assert.deepEqual(await ask({ uuid: u, method: "SEARCH", parent: `v2/app/${App.GeneralInfo}/object/`, filter: ["cluster"] }), { uuid: u, status: 400 });
    u = id();
    assert.deepEqual(await ask({ uuid: u, method: "SEARCH", parent: `v2/app/${randomUUID()}/object/` }),
      { uuid: u, status: 201, response: { status: 404 } });

    const obj = newCluster();
    const watch = id();
    assert.deepEqual(await ask({ uuid: watch, method: "WATCH", request: { url: `v2/app/${App.GeneralInfo}/object/${obj}` } }),
      { uuid: watch, status: 201, response: { status: 404 } });
    let from = conn.frames.length;
    standin.configdb.put(App.GeneralInfo, obj, { name: "n1" });
    const etag = standin.configdb.get(App.GeneralInfo, obj)!.etag;
    assert.deepEqual(JSON.parse(await conn.next(from)),
      { uuid: watch, status: 200, response: { status: 200, body: { name: "n1" }, headers: { etag } } });

    const search = id();
    assert.deepEqual((await ask({ uuid: search, method: "SEARCH", parent: `v2/app/${App.GeneralInfo}/object/` })).children,
      Object.fromEntries(standin.configdb.list(App.GeneralInfo)!.map((o) => {
        const entry = standin.configdb.get(App.GeneralInfo, o)!;
        return [o, { status: 200, body: entry.value, headers: { etag: entry.etag } }];
      })));

    from = conn.frames.length;
    standin.configdb.delete(App.GeneralInfo, obj);
    const updates = await eventually(() => conn.frames.length - from >= 2 && conn.frames.slice(from).map((f) => JSON.parse(f) as object));
    assert.deepEqual(new Set(updates.map((x) => JSON.stringify(x))), new Set([
      JSON.stringify({ status: 200, response: { status: 404 }, uuid: watch }),
      JSON.stringify({ status: 200, child: obj, response: { status: 404 }, uuid: search }),
    ]));

    assert.deepEqual(await ask({ uuid: watch, method: "CLOSE" }), { uuid: watch, status: 410 });
    from = conn.frames.length;
    standin.configdb.put(App.GeneralInfo, obj, { name: "n2" });
    const next = JSON.parse(await conn.next(from)) as { uuid: string };
    assert.equal(next.uuid, search, "only the open SEARCH hears about it");
  });

  test("dropNotifyConnections cuts connections and can refuse new ones until allowed", async () => {
    const conn = await openNotify();
    conn.ws.send(`Bearer ${await token("configdb")}`);
    assert.equal(await conn.next(0), "200");
    assert.ok(standin.dropNotifyConnections({ refuseNew: true }) >= 1);
    await closed(conn.ws);
    await assert.rejects(openNotify(), /503/);
    standin.allowNotifyConnections();
    const again = await openNotify();
    again.ws.terminate();
  });
});

describe("git smart HTTP", () => {
  let work: string;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), "graft-standin-git-"));
    await writeFile(path.join(work, "gitconfig"), "");
    env = {
      PATH: process.env.PATH, HOME: work, GIT_CONFIG_GLOBAL: path.join(work, "gitconfig"), GIT_CONFIG_NOSYSTEM: "1",
      GIT_TERMINAL_PROMPT: "0", GIT_AUTHOR_NAME: "t", GIT_AUTHOR_EMAIL: "t@t", GIT_COMMITTER_NAME: "t", GIT_COMMITTER_EMAIL: "t@t",
    };
  });

  after(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  function git(args: string[], authorization: string, cwd = work): Promise<{ code: number; stderr: string }> {
    return new Promise((resolve) => {
      execFile("git", ["-c", `http.extraHeader=Authorization: ${authorization}`, ...args], { env, cwd }, (err, _out, stderr) => {
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stderr });
      });
    });
  }

  async function commitRepo(dir: string, file: string, content: string): Promise<void> {
    await git(["init", "-q", "-b", "main", dir], "none");
    await writeFile(path.join(dir, file), content);
    await git(["-C", dir, "add", "."], "none");
    await git(["-C", dir, "commit", "-q", "-m", "c"], "none");
  }

  test("push with a Bearer token from the Git service, then clone back; no config entry means no repo", async () => {
    const repo = newCluster();
    const url = `${standin.urls.git}/uuid/${repo}`;
    const bearer = `Bearer ${await token("git")}`;
    const src = path.join(work, "src");
    await commitRepo(src, "README.md", "hello\n");

    const missing = await git(["-C", src, "push", url, "main"], bearer);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /404|not found/i);

    standin.configdb.put(App.GitRepoConfig, repo, { path: "cluster/line-a" });
    const pushed = await git(["-C", src, "push", url, "main"], bearer);
    assert.equal(pushed.code, 0, pushed.stderr);

    const cloned = await git(["clone", "-q", url, path.join(work, "clone")], bearer);
    assert.equal(cloned.code, 0, cloned.stderr);
    assert.equal(await readFile(path.join(work, "clone", "README.md"), "utf8"), "hello\n");

    const configdbToken = `Bearer ${await token("configdb")}`;
    const wrongService = await git(["ls-remote", url], configdbToken);
    assert.notEqual(wrongService.code, 0, "a ConfigDB token is not valid at the Git service");
  });

  test("Basic users need a Git Pull grant to fetch and a Git Push grant (here via a group) to push", async () => {
    const repo = newCluster();
    standin.configdb.put(App.GitRepoConfig, repo, { path: "cluster/line-b" });
    const url = `${standin.urls.git}/uuid/${repo}`;
    const { upn } = standin.addUser("op1flux/line-b", "flux-pw");
    const account = randomUUID();
    standin.auth.setKerberos(account, upn);
    const user = basic("op1flux/line-b", "flux-pw");
    const src = path.join(work, "src-b");
    await commitRepo(src, "a.txt", "a\n");

    const denied = await git(["ls-remote", url], user);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /403/);

    standin.auth.addGrant({ principal: account, permission: Perm.GitPull, target: repo, plural: false });
    assert.equal((await git(["ls-remote", url], user)).code, 0);
    const pushDenied = await git(["-C", src, "push", url, "main"], user);
    assert.notEqual(pushDenied.code, 0);

    const group = randomUUID();
    standin.configdb.register(group, Class.EdgeAccount);
    standin.configdb.addMember(group, repo);
    standin.auth.addGrant({ principal: account, permission: Perm.GitPush, target: group, plural: true });
    const pushed = await git(["-C", src, "push", url, "main"], user);
    assert.equal(pushed.code, 0, pushed.stderr);
  });
});
