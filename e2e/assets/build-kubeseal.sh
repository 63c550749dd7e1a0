#!/bin/sh
# Builds the upstream `kubeseal` CLI from its pinned Go module, into a cache outside the checkout, so graft's tests
# and benchmark can check graft's sealing against it. Prints the directory holding the binary.
#
# Honours KUBESEAL_BIN (a kubeseal executable to use instead of building one) and GRAFT_CACHE.
# First run: downloads modules and compiles (a few minutes on 2 cores); later runs return at once.
set -eu
NAME=build-kubeseal
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

KUBESEAL_VERSION=${KUBESEAL_VERSION:-v0.40.0}
PUBLISHED_AT=github.com/bitnami-labs/sealed-secrets
MODULE_PATH=github.com/bitnami/sealed-secrets
OUT="$CACHE/kubeseal-$KUBESEAL_VERSION"

if [ -n "${KUBESEAL_BIN:-}" ]; then
  [ -x "$KUBESEAL_BIN" ] || { echo "build-kubeseal: KUBESEAL_BIN '$KUBESEAL_BIN' is not an executable file" >&2; exit 1; }
  dirname "$KUBESEAL_BIN"; exit 0
fi
if [ -x "$OUT/kubeseal" ]; then
  echo "$OUT"; exit 0
fi

prepare_build "kubeseal"

log "building kubeseal $KUBESEAL_VERSION"
cd "$work"
go mod init graft.local/kubeseal-build >/dev/null 2>&1
# Since v0.28 the module declares its path as github.com/bitnami/sealed-secrets while it is still published under
# github.com/bitnami-labs/sealed-secrets: require the declared path and point it at the published one.
go mod edit -require "$MODULE_PATH@$KUBESEAL_VERSION" -replace "$MODULE_PATH=$PUBLISHED_AT@$KUBESEAL_VERSION"
cat > tools.go <<'GO'
//go:build tools

package tools

import _ "github.com/bitnami/sealed-secrets/cmd/kubeseal"
GO
go mod tidy >&2
# kubeseal reports the version it was built from (`kubeseal --version`) from this variable.
go build -trimpath -ldflags "-s -w -X main.VERSION=$KUBESEAL_VERSION" -o "$OUT/kubeseal.tmp" "$MODULE_PATH/cmd/kubeseal" >&2
mv "$OUT/kubeseal.tmp" "$OUT/kubeseal"
log "done in $(( $(date +%s) - start ))s"
echo "$OUT"
