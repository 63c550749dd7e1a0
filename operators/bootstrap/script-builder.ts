// Builds the one-time edge bootstrap script: a POSIX sh wrapper that unpacks a few files from quoted here-docs
// into a temporary directory and runs driver.sh (a real file beside this module) with the same shell.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { z } from "zod";
import { chooseTerminator, hereDocFile } from "./heredoc.js";
import { clusterConfigManifest, credentialsManifest, enrolPodManifest, kadminServer, krb5Conf } from "./manifests.js";
import {
  BOOTSTRAP_FIELD_MANAGER, CLUSTER_CONFIG_NAME, FLUX_CRD_VERSIONS_NEEDED, FLUX_SECRET_NAME, MANAGED_BY_VALUE,
  SYNC_TOKEN_SECRET_NAME,
} from "./names.js";
import { shellAssignment, shellQuote } from "./shell-quote.js";

// Text that lands in comments or settings: no control characters, so it stays on one line.
const isControl = (ch: string) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f;
const oneLine = z.string().min(1).refine((s) => ![...s].some(isControl), "must be one line without control characters");
const anyText = z.string().min(1).refine((s) => !s.includes("\0"), "must not contain a NUL byte");
const hostPort = z.string().regex(/^[A-Za-z0-9.-]+(:[0-9]{1,5})?$/, "must be a host name, optionally with :port");

export const bootstrapScriptInputSchema = z.object({
  mode: z.enum(["embedded", "kerberos"]),
  cluster: z.object({
    uuid: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, "must be a UUID"),
    name: oneLine,
    namespace: z.string().max(63).regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a DNS label (a Kubernetes namespace name)"),
    sparkplugGroup: oneLine,
  }),
  /** bootstrap: the one-time link the script is served from, named in its header. */
  urls: z.object({ central: oneLine, git: oneLine, status: oneLine, bootstrap: oneLine.optional() }),
  /** With urls.bootstrap: how to get a new one-time link ("get a new one with: …"), said when the script must be run again. */
  renewLink: oneLine.optional(),
  /** Embedded mode: delivered to the edge as Secrets. */
  credentials: z.object({ gitUsername: anyText, gitPassword: anyText, syncToken: anyText }).optional(),
  /** Kerberos mode: the realm to enrol with and the image of the enrolment Pod (which runs `graft enrol`). */
  kerberos: z.object({
    realm: z.string().regex(/^[A-Za-z0-9._-]+$/, "must be a Kerberos realm name"),
    domain: z.string().regex(/^[A-Za-z0-9.-]+$/, "must be a DNS domain"),
    image: z.string().regex(/^\S+$/, "must be a container image reference"),
    kdc: hostPort.optional(),
    adminServer: hostPort.optional(),
  }).optional(),
  /** GitRepository + Kustomization `self-link` in the edge namespace (as written into the cluster's repo). */
  selfLinkYaml: anyText,
  /** The pinned Flux install manifest, applied when the edge has no Flux. */
  fluxInstallYaml: anyText,
  /** The Flux release of fluxInstallYaml; read from its "# Flux version:" line or version labels when absent. */
  fluxVersion: z.string().regex(/^v[0-9][0-9A-Za-z.+-]*$/).optional(),
  /** CRD name → API version an existing Flux must serve (default: what graft's repository manifests use). */
  fluxCrdsVersionsNeeded: z.record(
    z.string().regex(/^[a-z0-9.-]+$/, "must be a CRD name"),
    z.string().regex(/^v[0-9][a-z0-9]*$/, "must be an API version such as v1"),
  ).optional(),
}).superRefine((input, ctx) => {
  if (input.mode === "embedded" && !input.credentials) {
    ctx.addIssue({ code: "custom", path: ["credentials"], message: "embedded mode needs the cluster's credentials" });
  }
  if (input.mode === "kerberos" && !input.kerberos) {
    ctx.addIssue({ code: "custom", path: ["kerberos"], message: "kerberos mode needs the realm, domain and enrolment image" });
  }
});

