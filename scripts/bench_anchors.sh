#!/usr/bin/env bash
# bench_anchors.sh - zippy side by side with the anchor stores (raw files,
# LMDB, SQLite, LevelDB, RocksDB) in one run of the anchors harness.
#
#   scripts/bench_anchors.sh [extra run_all.sh options]
#
# Copies ../shared/anchors-bench (next to the repository) into
# build/anchors/, adds bench/anchors/be_zippy.c as the "zippy" backend,
# patches the copy's zbench.c and Makefile (the shared tree is never
# modified), links build/libzippy.a and runs the harness's run_all.sh with
# the systems interleaved inside every run. Prints the harness's tables,
# then zippy against LMDB on the targets (docs/BENCH.md).
#
# Environment:
#   ANCHORS_DIR       harness location (default <repo>/../shared/anchors-bench)
#   ANCHORS_RUNS      repetitions (default 3; the harness's own default is 5)
#   ANCHORS_SYSTEMS   default "raw-idx lmdb sqlite-wal leveldb rocksdb zippy"
#   ANCHORS_MICRO=1   also run the parse/memory/disk micro-benchmarks
#   BENCH_1M=1        also N=1,000,000 (run_all.sh --1m)
#   OPT               passed to the harness's make (default -O2 -march=native)
#   BUILD             our build directory (default build), as for make
# shellcheck disable=SC2016 # the $(...) in single quotes are make variables
set -euo pipefail

ROOT=$(git -C "$(dirname "$0")" rev-parse --show-toplevel 2>/dev/null || (cd "$(dirname "$0")/.." && pwd))
cd "$ROOT"
SRC=${ANCHORS_DIR:-$ROOT/../shared/anchors-bench}
DEST=$ROOT/build/anchors
RUNS=${ANCHORS_RUNS:-3}
SYSTEMS=${ANCHORS_SYSTEMS:-"raw-idx lmdb sqlite-wal leveldb rocksdb zippy"}

if [ ! -f "$SRC/run_all.sh" ] || [ ! -f "$SRC/src/zbench.c" ]; then
    echo "bench_anchors: no anchors harness at $SRC; skipping the side-by-side run" >&2
    exit 0
fi

# --- Debian packages the harness links against (install only missing ones)
PKGS="libsqlite3-dev liblmdb-dev libleveldb-dev librocksdb-dev libsimdjson-dev libcjson-dev libjansson-dev"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "bench_anchors: installing$missing" >&2
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086 # one word per package
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
fi

# --- our library (a no-op when `make bench` already built it)
ZBUILD=${BUILD:-build}
unset BUILD # the harness's Makefile reads BUILD too
make -s BUILD="$ZBUILD" lib >/dev/null
case $ZBUILD in /*) LIB=$ZBUILD/libzippy.a ;; *) LIB=$ROOT/$ZBUILD/libzippy.a ;; esac
[ -f "$LIB" ] || { echo "bench_anchors: $LIB missing" >&2; exit 1; }

# --- fresh copy of the harness (earlier results/ are kept)
mkdir -p "$DEST"
find "$DEST" -mindepth 1 -maxdepth 1 ! -name results -exec rm -rf {} +
cp -R "$SRC/." "$DEST/"
chmod -R u+w "$DEST"
rm -rf "$DEST/build" "$DEST/data"
cp bench/anchors/be_zippy.c "$DEST/src/be_zippy.c"

# --- patch the copy: register the backend, compile and link it
Z=$DEST/src/zbench.c
M=$DEST/Makefile
sed -i 's|^#include "sj.h"$|&\nextern const zb_backend zb_backend_zippy; /* added by zippy scripts/bench_anchors.sh */|' "$Z"
sed -i 's|&zb_backend_rocksdb,|&\n    \&zb_backend_zippy,|' "$Z"
sed -i "s|^BUILD    ?= build\$|&\nZIPPY_INC = $ROOT/include\nZIPPY_LIB = $LIB\nCFLAGS   += -I\$(ZIPPY_INC)|" "$M"
sed -i 's|\$(BUILD)/be_rocksdb.o$|& $(BUILD)/be_zippy.o|' "$M"
sed -i 's|^\(\$(BUILD)/zbench: .*\)$|\1 $(ZIPPY_LIB)|' "$M"
sed -i 's|-lcjson -lsimdjson$|& -lxxhash -lzip -lz -lpthread|' "$M"
# the patches must all have applied (the harness may have changed)
ok=1
grep -q '^extern const zb_backend zb_backend_zippy;' "$Z" || ok=0
grep -q '^    &zb_backend_zippy,' "$Z" || ok=0
grep -q '^ZIPPY_LIB = ' "$M" || ok=0
grep -q 'be_rocksdb.o $(BUILD)/be_zippy.o$' "$M" || ok=0
grep -q '^$(BUILD)/zbench: .* $(ZIPPY_LIB)$' "$M" || ok=0
grep -q -- '-lsimdjson -lxxhash -lzip -lz -lpthread$' "$M" || ok=0
if [ "$ok" != 1 ]; then
    echo "bench_anchors: patching $DEST failed (did the harness change?)" >&2
    exit 1
