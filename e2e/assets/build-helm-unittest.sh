#!/bin/sh
# Builds helm-unittest (the chart unit-test runner: config/edge-cluster/tests/*_test.yaml) from its pinned Go module,
# into a cache outside the checkout. Prints the path of the binary; it runs as is (`helm-unittest <chart>`), without
# installing it as a helm plugin.
#
# Honours GRAFT_HELM_UNITTEST (a binary to use as is) and GRAFT_CACHE. First run: downloads modules and compiles
# (a few minutes on 2 cores: it links helm's libraries); later runs return at once.
set -eu
NAME=build-helm-unittest
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

HELM_UNITTEST_VERSION=${HELM_UNITTEST_VERSION:-v1.1.2}
OUT="$CACHE/helm-unittest-$HELM_UNITTEST_VERSION"

if [ -n "${GRAFT_HELM_UNITTEST:-}" ] && [ -x "$GRAFT_HELM_UNITTEST" ]; then
  echo "$GRAFT_HELM_UNITTEST"; exit 0
fi
if [ -x "$OUT/helm-unittest" ]; then
  echo "$OUT/helm-unittest"; exit 0
fi

prepare_build "helm-unittest"

log "building helm-unittest $HELM_UNITTEST_VERSION"
# Built as the main module so its own replace directives (a fork of yaml-jsonpath) hold as released.
module_source "github.com/helm-unittest/helm-unittest@$HELM_UNITTEST_VERSION" helm-unittest
cd "$work/helm-unittest"
go build -trimpath -ldflags "-s -w" -o "$OUT/helm-unittest.tmp" ./cmd/helm-unittest >&2
mv "$OUT/helm-unittest.tmp" "$OUT/helm-unittest"
log "done in $(( $(date +%s) - start ))s"
echo "$OUT/helm-unittest"
