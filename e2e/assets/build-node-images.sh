#!/bin/sh
# Builds the container images the real test node runs besides graft's own, as tarballs `ctr images import` loads,
# each tagged with exactly the reference its manifest uses so nothing is ever pulled: the pause and probe programs
# and CoreDNS (from build-node.sh), Flux's source- and kustomize-controller (build-flux.sh) and helm-controller, and
# the Sealed Secrets controller (the kubeseal version), the last two built here from their pinned Go modules.
# Prints the directory holding <reference with / and : as _>.tar for each image. Arguments, when given, name the
# images to make (e.g. `pause probe coredns`, the node's own: no Go build beyond build-node.sh's). An argument
# `flux-release:<version>` adds the three controller images of a further release the cluster-manager ships
# (config/flux/releases/<version>), packaged from the binaries build-flux-release.sh built for the fleet-upgrade test
# (no second compile); they are made only when asked for.
#
# Each image is the static binary, /etc/passwd and /etc/group naming uid/gid 65532, and the host's CA bundle, made
# with Debian's buildah (vfs storage, no daemon). Honours GRAFT_CACHE. First run: a few minutes (the two Go builds).
set -eu
NAME=build-node-images
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

VERSIONS_FILE="$here/../../config/flux/VERSIONS"
pinned() { sed -n "s/^$1=//p" "$VERSIONS_FILE"; }
SOURCE_CONTROLLER_VERSION=$(pinned SOURCE_CONTROLLER_VERSION)
KUSTOMIZE_CONTROLLER_VERSION=$(pinned KUSTOMIZE_CONTROLLER_VERSION)
HELM_CONTROLLER_VERSION=$(pinned HELM_CONTROLLER_VERSION)
SEALED_SECRETS_VERSION=${KUBESEAL_VERSION:-v0.40.0}
K8S_VERSION=${K8S_VERSION:-v1.36.3}
COREDNS_VERSION=${COREDNS_VERSION:-v1.14.7}
BIN="$CACHE/helm-controller-$HELM_CONTROLLER_VERSION-sealed-secrets-$SEALED_SECRETS_VERSION"
# The images are remade when this recipe changes (the binaries are cached apart and only rebuilt on a new version).
RECIPE=$(cksum < "$0" | cut -d' ' -f1)
IMAGES="$CACHE/node-images-$RECIPE"

node_dir=$(sh "$here/build-node.sh" | tail -n 1)
flux_dir=$(sh "$here/build-flux.sh" | tail -n 1)
# (build-node.sh and build-flux.sh return at once when their binaries are cached.)

