#!/bin/sh
# fuzz.sh - coverage-guided fuzzing of one target with libFuzzer (clang).
#
#   scripts/fuzz.sh [TARGET] [SECONDS]     e.g. scripts/fuzz.sh fuzz_json 60
#   (make fuzz T=fuzz_json S=60)
#
# Builds fuzz/TARGET.c with the library under -fsanitize=fuzzer,address,
# undefined into build/libfuzzer/, then fuzzes for SECONDS (default 60)
# starting from fuzz/corpus/TARGET. New inputs go to build/libfuzzer/
# corpus-TARGET (copy the interesting ones into fuzz/corpus/ by hand);
# crashes to fuzz/crashes/. With no TARGET every fuzz/fuzz_*.c runs in turn.
set -eu
cd "$(dirname "$0")/.."
S=${2:-60}
OUT=build/libfuzzer
mkdir -p "$OUT" fuzz/crashes
FLAGS="-std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer -Iinclude -Isrc -pthread"
if [ $# -ge 1 ] && [ -n "$1" ]; then targets=$1; else targets=$(ls fuzz/fuzz_*.c | sed 's|fuzz/||; s|\.c$||'); fi
for t in $targets; do
    [ -f "fuzz/$t.c" ] || { echo "fuzz: no fuzz/$t.c" >&2; exit 2; }
    echo "fuzz: building $t"
    clang $FLAGS -o "$OUT/$t" "fuzz/$t.c" src/*.c -lxxhash -lzip -lz -lpthread
    mkdir -p "$OUT/corpus-$t"
    echo "fuzz: running $t for ${S}s"
    "$OUT/$t" -max_total_time="$S" -artifact_prefix="fuzz/crashes/$t-" "$OUT/corpus-$t" "fuzz/corpus/$t"
done
