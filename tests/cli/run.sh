#!/bin/bash
# CLI expected-output tests (in the style of zstd's tests/cli-tests).
#
# Each case is tests/cli/cases/NAME.sh: a bash script run in a fresh empty
# directory with tests/cli/lib.sh sourced first (helpers: zippy, x, has,
# sums, ...). Its stdout must equal tests/cli/cases/NAME.out exactly
# (compared with diff) and its exit status must equal the number in
# NAME.exit (0 when that file is absent).
#
# Usage: ZIPPY=build/zippy tests/cli/run.sh [NAME...]
#        tests/cli/run.sh --update NAME...   rewrite NAME.out from a run
#                                            (review the diff before committing!)
# Env:   ZIPPY           the binary (default: build/zippy)
#        ZIPPY_VALGRIND=1 run every zippy invocation under valgrind
# Prints "PASS name" or "FAIL name: details" per case; exits 1 on a failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
ZIPPY=${ZIPPY:-$here/../../build/zippy}
case $ZIPPY in /*) ;; *) ZIPPY=$PWD/$ZIPPY ;; esac
if [ ! -x "$ZIPPY" ]; then
    echo "FAIL setup: no zippy binary at $ZIPPY (make cli)"
    exit 1
fi
export ZIPPY CLI_TESTS="$here" LC_ALL=C TZ=UTC
unset NO_COLOR

update=0
if [ "${1:-}" = "--update" ]; then update=1; shift; fi
if [ $# -gt 0 ]; then
    cases=()
    for n in "$@"; do cases+=("$here/cases/${n%.sh}.sh"); done
else
    cases=("$here"/cases/*.sh)
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/zippy-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failed=0
for t in "${cases[@]}"; do
    name=$(basename "$t" .sh)
    if [ ! -f "$t" ]; then
        echo "FAIL $name: no such case $t"; failed=1; continue
    fi
    work="$tmp/$name"
    mkdir -p "$work/run"
    (cd "$work/run" && exec bash -c '. "$1"; . "$2"' case "$here/lib.sh" "$t") \
        > "$work/stdout" 2> "$work/stderr" < /dev/null
    rc=$?
    want_rc=0
    [ -f "${t%.sh}.exit" ] && want_rc=$(tr -d ' \n' < "${t%.sh}.exit")
    if [ $update = 1 ]; then
        cp "$work/stdout" "${t%.sh}.out"
        echo "updated $name (exit $rc)"
        continue
    fi
    if [ ! -f "${t%.sh}.out" ]; then
        echo "FAIL $name: missing expected output ${t%.sh}.out"; failed=1; continue
    fi
    if ! diff -u "${t%.sh}.out" "$work/stdout" > "$work/diff"; then
        echo "FAIL $name: stdout differs from $name.out:"
        head -40 "$work/diff" | sed 's/^/    /'
        echo "    --- stderr (last lines):"
        tail -8 "$work/stderr" | sed 's/^/    /'
        failed=1
    elif [ "$rc" != "$want_rc" ]; then
        echo "FAIL $name: exit status $rc, expected $want_rc"
        tail -8 "$work/stderr" | sed 's/^/    /'
        failed=1
    else
        echo "PASS $name"
    fi
done
exit $failed
