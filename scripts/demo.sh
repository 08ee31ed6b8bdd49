#!/bin/bash
# A guided tour of the zippy command-line tool (run by `make demo`).
#
# Works in a temporary directory on data/sample.jsonl (1100 generated user
# profiles: nested objects, arrays, numbers, booleans, nulls, UTF-8 names).
# Every command is printed before it runs. Env: ZIPPY (the binary, default
# build/zippy), BUILD (build directory), KEEP=1 keeps the directory.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
ZIPPY=${ZIPPY:-$top/${BUILD:-build}/zippy}
case $ZIPPY in /*) ;; *) ZIPPY=$top/$ZIPPY ;; esac
if [ ! -x "$ZIPPY" ]; then
    echo "demo: no zippy binary at $ZIPPY (run make cli first)" >&2
    exit 1
fi
zippy() { "$ZIPPY" "$@"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/zippy-demo.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then
    echo "demo: working in $work (kept)"
else
    trap 'rm -rf "$work"' EXIT
fi
cp "$top/data/sample.jsonl" "$work/users.jsonl"
cd "$work"

# Each line of the tour: "# text" is a heading, anything else a command
# that is echoed and then run.
bold=; plain=
if [ -t 1 ]; then bold=$'\033[1m'; plain=$'\033[0m'; fi
tour() {
    local line
    while IFS= read -r line; do
        case $line in
        '') ;;
        '#'*) printf '\n%s== %s ==%s\n' "$bold" "${line#\# }" "$plain" ;;
        *) printf '$ %s\n' "$line"; eval "$line" ;;
        esac
    done
}

tour <<'TOUR'
# zippy: a human-readable JSON document store
zippy version
head -n 1 users.jsonl
wc -l users.jsonl

# Create a store with a collection, then load the JSONL file into it
zippy init ./store -c users --name "Sample users" --description "1100 generated user profiles"
zippy import ./store -c users users.jsonl
zippy list ./store

# Read one document (pretty-printed)
zippy get ./store -c users user_0042 --pretty

# Query: a filter with a dot path, a projection, a limit
zippy scan ./store -c users --where '{"age":{"$gt":60},"address.country":"US"}' --fields name,age,address.city --limit 5
zippy scan ./store -c users -w '{"plan":{"$in":["team","enterprise"]},"active":true,"tags":"vip"}' -f name,plan,tags -l 3
zippy scan ./store -c users -w '{"orders.sku":"SKU-422"}' --ids-only --limit 4

# Write: put (replaces), delete, count, exists
zippy put ./store -c users user_0042 '{"name":"Renamed User","age":43,"tags":["demo"]}'
zippy get ./store -c users user_0042
zippy delete ./store -c users user_0001
zippy exists ./store -c users user_0001 || echo "user_0001 is gone (exit $?)"
zippy count ./store -c users

# Files on disk are plain text: one JSON line per write
find store -type f | sort
tail -n 2 store/collections/users/meta/data.jsonl

# Statistics, then compaction drops the replaced and deleted lines
zippy stats ./store -c users
zippy compact ./store -c users
zippy stats ./store -c users --json

# Pack the store into one ZIP archive, unpack it elsewhere, verify it
zippy pack ./store ./store.zds --deflate
unzip -l store.zds | tail -n 1
zippy unpack ./store.zds ./restored
zippy verify ./restored
zippy export ./restored -c users > restored.jsonl
zippy export ./store -c users | cmp - restored.jsonl && echo "restored copy is identical"
wc -l restored.jsonl

# Or open the archive in place, read-only: nothing is extracted
zippy count ./store.zds -c users
zippy scan ./store.zds -c users -w '{"age":{"$gte":70}}' -f name,age -l 3
zippy put ./store.zds -c users someone '{"a":1}' || echo "an archive opened in place is read-only (exit $?)"

# Strict collections: the first document fixes the schema of all others
zippy init ./store -c points --strict
zippy put ./store -c points p1 '{"x":1,"y":2,"label":"a"}'
zippy put ./store -c points p2 '{"x":3,"y":"four"}' || echo "refused (exit $?)"

# One pretty JSON file per document (for git and hand editing), converted in place
zippy convert ./store -c points --to files
cat store/collections/points/docs/p1.json
echo '{"x": 5, "y": 6, "label": "hand-written"}' > store/collections/points/docs/p3.json
zippy scan ./store -c points
TOUR
printf '\ndemo: done\n'
