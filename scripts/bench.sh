#!/usr/bin/env bash
# bench.sh - the benchmarks behind `make bench` (see docs/BENCH.md).
#
#   scripts/bench.sh            N=100k: a few minutes
#   BENCH_1M=1 scripts/bench.sh also N=1,000,000 (both bench_zippy and the anchors)
#
# 1. bench/bench_zippy.c over the public API (built here against
#    $BUILD/libzippy.a): writes, put_jsonl, cold/warm gets, scans.
# 2. scripts/bench_json.sh, if present (JSON parser against cJSON).
# 3. scripts/bench_anchors.sh: zippy next to raw files, LMDB, SQLite,
#    LevelDB and RocksDB in one run of ../shared/anchors-bench.
# 4. scripts/bench_python.sh: the Python package against sqlite3 + json.
# 5. scripts/bench_node.sh: the Node package against better-sqlite3.
# Environment: BUILD (default build), CC, BENCH_RUNS (bench_zippy runs per
# N; default 5 at 100k, 3 at 1M), ANCHORS_RUNS and the other variables of
# scripts/bench_anchors.sh. The whole output is also saved to
# $BUILD/bench/bench-<date>.log.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
CC=${CC:-cc}
OUT=$BUILD/bench
mkdir -p "$OUT"
STAMP=$(date +%Y%m%d-%H%M%S)
LOG=$OUT/bench-$STAMP.log
failed=""

run_all() {
    echo "# zippy benchmarks, $(date -Is)"
    echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') x $(nproc), kernel $(uname -r)"
    echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet 2>/dev/null || echo ' (dirty tree)')"
    echo "loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg)"

    echo
    echo "## 1. bench_zippy (public API)"
    if make -s BUILD="$BUILD" lib >/dev/null &&
        $CC -O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Iinclude -o "$OUT/bench_zippy" \
            bench/bench_zippy.c "$BUILD/libzippy.a" -lxxhash -lzip -lz -lpthread; then
        args=(--dir "$BUILD/bench-data" --tsv "$OUT/bench_zippy-$STAMP.tsv")
        [ "${BENCH_1M:-0}" = 1 ] && args+=(--1m)
        [ -n "${BENCH_RUNS:-}" ] && args+=(-r "$BENCH_RUNS")
        "$OUT/bench_zippy" "${args[@]}" || failed="$failed bench_zippy"
    else
        failed="$failed bench_zippy(build)"
    fi

    echo
    echo "## 2. JSON parser"
    if [ -x scripts/bench_json.sh ]; then
        scripts/bench_json.sh || failed="$failed bench_json"
    else
        echo "(scripts/bench_json.sh not present: skipped)"
    fi

    echo
    echo "## 3. Side by side with the anchor stores"
    scripts/bench_anchors.sh || failed="$failed bench_anchors"

    echo
    echo "## 4. Python package against sqlite3 + json"
    if [ -x scripts/bench_python.sh ]; then
        scripts/bench_python.sh || failed="$failed bench_python"
    else
        echo "(scripts/bench_python.sh not present: skipped)"
    fi

    echo
    echo "## 5. Node.js package against better-sqlite3"
    if [ -x scripts/bench_node.sh ]; then
        scripts/bench_node.sh || failed="$failed bench_node"
    else
        echo "(scripts/bench_node.sh not present: skipped)"
    fi

    echo
    echo "loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg)"
    if [ -n "$failed" ]; then
        echo "bench: FAILED:$failed"
        return 1
    fi
    echo "bench: done"
}

run_all 2>&1 | tee "$LOG"
rc=${PIPESTATUS[0]}
echo "log: $LOG"
exit "$rc"
