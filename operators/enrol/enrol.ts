// Kerberos-mode enrolment of an edge cluster (acs-contract §5): creates or repairs `op1krbkeys/<cluster>` (keytab
// in Secret krb-keys-keytabs/client) and `op1flux/<cluster>` (password in Secret flux-secrets), then enables both.
//
// Unlike ACS, a re-run is safe: every existing credential is first checked against the KDC, and only a credential
// the KDC rejects (or --rotate) is replaced. Everything that can fail without changing anything runs first (Secret
// ownership, admin login, credential checks), so a wrong password or an unreachable KDC changes nothing. Each key
// change is followed at once by its Secret write; a crash in between leaves a Secret the next run finds invalid and
// repairs.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type * as k8s from "@kubernetes/client-node";
import { AlreadyExistsError, KerberosError } from "../kerberos/errors.js";
import { KadminClient, type PrincipalInfo } from "../kerberos/kadmin.js";
import { withPrivateDir, writeKeytabFile } from "../kerberos/keytab.js";
import { generatePassword } from "../kerberos/password.js";
import { assertRealm, edgePrincipal } from "../kerberos/principal.js";
import { verifyKeytab, verifyPassword, type CredentialCheck } from "../kerberos/verify.js";
import { silentLogger, type Logger } from "../runtime/logger.js";
import { KubeClient } from "../runtime/rest.js";
import {
  assertSecretWritable, FLUX_SECRET, isOwned, KRBKEYS_SECRET, readSecret, SecretNotOwnedError, secretValue, writeOwnedSecret,
  type SecretObject,
} from "./secrets.js";

export interface EnrolOptions {
  /** The edge cluster's name (the instance part of the principals). */
  cluster: string;
  /** The edge namespace holding the Secrets. */
  namespace: string;
  realm: string;
  admin: { principal: string; password: string };
  /** Replace both credentials even when they are valid. */
  rotate?: boolean;
  kubeConfig: k8s.KubeConfig;
  /** Environment for kadmin and kinit, e.g. `{ KRB5_CONFIG: "/etc/krb5.conf" }`. */
  kadminEnv?: Record<string, string | undefined>;
  /** kadmin server (`host[:port]`) when not the krb5.conf's `admin_server`. */
  adminServer?: string;
  /** Limit for each kadmin/kinit call. */
  timeoutMs?: number;
  logger?: Logger;
}

export type CredentialAction = "created" | "verified" | "rotated";

export interface CredentialResult {
  role: "krbkeys" | "flux";
  principal: string;
  /** `<namespace>/<secret>` */
  secret: string;
  action: CredentialAction;
  /** Why this action: e.g. "valid", "--rotate", "Secret missing", the KDC's rejection. */
  reason: string;
  /** The principal's key version after enrolment. */
  kvno: number;
}

export interface EnrolSummary {
  realm: string;
  namespace: string;
  cluster: string;
  credentials: CredentialResult[];
  /** True when any principal or Secret was changed. */
  changed: boolean;
}

/**
 * Enrolment failed after it had started changing principals or Secrets. Whatever is left is repaired by running
 * enrolment again. Errors thrown before any change are passed through unwrapped: they changed nothing.
 */
export class EnrolIncompleteError extends Error {
  constructor(readonly completed: CredentialResult[], override readonly cause: unknown) {
    const done = completed.length === 0 ? "nothing finished" : `finished: ${completed.map((c) => `"${c.principal}" ${c.action}`).join(", ")}`;
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`enrolment stopped part-way (${done}): ${why}; run it again to finish`);
    this.name = "EnrolIncompleteError";
  }
}

interface Plan {
  role: "krbkeys" | "flux";
  principal: string;
  secretName: string;
  secret: SecretObject | null;
  info: PrincipalInfo | null;
  /** null: the credential is valid and is kept. */
  renewReason: string | null;
}

const CLUSTER_RE = /^[A-Za-z0-9_.][A-Za-z0-9_.-]*$/;

