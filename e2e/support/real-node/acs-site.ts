// graft's central install in ACS mode on a real node, as ACS-MODE.md's "Install" tells a site to do it: the
// namespace, the manager's ACS login as the Secret graft-cluster-manager-acs (its password, or its keytab with the
// krb5.conf naming the KDC in ConfigMap graft-cluster-manager-krb5: files the Pods mount, never environment
// variables), the site's settings in an overlay over config/acs, `kubectl apply -k`. The ACS services
// (the stand-in) and the KDC run on the host, where Pods reach them at the node's bridge address; the manager's
// Service has a fixed ClusterIP that is its EXTERNAL_URL, reached both from the host and from Pods.
import { writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Kdc } from "../../harness/kdc.js";
import type { RealNode } from "../../harness/real-node.js";
import { applySiteOverlay, CENTRAL_NS, provideRepoVolume } from "./central-pods.js";
import { MANAGER_IP } from "./embedded-site.js";

export const ACS_EXTERNAL_URL = `http://${MANAGER_IP}:8080`;

export interface AcsSite {
  directoryUrl: string;
  /** The manager's ACS account and its login: a password (Basic) or a keytab file and a krb5.conf (Negotiate). */
  account: { username: string } & ({ password: string } | { keytabFile: string; krb5Conf: string });
  kdc: Kdc;
  organisationPrefix: string;
  /** The Clusters API's acceptor keytab (HTTP/<manager host>): the Secret's key `server-keytab`, SERVER_KEYTAB_FILE. */
  serverKeytab?: string;
  /** The site's own image reference (an overlay's `images:`); default: config/acs's. */
  image?: { name: string; tag: string };
}

export async function installAcsCentral(node: RealNode, work: string, site: AcsSite): Promise<void> {
  const must = async (args: string[]) => {
    const r = await node.cluster.kubectl(args);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr}`);
  };
  await must(["create", "namespace", CENTRAL_NS]);
  const { account } = site;
  let login: Record<string, string> = {};
  const acceptor = site.serverKeytab ? [`--from-file=server-keytab=${site.serverKeytab}`] : [];
  if ("password" in account) {
    const passwordFile = join(work, "sv1clustermanager.password");
    writeFileSync(passwordFile, account.password, { mode: 0o600 });
    await must(["-n", CENTRAL_NS, "create", "secret", "generic", "graft-cluster-manager-acs", `--from-file=password=${passwordFile}`, ...acceptor]);
  } else {
    await must(["-n", CENTRAL_NS, "create", "secret", "generic", "graft-cluster-manager-acs", `--from-file=keytab=${account.keytabFile}`, ...acceptor]);
    await must(["-n", CENTRAL_NS, "create", "configmap", "graft-cluster-manager-krb5", `--from-file=krb5.conf=${account.krb5Conf}`]);
    // settings.env's password line gives way to the keytab (the manager takes one of the two).
    login = { SERVICE_PASSWORD_FILE: "", SERVICE_KEYTAB_FILE: "/etc/graft/acs/keytab", KRB5_CONFIG: "/etc/graft/krb5/krb5.conf" };
  }
  if (site.serverKeytab) login = { ...login, SERVER_KEYTAB_FILE: "/etc/graft/acs/server-keytab" };
  await provideRepoVolume(node);
  const overlay = join(work, "overlay");
  mkdirSync(overlay);
  const { kdc } = site;
  await applySiteOverlay(node, overlay, {
    base: "config/acs",
    clusterIP: MANAGER_IP,
    ...(site.image ? { image: site.image } : {}),
    settings: {
      EXTERNAL_URL: ACS_EXTERNAL_URL,
      DIRECTORY_URL: site.directoryUrl,
      SERVICE_USERNAME: account.username,
      REALM: kdc.realm,
      EXTERNAL_DOMAIN: "graft.test",
      EDGE_KDC: `${kdc.address}:${kdc.kdcPort}`,
      EDGE_KADMIN_SERVER: `${kdc.address}:${kdc.kadminPort}`,
      ORGANISATION_PREFIX: site.organisationPrefix,
      ...login,
    },
  });
}
