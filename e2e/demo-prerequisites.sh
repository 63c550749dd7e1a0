#!/bin/sh
# Installs the Debian packages `make demo` needs when they are missing (the Go toolchain must be there already).
set -eu
missing=""
for pkg in git openssl dash mosquitto; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  echo "installing Debian packages:$missing"
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
command -v go >/dev/null 2>&1 || PATH="$PATH:/usr/local/go/bin"
command -v go >/dev/null 2>&1 || { echo "make demo: the Go toolchain is needed once, to build etcd and kube-apiserver" >&2; exit 1; }
