#!/bin/sh
# Builds helm-unittest (the chart unit-test runner: config/edge-cluster/tests/*_test.yaml) from its pinned Go module,
# into a cache outside the checkout. Prints the path of the binary; it runs as is (`helm-unittest <chart>`), without
# installing it as a helm plugin. Built as the main module, so its replace directive (a fork of yaml-jsonpath) holds.
#
# Honours GRAFT_HELM_UNITTEST (a binary to use as is) and GRAFT_CACHE. First run: downloads modules and compiles
# (a few minutes on 2 cores: it links helm's libraries); later runs return at once.
set -eu
NAME=build-helm-unittest
GIVEN=${GRAFT_HELM_UNITTEST:-}
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
go_tool helm-unittest github.com/helm-unittest/helm-unittest "${HELM_UNITTEST_VERSION:-v1.1.2}" ./cmd/helm-unittest -ldflags "-s -w"
