// The Clusters service API (acs-contract.md §8) accepting `Authorization: Negotiate`, verified by graft's
// cluster-manager with its own acceptor keytab (HTTP/localhost@REALM, made in a real MIT KDC), against the ACS
// stand-in and a real API server: a keytab client with Manage clusters gets a bootstrap URL and the manager's
// mutual-authentication reply, one without the grant gets 403, POST /token with Negotiate gives a Bearer token that
// works, curl's SPNEGO works too, a revoked grant is gone at the next login, and a garbage token, a ticket for another
// service (the stand-in's HTTP/127.0.0.1) or a principal with no ACS account get 401 with both challenges.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Class, Perm } from "../operators/api/constants.js";
import { EdgeClusterType, type EdgeCluster } from "../operators/api/edgecluster.js";
import { negotiateLoginFor, type KeytabCredentials } from "../operators/acs/negotiate.js";
import { ServiceClient } from "../operators/acs/service-client.js";
import { negotiateAcceptor } from "../operators/kerberos/gss-acceptor.js";
import { childProcessEnv } from "../operators/runtime/child-env.js";
import { silentLogger } from "../operators/runtime/logger.js";
import { pino } from "pino";
import { Writable } from "node:stream";
import { AcsBackend } from "../operators/cluster-manager/acs/acs-backend.js";
import { RepoStore } from "../operators/cluster-manager/git/repo-store.js";
import type { KubeClient } from "../operators/runtime/rest.js";
import { ClusterManager } from "../operators/cluster-manager/cluster-manager.js";
import { defaultConfig } from "../operators/cluster-manager/config.js";
import { createClusterAsAdminUi } from "./acs-standin/admin-ui.js";
import { startAcsWorld, type AcsWorld } from "./support/cluster-manager/acs-world.js";
import type { ControlPlane } from "./harness/control-plane.js";
import { eventually } from "./harness/eventually.js";
import { startKdc, type Kdc } from "./harness/kdc.js";
import { freePort } from "./harness/ports.js";
import { startApiServer } from "./support/api-server.js";

const NS = "acs-negotiate";
const BOTH_CHALLENGES = 'Negotiate, Basic realm="Factory+"';
let kdc: Kdc;
let cp: ControlPlane;
let client: KubeClient;
let world: AcsWorld;
let manager: ClusterManager;
let dir: string;
/** The manager's public listener, named as clients reach it (localhost: its keytab holds HTTP/localhost). */
let managerUrl: string;
let cluster: string;
/** Keytab clients: one granted Manage clusters on the cluster, one with an ACS account but no grant, one with no account. */
let manage: KeytabCredentials;
let noGrant: KeytabCredentials;
let noAccount: KeytabCredentials;

async function keytabPrincipal(name: string): Promise<{ principal: string; keytab: string }> {
  const principal = `${name}@${kdc.realm}`;
  await kdc.kadminLocal(`addprinc -randkey ${principal}`);
  const keytab = join(dir, `${name.replace(/\//g, "_")}.keytab`);
  await kdc.kadminLocal(`ktadd -k ${keytab} ${principal}`);
  return { principal, keytab };
}

async function keytabClient(name: string, account: boolean): Promise<KeytabCredentials & { uuid: string }> {
  const { principal, keytab } = await keytabPrincipal(name);
  const uuid = randomUUID();
  if (account) {
    world.standin.configdb.register(uuid, Class.EdgeAccount);
    world.standin.auth.setKerberos(uuid, principal);
  }
  return { principal, keytabFile: keytab, env: kdc.env, uuid };
}

