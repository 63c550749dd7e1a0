// An in-memory index of every cluster's credentials, fed by an informer on the credentials Secrets: the Git server,
// the status endpoint and the bootstrap endpoint check what an edge presents without a call to the API server, so
// unknown tokens and wrong passwords are refused cheaply.
import type { Logger } from "pino";
import { Informer } from "../runtime/informer.js";
import { Core } from "../runtime/kube.js";
import type { KubeClient } from "../runtime/rest.js";
import { CREDENTIALS_LABEL, decodeCredentials, matchesHash, sha256, type SecretObject } from "./credentials.js";

interface Entry {
  uuid: string;
  namespace: string;
  secretName: string;
  gitUsername: string;
  gitPasswordHash: string;
  syncTokenHash: string;
  tokenHashes: string[];
}

export class CredentialIndex {
  readonly informer: Informer<SecretObject>;
  private readonly byUuid = new Map<string, Entry>();
  private readonly byToken = new Map<string, string>();
  private readonly bySyncHash = new Map<string, string>();
  private readonly byGitUser = new Map<string, string>();

  constructor(client: KubeClient, log: Logger, namespace?: string) {
    this.informer = new Informer<SecretObject>(client, Core.secrets, log, { namespace, labelSelector: `${CREDENTIALS_LABEL}=edgecluster` });
    this.informer.on((event, secret, old) => {
      if (old) this.remove(old);
      if (event !== "delete") this.add(secret);
    });
  }

  start() {
    this.informer.start();
    return this.informer.waitForSync();
  }

  stop() {
    return this.informer.stop();
  }

  /** Whether these HTTP Basic credentials belong to the cluster with this UUID. */
  checkGit(uuid: string, username: string, password: string): boolean {
    const e = this.byUuid.get(uuid);
    return !!e && e.gitUsername === username && matchesHash(password, e.gitPasswordHash);
  }

  /** Whether these credentials belong to any cluster (for the shared helm-charts repository). */
  checkAnyGit(username: string, password: string): boolean {
    const uuid = this.byGitUser.get(username);
    return !!uuid && this.checkGit(uuid, username, password);
  }

  /** The UUID of the cluster whose edge-sync token this is, if any. */
  clusterForSyncToken(token: string): string | undefined {
    // The tokens are 256-bit random values, so looking up their hash leaks nothing an attacker can use.
    return this.bySyncHash.get(sha256(token));
  }

  /** Where the credentials Secret of the cluster owning this bootstrap token is, if the token is known. */
  secretForBootstrapToken(token: string): { namespace: string; name: string; uuid: string } | undefined {
    const uuid = this.byToken.get(sha256(token));
    const e = uuid ? this.byUuid.get(uuid) : undefined;
    return e && { namespace: e.namespace, name: e.secretName, uuid: e.uuid };
  }

  exists(uuid: string): boolean {
    return this.byUuid.has(uuid);
  }

  private add(secret: SecretObject) {
    const c = decodeCredentials(secret);
    if (!c.uuid) return;
    const entry: Entry = {
      uuid: c.uuid, namespace: secret.metadata.namespace ?? "", secretName: secret.metadata.name,
      gitUsername: c.gitUsername, gitPasswordHash: sha256(c.gitPassword), syncTokenHash: sha256(c.syncToken),
      tokenHashes: c.bootstrapTokens.map((t) => t.hash),
    };
    this.byUuid.set(c.uuid, entry);
    this.bySyncHash.set(entry.syncTokenHash, c.uuid);
    this.byGitUser.set(entry.gitUsername, c.uuid);
    for (const h of entry.tokenHashes) this.byToken.set(h, c.uuid);
  }

  private remove(secret: SecretObject) {
    const uuid = decodeCredentials(secret).uuid;
    const e = this.byUuid.get(uuid);
    if (!e) return;
    for (const h of e.tokenHashes) this.byToken.delete(h);
    this.bySyncHash.delete(e.syncTokenHash);
    this.byGitUser.delete(e.gitUsername);
    this.byUuid.delete(uuid);
  }
}
