// Which Flux release goes in a cluster's repository. A cluster's own spec.fluxVersion wins; then the release a
// FluxRollout assigned it (an annotation only the rollout controller writes); then whatever the repository already
// carries, so upgrading the cluster-manager (and with it the pinned release) never moves a running fleet by itself;
// a new cluster gets the pinned release.
import { FLUX_VERSION_ANNOTATION } from "../../api/constants.js";
import type { EdgeCluster } from "../../api/edgecluster.js";
import { StallingError } from "../../runtime/errors.js";
import type { FluxRelease, FluxReleases } from "./flux-releases.js";

export const UNKNOWN_FLUX_VERSION = "UnknownFluxVersion";

export type FluxVersionSource = "spec" | "rollout" | "repository" | "default";

export interface FluxChoice {
  release: FluxRelease;
  source: FluxVersionSource;
}

/**
 * current: the install the repository holds now (version and text), if any. Kept as it is, byte for byte, when
 * nothing asks for another release, even when the cluster-manager no longer ships that release.
 */
export function chooseFluxRelease(ec: EdgeCluster, releases: FluxReleases, current?: FluxRelease): FluxChoice {
  const pinned = ec.spec.fluxVersion;
  if (pinned) return { release: requireRelease(releases, pinned, "spec.fluxVersion"), source: "spec" };
  const assigned = ec.metadata.annotations?.[FLUX_VERSION_ANNOTATION];
  if (assigned) return { release: requireRelease(releases, assigned, `annotation ${FLUX_VERSION_ANNOTATION}`), source: "rollout" };
  if (current) return { release: current, source: "repository" };
  return { release: releases.require(releases.defaultVersion), source: "default" };
}

function requireRelease(releases: FluxReleases, version: string, where: string): FluxRelease {
  const release = releases.get(version);
  if (!release) {
    throw new StallingError(UNKNOWN_FLUX_VERSION,
      `${where} asks for Flux "${version}", which the cluster-manager does not have (it has ${releases.versions().join(", ")}): set one of those`);
  }
  return release;
}
