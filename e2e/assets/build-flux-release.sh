#!/bin/sh
# Builds the three Flux controllers (source-, kustomize-, helm-controller) of a further release the cluster-manager
# ships, config/flux/releases/<version>/VERSIONS, for the fleet-upgrade test's edges, which run them as processes.
# Prints a directory holding the three binaries. Source- and kustomize-controller come from build-flux.sh (its cache,
# keyed by their versions), helm-controller is built here. Usage: build-flux-release.sh [VERSION] (default: the first
# release under config/flux/releases). Honours GRAFT_CACHE. First run: about 20 minutes on 2 busy cores.
set -eu
NAME=build-flux-release
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

releases="$here/../../config/flux/releases"
version=${1:-}
if [ -z "$version" ]; then for d in "$releases"/*/; do version=$(basename "$d"); break; done; fi
VERSIONS_FILE="$releases/$version/VERSIONS"
[ -f "$VERSIONS_FILE" ] || { log "no Flux release '$version' under config/flux/releases"; exit 1; }
pinned() { sed -n "s/^$1=//p" "$VERSIONS_FILE"; }
SOURCE=$(pinned SOURCE_CONTROLLER_VERSION)
KUSTOMIZE=$(pinned KUSTOMIZE_CONTROLLER_VERSION)
HELM=$(pinned HELM_CONTROLLER_VERSION)
DIR="$CACHE/flux-release-$version-source-$SOURCE-kustomize-$KUSTOMIZE-helm-$HELM"
if [ -x "$DIR/source-controller" ] && [ -x "$DIR/kustomize-controller" ] && [ -x "$DIR/helm-controller" ]; then
  echo "$DIR"; exit 0
fi

# shellcheck disable=SC2097,SC2098 # the variables are meant for build-flux.sh only
pair=$(SOURCE_CONTROLLER_VERSION=$SOURCE KUSTOMIZE_CONTROLLER_VERSION=$KUSTOMIZE SOURCE_CONTROLLER_SUBSTITUTES="" \
  GRAFT_FLUX_ASSETS="" sh "$here/build-flux.sh" | tail -n 1)
OUT="$CACHE/helm-controller-$HELM"
if [ ! -x "$OUT/helm-controller" ]; then
  prepare_build "helm-controller $HELM"
  GO=$(command -v go)
  go() { nice -n 10 "$GO" "$@"; }
  cd "$work"
  go mod init graft.local/flux-release-build >/dev/null 2>&1
  build_controller helm-controller "$HELM"
  log "done in $(( $(date +%s) - start ))s"
fi
mkdir -p "$DIR"
ln -sf "$pair/source-controller" "$DIR/source-controller"
ln -sf "$pair/kustomize-controller" "$DIR/kustomize-controller"
ln -sf "$OUT/helm-controller" "$DIR/helm-controller"
echo "$DIR"
