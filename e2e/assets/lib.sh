# Shared by the build-*.sh scripts (sourced; set NAME first). The binaries go into a cache outside the checkout.
# shellcheck shell=sh
# shellcheck disable=SC2034 # used by the scripts that source this file
CACHE=${GRAFT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/graft}

log() { echo "$NAME: $*" >&2; }

# prepare_build WHAT: needs Go; makes $OUT and a scratch directory $work (removed on exit); sets the Go build
# environment and $start for the closing "done in" line.
prepare_build() {
  command -v go >/dev/null 2>&1 || PATH="$PATH:/usr/local/go/bin"
  command -v go >/dev/null 2>&1 || { log "the Go toolchain is needed to build $1"; exit 1; }
  mkdir -p "$OUT"
  work=$(mktemp -d)
  # Module cache copies are read-only: make them writable so the scratch directory can be removed.
  trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
  export GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0
  # shellcheck disable=SC2034 # read by the sourcing script
  start=$(date +%s)
}

# module_source MODULE@VERSION DEST: a writable copy of a Go module's source in $work/DEST, for building it as the
# main module (so its own replace directives and pins hold as released).
module_source() {
  dir=$(cd "$work" && go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || { log "could not download '$1' from the Go module proxy"; exit 1; }
  cp -R "$dir" "$work/$2"
  chmod -R u+w "$work/$2"
}
