// Command-line flags (with the environment variables ACS deployments set) for `graft cluster-manager --mode acs`.
import { Option, type Command } from "commander";
import { CredentialFile } from "../../runtime/credential-file.js";
import { parseDuration } from "../../runtime/duration.js";
import type { AcsModeSettings } from "../config.js";

/** graft's release: the version /ping reports and the tag of the released image the enrolment Pod runs by default. */
export const GRAFT_VERSION = "0.1.0";
/** The released image (config/default, `make image`): the same reference the central install runs. */
export const DEFAULT_ENROL_IMAGE = `ghcr.io/graft-operators/graft:${GRAFT_VERSION}`;

export function addAcsOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option("--directory-url <url>", "ACS mode: the ACS Directory (finds every service without a preset URL)").env("DIRECTORY_URL"))
    .addOption(new Option("--configdb-url <url>", "ACS mode: preset ConfigDB URL").env("CONFIGDB_URL"))
    .addOption(new Option("--authn-url <url>", "ACS mode: preset Auth service URL").env("AUTHN_URL"))
    .addOption(new Option("--git-url <url>", "ACS mode: preset Git server URL").env("GIT_URL"))
    .addOption(new Option("--service-username <name>", "ACS mode: the manager's ACS account").env("SERVICE_USERNAME"))
    .addOption(new Option("--service-password-file <path>", "ACS mode: file holding the account's password (else SERVICE_PASSWORD)").env("SERVICE_PASSWORD_FILE"))
    .addOption(new Option("--service-keytab-file <path>", "ACS mode: log in with Negotiate (GSSAPI) as --service-username with this keytab file instead of a password").env("SERVICE_KEYTAB_FILE"))
    .addOption(new Option("--server-keytab-file <path>", "ACS mode: the Clusters API's own keytab (HTTP/<host>@REALM): accept Negotiate (GSSAPI) logins verified with it").env("SERVER_KEYTAB_FILE"))
    .addOption(new Option("--realm <realm>", "ACS mode: Kerberos realm of the edge principals").env("REALM"))
    .addOption(new Option("--domain <domain>", "ACS mode: DNS domain of the central services (kdc.<domain>, kadmin.<domain>)").env("EXTERNAL_DOMAIN"))
    .addOption(new Option("--kdc <host[:port]>", "ACS mode: KDC the edge uses, when not kdc.<domain>").env("EDGE_KDC"))
    .addOption(new Option("--kadmin-server <host[:port]>", "ACS mode: kadmin server the edge uses, when not kadmin.<domain>").env("EDGE_KADMIN_SERVER"))
    .addOption(new Option("--edge-directory-url <url>", "ACS mode: the Directory URL as edge clusters reach it (default: --directory-url)").env("EDGE_DIRECTORY_URL"))
    .addOption(new Option("--enrol-image <image>", "ACS mode: image of the bootstrap enrolment Pod (runs `graft enrol`)").env("ENROL_IMAGE").default(DEFAULT_ENROL_IMAGE))
    .addOption(new Option("--mirror-namespace <ns>", "ACS mode: namespace of the EdgeClusters mirrored from the ConfigDB (default: --namespace)").env("MIRROR_NAMESPACE"))
    .addOption(new Option("--flux-group <uuid>", "ACS mode: group of the flux accounts (overrides the service config)").env("FLUX_GROUP"))
    .addOption(new Option("--krbkeys-group <uuid>", "ACS mode: group of the krbkeys accounts (overrides the service config)").env("KRBKEYS_GROUP"))
    .addOption(new Option("--helm-charts-repo <uuid>", "ACS mode: Git repository of the edge Helm charts (overrides the service config)").env("HELM_CHARTS_REPO"))
    .addOption(new Option("--default-chart <uuid>", "ACS mode: 'Helm chart template' for clusters naming none (overrides the service config)").env("DEFAULT_CHART"))
    .addOption(new Option("--empty-list-confirm <duration|never>", "ACS mode: how long a ConfigDB listing with no clusters must persist before mirrored EdgeClusters are deleted").env("EMPTY_LIST_CONFIRM").default("5m"));
}

