// graft's central install in ACS mode on a real node, as ACS-MODE.md's "Install" tells a site to do it: the
// namespace, the manager's ACS account password as the Secret graft-cluster-manager-acs (a file the Pods mount, never
// an environment variable), the site's settings in an overlay over config/acs, `kubectl apply -k`. The ACS services
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
  /** The manager's ACS account (its password goes into the Secret). */
  account: { username: string; password: string };
  kdc: Kdc;
  organisationPrefix: string;
}

export async function installAcsCentral(node: RealNode, work: string, site: AcsSite): Promise<void> {
  const must = async (args: string[]) => {
    const r = await node.cluster.kubectl(args);
    if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr}`);
  };
  await must(["create", "namespace", CENTRAL_NS]);
  const passwordFile = join(work, "sv1clustermanager.password");
  writeFileSync(passwordFile, site.account.password, { mode: 0o600 });
  await must(["-n", CENTRAL_NS, "create", "secret", "generic", "graft-cluster-manager-acs", `--from-file=password=${passwordFile}`]);
  await provideRepoVolume(node);
  const overlay = join(work, "overlay");
  mkdirSync(overlay);
  const { kdc } = site;
  await applySiteOverlay(node, overlay, {
    base: "config/acs",
    clusterIP: MANAGER_IP,
    settings: {
      EXTERNAL_URL: ACS_EXTERNAL_URL,
      DIRECTORY_URL: site.directoryUrl,
      SERVICE_USERNAME: site.account.username,
      REALM: kdc.realm,
      EXTERNAL_DOMAIN: "graft.test",
      EDGE_KDC: `${kdc.address}:${kdc.kdcPort}`,
      EDGE_KADMIN_SERVER: `${kdc.address}:${kdc.kadminPort}`,
      ORGANISATION_PREFIX: site.organisationPrefix,
    },
  });
}
