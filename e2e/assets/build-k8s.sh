#!/bin/sh
# Builds the real Kubernetes control-plane binaries used by graft's tests (etcd, kube-apiserver, kubectl)
# from pinned upstream Go modules, into a cache outside the checkout. Prints the directory holding them.
#
# Honours KUBEBUILDER_ASSETS (a directory that already holds the three binaries) and GRAFT_CACHE.
# First run: downloads modules and compiles (about 5 minutes on 2 cores); later runs return at once.
set -eu
NAME=build-k8s
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

K8S_VERSION=${K8S_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.16}
STAGING_VERSION="v0.${K8S_VERSION#v1.}"
OUT="$CACHE/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"

if [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/kube-apiserver" ] && [ -x "$KUBEBUILDER_ASSETS/etcd" ]; then
  echo "$KUBEBUILDER_ASSETS"; exit 0
fi
if [ -x "$OUT/etcd" ] && [ -x "$OUT/kube-apiserver" ] && [ -x "$OUT/kubectl" ]; then
  echo "$OUT"; exit 0
fi

prepare_build "the test control plane"

if [ ! -x "$OUT/etcd" ]; then
  log "building etcd $ETCD_VERSION"
  mkdir -p "$work/etcd" && cd "$work/etcd"
  go mod init graft.local/etcd-build >/dev/null 2>&1
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" >&2
  go build -trimpath -ldflags "-s -w" -o "$OUT/etcd.tmp" go.etcd.io/etcd/server/v3 >&2
  mv "$OUT/etcd.tmp" "$OUT/etcd"
fi

if [ ! -x "$OUT/kube-apiserver" ] || [ ! -x "$OUT/kubectl" ]; then
  log "building kube-apiserver and kubectl $K8S_VERSION (staging modules $STAGING_VERSION)"
  mkdir -p "$work/k8s" && cd "$work/k8s"
  k8s_module "$K8S_VERSION"
  cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  go mod tidy >&2
  for bin in kube-apiserver kubectl; do
    [ -x "$OUT/$bin" ] && continue
    log "compiling $bin"
    go build -trimpath -ldflags "$(k8s_ldflags "$K8S_VERSION")" -o "$OUT/$bin.tmp" "k8s.io/kubernetes/cmd/$bin" >&2
    mv "$OUT/$bin.tmp" "$OUT/$bin"
  done
fi
log "done in $(( $(date +%s) - start ))s"
echo "$OUT"
