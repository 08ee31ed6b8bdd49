#!/bin/sh
# Builds the addon build/zippy.node of @zippydata/core from source.
#
# Run from anywhere (npm's "install" script runs it in the package dir).
# libzippy comes from, in order:
#   1. $ZIPPY_HOME (a zippy source tree: include/, src/, maybe build/)
#   2. ./deps/zippy (the sources bundled into the npm tarball by prepack)
#   3. .. (the package inside the zippy repository)
# If that tree holds build/libzippy_pic.a (made by `make lib`) newer than
# its sources, the addon links it; otherwise the library's sources are
# compiled together with the addon. Only a C compiler, Node's headers and
# the libraries libxxhash, libzip and zlib (Debian: libxxhash-dev
# libzip-dev zlib1g-dev) are needed: no node-gyp, no download.
set -eu
cd "$(dirname "$0")/.."
PKG=$(pwd)
CC=${CC:-cc}

if [ -n "${ZIPPY_HOME:-}" ]; then Z=$ZIPPY_HOME
elif [ -f deps/zippy/include/zippy.h ]; then Z=$PKG/deps/zippy
elif [ -f ../include/zippy.h ]; then Z=$(cd .. && pwd)
else echo "zippy: cannot find the libzippy sources (set ZIPPY_HOME)" >&2; exit 1
fi

# Node's headers: next to the running node (/usr/bin/node -> /usr/include/node),
# or $NODE_INCLUDE.
NODE=${NODE:-node}
NODE_INCLUDE=${NODE_INCLUDE:-$("$NODE" -p 'require("path").resolve(process.execPath, "../../include/node")')}
if [ ! -f "$NODE_INCLUDE/node_api.h" ]; then
    echo "zippy: node_api.h not found in $NODE_INCLUDE (set NODE_INCLUDE; Debian: apt-get install libnode-dev)" >&2
    exit 1
fi

LIBS="-lxxhash -lzip -lz -lpthread -Wl,--version-script=src/exports.map"
CFLAGS="-std=c11 -O2 -fPIC -fvisibility=hidden -Wall -Wextra -Wno-unused-parameter -Wno-format-truncation ${ZIPPY_CFLAGS:-}"
ARCHIVE=$Z/build/libzippy_pic.a
use_archive=0
if [ -f "$ARCHIVE" ] && [ -z "${ZIPPY_FROM_SOURCE:-}" ]; then
    use_archive=1
    for f in "$Z"/src/*.c "$Z"/src/*.h "$Z"/include/zippy.h; do
        [ -e "$f" ] || continue
        if [ "$f" -nt "$ARCHIVE" ]; then use_archive=0; break; fi
    done
fi

mkdir -p build
OUT=build/zippy.node
TMP=build/.zippy.node.$$
trap 'rm -f "$TMP"' EXIT
if [ $use_archive = 1 ]; then
    echo "zippy: building $PKG/$OUT (linking $ARCHIVE)"
    $CC $CFLAGS -I"$NODE_INCLUDE" -I"$Z/include" -shared -o "$TMP" src/*.c "$ARCHIVE" $LIBS
else
    echo "zippy: building $PKG/$OUT (compiling libzippy from $Z/src)"
    # The library's own flags (see its Makefile): _GNU_SOURCE and its src/.
    $CC $CFLAGS -D_GNU_SOURCE -pthread -I"$NODE_INCLUDE" -I"$Z/include" -I"$Z/src" -shared \
        -o "$TMP" src/*.c "$Z"/src/*.c $LIBS
fi
mv -f "$TMP" "$OUT"
trap - EXIT