tarball() { echo "$IMAGES/$(echo "$1" | tr '/:' '__').tar"; }
# name binary-path reference entrypoint-name
images="
pause $node_dir/pause registry.k8s.io/pause:3.10
probe $node_dir/probe graft.local/e2e-probe:1
coredns $node_dir/coredns registry.k8s.io/coredns/coredns:$COREDNS_VERSION
source-controller $flux_dir/source-controller ghcr.io/fluxcd/source-controller:$SOURCE_CONTROLLER_VERSION
kustomize-controller $flux_dir/kustomize-controller ghcr.io/fluxcd/kustomize-controller:$KUSTOMIZE_CONTROLLER_VERSION
helm-controller $BIN/helm-controller ghcr.io/fluxcd/helm-controller:$HELM_CONTROLLER_VERSION
controller $BIN/controller docker.io/bitnami/sealed-secrets-controller:${SEALED_SECRETS_VERSION#v}
"
if [ $# -gt 0 ]; then
  images=$(echo "$images" | while read -r name rest; do
    for want in "$@"; do if [ "$name" = "$want" ]; then echo "$name $rest"; fi; done
  done)
fi
release_images=""
for want in "$@"; do
  case $want in
    flux-release:*)
      release=${want#flux-release:}
      release_dir=$(sh "$here/build-flux-release.sh" "$release" | tail -n 1)
      for c in source-controller kustomize-controller helm-controller; do
        v=$(sed -n "s/^$(echo "$c" | tr 'a-z-' 'A-Z_')_VERSION=//p" "$here/../../config/flux/releases/$release/VERSIONS")
        release_images="$release_images
$c $release_dir/$c ghcr.io/fluxcd/$c:$v"
      done ;;
  esac
done
wanted() { echo "$images" | grep -q "^$1 "; }
all_present() {
  echo "$images$release_images" | while read -r _ _ ref; do
    [ -z "$ref" ] || [ -s "$(tarball "$ref")" ] || echo missing
  done | grep -q missing && return 1
  return 0
}
if all_present; then
  echo "$IMAGES"; exit 0
fi

if { wanted helm-controller && [ ! -x "$BIN/helm-controller" ]; } || { wanted controller && [ ! -x "$BIN/controller" ]; }; then
  OUT=$BIN
  prepare_build "the helm-controller and Sealed Secrets controller images"
  GO=$(command -v go)
  go() { nice -n 10 "$GO" "$@"; }
  cd "$work"
  go mod init graft.local/node-images-build >/dev/null 2>&1
  if wanted helm-controller; then build_controller helm-controller "$HELM_CONTROLLER_VERSION"; fi
  if wanted controller && [ ! -x "$BIN/controller" ]; then
    log "building the Sealed Secrets controller $SEALED_SECRETS_VERSION"
    mkdir -p "$work/sealed-secrets" && cd "$work/sealed-secrets"
    go mod init graft.local/sealed-secrets-build >/dev/null 2>&1
    # As build-kubeseal.sh: the module declares github.com/bitnami/sealed-secrets but is published under -labs.
    go mod edit -require "github.com/bitnami/sealed-secrets@$SEALED_SECRETS_VERSION" \
      -replace "github.com/bitnami/sealed-secrets=github.com/bitnami-labs/sealed-secrets@$SEALED_SECRETS_VERSION"
    printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/bitnami/sealed-secrets/cmd/controller"\n' > tools.go
    go mod tidy >&2
    go build -trimpath -ldflags "-s -w -X main.VERSION=$SEALED_SECRETS_VERSION" -o "$BIN/controller.tmp" \
      github.com/bitnami/sealed-secrets/cmd/controller >&2
    mv "$BIN/controller.tmp" "$BIN/controller"
  fi
  log "binaries done in $(( $(date +%s) - start ))s"
fi

command -v buildah >/dev/null 2>&1 || { log "Debian's buildah is needed to make the images"; exit 1; }
mkdir -p "$IMAGES"
store=$(mktemp -d)
trap 'buildah --root "$store/root" --runroot "$store/run" --storage-driver vfs rm --all >/dev/null 2>&1; rm -rf "$store"
  [ -z "${work:-}" ] || { chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"; }' EXIT
b() { buildah --root "$store/root" --runroot "$store/run" --storage-driver vfs "$@"; }
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$store/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$store/group"
echo "$images$release_images" | while read -r name bin ref; do
  [ -n "$ref" ] || continue
  out=$(tarball "$ref")
  [ -s "$out" ] && continue
  log "image $ref"
  c=$(b from scratch)
  b copy --chmod 0755 "$c" "$(readlink -f "$bin")" "/usr/local/bin/$name" >/dev/null
  b copy "$c" "$store/passwd" /etc/passwd >/dev/null
  b copy "$c" "$store/group" /etc/group >/dev/null
  b copy "$c" /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt >/dev/null
  b config --entrypoint "[\"/usr/local/bin/$name\"]" --cmd "" --user 65532:65532 --workingdir / \
    --env PATH=/usr/local/bin --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    --label "org.opencontainers.image.version=$ref" "$c"
  b commit --quiet --rm "$c" "$ref" >/dev/null
  b push --quiet "$ref" "docker-archive:$out.tmp:$ref" >/dev/null
  b rmi "$ref" >/dev/null
  mv "$out.tmp" "$out"
done
echo "$IMAGES"
