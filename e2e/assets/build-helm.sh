#!/bin/sh
# Builds the upstream helm CLI used by graft's deploy test (helm lint, helm template of the edge-cluster chart) from
# its pinned Go module, into a cache outside the checkout. Prints the path of the binary.
#
# Honours GRAFT_HELM (a helm binary to use as is) and GRAFT_CACHE. First run: downloads modules and compiles (a few
# minutes on 2 cores); later runs return at once.
set -eu
NAME=build-helm
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

HELM_VERSION=${HELM_VERSION:-v3.22.0}
OUT="$CACHE/helm-$HELM_VERSION"

use_existing "${GRAFT_HELM:-}" "$OUT/helm"

prepare_build "helm"

log "building helm $HELM_VERSION"
# helm is built as the main module so its own replace directives and pins hold exactly as released.
module_source "helm.sh/helm/v3@$HELM_VERSION" helm
cd "$work/helm"
# As helm's Makefile does: the version, and the Kubernetes version `helm template` and `helm lint` assume by default
# (the client-go minor + 1.x), without which charts with a kubeVersion constraint do not render.
k8s_modules=$(go list -f '{{.Version}}' -m k8s.io/client-go)
k8s_minor=$(echo "$k8s_modules" | cut -d. -f2)
k8s_major=$(( $(echo "$k8s_modules" | cut -d. -f1 | tr -d v) + 1 ))
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for pkg in pkg/lint/rules pkg/chartutil; do
  ldflags="$ldflags -X helm.sh/helm/v3/$pkg.k8sVersionMajor=$k8s_major -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$k8s_minor"
done
go build -trimpath -ldflags "$ldflags" -o "$OUT/helm.tmp" ./cmd/helm >&2
mv "$OUT/helm.tmp" "$OUT/helm"
log "done in $(( $(date +%s) - start ))s"
echo "$OUT/helm"