fi

# --- build first, so compile errors are shown (run_all.sh builds silently)
make -C "$DEST" -s ${OPT:+OPT="$OPT"} >/dev/null

args=(-r "$RUNS" --systems "$SYSTEMS")
[ "${ANCHORS_MICRO:-0}" = 1 ] || args+=(--no-micro)
[ "${BENCH_1M:-0}" = 1 ] && args+=(--1m)
echo "bench_anchors: run_all.sh ${args[*]} $*" >&2
out=$(mktemp)
"$DEST/run_all.sh" "${args[@]}" "$@" | tee "$out"
RAW=$(sed -n 's|^raw results: *||p' "$out" | tail -1)
rm -f "$out"
[ -n "$RAW" ] || { echo "bench_anchors: run_all.sh printed no results file" >&2; exit 1; }
RAW=$DEST/$RAW

# --- zippy against LMDB on the targets, from the raw results just written
echo
echo "### zippy vs LMDB on the targets (medians, records/s; from $(basename "$RAW"))"
echo
echo "| N | target | zippy | lmdb | zippy / lmdb | met? |"
echo "|---:|---|---:|---:|---:|---|"
awk -F'\t' '$1 == "R" && $7 > 0 && $5 > 0 { printf "%s\t%s\t%s\t%.3f\n", $2, $3, $4, $5 / $7 }' "$RAW" |
    sort -t"$(printf '\t')" -k1,1 -k2,2 -k3,3n -k4,4g |
    awk -F'\t' '
    function flush() {
        if (key != "") { m = (cnt % 2) ? v[(cnt + 1) / 2] : (v[cnt / 2] + v[cnt / 2 + 1]) / 2; med[key] = m }
    }
    { k = $1 SUBSEP $2 SUBSEP $3
      if (k != key) { flush(); key = k; cnt = 0 }
      v[++cnt] = $4; ns[$3] = 1 }
    END {
        flush()
        split("write_durable get_warm get_cold", ops, " ")
        label["write_durable"] = "durable bulk write"
        label["get_warm"] = "warm random get"
        label["get_cold"] = "cold open + 10k gets"
        for (n in ns) for (i = 1; i <= 3; i++) {
            z = med["zippy" SUBSEP ops[i] SUBSEP n]; l = med["lmdb" SUBSEP ops[i] SUBSEP n]
            if (z == "" || l == "") continue
            printf "| %s | %s | %.0f | %.0f | %.2f | %s |\n", n, label[ops[i]], z, l, z / l, (z >= l ? "yes" : "NO")
            rows++
        }
        if (!rows) print "| – | (needs both zippy and lmdb in the systems) | – | – | – | – |"
    }' | sort -t'|' -k2,2n
echo
echo "Noise: the VM is shared; treat differences under ~30% on writes as noise unless they"
echo "reproduce (see the Noise section of $SRC/README.md). Raw results: $RAW"
