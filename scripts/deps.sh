#!/bin/sh
# Installs the Debian packages the build and tests need, only those missing.
set -e
PKGS="build-essential clang libclang-rt-14-dev pkg-config libxxhash-dev libzip-dev zlib1g-dev libcjson-dev zip unzip valgrind"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing" >&2
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq $missing >/dev/null
