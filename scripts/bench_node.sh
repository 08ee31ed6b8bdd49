#!/bin/sh
# Node benchmark (not a test): @zippydata/core against better-sqlite3 on
# N documents of ~180 bytes, median of RUNS runs (nodejs/bench/bench.js).
# Installs better-sqlite3 from npm into nodejs/bench/node_modules when it is
# missing; its install compiles the bundled SQLite with node-gyp against
# the local headers (npm_config_nodedir=/usr: nothing downloaded).
# Usage: scripts/bench_node.sh [N] [RUNS]
set -e
cd "$(dirname "$0")/.."
[ -f nodejs/build/zippy.node ] || sh scripts/node_build.sh
if ! (cd nodejs/bench && node -e "require('better-sqlite3')" 2>/dev/null); then
    echo "bench_node: installing better-sqlite3 into nodejs/bench/node_modules (compiles SQLite, ~2 min)"
    nodedir=$(node -p 'require("path").resolve(process.execPath, "../..")')
    (cd nodejs/bench && npm_config_nodedir="$nodedir" npm install --no-audit --no-fund --no-save better-sqlite3 >/dev/null)
fi
exec node nodejs/bench/bench.js "${1:-100000}" "${2:-3}"
