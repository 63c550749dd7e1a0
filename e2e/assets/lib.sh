# Shared by the build-*.sh scripts (sourced; set NAME first). The binaries go into a cache outside the checkout.
# shellcheck shell=sh
# shellcheck disable=SC2034 # used by the scripts that source this file
CACHE=${GRAFT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/graft}

log() { echo "${NAME:-build}: $*" >&2; }

# use_existing PATH...: prints the first PATH that is an executable file and ends the script (a binary the caller
# named, or the one built earlier); returns when there is none, so the build goes on.
use_existing() {
  for candidate in "$@"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then echo "$candidate"; exit 0; fi
  done
}

# go_tool NAME MODULE VERSION PACKAGE [GO BUILD FLAGS...]: the whole script of a tool that is one package of one
# module: the binary $GIVEN names, else the cached $CACHE/NAME-VERSION/NAME, else built into it. Prints the path.
go_tool() {
  tool=$1 tool_module=$2 tool_version=$3 tool_package=$4
  shift 4
  use_existing "${GIVEN:-}" "$CACHE/$tool-$tool_version/$tool"
  OUT="$CACHE/$tool-$tool_version"
  prepare_build "$tool"
  log "building $tool $tool_version"
  build_module_binary "$tool_module@$tool_version" "$tool_package" "$OUT/$tool" "$@"
}

# build_module_binary MODULE@VERSION PACKAGE OUTFILE [GO BUILD FLAGS...]: builds PACKAGE of the module as the main
# module (so its own replace directives and pins hold as released) into OUTFILE, atomically, and prints OUTFILE.
build_module_binary() {
  module=$1 package=$2 outfile=$3
  shift 3
  module_source "$module" main-module
  (cd "$work/main-module" && go build -trimpath "$@" -o "$outfile.tmp" "$package" >&2)
  mv "$outfile.tmp" "$outfile"
  log "done in $(( $(date +%s) - start ))s"
  echo "$outfile"
}

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

# k8s_module VERSION: makes the current directory a scratch module that requires k8s.io/kubernetes@VERSION with each
# staging module it replaces with ./staging/... pointed at its published v0.x release (module zips leave staging out).
# The caller writes a tools.go importing the cmd/... packages it builds, then runs `go mod tidy`.
k8s_module() {
  go mod init graft.local/k8s-build >/dev/null 2>&1
  go mod download -json "k8s.io/kubernetes@$1" >/dev/null
  staging="v0.${1#v1.}"
  modfile=$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/$1.mod
  sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$modfile" | while read -r m; do
    go mod edit -replace "$m=$m@$staging"
  done
  go mod edit -require "k8s.io/kubernetes@$1"
}

# k8s_ldflags VERSION: the linker flags that make Kubernetes binaries report VERSION (`--version`, Node status).
k8s_ldflags() {
  echo "-s -w -X k8s.io/component-base/version.gitVersion=$1 -X k8s.io/client-go/pkg/version.gitVersion=$1"
}

# build_controller NAME VERSION [SUBSTITUTE...]: builds the main package at the root of github.com/fluxcd/NAME@VERSION
# as $OUT/NAME (NAME=NAME@VERSION substitutes swap in dependency versions the module proxy serves).
# The module is built as the main module so its own replace directives (digest library, kustomize pins) hold; only
# its "./api" replace is turned into a requirement of the published api module, since module zips leave nested
# modules out.
build_controller() {
  ctl=$1 version=$2 module=github.com/fluxcd/$1
  shift 2
  [ -x "$OUT/$ctl" ] && return 0
  log "building $ctl $version"
  module_source "$module@$version" "$ctl"
  cd "$work/$ctl" || exit 1
  go mod edit -dropreplace "$module/api" -require "$module/api@$version"
  for substitute in "$@"; do
    log "$ctl: using $substitute"
    go mod edit -replace "$substitute"
  done
  go mod download "$module/api" >&2
  go build -trimpath -ldflags "-s -w" -o "$OUT/$ctl.tmp" . >&2
  mv "$OUT/$ctl.tmp" "$OUT/$ctl"
  cd "$work" || exit 1
}