export async function enrol(opts: EnrolOptions): Promise<EnrolSummary> {
  const log = opts.logger ?? silentLogger;
  if (!CLUSTER_RE.test(opts.cluster)) throw new Error(`invalid cluster name "${opts.cluster}": use letters, digits, ".", "_" and "-"`);
  assertRealm(opts.realm);
  const env = opts.kadminEnv ?? {};
  const { namespace } = opts;
  const core = new KubeClient(opts.kubeConfig);
  const kadmin = new KadminClient({
    realm: opts.realm, auth: opts.admin, env, adminServer: opts.adminServer, timeoutMs: opts.timeoutMs, logger: log,
  });
  const krbkeysPrincipal = edgePrincipal("krbkeys", opts.cluster, opts.realm);
  const fluxPrincipal = edgePrincipal("flux", opts.cluster, opts.realm);

  // 1. Ownership and write access: refuse before anything reaches the KDC.
  const [keytabSecret, fluxSecret] = await Promise.all([
    readSecret(core, namespace, KRBKEYS_SECRET.name), readSecret(core, namespace, FLUX_SECRET.name),
  ]);
  for (const [name, s] of [[KRBKEYS_SECRET.name, keytabSecret], [FLUX_SECRET.name, fluxSecret]] as const) {
    if (s && !isOwned(s)) throw new SecretNotOwnedError(namespace, name);
  }
  await assertSecretWritable(core, namespace, KRBKEYS_SECRET.name, keytabSecret);
  await assertSecretWritable(core, namespace, FLUX_SECRET.name, fluxSecret);

  // 2. Admin login and current state; 3. credential checks. Nothing has changed if any of these throws.
  await kadmin.checkAccess();
  const plans: Plan[] = [
    {
      role: "krbkeys", principal: krbkeysPrincipal, secretName: KRBKEYS_SECRET.name, secret: keytabSecret,
      info: await kadmin.getPrincipal(krbkeysPrincipal),
      renewReason: renewReason(opts.rotate, await checkKeytabSecret(keytabSecret, krbkeysPrincipal, env, opts.timeoutMs)),
    },
    {
      role: "flux", principal: fluxPrincipal, secretName: FLUX_SECRET.name, secret: fluxSecret,
      info: await kadmin.getPrincipal(fluxPrincipal),
      renewReason: renewReason(opts.rotate, await checkFluxSecret(fluxSecret, fluxPrincipal, env, opts.timeoutMs)),
    },
  ];

  // 4. Changes, one credential at a time, each key change followed at once by its Secret.
  const credentials: CredentialResult[] = [];
  let changing = false;
  try {
    for (const plan of plans) {
      if (plan.renewReason !== null) changing = true;
      credentials.push(await apply(plan));
    }
  } catch (err) {
    if (!changing) throw err;
    throw new EnrolIncompleteError(credentials, err);
  }
  return { realm: opts.realm, namespace, cluster: opts.cluster, credentials, changed: credentials.some((c) => c.action !== "verified") };

  async function apply(plan: Plan): Promise<CredentialResult> {
    const secretRef = `${namespace}/${plan.secretName}`;
    if (plan.renewReason === null) {
      log.info({ principal: plan.principal, secretName: secretRef }, "credential is valid; kept");
      return { role: plan.role, principal: plan.principal, secret: secretRef, action: "verified", reason: "valid", kvno: plan.info?.kvno ?? 0 };
    }
    const created = plan.role === "krbkeys"
      ? await renewKeytab(kadmin, core, namespace, plan, env, opts.timeoutMs)
      : await renewPassword(kadmin, core, namespace, plan, env, opts.timeoutMs);
    const kvno = (await kadmin.getPrincipal(plan.principal))?.kvno ?? 0;
    const action: CredentialAction = created ? "created" : "rotated";
    log.info({ principal: plan.principal, secretName: secretRef, action, reason: plan.renewReason, kvno }, "credential renewed");
    return { role: plan.role, principal: plan.principal, secret: secretRef, action, reason: plan.renewReason, kvno };
  }
}

function renewReason(rotate: boolean | undefined, check: CredentialCheck): string | null {
  if (!check.valid) return check.reason;
  return rotate ? "--rotate" : null;
}