/** A request with a fresh Negotiate token for HTTP@<host>; `complete` checks the manager's reply token. */
async function negotiated(creds: KeytabCredentials, path: string, init: RequestInit = {}, host = "localhost") {
  const exchange = await negotiateLoginFor(creds).start("clusters", host);
  const res = await fetch(`${managerUrl}${path}`, { ...init, headers: { ...init.headers, authorization: exchange.authorization } });
  return { res, complete: () => exchange.complete(res.headers.get("www-authenticate")) };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "graft-acs-negotiate-"));
  kdc = await startKdc();
  [{ cp, client }, world] = await Promise.all([startApiServer({ name: "acs-negotiate", namespace: NS, crds: true }), startAcsWorld({ kdc })]);
  // The manager's acceptor keytab, as a site extracts it for the host its Ingress answers at.
  const acceptor = await keytabPrincipal("HTTP/localhost");
  const port = await freePort();
  managerUrl = `http://localhost:${port}`;
  manager = new ClusterManager({
    kubeConfig: cp.kubeConfig,
    config: defaultConfig({
      dataDir: join(dir, "manager"), externalUrl: managerUrl, organisationPrefix: "acme", mode: "acs",
      acs: world.settings(NS, { negotiate: { keytabFile: acceptor.keytab, env: kdc.env } }),
    }),
    log: silentLogger,
    listen: { host: "127.0.0.1", port },
    concurrency: 2,
  });
  await manager.start();

  ({ uuid: cluster } = await createClusterAsAdminUi(world.cdb, { typed: "Negotiate Line", chart: world.chart }));
  await eventually(async () => {
    const ec = (await client.list<EdgeCluster>(EdgeClusterType, NS)).items.find((e) => e.status?.uuid === cluster);
    return ec?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");
  }, { timeoutMs: 60_000, intervalMs: 200, message: "the ConfigDB cluster is set up" });

  const m = await keytabClient("admin-ui/operator", true);
  world.standin.auth.addGrant({ principal: m.uuid, permission: Perm.ManageClusters, target: cluster, plural: false });
  manage = m;
  noGrant = await keytabClient("admin-ui/visitor", true);
  noAccount = await keytabClient("admin-ui/stranger", false);
});

after(async () => {
  await manager?.stop();
  await world?.stop();
  await cp?.stop();
  await kdc?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("bootstrap-url with Negotiate: accepted under Manage clusters, with the manager's mutual-authentication reply; 403 without the grant", async () => {
  const granted = await negotiated(manage, `/v1/cluster/${cluster}/bootstrap-url`, { method: "POST" });
  assert.equal(granted.res.status, 200, await granted.res.clone().text());
  const url = (await granted.res.json()) as string;
  assert.match(url, new RegExp(`^${managerUrl}/v1/bootstrap/[^/]+\\.sh$`));
  await granted.complete(); // throws unless the reply token proves HTTP/localhost

  const refused = await negotiated(noGrant, `/v1/cluster/${cluster}/bootstrap-url`, { method: "POST" });
  assert.equal(refused.res.status, 403);
  assert.match(await refused.res.text(), /Manage clusters is needed/);
  await refused.complete();
});

test("POST /token with Negotiate gives a Bearer token that works at the Clusters API (and carries no grant the caller lacks)", async () => {
  const login = await negotiated(manage, "/token", { method: "POST" });
  assert.equal(login.res.status, 200);
  await login.complete();
  const { token, expiry } = (await login.res.json()) as { token: string; expiry: number };
  assert.ok(expiry > Date.now());
  const bearer = { authorization: `Bearer ${token}` };
  const status = await fetch(`${managerUrl}/v1/cluster/${cluster}/status`, { headers: bearer });
  assert.equal(status.status, 200);
  assert.equal(((await status.json()) as { ready?: boolean }).ready, true);
  assert.equal((await fetch(`${managerUrl}/v1/cluster/${cluster}/bootstrap-url`, { method: "POST", headers: bearer })).status, 200);

  const other = await negotiated(noGrant, "/token", { method: "POST" });
  const { token: otherToken } = (await other.res.json()) as { token: string };
  assert.equal((await fetch(`${managerUrl}/v1/cluster/${cluster}/status`, { headers: { authorization: `Bearer ${otherToken}` } })).status, 403);

  // graft's own ACS client (as ACS's services log in): /token with Negotiate, reply checked, then Bearer.
  const http = new ServiceClient({ service: "clusters", baseUrl: managerUrl, credentials: manage });
  const ping = await http.request({ method: "GET", path: "ping", accept: [200] });
  assert.equal(ping.json<{ service: string }>().service, "2706aa43-a826-441e-9cec-cd3d4ce623c2");
});

test("a garbage token, a ticket for another service and a principal without an ACS account get 401 with both challenges", async () => {
  const call = (authorization: string) => fetch(`${managerUrl}/v1/cluster/${cluster}/bootstrap-url`, { method: "POST", headers: { authorization } });
  for (const authorization of ["Negotiate", "Negotiate !!!not-base64", `Negotiate ${Buffer.from("not a GSSAPI token").toString("base64")}`]) {
    const res = await call(authorization);
    assert.equal(res.status, 401, authorization);
    assert.equal(res.headers.get("www-authenticate"), BOTH_CHALLENGES);
  }
  // A real ticket, but for HTTP/127.0.0.1 (the stand-in's services): the manager's keytab cannot decrypt it.
  const foreign = await negotiated(manage, `/v1/cluster/${cluster}/bootstrap-url`, { method: "POST" }, "127.0.0.1");
  assert.equal(foreign.res.status, 401);
  assert.equal(foreign.res.headers.get("www-authenticate"), BOTH_CHALLENGES);
  const stranger = await negotiated(noAccount, "/token", { method: "POST" });
  assert.equal(stranger.res.status, 401, "a Kerberos name that maps to no ACS account");
  assert.equal(stranger.res.headers.get("www-authenticate"), BOTH_CHALLENGES);
  // Basic still works beside it.
  const admin = `Basic ${Buffer.from(`${world.standin.adminUser.username}:${world.standin.adminUser.password}`).toString("base64")}`;
  assert.equal((await call(admin)).status, 200);
});

test("curl --negotiate (SPNEGO, a ticket from kinit) gets a bootstrap URL as the same Kerberos principal", async () => {
  const env = childProcessEnv({ ...kdc.env, KRB5CCNAME: `FILE:${join(dir, "curl.ccache")}` });
  const run = (cmd: string, args: string[]) => new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = execFile(cmd, args, { env }, (_err, stdout, stderr) => resolve({ code: child.exitCode, stdout, stderr }));
  });
  const kinit = await run("kinit", ["-k", "-t", manage.keytabFile, manage.principal]);
  assert.equal(kinit.code, 0, kinit.stderr);
  const curl = await run("curl", ["-sS", "--negotiate", "-u", ":", "-X", "POST", "-w", "\n%{http_code}", `${managerUrl}/v1/cluster/${cluster}/bootstrap-url`]);
  const [body, code] = curl.stdout.trimEnd().split("\n");
  assert.equal(code, "200", `${curl.stdout}${curl.stderr}`);
  assert.match(JSON.parse(body!) as string, /\/v1\/bootstrap\/[^/]+\.sh$/);
});

