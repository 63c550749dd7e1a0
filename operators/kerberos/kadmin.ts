// A client for MIT kadmind through the `kadmin` command-line tool. Every query is built from checked tokens (no
// quoting games), and every password travels on stdin, never in argv.
import { isAbsolute } from "node:path";
import type { Logger } from "../runtime/logger.js";
import { silentLogger } from "../runtime/logger.js";
import { classifyKadminFailure } from "./classify.js";
import { assertRealm, qualifyPrincipal } from "./principal.js";
import { assertLineSafe, runTool } from "./run-tool.js";

export type KadminAuth =
  | { principal: string; password: string }
  | { principal: string; keytab: string };

export interface KadminOptions {
  realm: string;
  /** The admin identity: a password (fed on stdin) or a keytab file. */
  auth: KadminAuth;
  /** Environment for kadmin, typically `{ KRB5_CONFIG }`. */
  env?: Record<string, string | undefined>;
  /** kadmind as `host[:port]`, when krb5.conf does not name the realm's admin_server. */
  adminServer?: string;
  /** Per-call limit; a call that takes longer is treated as the KDC being unreachable. */
  timeoutMs?: number;
  logger?: Logger;
}

export interface PrincipalInfo {
  principal: string;
  /** Highest key version number held (0 when the principal has no keys). */
  kvno: number;
  /** False when the principal carries DISALLOW_ALL_TIX. */
  enabled: boolean;
  attributes: string[];
}

