// A real MIT Kerberos KDC for tests: krb5kdc + kadmind from the Debian packages, serving a throwaway realm on
// loopback ports, with every file (database, stash, ACL, logs, pid files, ccaches) in one temp dir that stop() removes.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually } from "./eventually.js";
import { freePort } from "./ports.js";
import { startProcess, type ManagedProcess } from "./process.js";
import { childProcessEnv } from "../../operators/runtime/child-env.js";

export interface KdcOptions {
  /** Realm name; a random `GRAFT-<hex>.TEST` when absent. */
  realm?: string;
  /** Also grant the admin the extract-keys privilege (`e`), which `ktadd -norandkey` needs; off by default, as on most KDCs. */
  extractKeys?: boolean;
  /**
   * The address krb5kdc, kadmind and kpasswd listen on and krb5.conf names; default 127.0.0.1. Pods of the real
   * node (real-node.ts) reach the host only on its bridge address.
   */
  address?: string;
}

export interface Kdc {
  readonly realm: string;
  readonly kdcPort: number;
  readonly kadminPort: number;
  /** The address the daemons listen on (KdcOptions.address). */
  readonly address: string;
  /** krb5.conf for clients (kinit, kadmin) pointing at this KDC. */
  readonly krb5ConfPath: string;
  /** `graft/admin@REALM`, allowed everything by the ACL. */
  readonly adminPrincipal: string;
  readonly adminPassword: string;
  /** The temp dir holding everything; removed by stop(). */
  readonly dir: string;
  /** Environment for Kerberos clients and tools: KRB5_CONFIG, KRB5_KDC_PROFILE, KRB5CCNAME (in the temp dir), LC_ALL=C. */
  readonly env: Record<string, string>;
  /** Runs a kadmin.local query on the database directly (no network, no auth): for checking what a test did. */
  kadminLocal(query: string): Promise<string>;
  /** The key version number of a principal, read with kadmin.local; null when the principal does not exist. */
  kvno(principal: string): Promise<number | null>;
  /** Stops krb5kdc and kadmind (or just one) but keeps the database, so startServers() brings the same realm back. */
  stopServers(which?: "kdc" | "kadmind"): Promise<void>;
  /** Starts whichever of krb5kdc and kadmind is stopped, on the same ports, and waits until both accept connections. */
  startServers(): Promise<void>;
  restart(): Promise<void>;
  /** Stops both daemons (SIGTERM, then SIGKILL) and removes the temp dir. */
  stop(): Promise<void>;
}

const ADMIN_NAME = "graft/admin";

/** Runs a tool; resolves with stdout and stderr together (kadmin.local reports query errors on stderr with exit 0). */
function run(cmd: string, args: string[], env: Record<string, string>, input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { env: { ...childProcessEnv(), ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")} failed: ${stderr.trim() || err.message}`));
      else resolve(stdout + stderr);
    });
    child.stdin?.on("error", () => undefined); // the tool may exit before reading its input
    child.stdin?.end(input ?? "");
  });
}

async function udpPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createSocket("udp4");
    sock.once("error", () => resolve(false));
    sock.bind(port, "127.0.0.1", () => sock.close(() => resolve(true)));
  });
}

/** A loopback port free for both TCP and UDP (the KDC and kpasswd serve both on one port number). */
async function freeTcpUdpPort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await freePort();
    if (await udpPortFree(port)) return port;
  }
  throw new Error("no loopback port free for both tcp and udp");
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    sock.once("connect", () => { sock.destroy(); resolve(true); });
    sock.once("error", () => resolve(false));
  });
}

function randomRealm(): string {
  return `GRAFT-${randomBytes(4).toString("hex").toUpperCase()}.TEST`;
}

export async function startKdc(opts: KdcOptions = {}): Promise<Kdc> {
  const realm = opts.realm ?? randomRealm();
  // The ports are picked before the daemons bind them, so another process can take one in between: try afresh.
  for (let attempt = 1; ; attempt++) {
    const dir = mkdtempSync(join(tmpdir(), "graft-kdc-"));
    try {
      return await setUpKdc(realm, dir, opts.extractKeys ?? false, opts.address ?? "127.0.0.1");
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      if (attempt >= 3) throw err;
    }
  }
}

