#!/bin/sh
# Builds what a real single-node Kubernetes cluster needs beside the control plane of build-k8s.sh, from pinned Go
# modules, into a cache outside the checkout: kubelet, kube-controller-manager, kube-scheduler and kube-proxy (one
# `go build` of the same scratch module), containerd v2 (containerd, its runc shim, ctr), CoreDNS without the
# forward plugin (nothing may resolve names outside the machine), a pause program and an in-Pod probe. Prints the directory.
#
# runc and the CNI plugins come from Debian (runc, containernetworking-plugins). Honours GRAFT_NODE_ASSETS (a
# directory that already holds every binary) and GRAFT_CACHE. First run: about 10 minutes on 2 busy cores.
set -eu
NAME=build-node
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

K8S_VERSION=${K8S_VERSION:-v1.36.3}
CONTAINERD_VERSION=${CONTAINERD_VERSION:-v2.4.2}
COREDNS_VERSION=${COREDNS_VERSION:-v1.14.7}
OUT="$CACHE/node-$K8S_VERSION-containerd-$CONTAINERD_VERSION-coredns-$COREDNS_VERSION"
K8S_BINS="kubelet kube-controller-manager kube-scheduler kube-proxy"
ALL_BINS="$K8S_BINS containerd containerd-shim-runc-v2 ctr coredns pause probe"
TOOLS=$(cd "$(dirname "$0")" && pwd)/node-tools

# The tools are rebuilt when their sources change (the stamp holds the sources' checksum).
TOOLS_SUM=$(cat "$TOOLS"/*/main.go | cksum | cut -d' ' -f1)
have_all() {
  for b in $ALL_BINS; do [ -x "$1/$b" ] || return 1; done
  [ "$(cat "$1/tools.sum" 2>/dev/null)" = "$TOOLS_SUM" ]
}
if [ -n "${GRAFT_NODE_ASSETS:-}" ] && have_all "$GRAFT_NODE_ASSETS"; then
  echo "$GRAFT_NODE_ASSETS"; exit 0
fi
if have_all "$OUT"; then
  echo "$OUT"; exit 0
fi

prepare_build "the real node"
# The node is built beside other work: keep the machine responsive.
GO=$(command -v go)
go() { nice -n 10 "$GO" "$@"; }

missing_k8s=""
for b in $K8S_BINS; do [ -x "$OUT/$b" ] || missing_k8s="$missing_k8s $b"; done
if [ -n "$missing_k8s" ]; then
  log "building$missing_k8s $K8S_VERSION"
  mkdir -p "$work/k8s" && cd "$work/k8s"
  k8s_module "$K8S_VERSION"
  {
    printf '//go:build tools\n\npackage tools\n\nimport (\n'
    for b in $missing_k8s; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$b"; done
    printf ')\n'
  } > tools.go
  go mod tidy >&2
  mkdir -p "$work/k8s-out"
  pkgs=""
  for b in $missing_k8s; do pkgs="$pkgs k8s.io/kubernetes/cmd/$b"; done
  # shellcheck disable=SC2086 # one build of every package: shared dependencies compile once
  go build -trimpath -ldflags "$(k8s_ldflags "$K8S_VERSION")" -o "$work/k8s-out/" $pkgs >&2
  for b in $missing_k8s; do mv "$work/k8s-out/$b" "$OUT/$b"; done
fi

if [ ! -x "$OUT/containerd" ] || [ ! -x "$OUT/containerd-shim-runc-v2" ] || [ ! -x "$OUT/ctr" ]; then
  log "building containerd $CONTAINERD_VERSION"
  module_source "github.com/containerd/containerd/v2@$CONTAINERD_VERSION" containerd
  cd "$work/containerd"
  mkdir -p "$work/containerd-out"
  # Without cgo and without the snapshotters that need it or kernel modules this machine lacks (overlayfs and
  # native remain), as the containerd docs describe for static builds.
  go build -trimpath -tags "no_btrfs no_devmapper no_zfs no_aufs" \
    -ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" \
    -o "$work/containerd-out/" ./cmd/containerd ./cmd/containerd-shim-runc-v2 ./cmd/ctr >&2
  for b in containerd containerd-shim-runc-v2 ctr; do mv "$work/containerd-out/$b" "$OUT/$b"; done
fi

if [ ! -x "$OUT/coredns" ]; then
  log "building CoreDNS $COREDNS_VERSION without the forward plugin"
  module_source "github.com/coredns/coredns@$COREDNS_VERSION" coredns
  cd "$work/coredns"
  sed -i '/^forward:/d' plugin.cfg
  go run directives_generate.go >&2
  if grep -q 'plugin/forward"' core/plugin/zplugin.go; then log "the forward plugin is still compiled in"; exit 1; fi
  go build -trimpath -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION" \
    -o "$OUT/coredns.tmp" . >&2
  mv "$OUT/coredns.tmp" "$OUT/coredns"
fi

# The sandbox program and the in-Pod network client (node-tools/*/main.go), standard library only.
[ "$(cat "$OUT/tools.sum" 2>/dev/null)" = "$TOOLS_SUM" ] || rm -f "$OUT/pause" "$OUT/probe"
for tool in pause probe; do
  [ -x "$OUT/$tool" ] && continue
  log "building $tool"
  mkdir -p "$work/$tool" && cp "$TOOLS/$tool/main.go" "$work/$tool/" && cd "$work/$tool"
  go mod init "graft.local/$tool" >/dev/null 2>&1
  go build -trimpath -ldflags "-s -w" -o "$OUT/$tool.tmp" . >&2
  mv "$OUT/$tool.tmp" "$OUT/$tool"
done
echo "$TOOLS_SUM" > "$OUT/tools.sum"
log "done in $(( $(date +%s) - start ))s"
echo "$OUT"
