#!/bin/sh
# Regenerates config/flux/install.yaml (what the bootstrap script applies when an edge cluster has no Flux),
# config/flux/crds.yaml (the CRDs alone, for tests) and config/flux/VERSIONS from the Go modules of one Flux release.
#
# Usage: config/flux/regenerate.sh [--check] [FLUX_VERSION]
#   FLUX_VERSION  the github.com/fluxcd/flux2/v2 release to take (default: the one in VERSIONS)
#   --check       regenerate into a temporary directory and fail if the committed files differ
#
# The flux CLI cannot be built from its module (its install manifests are go:embed'ed from a directory that only
# its release pipeline generates), so this does what `flux install --export` does by hand: flux2's manifests/
# directory names each controller's release and its release assets, which are built from the controller module's
# config/crd and config/manager; config/flux/assemble.ts puts them together. Needs go (module download only), node.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
COMPONENTS="source-controller kustomize-controller helm-controller"

check=false
if [ "${1:-}" = "--check" ]; then check=true; shift; fi
flux_version=${1:-$(sed -n 's/^FLUX_VERSION=//p' "$here/VERSIONS" 2>/dev/null)}
[ -n "$flux_version" ] || { echo "regenerate: no Flux version given and none in '$here/VERSIONS'" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOFLAGS=-mod=mod

# module_dir MODULE@VERSION: downloads a module through the Go module proxy and prints its read-only source dir.
module_dir() {
  dir=$(cd "$work" && go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || { echo "regenerate: could not download '$1' from the Go module proxy" >&2; exit 1; }
  echo "$dir"
}

(cd "$work" && go mod init graft.local/flux-manifests >/dev/null 2>&1)
flux_dir=$(module_dir "github.com/fluxcd/flux2/v2@$flux_version")

out=$here
if $check; then out=$work/out; mkdir -p "$out"; fi

args="--flux $flux_version=$flux_dir --out $out"
{
  echo "# Pinned by config/flux/regenerate.sh: the Flux release graft installs, and its controllers' Go modules."
  echo "FLUX_VERSION=$flux_version"
} > "$work/VERSIONS"
for c in $COMPONENTS; do
  # The release whose assets flux2 names is the controller version that Flux release ships.
  version=$(sed -n "s#.*/fluxcd/$c/releases/download/\(v[^/]*\)/$c\.crds\.yaml.*#\1#p" "$flux_dir/manifests/bases/$c/kustomization.yaml")
  [ -n "$version" ] || { echo "regenerate: Flux $flux_version names no release of '$c'" >&2; exit 1; }
  args="$args --controller $c@$version=$(module_dir "github.com/fluxcd/$c@$version")"
  echo "$(echo "$c" | tr 'a-z-' 'A-Z_')_VERSION=$version" >> "$work/VERSIONS"
done

cd "$root"
# shellcheck disable=SC2086 # $args holds separate arguments; module paths contain no spaces
node --import tsx "$here/assemble.ts" $args

if $check; then
  cp "$work/VERSIONS" "$out/VERSIONS"
  for f in VERSIONS install.yaml crds.yaml; do
    cmp -s "$out/$f" "$here/$f" || { echo "regenerate: config/flux/$f is stale: run config/flux/regenerate.sh" >&2; exit 1; }
  done
  echo "regenerate: config/flux is up to date with Flux $flux_version" >&2
else
  cp "$work/VERSIONS" "$here/VERSIONS"
  echo "regenerate: wrote config/flux/install.yaml, crds.yaml and VERSIONS for Flux $flux_version" >&2
fi
