#!/bin/sh
# Installs the Debian packages the build and tests need, only those missing.
# Usage: scripts/deps.sh [python] [node]  (extra groups for the front ends)
set -e
PKGS="build-essential clang libclang-rt-14-dev pkg-config libxxhash-dev libzip-dev zlib1g-dev libcjson-dev zip unzip valgrind git"
for g in "$@"; do
    case $g in
    python) PKGS="$PKGS python3-dev python3-venv python3-setuptools python3-wheel python3-pip python3-pytest python3-numpy python3-pandas python3-torch python3-hypothesis" ;;
    node) # This machine kind ships Node.js (with npm and headers); only a
          # machine without it gets Debian's.
          if ! command -v node >/dev/null || ! command -v npm >/dev/null || [ ! -f /usr/include/node/node_api.h ]; then
              PKGS="$PKGS nodejs npm libnode-dev"
          fi ;;
    *) echo "deps: unknown group $g" >&2; exit 2 ;;
    esac
done
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