async function setUpKdc(realm: string, dir: string, extractKeys: boolean, address: string): Promise<Kdc> {
  const kdcPort = await freeTcpUdpPort();
  const kadminPort = await freePort();
  const kpasswdPort = await freeTcpUdpPort();
  const krb5ConfPath = join(dir, "krb5.conf");
  const kdcConfPath = join(dir, "kdc.conf");
  const adminPrincipal = `${ADMIN_NAME}@${realm}`;
  const adminPassword = randomBytes(18).toString("base64url");

  writeFileSync(krb5ConfPath, [
    "[libdefaults]",
    `  default_realm = ${realm}`,
    "  dns_lookup_kdc = false",
    "  dns_lookup_realm = false",
    "  dns_canonicalize_hostname = false",
    "  rdns = false",
    "  udp_preference_limit = 1",
    "[realms]",
    `  ${realm} = {`,
    `    kdc = ${address}:${kdcPort}`,
    `    admin_server = ${address}:${kadminPort}`,
    `    kpasswd_server = ${address}:${kpasswdPort}`,
    "  }",
    "",
  ].join("\n"));
  writeFileSync(kdcConfPath, [
    "[kdcdefaults]",
    `  kdc_listen = ${address}:${kdcPort}`,
    `  kdc_tcp_listen = ${address}:${kdcPort}`,
    "[realms]",
    `  ${realm} = {`,
    `    database_name = ${join(dir, "principal")}`,
    `    key_stash_file = ${join(dir, "stash")}`,
    `    acl_file = ${join(dir, "kadm5.acl")}`,
    `    kadmind_listen = ${address}:${kadminPort}`,
    `    kpasswd_listen = ${address}:${kpasswdPort}`,
    "    max_life = 1h",
    "    max_renewable_life = 1h",
    "  }",
    "[logging]",
    `  kdc = FILE:${join(dir, "krb5kdc.log")}`,
    `  admin_server = FILE:${join(dir, "kadmind.log")}`,
    `  default = FILE:${join(dir, "krb5lib.log")}`,
    "",
  ].join("\n"));
  writeFileSync(join(dir, "kadm5.acl"), `*/admin@${realm} ${extractKeys ? "*e" : "*"}\n`);

  const env: Record<string, string> = {
    KRB5_CONFIG: krb5ConfPath,
    KRB5_KDC_PROFILE: kdcConfPath,
    KRB5CCNAME: `FILE:${join(dir, "ccache")}`,
    KRB5RCACHEDIR: dir,
    LC_ALL: "C",
  };

  await run("kdb5_util", ["create", "-s", "-r", realm, "-P", randomBytes(18).toString("base64url")], env);
  const kadminLocal = (query: string) => run("kadmin.local", ["-r", realm, "-q", query], env);
  // -pw keeps the harness simple; this throwaway password exists only in the test's own process arguments.
  await kadminLocal(`addprinc -pw ${adminPassword} ${adminPrincipal}`);

  let kdc: ManagedProcess | null = null;
  let kadmind: ManagedProcess | null = null;
  const daemonEnv = { ...childProcessEnv(), ...env };

  const stopServers = async (which?: "kdc" | "kadmind") => {
    if (which !== "kadmind") { await kdc?.stop(3000); kdc = null; }
    if (which !== "kdc") { await kadmind?.stop(3000); kadmind = null; }
  };
  const startServers = async () => {
    kdc ??= startProcess("krb5kdc", ["-n", "-r", realm, "-P", join(dir, "krb5kdc.pid")],
      { logFile: join(dir, "krb5kdc.out"), env: daemonEnv });
    kadmind ??= startProcess("kadmind", ["-nofork", "-r", realm, "-P", join(dir, "kadmind.pid")],
      { logFile: join(dir, "kadmind.out"), env: daemonEnv });
    const [k, a] = [kdc, kadmind];
    try {
      await eventually(async () => {
        if (k.child.exitCode !== null) throw new Error(`krb5kdc exited: see ${join(dir, "krb5kdc.log")}`);
        if (a.child.exitCode !== null) throw new Error(`kadmind exited: see ${join(dir, "kadmind.log")}`);
        return (await accepts(address, kdcPort)) && (await accepts(address, kadminPort));
      }, { timeoutMs: 20_000, intervalMs: 50, message: "the test KDC did not start" });
    } catch (err) {
      await stopServers();
      throw err;
    }
  };

  // If the test process dies without calling stop(), take the daemons and their files with it.
  const onExit = () => {
    kdc?.child.kill("SIGKILL");
    kadmind?.child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", onExit);

  try {
    await startServers();
  } catch (err) {
    process.removeListener("exit", onExit);
    throw err;
  }

  return {
    realm, kdcPort, kadminPort, address, krb5ConfPath, adminPrincipal, adminPassword, dir, env,
    kadminLocal,
    async kvno(principal: string) {
      const out = await kadminLocal(`getprinc ${principal}`);
      if (/Principal does not exist/.test(out)) return null;
      const m = /Key: vno (\d+)/.exec(out);
      if (!m?.[1]) throw new Error(`no key version in kadmin.local output for "${principal}"`);
      return Number(m[1]);
    },
    stopServers,
    startServers,
    async restart() {
      await stopServers();
      await startServers();
    },
    async stop() {
      process.removeListener("exit", onExit);
      await stopServers();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
