#!/bin/bash
# Runs the test suites and prints one closing line "N passed, N failed".
# Usage: scripts/run_tests.sh [unit] [fuzz] [cli] [crash] [python] [node]
# (no argument: all). BUILD=build/asan selects the sanitizer build;
# VALGRIND=1 runs unit tests under valgrind; ZIPPY_QUICK=1 shortens the
# long-running tests.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
SUITES=${*:-unit fuzz cli crash python node}
passed=0; failed=0; failures=""
log=$(mktemp)

count() { # name, output file, exit code
    local p f
    p=$(grep -c '^PASS ' "$2" || true)
    f=$(grep -c '^FAIL ' "$2" || true)
    if [ "$3" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; echo "FAIL $1: exit code $3" >> "$2"; fi
    passed=$((passed + p)); failed=$((failed + f))
    if [ "$f" -ne 0 ]; then failures="$failures $1"; grep '^FAIL ' "$2" | head -20; tail -5 "$2"; fi
    printf '%-28s %4d passed %4d failed\n' "$1" "$p" "$f"
}

for s in $SUITES; do
case $s in
unit)
    for t in "$BUILD"/tests/test_*; do
        [ -x "$t" ] || continue
        if [ "${VALGRIND:-0}" = 1 ]; then
            valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite "$t" > "$log" 2>&1
        else
            "$t" > "$log" 2>&1
        fi
        count "$(basename "$t")" "$log" $?
    done ;;
fuzz)
    for t in "$BUILD"/fuzz/fuzz_*; do
        [ -x "$t" ] || continue
        n=$(basename "$t")
        if [ -d "fuzz/corpus/$n" ]; then
            "$t" "fuzz/corpus/$n" > "$log" 2>&1; rc=$?
            [ $rc -eq 0 ] && echo "PASS $n corpus" >> "$log"
        else
            echo "FAIL $n: no corpus in fuzz/corpus/$n" > "$log"; rc=1
        fi
        count "$n" "$log" $rc
    done ;;
cli)
    if [ -x tests/cli/run.sh ]; then
        ZIPPY="$PWD/$BUILD/zippy" tests/cli/run.sh > "$log" 2>&1
        count cli "$log" $?
    fi ;;
crash)
    for t in "$BUILD"/tests/crash_*; do
        [ -x "$t" ] || continue
        "$t" > "$log" 2>&1
        count "$(basename "$t")" "$log" $?
    done ;;
python)
    if [ -x scripts/test_python.sh ]; then
        scripts/test_python.sh > "$log" 2>&1
        count python "$log" $?
    fi ;;
node)
    if [ -x scripts/test_node.sh ]; then
        scripts/test_node.sh > "$log" 2>&1
        count node "$log" $?
    fi ;;
esac
done
rm -f "$log"
[ -n "$failures" ] && echo "failing:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
