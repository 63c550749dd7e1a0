// The centre edge-sync reports to in its tests: the ACS stand-in, with the cluster registered and an edge-sync
// account in ACS's edge-sync role, so it holds exactly that role's grants as ACS's dumps give them
// (e2e/acs-standin/dumps/edge-sync.yaml, acs-contract.md §7: ReadConfig on the K8s resource template, Helm chart
// template, Edge deployment and Edge cluster status applications, WriteConfig on Edge cluster status).
import { randomBytes, randomUUID } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { startAcsStandin, type AcsStandin, type AcsStandinOptions } from "../../acs-standin/standin.js";
import { EDGE_DUMPS, EdgeRole } from "../../acs-standin/edge-roles.js";
import type { ConfigDbWrite } from "../../acs-standin/configdb-http.js";
import { App, Class } from "../../../operators/api/constants.js";


export interface EdgeSyncAccount {
  username: string;
  password: string;
  upn: string;
  principal: string;
}

export interface EdgeSyncCentre {
  standin: AcsStandin;
  account: EdgeSyncAccount;
  /** The cluster's Edge cluster status entry, as the ConfigDB holds it. */
  entry(): Record<string, unknown> | undefined;
  /** The accepted writes of that entry so far, in order. */
  writes(): ConfigDbWrite[];
  /** ConfigDB requests answered 401 (token requests included). */
  unauthorised(): number;
  /** A bearer token issued to the account by the ConfigDB, as an embedded-mode sync token stands in the token file. */
  issueToken(account?: EdgeSyncAccount): Promise<string>;
  stop(): Promise<void>;
}

/** Adds an account in the edge-sync role (or in no role, with `grants: false`), loading the edge roles' dumps if needed. */
export function addEdgeSyncAccount(standin: AcsStandin, username: string, options: { password?: string; grants?: boolean } = {}): EdgeSyncAccount {
  const password = options.password ?? randomBytes(9).toString("hex");
  const { upn } = standin.addUser(username, password);
  return { username, password, upn, principal: mapEdgeSyncAccount(standin, upn, options.grants !== false) };
}

/** A ConfigDB account for a Kerberos principal, in the edge-sync role when `inRole`; its UUID. */
function mapEdgeSyncAccount(standin: AcsStandin, upn: string, inRole: boolean): string {
  const principal = randomUUID();
  standin.configdb.register(principal, Class.EdgeAccount);
  standin.auth.setKerberos(principal, upn);
  if (inRole) {
    if (!standin.configdb.hasObject(EdgeRole.Sync)) for (const file of EDGE_DUMPS) standin.loadDump(file);
    if (standin.configdb.addMember(EdgeRole.Sync, principal) !== 204) throw new Error("cannot put the account in the edge-sync role");
  }
  return principal;
}

export interface KeytabAccount {
  upn: string;
  principal: string;
  /** A new random key at the KDC (as krbkeys rotates a Random KerberosKey): the new keytab, its kvno one higher. */
  rotate(): Promise<Buffer>;
}

/**
 * An account that logs in with a keytab only, as ACS gives op1sync one: a KDC principal with a random key (no password
 * anywhere), mapped to a ConfigDB account in the edge-sync role (or in none, with `grants: false`). `maxLife` bounds
 * its tickets' lifetime (kadmin's -maxlife, e.g. "15 seconds"), for tests that need a running client to get a new one.
 */
export async function addKeytabEdgeSyncAccount(standin: AcsStandin, kdc: { realm: string; kadminLocal(query: string): Promise<string> },
  name: string, dir: string, options: { grants?: boolean; maxLife?: string } = {}): Promise<KeytabAccount & { keytab: Buffer }> {
  const upn = `${name}@${kdc.realm}`;
  const added = await kdc.kadminLocal(`addprinc -randkey ${options.maxLife ? `-maxlife "${options.maxLife}" ` : ""}${upn}`);
  if (!/created/i.test(added)) throw new Error(`kadmin.local could not add ${upn}: ${added.trim()}`);
  const principal = mapEdgeSyncAccount(standin, upn, options.grants !== false);
  let generation = 0;
  // ktadd without -norandkey gives the principal a new random key and writes only that one: a rotation.
  const rotate = async () => {
    const file = join(dir, `${name.replace(/\W/g, "_")}-${++generation}.keytab`);
    const out = await kdc.kadminLocal(`ktadd -k ${file} ${upn}`);
    if (!/added to keytab/i.test(out)) throw new Error(`kadmin.local could not extract ${upn}: ${out.trim()}`);
    const bytes = await readFile(file);
    await rm(file);
    return bytes;
  };
  return { upn, principal, rotate, keytab: await rotate() };
}

export async function startEdgeSyncCentre(cluster: string, options: AcsStandinOptions & { username?: string; password?: string } = {}): Promise<EdgeSyncCentre> {
  const standin = await startAcsStandin(options);
  standin.configdb.register(cluster, Class.EdgeCluster);
  const account = addEdgeSyncAccount(standin, options.username ?? "op1sync/site-a", { password: options.password });
  return {
    standin,
    account,
    entry: () => standin.configdb.get(App.EdgeClusterStatus, cluster)?.value as Record<string, unknown> | undefined,
    writes: () => standin.configdbWrites.filter((w) => w.app === App.EdgeClusterStatus && w.object === cluster),
    unauthorised: () => standin.requests.filter((r) => r.service === "configdb" && r.status === 401).length,
    issueToken: async (who = account) => {
      const basic = Buffer.from(`${who.upn}:${who.password}`).toString("base64");
      const res = await fetch(`${standin.urls.configdb}/token`, { method: "POST", headers: { authorization: `Basic ${basic}` } });
      if (!res.ok) throw new Error(`token request for ${who.upn}: HTTP ${res.status}`);
      return ((await res.json()) as { token: string }).token;
    },
    stop: () => standin.stop(),
  };
}
