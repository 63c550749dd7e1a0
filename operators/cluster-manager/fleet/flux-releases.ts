// The Flux releases the cluster-manager can put in a cluster's repository: the pinned one (config/flux/install.yaml,
// what the bootstrap script installs on a new cluster) and each further release under config/flux/releases/<version>/
// (made by config/flux/regenerate.sh --release). A release is its install manifest as `flux install --export` lays
// it out; its version is read from the manifest itself, so a file and the version it claims cannot disagree.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const DEFAULT_FLUX_INSTALL_PATH = fileURLToPath(new URL("../../../config/flux/install.yaml", import.meta.url));
export const DEFAULT_FLUX_RELEASES_DIR = fileURLToPath(new URL("../../../config/flux/releases", import.meta.url));

/** A Flux release version as the flux2 module tags it: v<major>.<minor>.<patch>. */
export const FLUX_VERSION_PATTERN = /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;

export interface FluxRelease {
  version: string;
  /** The install manifest (the repository's flux-system/gotk-components.yaml). */
  installYaml: string;
}

// regenerate.sh writes "# Install manifest of Flux vX.Y.Z (...)" as the first line; every object carries the
// app.kubernetes.io/version label of the same release.
const HEADER = /^# Install manifest of Flux (v\d+\.\d+\.\d+)\b/;

/** The Flux version an install manifest (as regenerate.sh writes it) is of, or undefined. */
export function installManifestVersion(text: string): string | undefined {
  return HEADER.exec(text)?.[1];
}

/** Orders versions numerically (v2.10.0 after v2.9.5); both must match FLUX_VERSION_PATTERN. */
export function compareFluxVersions(a: string, b: string): number {
  const pa = a.slice(1).split(".").map(Number);
  const pb = b.slice(1).split(".").map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

export class FluxReleases {
  private constructor(readonly defaultVersion: string, private readonly releases: Map<string, FluxRelease>) {}

  /** From in-memory releases (tests); the first is the default. */
  static of(releases: FluxRelease[]): FluxReleases {
    if (releases.length === 0) throw new Error("no Flux release given");
    return new FluxReleases(releases[0]!.version, new Map(releases.map((r) => [r.version, r])));
  }

  /**
   * The pinned install manifest plus every `<releasesDir>/<version>/install.yaml`. A directory whose manifest is of
   * another version than its name says is refused (it would roll clusters to a release nobody asked for).
   */
  static load(defaultInstallPath: string, releasesDir = DEFAULT_FLUX_RELEASES_DIR): FluxReleases {
    const pinned = readRelease(defaultInstallPath);
    const releases = new Map([[pinned.version, pinned]]);
    if (existsSync(releasesDir)) {
      for (const entry of readdirSync(releasesDir, { withFileTypes: true })) {
        if (!entry.isDirectory()) continue;
        const path = join(releasesDir, entry.name, "install.yaml");
        if (!existsSync(path)) continue;
        const release = readRelease(path);
        if (release.version !== entry.name) {
          throw new Error(`Flux release directory "${entry.name}" holds an install manifest of ${release.version}: regenerate it with config/flux/regenerate.sh --release ${entry.name}`);
        }
        if (!releases.has(release.version)) releases.set(release.version, release);
      }
    }
    return new FluxReleases(pinned.version, releases);
  }

  get(version: string): FluxRelease | undefined {
    return this.releases.get(version);
  }

  /** Every available version, oldest first. */
  versions(): string[] {
    return [...this.releases.keys()].sort(compareFluxVersions);
  }

  /** The release, or an error message naming what is available. */
  require(version: string): FluxRelease {
    const release = this.releases.get(version);
    if (!release) throw new Error(`Flux ${version} is not available to the cluster-manager (it has ${this.versions().join(", ")}): add it with config/flux/regenerate.sh --release ${version}`);
    return release;
  }
}

function readRelease(path: string): FluxRelease {
  const installYaml = readFileSync(path, "utf8");
  const version = installManifestVersion(installYaml);
  if (!version) throw new Error(`"${path}" is not a Flux install manifest made by config/flux/regenerate.sh (no "# Install manifest of Flux vX.Y.Z" header)`);
  return { version, installYaml };
}

let shipped: FluxReleases | undefined;
/** The releases in this checkout's config/flux (read once): for callers given no catalogue of their own. */
export function shippedFluxReleases(): FluxReleases {
  shipped ??= FluxReleases.load(DEFAULT_FLUX_INSTALL_PATH, DEFAULT_FLUX_RELEASES_DIR);
  return shipped;
}
