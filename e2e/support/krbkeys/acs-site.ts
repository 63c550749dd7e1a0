// The ACS side krbkeys' account tests share: the stand-in holding exactly the grants ACS gives its edge roles
// (EDGE_DUMPS), and what the Cluster Manager made for the cluster before krbkeys runs — the op1krbkeys account in the
// Edge krbkeys role with krbkeys' principal mapped to it, and the cluster's Sparkplug address. krbkeys' ACS password
// lives in the stand-in's own store (graft logs in with Basic).
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Kdc } from "../../harness/kdc.js";
import { startAcsStandin, type AcsStandin } from "../../acs-standin/standin.js";
import { EDGE_DUMPS, EdgeRole } from "../../acs-standin/edge-roles.js";
import { App, Class } from "../../../operators/api/constants.js";
import type { KrbKeysAcsOptions } from "../../../operators/krbkeys/krbkeys.js";

export interface KrbKeysAcsSite {
  standin: AcsStandin;
  /** The op1krbkeys account (the owner of every account krbkeys creates). */
  krbkeysAccount: string;
  cluster: { uuid: string; groupId: string };
  /** What krbkeys is given to reach ACS (KrbKeysOperator's `acs`; the CLI's --directory-url etc.). */
  acs: KrbKeysAcsOptions & { urls: { directory: string } };
}

export async function startKrbKeysAcsSite(kdc: Kdc, operatorPrincipal: string, dir: string, clusterName: string): Promise<KrbKeysAcsSite> {
  const standin = await startAcsStandin({ kdc: { realm: kdc.realm, env: kdc.env }, dumps: EDGE_DUMPS });
  const krbkeysAccount = randomUUID();
  standin.configdb.register(krbkeysAccount, Class.EdgeAccount);
  assert.equal(standin.configdb.addMember(EdgeRole.Krbkeys, krbkeysAccount), 204);
  assert.equal(standin.auth.setKerberos(krbkeysAccount, operatorPrincipal), 204);
  const cluster = { uuid: randomUUID(), groupId: `graft-${clusterName}` };
  standin.configdb.register(cluster.uuid, Class.EdgeCluster);
  assert.ok(standin.configdb.put(App.SparkplugAddress, cluster.uuid, { group_id: cluster.groupId }) < 300);
  const password = randomBytes(16).toString("hex");
  standin.addUser(operatorPrincipal, password);
  const passwordFile = join(dir, "acs-password");
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  return {
    standin, krbkeysAccount, cluster,
    acs: { urls: { directory: standin.urls.directory }, username: operatorPrincipal, passwordFile, clusterUuid: cluster.uuid },
  };
}
