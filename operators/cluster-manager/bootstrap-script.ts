// Renders the one-time bootstrap script of a cluster from its EdgeCluster and credentials.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { buildBootstrapScript } from "../bootstrap/script-builder.js";
import type { EdgeCluster } from "../api/edgecluster.js";
import { urlsFor, type ClusterManagerConfig } from "./config.js";
import type { ClusterCredentials } from "./credentials.js";
import { selfLinkManifest } from "./git/repo-content.js";
import { acsBootstrapInput } from "./acs/bootstrap-input.js";
import { shippedFluxReleases, type FluxReleases } from "./fleet/flux-releases.js";
import { renewalHint } from "./bootstrap-tokens.js";

export const DEFAULT_FLUX_INSTALL = fileURLToPath(new URL("../../config/flux/install.yaml", import.meta.url));

let fluxInstallCache: { path: string; text: string } | undefined;
function fluxInstallYaml(path: string): string {
  if (fluxInstallCache?.path !== path) fluxInstallCache = { path, text: readFileSync(path, "utf8") };
  return fluxInstallCache.text;
}

type ScriptConfig = ClusterManagerConfig & { fluxInstallPath?: string; fluxReleases?: FluxReleases };

/** The Flux the script installs: the release in the cluster's repository (status.fluxVersion), else the pinned one. */
function fluxInstallFor(cfg: ScriptConfig, ec: EdgeCluster): string {
  const version = ec.status?.fluxVersion;
  const release = version ? (cfg.fluxReleases ?? shippedFluxReleases()).get(version) : undefined;
  return release?.installYaml ?? fluxInstallYaml(cfg.fluxInstallPath ?? DEFAULT_FLUX_INSTALL);
}

/** link: the one-time link the script is served from; its header names it (spent once served). */
export function renderBootstrapScript(cfg: ScriptConfig, ec: EdgeCluster, creds: ClusterCredentials,
  link?: string): string {
  const uuid = creds.uuid;
  if (cfg.mode === "acs") {
    const input = acsBootstrapInput(cfg, ec, uuid, creds.clusterName);
    return buildBootstrapScript({ ...input, urls: { ...input.urls, bootstrap: link }, renewLink: link && renewalHint(ec), fluxInstallYaml: fluxInstallYaml(cfg.fluxInstallPath ?? DEFAULT_FLUX_INSTALL) });
  }
  const urls = urlsFor(cfg, uuid);
  return buildBootstrapScript({
    mode: "embedded",
    cluster: { uuid, name: creds.clusterName, namespace: ec.spec.namespace, sparkplugGroup: ec.status?.sparkplugGroup ?? `${cfg.organisationPrefix}-${creds.clusterName}` },
    urls: { central: urls.central, git: urls.git, status: urls.status, bootstrap: link },
    renewLink: link && renewalHint(ec),
    credentials: { gitUsername: creds.gitUsername, gitPassword: creds.gitPassword, syncToken: creds.syncToken },
    selfLinkYaml: selfLinkManifest({ namespace: ec.spec.namespace, selfUrl: urls.git }),
    fluxInstallYaml: fluxInstallFor(cfg, ec),
  });
}