async function checkKeytabSecret(
  secret: SecretObject | null, principal: string, env: Record<string, string | undefined>, timeoutMs?: number,
): Promise<CredentialCheck> {
  const keytab = secretValue(secret, KRBKEYS_SECRET.key);
  if (!secret) return { valid: false, reason: `Secret "${KRBKEYS_SECRET.name}" missing` };
  if (!keytab || keytab.length === 0) return { valid: false, reason: `Secret "${KRBKEYS_SECRET.name}" has no "${KRBKEYS_SECRET.key}" key` };
  return withPrivateDir(async (dir) => verifyKeytab(await writeKeytabFile(dir, keytab), principal, env, { timeoutMs }));
}

async function checkFluxSecret(
  secret: SecretObject | null, principal: string, env: Record<string, string | undefined>, timeoutMs?: number,
): Promise<CredentialCheck> {
  if (!secret) return { valid: false, reason: `Secret "${FLUX_SECRET.name}" missing` };
  const username = secretValue(secret, FLUX_SECRET.usernameKey)?.toString("utf8");
  const password = secretValue(secret, FLUX_SECRET.passwordKey)?.toString("utf8");
  if (username !== principal) return { valid: false, reason: `Secret "${FLUX_SECRET.name}" username is not "${principal}"` };
  if (!password) return { valid: false, reason: `Secret "${FLUX_SECRET.name}" has no password` };
  return verifyPassword(principal, password, env, { timeoutMs });
}

/** Adds the principal when missing; returns true when it did. A concurrent add counts as present. */
async function ensurePrincipal(plan: Plan, add: () => Promise<void>): Promise<boolean> {
  if (plan.info) return false;
  try {
    await add();
    return true;
  } catch (err) {
    if (err instanceof AlreadyExistsError) return false;
    throw err;
  }
}

/** Stores a renewed credential; a failure here leaves the KDC ahead of the Secret, which the next run repairs. */
async function storeRenewed(
  core: KubeClient, namespace: string, plan: Plan, values: Record<string, Buffer>,
): Promise<void> {
  try {
    await writeOwnedSecret(core, namespace, plan.secretName, values, plan.secret);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`the key of "${plan.principal}" was changed but not stored: ${why}; run enrolment again to repair it`);
  }
}

/** Fails loudly if a credential just stored does not work, rather than leaving Flux or krbkeys to find out. */
function assertWorks(plan: Plan, check: CredentialCheck): void {
  if (!check.valid) throw new KerberosError(`the new credential of "${plan.principal}" was stored but the KDC rejects it: ${check.reason}`);
}

async function renewKeytab(
  kadmin: KadminClient, core: KubeClient, namespace: string, plan: Plan,
  env: Record<string, string | undefined>, timeoutMs?: number,
): Promise<boolean> {
  const created = await ensurePrincipal(plan, () => kadmin.addPrincipalRandkey(plan.principal));
  await kadmin.enable(plan.principal);
  await withPrivateDir(async (dir) => {
    const path = join(dir, "client.keytab");
    await kadmin.ktadd(plan.principal, path); // new random key, kvno + 1
    await storeRenewed(core, namespace, plan, { [KRBKEYS_SECRET.key]: await readFile(path) });
    assertWorks(plan, await verifyKeytab(path, plan.principal, env, { timeoutMs }));
  });
  return created;
}

async function renewPassword(
  kadmin: KadminClient, core: KubeClient, namespace: string, plan: Plan,
  env: Record<string, string | undefined>, timeoutMs?: number,
): Promise<boolean> {
  const password = generatePassword();
  const created = await ensurePrincipal(plan, () => kadmin.addPrincipalWithPassword(plan.principal, password));
  if (!created) await kadmin.changePassword(plan.principal, password);
  await kadmin.enable(plan.principal);
  await storeRenewed(core, namespace, plan, {
    [FLUX_SECRET.usernameKey]: Buffer.from(plan.principal), [FLUX_SECRET.passwordKey]: Buffer.from(password),
  });
  assertWorks(plan, await verifyPassword(plan.principal, password, env, { timeoutMs }));
  return created;
}