/** A token that kadmin's query parser reads as exactly one word. */
function assertPlainToken(what: string, value: string): void {
  if (!/^[^\s"'\\]+$/.test(value) || value.startsWith("-")) {
    throw new Error(`${what} "${value}" cannot be passed to kadmin: no spaces, quotes or backslashes, and no leading "-"`);
  }
}

export class KadminClient {
  readonly realm: string;
  readonly adminPrincipal: string;
  private readonly opts: KadminOptions;
  private readonly log: Logger;

  constructor(opts: KadminOptions) {
    assertRealm(opts.realm);
    this.realm = opts.realm;
    this.adminPrincipal = qualifyPrincipal(opts.auth.principal, opts.realm);
    if ("password" in opts.auth) assertLineSafe("the admin password", opts.auth.password);
    else if (!isAbsolute(opts.auth.keytab)) throw new Error(`admin keytab path "${opts.auth.keytab}" must be absolute`);
    if (opts.adminServer !== undefined) assertPlainToken("admin server", opts.adminServer);
    this.opts = opts;
    this.log = opts.logger ?? silentLogger;
  }

  /** Authenticates and lists the admin's privileges (e.g. GET, ADD, MODIFY): a cheap check of credentials and reachability. */
  async checkAccess(): Promise<string[]> {
    const out = await this.query(["getprivs"], { success: /current privileges:/, what: "checking kadmin access" });
    const m = /current privileges:(.*)/.exec(out);
    return (m?.[1] ?? "").trim().split(/\s+/).filter(Boolean);
  }

  /** The principal's key version and flags, or null when it does not exist. */
  async getPrincipal(name: string): Promise<PrincipalInfo | null> {
    const principal = this.qualify(name);
    const out = await this.query(["getprinc", principal], {
      success: /^Principal: /m, what: `reading principal "${principal}"`, notFoundIsNull: true,
    });
    if (out === null) return null;
    const kvnos = [...out.matchAll(/^Key: vno (\d+),/gm)].map((m) => Number(m[1]));
    const attributes = (/^Attributes:(.*)$/m.exec(out)?.[1] ?? "").trim().split(/\s+/).filter(Boolean);
    return {
      principal,
      kvno: kvnos.length > 0 ? Math.max(...kvnos) : 0,
      enabled: !attributes.includes("DISALLOW_ALL_TIX"),
      attributes,
    };
  }

  async addPrincipalRandkey(name: string): Promise<void> {
    const principal = this.qualify(name);
    await this.query(["addprinc", "-randkey", principal], { success: /Principal ".*" created\./, what: `creating principal "${principal}"` });
  }

  async addPrincipalWithPassword(name: string, password: string): Promise<void> {
    const principal = this.qualify(name);
    assertLineSafe(`the password for "${principal}"`, password);
    await this.query(["addprinc", principal], {
      input: [password, password], success: /Principal ".*" created\./, what: `creating principal "${principal}"`,
    });
  }

  async changePassword(name: string, password: string): Promise<void> {
    const principal = this.qualify(name);
    assertLineSafe(`the password for "${principal}"`, password);
    await this.query(["cpw", principal], {
      input: [password, password], success: /Password for ".*" changed\./, what: `changing the password of "${principal}"`,
    });
  }

  async randkey(name: string): Promise<void> {
    const principal = this.qualify(name);
    await this.query(["cpw", "-randkey", principal], { success: /Key for ".*" randomized\./, what: `randomising the key of "${principal}"` });
  }

  /**
   * Writes the principal's keys to a keytab file on this machine (appending if it exists) and returns their kvno.
   * Without norandkey the keys are randomised first (kvno + 1); with it the current keys are extracted, which needs
   * the "extract-keys" (e) privilege.
   */
  async ktadd(name: string, keytabPath: string, opts: { norandkey?: boolean } = {}): Promise<number> {
    const principal = this.qualify(name);
    if (!isAbsolute(keytabPath)) throw new Error(`keytab path "${keytabPath}" must be absolute`);
    assertPlainToken("keytab path", keytabPath);
    const tokens = ["ktadd", "-k", keytabPath, ...(opts.norandkey ? ["-norandkey"] : []), principal];
    const out = await this.query(tokens, { success: /^Entry for principal .* added to keytab/m, what: `writing a keytab for "${principal}"` });
    const kvnos = [...out.matchAll(/^Entry for principal \S+ with kvno (\d+),/gm)].map((m) => Number(m[1]));
    return Math.max(...kvnos);
  }

  /** Allows tickets for the principal (clears DISALLOW_ALL_TIX). */
  async enable(name: string): Promise<void> {
    const principal = this.qualify(name);
    await this.query(["modprinc", "+allow_tix", principal], { success: /Principal ".*" modified\./, what: `enabling principal "${principal}"` });
  }

  /** Refuses tickets for the principal (sets DISALLOW_ALL_TIX). */
  async disable(name: string): Promise<void> {
    const principal = this.qualify(name);
    await this.query(["modprinc", "-allow_tix", principal], { success: /Principal ".*" modified\./, what: `disabling principal "${principal}"` });
  }

  async deletePrincipal(name: string): Promise<void> {
    const principal = this.qualify(name);
    await this.query(["delprinc", "-force", principal], { success: /Principal ".*" deleted\./, what: `deleting principal "${principal}"` });
  }

  private qualify(name: string): string {
    return qualifyPrincipal(name, this.realm);
  }

  private query(tokens: string[], o: { input?: string[]; success: RegExp; what: string; notFoundIsNull: true }): Promise<string | null>;
  private query(tokens: string[], o: { input?: string[]; success: RegExp; what: string }): Promise<string>;
  private async query(
    tokens: string[],
    o: { input?: string[]; success: RegExp; what: string; notFoundIsNull?: boolean },
  ): Promise<string | null> {
    for (const t of tokens) if (!/^[^\s"'\\]+$/.test(t)) throw new Error(`kadmin query word "${t}" is not a plain token`);
    const { auth } = this.opts;
    const args = ["-r", this.realm, "-p", this.adminPrincipal];
    if ("keytab" in auth) args.push("-k", "-t", auth.keytab);
    if (this.opts.adminServer) args.push("-s", this.opts.adminServer);
    args.push("-q", tokens.join(" "));
    const lines = "password" in auth ? [auth.password, ...(o.input ?? [])] : (o.input ?? []);
    this.log.debug({ query: tokens[0], principal: tokens.at(-1) }, "kadmin query");
    const res = await runTool("kadmin", args, {
      env: this.opts.env, input: lines.map((l) => `${l}\n`).join(""), timeoutMs: this.opts.timeoutMs,
    });
    if (res.code === 0 && o.success.test(res.stdout)) return res.stdout;
    if (o.notFoundIsNull && res.code === 0 && /Principal does not exist/.test(res.stderr)) return null;
    throw classifyKadminFailure(res.stderr, o.what);
  }
}
