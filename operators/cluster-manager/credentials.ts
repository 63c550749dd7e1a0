// Per-cluster credentials, kept in a central Secret (never in the EdgeCluster): the Git password Flux on the edge
// uses to read the cluster's repository, the edge-sync token for the status endpoint, and the hashes of the
// bootstrap tokens issued for the cluster.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { CLUSTER_UUID_LABEL, GROUP, MANAGED_BY, MANAGED_BY_LABEL } from "../api/constants.js";
import { Core, type KubeObject } from "../runtime/kube.js";
import { isAlreadyExists, type KubeClient } from "../runtime/rest.js";

export const CREDENTIALS_LABEL = `${GROUP}/credentials`;

export interface BootstrapTokenRecord {
  /** SHA-256 of the token, hex. The token itself is never stored. */
  hash: string;
  issuedAt: string;
  expiresAt: string;
  usedAt?: string;
  /** When a newer token was issued for the cluster: an unused older token stops working then. */
  supersededAt?: string;
}

export interface ClusterCredentials {
  uuid: string;
  clusterName: string;
  gitUsername: string;
  gitPassword: string;
  syncToken: string;
  bootstrapTokens: BootstrapTokenRecord[];
}

export interface SecretObject extends KubeObject {
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  type?: string;
}

export const credentialsSecretName = (uuid: string) => `graft-cluster-${uuid}`;
export const newSecretValue = () => randomBytes(32).toString("base64url");
export const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");

/** Compares a presented secret with a stored SHA-256 hash in constant time. */
export function matchesHash(presented: string, hashHex: string): boolean {
  const a = createHash("sha256").update(presented).digest();
  const b = Buffer.from(hashHex, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: string | undefined) => (s === undefined ? "" : Buffer.from(s, "base64").toString("utf8"));

export function decodeCredentials(secret: SecretObject): ClusterCredentials {
  const d = secret.data ?? {};
  let tokens: BootstrapTokenRecord[] = [];
  try {
    tokens = JSON.parse(unb64(d["bootstrap-tokens"]) || "[]") as BootstrapTokenRecord[];
  } catch {
    tokens = [];
  }
  return {
    uuid: unb64(d.uuid),
    clusterName: unb64(d["cluster-name"]),
    gitUsername: unb64(d["git-username"]),
    gitPassword: unb64(d["git-password"]),
    syncToken: unb64(d["sync-token"]),
    bootstrapTokens: tokens,
  };
}

export function encodeCredentials(c: ClusterCredentials): Record<string, string> {
  return {
    uuid: b64(c.uuid),
    "cluster-name": b64(c.clusterName),
    "git-username": b64(c.gitUsername),
    "git-password": b64(c.gitPassword),
    "sync-token": b64(c.syncToken),
    "bootstrap-tokens": b64(JSON.stringify(c.bootstrapTokens)),
  };
}

/**
 * Makes sure the cluster's credentials Secret exists, creating it with fresh random values when absent; returns its
 * name and whether this call created it. The name is derived from the UUID, so a retry after a crash finds the
 * Secret made before rather than making a second one. `known` is what a cache (the credential index) says: when it
 * has seen the Secret no request is made; otherwise a create that finds the Secret there is as good as a read.
 */
export async function ensureCredentials(client: KubeClient, namespace: string, uuid: string, clusterName: string,
  owner: KubeObject, known = false): Promise<{ name: string; created: boolean }> {
  const name = credentialsSecretName(uuid);
  if (known) return { name, created: false };
  const creds: ClusterCredentials = {
    uuid, clusterName, gitUsername: `flux-${clusterName}`, gitPassword: newSecretValue(), syncToken: newSecretValue(), bootstrapTokens: [],
  };
  try {
    await client.create<SecretObject>(Core.secrets, {
      metadata: {
        name, namespace,
        labels: { [MANAGED_BY_LABEL]: MANAGED_BY, [CREDENTIALS_LABEL]: "edgecluster", [CLUSTER_UUID_LABEL]: uuid },
        ownerReferences: [{
          apiVersion: owner.apiVersion, kind: owner.kind, name: owner.metadata.name, uid: owner.metadata.uid,
          blockOwnerDeletion: false, controller: true,
        }],
      },
      type: "Opaque",
      data: encodeCredentials(creds),
    });
    return { name, created: true };
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    return { name, created: false };
  }
}
