#!/bin/sh
# Creates .venv (with the system site packages: pytest, numpy, pandas, torch
# from Debian) and installs the zippy package into it, editable, offline.
# Idempotent: reinstalls only when the extension's sources are newer than
# the built module. Run by `make python`.
set -e
cd "$(dirname "$0")/.."
scripts/deps.sh python
# (the python group includes setuptools and wheel: the editable install
# builds a PEP 660 wheel, and python3-venv does not pull them in)
PY=/usr/bin/python3
if [ ! -x .venv/bin/python ]; then
    echo "python: creating .venv" >&2
    "$PY" -m venv --system-site-packages .venv
fi
so=$(ls python/zippy/_native*.so 2>/dev/null | head -1 || true)
stale=1
if [ -n "$so" ] && .venv/bin/python -c "import zippy" >/dev/null 2>&1; then
    newer=$(find python/zippy/_native.c src include setup.py pyproject.toml -newer "$so" -type f 2>/dev/null | head -1)
    [ -z "$newer" ] && stale=0
fi
if [ "$stale" = 1 ]; then
    echo "python: building and installing zippy into .venv" >&2
    rm -f python/zippy/_native*.so
    .venv/bin/pip install --no-build-isolation --no-deps --no-index -q -e . >&2
fi
.venv/bin/python -c "import zippy, sys; sys.stderr.write('python: zippy %s (%s) ready in .venv\n' % (zippy.__version__, zippy.get_backend()))"
