// Names the bootstrap script gives to what it creates on the edge cluster. Edge operators read these objects,
// so they are part of graft's edge contract.

import { MANAGED_BY, MANAGED_BY_LABEL } from "../api/constants.js";

/** Label marking objects graft created; the script never overwrites a same-named object without it. */
export { MANAGED_BY_LABEL };
export const MANAGED_BY_VALUE = MANAGED_BY;
/** Field manager for the script's server-side applies. */
export const BOOTSTRAP_FIELD_MANAGER = "graft-bootstrap";

/** HTTP Basic credentials for the cluster's Git repository (ACS name; keys `username`, `password`). */
export const FLUX_SECRET_NAME = "flux-secrets";
/** Embedded mode: the token edge-sync presents to cluster-manager's status endpoint (key `token`). */
export const SYNC_TOKEN_SECRET_NAME = "edge-sync-token";
export const SYNC_TOKEN_KEY = "token";

/** Cluster identity and central URLs, env-style keys so a Deployment can use `envFrom`. */
export const CLUSTER_CONFIG_NAME = "cluster-config";
export const CLUSTER_CONFIG_KEYS = {
  uuid: "CLUSTER_UUID",
  name: "CLUSTER_NAME",
  namespace: "CLUSTER_NAMESPACE",
  sparkplugGroup: "SPARKPLUG_GROUP",
  centralUrl: "CENTRAL_URL",
  gitUrl: "GIT_URL",
  statusUrl: "STATUS_URL",
  realm: "REALM",
} as const;

/** Kerberos mode: the one-shot enrolment Pod (and its ServiceAccount and RoleBinding), as in ACS. */
export const ENROL_POD_NAME = "edge-bootstrap";
export const ENROL_CONTAINER_NAME = "enrol";
/** Kerberos mode: krb5.conf for the edge, key `krb5.conf` (ACS name). */
export const KRB5_CONFIGMAP_NAME = "krb5-conf";

/** The Flux API versions graft's repository manifests use: CRD name → version that must be served. */
export const FLUX_CRD_VERSIONS_NEEDED: Readonly<Record<string, string>> = {
  "gitrepositories.source.toolkit.fluxcd.io": "v1",
  "kustomizations.kustomize.toolkit.fluxcd.io": "v1",
  "helmreleases.helm.toolkit.fluxcd.io": "v2",
};