export type BootstrapScriptInput = z.input<typeof bootstrapScriptInputSchema>;
type ValidInput = z.output<typeof bootstrapScriptInputSchema>;

/** Directory variable the wrapper sets and driver.sh reads. */
const DIR_VARIABLE = "GRAFT_BOOTSTRAP_DIR";

/** The files the script carries, in unpacking order (name → content). */
export function bootstrapFiles(rawInput: BootstrapScriptInput): Record<string, string> {
  const input = validate(rawInput);
  const { cluster } = input;
  checkSelfLink(input.selfLinkYaml, cluster.namespace);
  const files: Record<string, string> = {
    "settings.sh": settingsFile(input),
    "cluster-config.yaml": clusterConfigManifest(cluster, input.urls, input.mode === "kerberos" ? input.kerberos!.realm : undefined),
  };
  if (input.mode === "embedded") {
    files["credentials.yaml"] = credentialsManifest(cluster.namespace, input.credentials!);
  } else {
    const krb = input.kerberos!;
    files["krb5.conf"] = krb5Conf(krb);
    files["enrol-pod.yaml"] = enrolPodManifest({ namespace: cluster.namespace, clusterName: cluster.name, image: krb.image, krb });
  }
  files["self-link.yaml"] = input.selfLinkYaml;
  files["flux-install.yaml"] = input.fluxInstallYaml;
  files["driver.sh"] = readDriver();
  return files;
}

/** The complete bootstrap script for one edge cluster. */
export function buildBootstrapScript(rawInput: BootstrapScriptInput): string {
  const input = validate(rawInput);
  const files = bootstrapFiles(input);
  const terminator = chooseTerminator(Object.values(files));
  const unpack = Object.entries(files).map(([name, content]) => `  ${hereDocFile(name, content, terminator, DIR_VARIABLE)}`).join("");
  return [header(input), "set -eu\n", "graft_bootstrap() {\n", WRAPPER_START, unpack, WRAPPER_END, "}\n",
    "# Everything above is only defined; running starts here, so a truncated download runs nothing.\n",
    'graft_bootstrap "$@"\n'].join("");
}

const WRAPPER_START = `  umask 077
  ${DIR_VARIABLE}=$(mktemp -d "\${TMPDIR:-/tmp}/graft-bootstrap.XXXXXX") || {
    printf 'error: %s\\n' "cannot create a temporary directory: set TMPDIR to a writable directory" >&2
    exit 1
  }
  trap 'rm -rf "$${DIR_VARIABLE}"' EXIT
  trap 'exit 130' HUP INT TERM
`;

const WRAPPER_END = `  # shellcheck source=/dev/null
  . "$${DIR_VARIABLE}/driver.sh"
`;

function header(input: ValidInput): string {
  const { cluster, urls } = input;
  const lines = [
    "#!/bin/sh",
    `# graft bootstrap script for edge cluster "${cluster.name}" (uuid ${cluster.uuid}), edge namespace "${cluster.namespace}".`,
    "# It writes the files below into a temporary directory and runs driver.sh from there with this same shell;",
    "# read driver.sh (or run this script with --help) to see each step. It asks before changing anything.",
    ...(urls.bootstrap
      ? [`# Served once from the one-time link ${shellQuote(urls.bootstrap)}: that link is now used up and will not serve`,
        "# this script again. To run it again, save it first and run: sh bootstrap.sh [options]"]
      : ["# Run: sh bootstrap.sh [options]"]),
  ];
  if (input.mode === "embedded") lines.push("# It carries this cluster's credentials: do not keep or share it.");
  return `${lines.join("\n")}\n`;
}

