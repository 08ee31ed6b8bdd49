#!/bin/bash
# Runs the Python test suite (python/tests) in .venv and prints one line per
# test: "PASS <nodeid>", "FAIL <nodeid>" or "SKIP <nodeid>: <reason>"
# (written by python/tests/conftest.py), then pytest's output. Exits
# non-zero if a test failed or none ran. Extra arguments go to pytest.
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || scripts/python_env.sh >&2 || exit 1
report=$(mktemp)
out=$(mktemp)
hyp=$(mktemp -d)
trap 'rm -rf "$report" "$out" "$hyp"' EXIT
# HYPOTHESIS_STORAGE_DIRECTORY: no .hypothesis/ left in the working tree
HYPOTHESIS_STORAGE_DIRECTORY=$hyp ZIPPY_PYTEST_REPORT=$report .venv/bin/python -m pytest -q -rs -p no:cacheprovider python/tests "$@" > "$out" 2>&1
rc=$?
cat "$report"
# pytest's output (failures, summary) without the lines of progress dots
grep -v -E '^[.sSxXFE]+ *(\[ *[0-9]+%\])?$' "$out"
if [ $rc -ne 0 ] && ! grep -q '^FAIL ' "$report"; then
    echo "FAIL python/tests: pytest exited with status $rc"
fi
exit $rc
