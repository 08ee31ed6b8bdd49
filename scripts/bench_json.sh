#!/bin/bash
# Builds and runs the JSON benchmark (bench/bench_json.c) against cJSON.
# Usage: scripts/bench_json.sh [N]   (N records, default 100000)
# Needs libcjson-dev. Not a test: it only prints throughput numbers.
set -eu
cd "$(dirname "$0")/.."
make --no-print-directory lib >/dev/null
cc -O2 -std=c11 -D_GNU_SOURCE -Iinclude -Isrc bench/bench_json.c build/libzippy.a \
   -lxxhash -lzip -lz -lcjson -lpthread -o build/bench_json
exec build/bench_json "$@"
