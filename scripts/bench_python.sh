#!/bin/sh
# Python bindings against sqlite3 + json (see bench/bench_python.py).
# Usage: scripts/bench_python.sh [N]
set -e
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || scripts/python_env.sh
exec .venv/bin/python bench/bench_python.py "$@"
