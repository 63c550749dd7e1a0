// The Clusters service's secret route in ACS mode (acs-contract.md §8), which the ACS admin UI uses for edge-agent
// secrets: `PUT|DELETE /v1/cluster/<uuid>/secret/<namespace>/<name>/<key>[?dryrun]`, body the raw value. The value is
// sealed for the cluster's Sealed Secrets controller with the certificate edge-sync reported in the cluster's 'Edge
// cluster status' entry, and the SealedSecret kept at `edo/secrets/<namespace>/<name>.yaml` in the cluster's
// repository on the ACS Git server, where ACS keeps it (one file per Secret, one key per request). As ACS answers:
// 404 without an 'Edge cluster status' entry, 503 without a certificate in it, 204 when done (DELETE of an absent key
// too); graft adds 400 for a bad key or path, 409 for a certificate it cannot use, 413 for a value over 1 MiB.
// The caller's Manage secrets grant is checked by the Clusters API before this runs.
import type { IncomingMessage } from "node:http";
import type { Logger } from "pino";
import type { ConfigDbClient } from "../../acs/configdb.js";
import { App } from "../../api/constants.js";
import { CertificateError, SealInputError, checkSecretKey, mergeSealedSecret, parseCertificate, removeKey, sealValue } from "../../seal/seal.js";
import { SealedSecretFileError, parseSealedSecretYaml, sealedSecretToYaml } from "../../seal/sealed-secret-file.js";
import { MAX_SECRET_VALUE } from "../seal-endpoint.js";
import type { AcsGitRepos } from "./git-sync.js";

export const ACS_SECRETS_DIR = "edo/secrets";
export const acsSecretPath = (namespace: string, name: string) => `${ACS_SECRETS_DIR}/${namespace}/${name}.yaml`;

const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

export interface SecretRequest {
  method: "PUT" | "DELETE";
  cluster: string;
  namespace: string;
  name: string;
  key: string;
  dryRun: boolean;
  /** Who asked (the caller's principal), for the commit message and the log. */
  caller: string;
}

export interface SecretsApiDeps {
  cdb: ConfigDbClient;
  git: AcsGitRepos;
  log: Logger;
}

/** The answer: a status and a short text for the caller. */
export interface SecretAnswer {
  status: number;
  message: string;
}

export async function handleSecret(deps: SecretsApiDeps, r: SecretRequest, req: IncomingMessage): Promise<SecretAnswer> {
  if (!NAMESPACE.test(r.namespace) || !NAME.test(r.name)) return { status: 400, message: "namespace and name must be Kubernetes object names" };
  try {
    checkSecretKey(r.key);
  } catch (err) {
    return { status: 400, message: (err as Error).message };
  }
  const status = await deps.cdb.getEntry<{ kubeseal_cert?: unknown }>(App.EdgeClusterStatus, r.cluster);
  if (!status) return { status: 404, message: "the cluster has no 'Edge cluster status' entry: it has not been bootstrapped" };
  const pem = status.value?.kubeseal_cert;
  if (typeof pem !== "string" || pem === "") return { status: 503, message: "the cluster has not reported its sealing certificate yet" };
  const file = acsSecretPath(r.namespace, r.name);
  const secret = `${r.namespace}/${r.name}`;
  try {
    if (r.method === "PUT") {
      const value = await readValue(req);
      if (value === null) return { status: 413, message: `value too large: a Secret holds at most ${MAX_SECRET_VALUE} bytes` };
      const encryptedValue = sealValue(parseCertificate(pem), value, "strict", r.namespace, r.name);
      const update = (current: Map<string, Buffer>) => {
        const existing = current.has(file) ? parseSealedSecretYaml(current.get(file)!.toString("utf8"), file) : null;
        const sealed = mergeSealedSecret(existing, { name: r.name, namespace: r.namespace, scope: "strict", key: r.key, encryptedValue });
        return new Map<string, string | Buffer>(current).set(file, sealedSecretToYaml(sealed));
      };
      if (!r.dryRun) await deps.git.sync(r.cluster, update, `Seal key "${r.key}" of Secret ${secret} (by ${r.caller})`);
      deps.log.info({ cluster: r.cluster, secret, key: r.key, caller: r.caller, dryRun: r.dryRun }, "sealed a secret value for the edge");
      return { status: 204, message: "" };
    }
    const update = (current: Map<string, Buffer>) => {
      const text = current.get(file);
      const existing = text ? parseSealedSecretYaml(text.toString("utf8"), file) : null;
      if (!existing || !(r.key in existing.spec.encryptedData)) return current;
      const next = new Map<string, string | Buffer>(current);
      const kept = removeKey(existing, r.key);
      if (kept) next.set(file, sealedSecretToYaml(kept));
      else next.delete(file);
      return next;
    };
    if (!r.dryRun) await deps.git.sync(r.cluster, update, `Remove key "${r.key}" of Secret ${secret} (by ${r.caller})`);
    deps.log.info({ cluster: r.cluster, secret, key: r.key, caller: r.caller, dryRun: r.dryRun }, "removed a sealed secret value");
    return { status: 204, message: "" };
  } catch (err) {
    if (err instanceof CertificateError) return { status: 409, message: `cannot seal for this cluster: ${err.message}` };
    if (err instanceof SealInputError || err instanceof SealedSecretFileError) return { status: 422, message: err.message };
    throw err;
  }
}

/** The request body, or null when it is larger than a Secret may hold. */
async function readValue(req: IncomingMessage): Promise<Buffer | null> {
  if (Number(req.headers["content-length"] ?? 0) > MAX_SECRET_VALUE) return null;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_SECRET_VALUE) return null;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}
