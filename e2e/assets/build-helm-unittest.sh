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

use_existing "${GRAFT_HELM_UNITTEST:-}" "$OUT/helm-unittest"
prepare_build "helm-unittest"
log "building helm-unittest $HELM_UNITTEST_VERSION"
# Its replace directive (a fork of yaml-jsonpath) holds because it is built as the main module.
build_module_binary "github.com/helm-unittest/helm-unittest@$HELM_UNITTEST_VERSION" ./cmd/helm-unittest "$OUT/helm-unittest" -ldflags "-s -w"
