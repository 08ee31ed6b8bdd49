# Helpers sourced by every CLI test case (see run.sh). A case runs in a
# fresh empty directory; its stdout is compared with NAME.out.

# The binary under test, optionally under valgrind (ZIPPY_VALGRIND=1: any
# memory error or definite leak turns into exit status 99).
zippy() {
    if [ "${ZIPPY_VALGRIND:-0}" = 1 ]; then
        valgrind -q --error-exitcode=99 --leak-check=full \
            --errors-for-leak-kinds=definite "$ZIPPY" "$@"
    else
        "$ZIPPY" "$@"
    fi
}

# x CMD...: runs CMD with its stderr saved in ./err; stdout passes through.
# Prints "[exit N]" when the status is not 0.
x() {
    "$@" 2> err
    local rc=$?
    [ $rc -ne 0 ] && echo "[exit $rc]"
    return 0
}

# has TEXT...: each TEXT (a fixed string) appears in the last x's stderr.
has() {
    local t
    for t in "$@"; do
        if grep -qF -- "$t" err; then
            echo "stderr has: $t"
        else
            echo "stderr LACKS: $t; stderr was: $(head -c 400 err)"
        fi
    done
}

# hasnt TEXT: the last x's stderr does not contain TEXT.
hasnt() {
    if grep -qF -- "$1" err; then
        echo "stderr HAS UNWANTED: $1; stderr was: $(head -c 400 err)"
    else
        echo "stderr has no: $1"
    fi
}

# noerr: the last x's stderr is empty.
noerr() {
    if [ -s err ]; then echo "stderr NOT EMPTY: $(head -c 400 err)"; else echo "stderr empty"; fi
}

# sums DIR: names and checksums of every file under DIR, sorted.
sums() {
    (cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
}

# section TITLE: a heading in the output, to keep .out files readable.
section() { echo "## $*"; }
