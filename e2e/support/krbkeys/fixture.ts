// Shared set-up for krbkeys tests: a real MIT KDC and a real API server with the KerberosKey CRD, an operator
// principal with only the rights krbkeys needs, and the operator running in-process against both.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startControlPlane, type ControlPlane } from "../../harness/control-plane.js";
import { eventually } from "../../harness/eventually.js";
import { startKdc, type Kdc } from "../../harness/kdc.js";
import { KerberosKeyType, type KerberosKey, type KerberosKeySpec } from "../../../operators/api/kerberoskey.js";
import { createLogger, silentLogger } from "../../../operators/runtime/logger.js";
import { Core, type KubeObject } from "../../../operators/runtime/kube.js";
import { KrbKeysOperator, type KrbKeysAcsOptions } from "../../../operators/krbkeys/krbkeys.js";
import { childProcessEnv } from "../../../operators/runtime/child-env.js";

const crdFile = fileURLToPath(new URL("../../../crds/factoryplus.app.amrc.co.uk_kerberos-keys.yaml", import.meta.url));

export interface SecretObject extends KubeObject {
  data?: Record<string, string>;
}

export interface KrbKeysFixture {
  kdc: Kdc;
  cp: ControlPlane;
  operator: KrbKeysOperator;
  namespace: string;
  /** The operator's principal, with realm. */
  operatorPrincipal: string;
  /** The keytab file the operator was started with (never updated by the test). */
  operatorKeytabFile: string;
  applyKey(name: string, spec: Partial<KerberosKeySpec> & Record<string, unknown>): Promise<void>;
  getKey(name: string): Promise<KerberosKey>;
  /** Waits until the key's status satisfies check (returns the key). */
  waitForKey(name: string, check: (kk: KerberosKey) => boolean, what: string): Promise<KerberosKey>;
  getSecret(name: string): Promise<SecretObject | null>;
  annotate(name: string, key: string, value: string): Promise<void>;
  stop(): Promise<void>;
}

/** Exit code of kinit asking the test KDC for a ticket with a keytab (kinit runs on its own, not through graft). */
export async function kinitWithKeytab(kdc: Kdc, keytab: Buffer, principal: string): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "graft-kt-test-"));
  try {
    const path = join(dir, "kt");
    writeFileSync(path, keytab, { mode: 0o600 });
    return await kinit(kdc, ["-k", "-t", path, principal]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function kinitWithPassword(kdc: Kdc, principal: string, password: string): Promise<number> {
  return kinit(kdc, [principal], `${password}\n`);
}

function kinit(kdc: Kdc, args: string[], input = ""): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn("kinit", ["-c", `MEMORY:t${randomBytes(4).toString("hex")}`, ...args], {
      env: { ...childProcessEnv(), ...kdc.env }, stdio: ["pipe", "ignore", "ignore"],
    });
    child.once("error", reject);
    child.once("close", (code) => resolve(code ?? -1));
    child.stdin.on("error", () => undefined);
    child.stdin.end(input);
  });
}

export const readyOf = (kk: KerberosKey) => kk.status?.conditions?.find((c) => c.type === "Ready");
export const conditionOf = (kk: KerberosKey, type: string) => kk.status?.conditions?.find((c) => c.type === type);

export interface KrbKeysFixtureOptions {
  /** ACS services for spec.account, set up once the KDC runs (the stand-in checks passwords against it). */
  acs?: (kdc: Kdc, operatorPrincipal: string) => Promise<KrbKeysAcsOptions>;
}

/**
 * krbkeys' own principal `op1krbkeys/test-site` with exactly the kadmin rights krbkeys needs (add, change-password,
 * inquire, modify: no extract, no delete), and its keytab in dir.
 */
export async function addOperatorPrincipal(kdc: Kdc, dir: string): Promise<{ operatorPrincipal: string; operatorKeytabFile: string }> {
  const operatorPrincipal = `op1krbkeys/test-site@${kdc.realm}`;
  appendFileSync(join(kdc.dir, "kadm5.acl"), `${operatorPrincipal} acim\n`);
  await kdc.stopServers("kadmind");
  await kdc.startServers();
  const operatorKeytabFile = join(dir, "operator.keytab");
  await kdc.kadminLocal(`addprinc -randkey ${operatorPrincipal}`);
  await kdc.kadminLocal(`ktadd -k ${operatorKeytabFile} ${operatorPrincipal}`);
  return { operatorPrincipal, operatorKeytabFile };
}

export async function startKrbKeysFixture(namespace = "edge", options: KrbKeysFixtureOptions = {}): Promise<KrbKeysFixture> {
  const [kdc, cp] = await Promise.all([startKdc(), startControlPlane({ name: "krbkeys" })]);
  const dir = mkdtempSync(join(tmpdir(), "graft-krbkeys-test-"));
  let operator: KrbKeysOperator | undefined;
  const stop = async () => {
    await operator?.stop();
    await Promise.all([cp.stop(), kdc.stop()]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const { operatorPrincipal, operatorKeytabFile } = await addOperatorPrincipal(kdc, dir);
    await cp.installCrds([crdFile]);
    const ns = await cp.kubectl(["create", "namespace", namespace]);
    if (ns.code !== 0) throw new Error(`creating namespace "${namespace}": ${ns.stderr}`);

    const acs = await options.acs?.(kdc, operatorPrincipal);
    operator = new KrbKeysOperator({
      acs,
      kubeConfig: cp.kubeConfig, realm: kdc.realm, principal: operatorPrincipal, keytab: operatorKeytabFile,
      env: { KRB5_CONFIG: kdc.krb5ConfPath }, namespace,
      log: process.env.GRAFT_TEST_LOG ? createLogger("krbkeys", { level: "debug" }) : silentLogger,
      resyncMs: 10 * 60_000, minRetryMs: 200, maxRetryMs: 1500, kdcTimeoutMs: 10_000,
    });
    await operator.start();
    const op = operator;

    const getKey = (name: string) => op.client.get<KerberosKey>(KerberosKeyType, name, namespace);
    return {
      kdc, cp, operator: op, namespace, operatorPrincipal, operatorKeytabFile, stop, getKey,
      async applyKey(name, spec) {
        const body = JSON.stringify({ apiVersion: "factoryplus.app.amrc.co.uk/v1", kind: "KerberosKey", metadata: { name, namespace }, spec });
        const r = await cp.kubectl(["apply", "-f", "-"], { input: body });
        if (r.code !== 0) throw new Error(`kubectl apply of KerberosKey "${name}" failed: ${r.stderr}`);
      },
      waitForKey(name, check, what) {
        return eventually(async () => {
          const kk = await getKey(name);
          if (check(kk)) return kk;
          throw new Error(`status is ${JSON.stringify(kk.status)}`);
        }, { timeoutMs: 30_000, intervalMs: 100, message: `KerberosKey "${name}": ${what}` });
      },
      getSecret: (name) => op.client.getOrNull<SecretObject>(Core.secrets, name, namespace),
      async annotate(name, key, value) {
        const r = await cp.kubectl(["annotate", "--overwrite", "-n", namespace, `kerberos-keys/${name}`, `${key}=${value}`]);
        if (r.code !== 0) throw new Error(`kubectl annotate failed: ${r.stderr}`);
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
