// The Kubernetes manifests the bootstrap script applies on the edge, as YAML text. Values go through the YAML
// serialiser (Secret data as base64), never into shell commands.
import { stringify } from "yaml";
import {
  CLUSTER_CONFIG_KEYS, CLUSTER_CONFIG_NAME, ENROL_CONTAINER_NAME, ENROL_POD_NAME, FLUX_SECRET_NAME, KRB5_CONFIGMAP_NAME,
  MANAGED_BY_LABEL, MANAGED_BY_VALUE, SYNC_TOKEN_KEY, SYNC_TOKEN_SECRET_NAME,
} from "./names.js";
import { renderTemplate } from "./template.js";

type Manifest = Record<string, unknown>;

function toYaml(manifests: readonly Manifest[]): string {
  return manifests.map((m) => `---\n${stringify(m, { lineWidth: 0 })}`).join("");
}

function metadata(name: string, namespace: string): Manifest {
  return { name, namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } };
}

const base64 = (value: string) => Buffer.from(value, "utf8").toString("base64");

export interface ClusterIdentity {
  uuid: string;
  name: string;
  namespace: string;
  sparkplugGroup: string;
}

export interface CentralUrls {
  central: string;
  git: string;
  status: string;
}

export function clusterConfigManifest(cluster: ClusterIdentity, urls: CentralUrls, realm?: string): string {
  const data: Record<string, string> = {
    [CLUSTER_CONFIG_KEYS.uuid]: cluster.uuid,
    [CLUSTER_CONFIG_KEYS.name]: cluster.name,
    [CLUSTER_CONFIG_KEYS.namespace]: cluster.namespace,
    [CLUSTER_CONFIG_KEYS.sparkplugGroup]: cluster.sparkplugGroup,
    [CLUSTER_CONFIG_KEYS.centralUrl]: urls.central,
    [CLUSTER_CONFIG_KEYS.gitUrl]: urls.git,
    [CLUSTER_CONFIG_KEYS.statusUrl]: urls.status,
  };
  if (realm !== undefined) data[CLUSTER_CONFIG_KEYS.realm] = realm;
  return toYaml([{ apiVersion: "v1", kind: "ConfigMap", metadata: metadata(CLUSTER_CONFIG_NAME, cluster.namespace), data }]);
}

export interface EmbeddedCredentials {
  gitUsername: string;
  gitPassword: string;
  syncToken: string;
}

/** Embedded mode: the Git credentials Flux uses and the edge-sync token. */
export function credentialsManifest(namespace: string, credentials: EmbeddedCredentials): string {
  const secret = (name: string, data: Record<string, string>): Manifest => ({
    apiVersion: "v1", kind: "Secret", type: "Opaque", metadata: metadata(name, namespace),
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, base64(v)])),
  });
  return toYaml([
    secret(FLUX_SECRET_NAME, { username: credentials.gitUsername, password: credentials.gitPassword }),
    secret(SYNC_TOKEN_SECRET_NAME, { [SYNC_TOKEN_KEY]: credentials.syncToken }),
  ]);
}

export interface KerberosSettings {
  realm: string;
  domain: string;
  /** Defaults to `kdc.<domain>`; may carry a port (`host:port`). */
  kdc?: string;
  /** Defaults to `kadmin.<domain>`. */
  adminServer?: string;
}

const KRB5_CONF_TEMPLATE = `[libdefaults]
    default_realm = {{realm}}
    dns_canonicalize_hostname = false
    rdns = false
    udp_preference_limit = 1

[domain_realm]
    .{{domain}} = {{realm}}
    {{domain}} = {{realm}}

[realms]
    {{realm}} = {
        kdc = {{kdc}}
        admin_server = {{adminServer}}
    }
`;

export function kadminServer(krb: KerberosSettings): string {
  return krb.adminServer ?? `kadmin.${krb.domain}`;
}

/** krb5.conf for the edge, with the settings ACS uses (no DNS canonicalisation, TCP first). */
export function krb5Conf(krb: KerberosSettings): string {
  return renderTemplate(KRB5_CONF_TEMPLATE, {
    realm: krb.realm, domain: krb.domain, kdc: krb.kdc ?? `kdc.${krb.domain}`, adminServer: kadminServer(krb),
  });
}

export interface EnrolPodSettings {
  namespace: string;
  clusterName: string;
  image: string;
  krb: KerberosSettings;
}

/**
 * Kerberos mode, as in ACS: a ServiceAccount with namespace-scoped admin, the `krb5-conf` ConfigMap and a Pod
 * running `graft enrol` with stdin and a TTY for the script to attach to.
 */
export function enrolPodManifest(settings: EnrolPodSettings): string {
  const { namespace, krb } = settings;
  const krb5Dir = "/etc/graft-krb5";
  return toYaml([
    { apiVersion: "v1", kind: "ServiceAccount", metadata: metadata(ENROL_POD_NAME, namespace) },
    {
      apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: metadata(ENROL_POD_NAME, namespace),
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "admin" },
      subjects: [{ kind: "ServiceAccount", name: ENROL_POD_NAME, namespace }],
    },
    { apiVersion: "v1", kind: "ConfigMap", metadata: metadata(KRB5_CONFIGMAP_NAME, namespace), data: { "krb5.conf": krb5Conf(krb) } },
    {
      apiVersion: "v1", kind: "Pod", metadata: metadata(ENROL_POD_NAME, namespace),
      spec: {
        serviceAccountName: ENROL_POD_NAME,
        restartPolicy: "Never",
        securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: "RuntimeDefault" } },
        containers: [{
          name: ENROL_CONTAINER_NAME,
          image: settings.image,
          command: ["graft", "enrol", "--cluster", settings.clusterName, "--namespace", namespace,
            "--realm", krb.realm, "--kadmin-server", kadminServer(krb)],
          env: [{ name: "KRB5_CONFIG", value: `${krb5Dir}/krb5.conf` }],
          stdin: true, stdinOnce: true, tty: true,
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
          volumeMounts: [{ name: "krb5-conf", mountPath: krb5Dir, readOnly: true }, { name: "tmp", mountPath: "/tmp" }],
        }],
        volumes: [{ name: "krb5-conf", configMap: { name: KRB5_CONFIGMAP_NAME } }, { name: "tmp", emptyDir: {} }],
      },
    },
  ]);
}
