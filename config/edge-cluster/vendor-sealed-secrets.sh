#!/bin/sh
# Packages the upstream Sealed Secrets chart into charts/ (the edge-cluster chart's vendored subchart) from the Go
# module the upstream kubeseal is built from (e2e/assets/build-kubeseal.sh), so an edge site installs the
# controller without reaching any Helm repository. The module carries the chart in helm/sealed-secrets.
# Run it after changing KUBESEAL_VERSION there, then update the dependency version in Chart.yaml if it changed.
#
# Needs Go (to fetch the module from the Go module proxy) and helm (e2e/assets/build-helm.sh builds it).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck disable=SC2016 # the pattern matches a literal ${...}
version=$(sed -n 's/^KUBESEAL_VERSION=\${KUBESEAL_VERSION:-\(v[0-9][0-9.]*\)}$/\1/p' "$root/e2e/assets/build-kubeseal.sh")
[ -n "$version" ] || { echo "vendor-sealed-secrets: cannot read KUBESEAL_VERSION from e2e/assets/build-kubeseal.sh" >&2; exit 1; }
command -v go >/dev/null 2>&1 || PATH="$PATH:/usr/local/go/bin"
helm=$(sh "$root/e2e/assets/build-helm.sh")

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
# The module declares its path as github.com/bitnami/sealed-secrets but is published under bitnami-labs.
dir=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "github.com/bitnami-labs/sealed-secrets@$version" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -d "$dir/helm/sealed-secrets" ] || { echo "vendor-sealed-secrets: module $version has no helm/sealed-secrets" >&2; exit 1; }
cp -R "$dir/helm/sealed-secrets" "$work/sealed-secrets"
chmod -R u+w "$work/sealed-secrets"

rm -f "$here"/charts/sealed-secrets-*.tgz
mkdir -p "$here/charts"
"$helm" package "$work/sealed-secrets" --destination "$here/charts" >&2
chart_version=$(sed -n 's/^version: *//p' "$work/sealed-secrets/Chart.yaml")
echo "vendored sealed-secrets chart $chart_version from module $version into config/edge-cluster/charts/" >&2
grep -q "version: \"*$chart_version\"*\$" "$here/Chart.yaml" \
  || echo "vendor-sealed-secrets: set the sealed-secrets dependency version in Chart.yaml to $chart_version" >&2