test("a grant revoked at the Auth service is gone at the next Negotiate request (the ACL is read per login, not kept)", async () => {
  const visitor = await keytabClient("admin-ui/temporary", true);
  const { uuid: grant } = world.standin.auth.addGrant({ principal: visitor.uuid, permission: Perm.ManageClusters, target: cluster, plural: false });
  assert.equal((await negotiated(visitor, `/v1/cluster/${cluster}/status`)).res.status, 200);
  assert.equal(world.standin.auth.deleteGrant(grant!), 204);
  assert.equal((await negotiated(visitor, `/v1/cluster/${cluster}/status`)).res.status, 403);
});

test("the start says once whether the Clusters API offers Negotiate (and for which service principals)", async () => {
  const said = async (negotiate: boolean) => {
    const lines: Array<{ msg: string; principals?: string[] }> = [];
    const log = pino({ level: "info" }, new Writable({ write: (chunk, _enc, done) => { lines.push(JSON.parse(String(chunk))); done(); } }));
    const settings = world.settings(NS, negotiate ? { negotiate: { keytabFile: join(dir, "HTTP_localhost.keytab") } } : {});
    const backend = new AcsBackend({ settings, organisationPrefix: "acme", repos: new RepoStore({ dataDir: join(dir, `said-${negotiate}`) }), log });
    backend.clustersApi(defaultConfig({ dataDir: join(dir, `said-${negotiate}`), externalUrl: managerUrl, mode: "acs", acs: settings }), client, () => undefined, log);
    await backend.stop();
    return lines.filter((l) => l.msg.startsWith("Clusters API:"));
  };
  const without = await said(false);
  assert.equal(without.length, 1);
  assert.match(without[0]!.msg, /no acceptor keytab configured \(--server-keytab-file \/ SERVER_KEYTAB_FILE\), so Negotiate is not offered/);
  const withKeytab = await said(true);
  assert.equal(withKeytab.length, 1);
  assert.deepEqual(withKeytab[0]!.principals, [`HTTP/localhost@${kdc.realm}`]);
});

test("an acceptor keytab that cannot be used stops the start with an error naming the file", () => {
  assert.throws(() => negotiateAcceptor({ keytabFile: join(dir, "missing.keytab") }), /acceptor keytab ".*missing\.keytab" cannot be read \(ENOENT\)/);
  const garbage = join(dir, "garbage.keytab");
  writeFileSync(garbage, "not a keytab");
  assert.throws(() => negotiateAcceptor({ keytabFile: garbage }), /acceptor keytab ".*garbage\.keytab" is not a keytab/);
});
