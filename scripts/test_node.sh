#!/bin/bash
# The Node package's tests: `node --test nodejs/test/` (TAP converted to one
# line per test: "PASS name", "FAIL name", or "SKIP name: reason"), then
# the TypeScript declarations checked by tsc as one more PASS/FAIL line.
# Exit status non-zero if anything failed. Builds the addon if missing.
# typescript and @types/node (devDependencies) are installed from npm into
# nodejs/node_modules when missing (--ignore-scripts: the addon is built here).
set -u
cd "$(dirname "$0")/.."
if [ ! -f nodejs/build/zippy.node ]; then
    sh scripts/node_build.sh || { echo "FAIL build: scripts/node_build.sh"; exit 1; }
fi

tap=$(mktemp)
trap 'rm -f "$tap"' EXIT
# The *.test.js files (node --test on the directory would also run helpers.js).
node --test --test-reporter=tap nodejs/test/*.test.js > "$tap" 2>&1
rc=$?
# Top-level results only (subtests are indented).
awk '
/^ok [0-9]+ - / {
    line = $0; sub(/^ok [0-9]+ - /, "", line)
    if (line ~ / # SKIP/) { reason = line; sub(/.* # SKIP ?/, "", reason); sub(/ # SKIP.*/, "", line); print "SKIP " line ": " reason }
    else print "PASS " line
    next
}
/^not ok [0-9]+ - / { line = $0; sub(/^not ok [0-9]+ - /, "", line); sub(/ # .*/, "", line); print "FAIL " line; next }
' "$tap"
failed=$(grep -c '^not ok ' "$tap" || true)
if [ "$rc" -ne 0 ] || [ "$failed" -ne 0 ]; then
    echo "--- node --test output (failures) ---"
    grep -A30 '^not ok ' "$tap" | head -200
    [ "$failed" -eq 0 ] && { tail -20 "$tap"; echo "FAIL node --test: exit code $rc"; }
fi

# TypeScript declarations.
tsc=nodejs/node_modules/.bin/tsc
if [ ! -x "$tsc" ] || [ ! -d nodejs/node_modules/@types/node ]; then
    (cd nodejs && npm install --no-audit --no-fund --ignore-scripts --no-save >/dev/null 2>&1 \
        || npm install --no-audit --no-fund --ignore-scripts --no-save)
fi
if [ -x "$tsc" ] && out=$("$tsc" -p nodejs/tsconfig.json 2>&1); then
    echo "PASS typescript declarations (tsc -p nodejs/tsconfig.json)"
else
    echo "${out:-tsc could not be installed from npm}"
    echo "FAIL typescript declarations (tsc -p nodejs/tsconfig.json)"
    rc=1
fi
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