function settingsFile(input: ValidInput): string {
  const { cluster, urls } = input;
  const needed = input.fluxCrdsVersionsNeeded ?? FLUX_CRD_VERSIONS_NEEDED;
  if (Object.keys(needed).length === 0) throw new Error("fluxCrdsVersionsNeeded must name at least one CRD");
  const owned = input.mode === "embedded"
    ? [`secret/${FLUX_SECRET_NAME}`, `secret/${SYNC_TOKEN_SECRET_NAME}`, `configmap/${CLUSTER_CONFIG_NAME}`]
    : [`configmap/${CLUSTER_CONFIG_NAME}`];
  const settings: [string, string][] = [
    ["graft_mode", input.mode],
    ["cluster_uuid", cluster.uuid],
    ["cluster_name", cluster.name],
    ["cluster_namespace", cluster.namespace],
    ["sparkplug_group", cluster.sparkplugGroup],
    ["central_url", urls.central],
    ["flux_version", input.fluxVersion ?? fluxVersionOf(input.fluxInstallYaml)],
    ["flux_crds_needed", Object.entries(needed).map(([crd, version]) => `${crd}=${version}`).join(" ")],
    ["owned_objects", owned.join(" ")],
    ["managed_by_label", MANAGED_BY_VALUE],
    ["field_manager", BOOTSTRAP_FIELD_MANAGER],
  ];
  if (urls.bootstrap) settings.push(["one_time_link", urls.bootstrap]);
  if (urls.bootstrap && input.renewLink) settings.push(["renew_link", input.renewLink]);
  if (input.mode === "kerberos") {
    settings.push(["krb_realm", input.kerberos!.realm], ["krb_kadmin_server", kadminServer(input.kerberos!)]);
  }
  return [
    // Values are data, quoted so nothing in them expands (SC2016), and read by driver.sh (SC2034).
    "# shellcheck shell=sh disable=SC2034,SC2016",
    "# Settings for graft's bootstrap driver, written by cluster-manager for this cluster.",
    ...settings.map(([name, value]) => shellAssignment(name, value)),
    "",
  ].join("\n");
}

/** The Flux release an install manifest belongs to, from the "# Flux version:" line Flux writes or its labels. */
export function fluxVersionOf(installYaml: string): string {
  const match = /^# Flux version: (v[0-9]\S*)/m.exec(installYaml)
    ?? /app\.kubernetes\.io\/version: ["']?(v[0-9][^\s"']*)/.exec(installYaml);
  if (!match?.[1]) {
    throw new Error("cannot tell which Flux release the install manifest is: it has no \"# Flux version:\" line or version label; pass fluxVersion");
  }
  return match[1];
}

function checkSelfLink(selfLinkYaml: string, namespace: string): void {
  const docs = parseAllDocuments(selfLinkYaml);
  const errors = docs.flatMap((d) => d.errors.map((e) => e.message));
  if (errors.length > 0) throw new Error(`self-link manifest is not valid YAML: ${errors[0]}`);
  const hasKustomization = docs.some((d) => {
    const m = d.toJS() as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } } | null;
    return m?.kind === "Kustomization" && m.metadata?.name === "self-link" && m.metadata.namespace === namespace;
  });
  if (!hasKustomization) {
    throw new Error(`self-link manifest has no Kustomization "self-link" in namespace "${namespace}": the script waits for that object`);
  }
}

function validate(input: BootstrapScriptInput): ValidInput {
  const result = bootstrapScriptInputSchema.safeParse(input);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new Error(`invalid bootstrap script input: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  return result.data;
}

let driverText: string | undefined;

/** driver.sh sits beside this module in the source tree; a build in dist/ reads it from the source tree. */
function readDriver(): string {
  if (driverText !== undefined) return driverText;
  const candidates = ["./driver.sh", "../../../operators/bootstrap/driver.sh"].map((p) => fileURLToPath(new URL(p, import.meta.url)));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`bootstrap driver not found: looked for ${candidates.map((c) => `"${c}"`).join(" and ")}`);
  driverText = readFileSync(found, "utf8");
  return driverText;
}