export interface AcsFlagValues {
  directoryUrl?: string;
  configdbUrl?: string;
  authnUrl?: string;
  gitUrl?: string;
  serviceUsername?: string;
  servicePasswordFile?: string;
  serviceKeytabFile?: string;
  serverKeytabFile?: string;
  realm?: string;
  domain?: string;
  kdc?: string;
  kadminServer?: string;
  edgeDirectoryUrl?: string;
  enrolImage: string;
  mirrorNamespace?: string;
  namespace?: string;
  fluxGroup?: string;
  krbkeysGroup?: string;
  helmChartsRepo?: string;
  defaultChart?: string;
  emptyListConfirm: string;
}

/**
 * The manager's ACS login: a keytab file (Negotiate as the principal `--service-username`, in `--realm` unless it
 * names its own), or else a password from its file or SERVICE_PASSWORD (HTTP Basic).
 */
function serviceCredentials(o: AcsFlagValues, username: string, realm: string, need: (v: string | undefined, what: string) => string,
  env: NodeJS.ProcessEnv): AcsModeSettings["credentials"] {
  if (o.serviceKeytabFile) {
    if (o.servicePasswordFile) throw new Error("ACS mode takes --service-keytab-file (SERVICE_KEYTAB_FILE) or --service-password-file (SERVICE_PASSWORD_FILE), not both: " +
      "config/acs's settings.env sets SERVICE_PASSWORD_FILE, so to log in with the keytab set it empty (ACS-MODE.md, \"Install\")");
    return { principal: username.includes("@") ? username : `${username}@${realm}`, keytabFile: o.serviceKeytabFile };
  }
  // A mounted Secret's file is read when first needed and again after a refusal, so a rotation needs no restart.
  if (o.servicePasswordFile) return { username, password: new CredentialFile(o.servicePasswordFile, "the ACS service password") };
  return { username, password: need(env.SERVICE_PASSWORD, "the service password or keytab: SERVICE_PASSWORD, --service-password-file or --service-keytab-file") };
}

/** The ACS settings from flags; throws naming the flag (and variable) when one that ACS mode needs is missing. */
export function acsSettingsFromFlags(o: AcsFlagValues, env: NodeJS.ProcessEnv = process.env): AcsModeSettings {
  const need = (value: string | undefined, what: string): string => {
    if (!value) throw new Error(`ACS mode needs ${what}`);
    return value;
  };
  const urls = { directory: o.directoryUrl, configdb: o.configdbUrl, auth: o.authnUrl, git: o.gitUrl };
  if (!urls.directory && !(urls.configdb && urls.auth && urls.git)) {
    throw new Error("ACS mode needs --directory-url (DIRECTORY_URL), or all of --configdb-url, --authn-url and --git-url");
  }
  const username = need(o.serviceUsername, "--service-username (SERVICE_USERNAME)");
  const realm = need(o.realm, "--realm (REALM)");
  return {
    urls: Object.fromEntries(Object.entries(urls).filter(([, v]) => v)) as AcsModeSettings["urls"],
    credentials: serviceCredentials(o, username, realm, need, env),
    ...(o.serverKeytabFile ? { negotiate: { keytabFile: o.serverKeytabFile } } : {}),
    realm,
    domain: need(o.domain, "--domain (EXTERNAL_DOMAIN)"),
    kdc: o.kdc,
    adminServer: o.kadminServer,
    edgeDirectoryUrl: o.edgeDirectoryUrl,
    enrolImage: o.enrolImage,
    mirrorNamespace: need(o.mirrorNamespace ?? o.namespace, "--mirror-namespace (MIRROR_NAMESPACE) or --namespace"),
    serviceConfig: {
      ...(o.fluxGroup ? { fluxGroup: o.fluxGroup } : {}),
      ...(o.krbkeysGroup ? { krbkeysGroup: o.krbkeysGroup } : {}),
      ...(o.helmChartsRepo ? { helmChartsRepo: o.helmChartsRepo } : {}),
      ...(o.defaultChart ? { defaultChart: o.defaultChart } : {}),
    },
    emptyListConfirmMs: o.emptyListConfirm === "never" ? Infinity : parseDuration(o.emptyListConfirm),
  };
}
