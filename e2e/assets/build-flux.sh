#!/bin/sh
# Builds the upstream Flux source-controller and kustomize-controller used by graft's end-to-end tests from their
# pinned Go modules, into a cache outside the checkout. Prints the directory holding the two binaries.
#
# The versions are the ones config/flux/VERSIONS pins (the Flux release whose install manifest graft ships), so
# the controllers under test are the ones the bootstrap installs. Honours GRAFT_FLUX_ASSETS (a directory that already
# holds both binaries) and GRAFT_CACHE. First run: downloads modules and compiles (about 10-20 minutes on 2 busy
# cores); later runs return at once.
set -eu
NAME=build-flux
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

if [ -n "${GRAFT_FLUX_ASSETS:-}" ] && [ -x "$GRAFT_FLUX_ASSETS/source-controller" ] && [ -x "$GRAFT_FLUX_ASSETS/kustomize-controller" ]; then
  echo "$GRAFT_FLUX_ASSETS"; exit 0
fi
VERSIONS_FILE=$(cd "$(dirname "$0")/../.." && pwd)/config/flux/VERSIONS
pinned() { sed -n "s/^$1=//p" "$VERSIONS_FILE" 2>/dev/null; }
SOURCE_CONTROLLER_VERSION=${SOURCE_CONTROLLER_VERSION:-$(pinned SOURCE_CONTROLLER_VERSION)}
KUSTOMIZE_CONTROLLER_VERSION=${KUSTOMIZE_CONTROLLER_VERSION:-$(pinned KUSTOMIZE_CONTROLLER_VERSION)}
if [ -z "$SOURCE_CONTROLLER_VERSION" ] || [ -z "$KUSTOMIZE_CONTROLLER_VERSION" ]; then
  echo "build-flux: no controller versions in '$VERSIONS_FILE': run config/flux/regenerate.sh" >&2; exit 1
fi
# The Go module proxy reachable here does not serve every dependency version these releases require; each entry
# "module=module@version" swaps one in for the nearest patch release it does serve (source-controller v1.9.5 requires
# github.com/fluxcd/pkg/artifact v0.18.3, only v0.18.0 is served). Set to an empty string to build exactly as released.
SOURCE_CONTROLLER_SUBSTITUTES=${SOURCE_CONTROLLER_SUBSTITUTES-github.com/fluxcd/pkg/artifact=github.com/fluxcd/pkg/artifact@v0.18.0}
KUSTOMIZE_CONTROLLER_SUBSTITUTES=${KUSTOMIZE_CONTROLLER_SUBSTITUTES-}
OUT="$CACHE/flux-source-$SOURCE_CONTROLLER_VERSION-kustomize-$KUSTOMIZE_CONTROLLER_VERSION"

if [ -x "$OUT/source-controller" ] && [ -x "$OUT/kustomize-controller" ]; then
  echo "$OUT"; exit 0
fi

prepare_build "the Flux controllers"

cd "$work"
go mod init graft.local/flux-build >/dev/null 2>&1
# shellcheck disable=SC2086 # the substitute lists are split on purpose
build_controller source-controller "$SOURCE_CONTROLLER_VERSION" $SOURCE_CONTROLLER_SUBSTITUTES
# shellcheck disable=SC2086
build_controller kustomize-controller "$KUSTOMIZE_CONTROLLER_VERSION" $KUSTOMIZE_CONTROLLER_SUBSTITUTES
log "done in $(( $(date +%s) - start ))s"
echo "$OUT"
