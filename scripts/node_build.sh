#!/bin/sh
# `make node`: builds the Node addon nodejs/build/zippy.node against
# build/libzippy_pic.a (made by `make lib`), so `require('./nodejs')` works
# from the repository root. The package's own build script does the work
# (it is also what `npm install` runs inside nodejs/).
set -e
cd "$(dirname "$0")/.."
exec sh nodejs/scripts/build.sh
