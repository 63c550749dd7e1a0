#!/bin/sh
# Regenerates config/flux/install.yaml (what the bootstrap script applies when an edge cluster has no Flux),
# config/flux/crds.yaml (the CRDs alone, for tests) and config/flux/VERSIONS from the Go modules of one Flux release.
#
# Usage: config/flux/regenerate.sh [--check] [--release] [FLUX_VERSION]
#   FLUX_VERSION  the github.com/fluxcd/flux2/v2 release to take (default: the one in VERSIONS)
#   --check       regenerate into a temporary directory and fail if the committed files differ
#   --release     write config/flux/releases/FLUX_VERSION/ (install.yaml, VERSIONS) instead: a further release the
#                 cluster-manager can put in a cluster's repository (EdgeCluster spec.fluxVersion, FluxRollout)
#
# A release directory may hold SUBSTITUTES: lines "<controller>=<version>" naming the controller release to build in
# place of the one the Flux release names, when the Go module proxy does not serve that one (the nearest patch it
# serves); VERSIONS then pins what was built. `--check --release V` checks such a directory.
#
# The flux CLI cannot be built from its module (its install manifests are go:embed'ed from a directory that only
# its release pipeline generates), so this does what `flux install --export` does, with `kubectl kustomize` (the
# kubectl of e2e/assets/build-k8s.sh embeds kustomize): flux2's manifests/ directory names each controller's release
# assets, which are the kustomize builds of the controller module's config/crd and config/manager; they are built
# from the module sources in place of the download, then the kustomization the CLI generates puts everything
# together. Needs go (module download only) and the test control plane's kubectl (built on first use).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
COMPONENTS="source-controller kustomize-controller helm-controller"
NAMESPACE=flux-system

check=false release=false
while [ $# -gt 0 ]; do
  case "$1" in
    --check) check=true; shift ;;
    --release) release=true; shift ;;
    *) break ;;
  esac
done
flux_version=${1:-$(sed -n 's/^FLUX_VERSION=//p' "$here/VERSIONS" 2>/dev/null)}
[ -n "$flux_version" ] || { echo "regenerate: no Flux version given and none in '$here/VERSIONS'" >&2; exit 2; }
target=$here
if $release; then
  case "$flux_version" in v[0-9]*.[0-9]*.[0-9]*) ;; *) echo "regenerate: '$flux_version' is not a release like v2.7.5" >&2; exit 2 ;; esac
  target=$here/releases/$flux_version
  mkdir -p "$target"
fi
# substitute CONTROLLER: the controller version SUBSTITUTES names in place of the Flux release's, if any.
substitute() {
  if [ -f "$target/SUBSTITUTES" ]; then sed -n "s/^$1=\(v[^[:space:]#]*\).*/\1/p" "$target/SUBSTITUTES"; fi
}

kubectl="$(sh "$root/e2e/assets/build-k8s.sh" | tail -n 1)/kubectl"
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
cp -R "$flux_dir/manifests" "$work/manifests"
chmod -R u+w "$work/manifests"

out=$target
if $check; then out=$work/out; mkdir -p "$out"; fi

{
  echo "# Pinned by config/flux/regenerate.sh: the Flux release graft installs, and its controllers' Go modules."
  echo "FLUX_VERSION=$flux_version"
} > "$work/VERSIONS"
pins=""
for c in $COMPONENTS; do
  base="$work/manifests/bases/$c"
  # The release whose assets flux2 names is the controller version that Flux release ships.
  version=$(sed -n "s#.*/fluxcd/$c/releases/download/\(v[^/]*\)/$c\.crds\.yaml.*#\1#p" "$base/kustomization.yaml")
  [ -n "$version" ] || { echo "regenerate: Flux $flux_version names no release of '$c'" >&2; exit 1; }
  named=$version
  version=$(substitute "$c"); version=${version:-$named}
  controller_dir=$(module_dir "github.com/fluxcd/$c@$version")
  "$kubectl" kustomize "$controller_dir/config/crd" > "$base/$c.crds.yaml"
  "$kubectl" kustomize "$controller_dir/config/manager" > "$base/$c.deployment.yaml"
  sed -i "s#https://github.com/fluxcd/$c/releases/download/$named/#./#" "$base/kustomization.yaml"
  if [ "$version" != "$named" ]; then echo "# $c $version in place of $named (SUBSTITUTES)" >> "$work/VERSIONS"; fi
  echo "$(echo "$c" | tr 'a-z-' 'A-Z_')_VERSION=$version" >> "$work/VERSIONS"
  pins="$pins${pins:+, }$c $version"
done
remote=""
for dir in $(for c in $COMPONENTS; do echo "bases/$c"; done) policies rbac; do
  grep -q "https://" "$work/manifests/$dir/kustomization.yaml" && remote="$remote manifests/$dir"
done
if [ -n "$remote" ]; then
  echo "regenerate: Flux $flux_version's$remote name remote resources this script does not build" >&2; exit 1
fi

