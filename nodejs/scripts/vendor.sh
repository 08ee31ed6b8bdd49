#!/bin/sh
# prepack: copies libzippy's sources (../include, ../src) into deps/zippy so
# the npm tarball builds on its own (scripts/build.sh looks there first).
set -eu
cd "$(dirname "$0")/.."
[ -f ../include/zippy.h ] || { echo "vendor: not inside the zippy repository" >&2; exit 1; }
rm -rf deps/zippy
mkdir -p deps/zippy/include deps/zippy/src
cp ../include/zippy.h deps/zippy/include/
cp ../src/*.c ../src/*.h deps/zippy/src/
