// What the bootstrap script of an ACS-mode cluster carries: Kerberos enrolment (the operator's admin principal
// creates `op1krbkeys/<cluster>` and `op1flux/<cluster>` with kadmin on the edge), no credentials of its own, and the
// self-link to the cluster's repository on the ACS Git server.
import type { BootstrapScriptInput } from "../../bootstrap/script-builder.js";
import type { EdgeCluster } from "../../api/edgecluster.js";
import { urlsFor, type ClusterManagerConfig } from "../config.js";
import { selfLinkManifest } from "../git/repo-content.js";
import { edgeDirectoryUrl } from "./acs-backend.js";

export function acsBootstrapInput(cfg: ClusterManagerConfig, ec: EdgeCluster, uuid: string, clusterName: string):
  Omit<BootstrapScriptInput, "fluxInstallYaml"> {
  const acs = cfg.acs;
  if (!acs) throw new Error("ACS mode needs its settings (realm, domain, enrolment image)");
  const repository = ec.status?.repository;
  if (!repository) throw new Error(`EdgeCluster "${ec.metadata.namespace}/${ec.metadata.name}" has no repository yet: wait until it is Provisioned`);
  const directory = edgeDirectoryUrl(acs);
  return {
    mode: "kerberos",
    cluster: {
      uuid, name: clusterName, namespace: ec.spec.namespace,
      sparkplugGroup: ec.status?.sparkplugGroup ?? `${cfg.organisationPrefix}-${clusterName}`,
    },
    urls: { central: directory, git: repository, status: directory, bootstrap: urlsFor(cfg, uuid).bootstrap },
    kerberos: {
      realm: acs.realm, domain: acs.domain, image: acs.enrolImage,
      ...(acs.kdc ? { kdc: acs.kdc } : {}), ...(acs.adminServer ? { adminServer: acs.adminServer } : {}),
    },
    selfLinkYaml: selfLinkManifest({ namespace: ec.spec.namespace, selfUrl: repository }),
  };
}