# The kustomization `flux install --export --components=<COMPONENTS>` generates beside its embedded manifests.
install="$work/install"
mkdir -p "$install/roles"
cat > "$install/roles/kustomization.yaml" <<YAML
namespace: $NAMESPACE
resources: [../../manifests/rbac]
nameSuffix: -$NAMESPACE
YAML
cat > "$install/namespace.yaml" <<YAML
apiVersion: v1
kind: Namespace
metadata:
  name: $NAMESPACE
  labels: { pod-security.kubernetes.io/warn: restricted, pod-security.kubernetes.io/warn-version: latest }
YAML
cat > "$install/labels.yaml" <<YAML
apiVersion: builtin
kind: LabelTransformer
metadata: { name: labels }
labels: { app.kubernetes.io/instance: $NAMESPACE, app.kubernetes.io/version: $flux_version, app.kubernetes.io/part-of: flux }
fieldSpecs:
  - { path: metadata/labels, create: true }
  - { kind: Deployment, path: spec/template/metadata/labels, create: true }
YAML
# graft's one addition: every object is marked never to be pruned (metadata only, so Pods are not restarted), as the
# cluster's repository carries this file and its self-link Kustomization prunes: a repository that stops carrying
# Flux (a bare cluster) must not uninstall it. Set here, not only in the repository, so the objects the bootstrap
# script installs already carry it (a Deployment's generation moves with its annotations).
cat > "$install/prune-disabled.yaml" <<YAML
apiVersion: builtin
kind: AnnotationsTransformer
metadata: { name: prune-disabled }
annotations: { kustomize.toolkit.fluxcd.io/prune: disabled }
fieldSpecs:
  - { path: metadata/annotations, create: true }
YAML
cat > "$install/node-selector.yaml" <<YAML
apiVersion: apps/v1
kind: Deployment
metadata: { name: all }
spec: { template: { spec: { nodeSelector: { kubernetes.io/os: linux } } } }
YAML
{
  echo "apiVersion: kustomize.config.k8s.io/v1beta1"
  echo "kind: Kustomization"
  echo "namespace: $NAMESPACE"
  echo "transformers: [labels.yaml, prune-disabled.yaml]"
  echo "resources:"
  echo "  - namespace.yaml"
  echo "  - ../manifests/policies"
  echo "  - roles"
  for c in $COMPONENTS; do echo "  - ../manifests/bases/$c"; done
  echo "images:"
  for c in $COMPONENTS; do echo "  - { name: fluxcd/$c, newName: ghcr.io/fluxcd/$c }"; done
  echo "patches:"
  echo "  - { path: node-selector.yaml, target: { kind: Deployment } }"
  # The arguments `flux install` sets (their positions follow flux2's base patch, which puts --events-addr first);
  # without notification-controller there is no events address.
  for c in $COMPONENTS; do
    echo "  - target: { group: apps, version: v1, kind: Deployment, name: $c }"
    echo "    patch: |"
    echo "      - { op: replace, path: /spec/template/spec/containers/0/args/0, value: \"--events-addr=\" }"
    echo "      - { op: replace, path: /spec/template/spec/containers/0/args/1, value: \"--watch-all-namespaces=true\" }"
    echo "      - { op: replace, path: /spec/template/spec/containers/0/args/2, value: \"--log-level=info\" }"
    if [ "$c" = source-controller ]; then
      echo "      - { op: replace, path: /spec/template/spec/containers/0/args/6, value: \"--storage-adv-addr=$c.\$(RUNTIME_NAMESPACE).svc.cluster.local.\" }"
    fi
  done
} > "$install/kustomization.yaml"

header() {
  echo "# $1 of Flux $flux_version ($pins), laid out as \`flux install --export\` does."
  echo "# Every object is annotated kustomize.toolkit.fluxcd.io/prune: disabled (a graft addition)."
  echo "# Generated by config/flux/regenerate.sh from the Flux Go modules with kubectl kustomize. DO NOT EDIT."
}
"$kubectl" kustomize "$install" > "$work/install.body"
{ header "Install manifest"; echo "---"; cat "$work/install.body"; } > "$out/install.yaml"
# The CustomResourceDefinitions of the same build (kustomize separates documents with lines of "---").
{
  header "Custom resource definitions"
  awk '
    function flush() { if (doc ~ /(^|\n)kind: CustomResourceDefinition\n/) printf "---\n%s", doc; doc = "" }
    /^---$/ { flush(); next }
    { doc = doc $0 "\n" }
    END { flush() }
  ' "$work/install.body"
} > "$out/crds.yaml"

if $check; then
  cp "$work/VERSIONS" "$out/VERSIONS"
  files="VERSIONS install.yaml crds.yaml"
  if $release; then files="VERSIONS install.yaml"; fi
  for f in $files; do
    cmp -s "$out/$f" "$target/$f" || { echo "regenerate: ${target#"$root"/}/$f is stale: run config/flux/regenerate.sh" >&2; exit 1; }
  done
  echo "regenerate: ${target#"$root"/} is up to date with Flux $flux_version" >&2
else
  cp "$work/VERSIONS" "$target/VERSIONS"
  if $release; then rm -f "$target/crds.yaml"; fi
  if $release; then written="install.yaml, VERSIONS"; else written="install.yaml, crds.yaml, VERSIONS"; fi
  echo "regenerate: wrote ${target#"$root"/} ($written) for Flux $flux_version" >&2
fi
