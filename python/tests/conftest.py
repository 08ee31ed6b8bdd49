"""Shared fixtures of the Python tests, and the per-test report that
scripts/test_python.sh prints (PASS/FAIL/SKIP lines, written to the file
named by $ZIPPY_PYTEST_REPORT)."""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

import zippy

try:  # no example database (.hypothesis/) in the working tree
    from hypothesis import settings as _hsettings

    _hsettings.register_profile("zippy", database=None)
    _hsettings.load_profile("zippy")
except ImportError:
    pass

REPO = pathlib.Path(__file__).resolve().parents[2]
CLI = REPO / "build" / "zippy"

# ---------------------------------------------------------------------------
# report lines for scripts/test_python.sh

_reported = set()


def _report_line(line):
    path = os.environ.get("ZIPPY_PYTEST_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line.replace("\n", " ") + "\n")


def pytest_runtest_logreport(report):
    nodeid = report.nodeid
    if nodeid in _reported:
        return
    if report.failed:
        _reported.add(nodeid)
        _report_line(f"FAIL {nodeid}")
    elif report.skipped:
        _reported.add(nodeid)
        if hasattr(report, "wasxfail"):
            _report_line(f"PASS {nodeid}")
        else:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            if reason.startswith("Skipped: "):
                reason = reason[len("Skipped: "):]
            _report_line(f"SKIP {nodeid}: {reason}")
    elif report.when == "teardown":
        _reported.add(nodeid)
        _report_line(f"PASS {nodeid}")


# ---------------------------------------------------------------------------
# fixtures


@pytest.fixture
def store_path(tmp_path):
    return str(tmp_path / "store")


@pytest.fixture
def zstore(store_path):
    """A ZDSStore on collection "default" of a fresh store, closed afterwards."""
    s = zippy.ZDSStore.open(store_path)
    yield s
    s.close()


@pytest.fixture(scope="session")
def cli():
    """Path of the zippy CLI (built by `make`), or skip."""
    if not CLI.exists():
        if shutil.which("make"):
            subprocess.run(["make", "-C", str(REPO), "cli"], capture_output=True)
        if not CLI.exists():
            pytest.skip("build/zippy is not built (run make)")
    return str(CLI)


def run_cli(cli, *args, input=None, check=True):
    r = subprocess.run([cli, *args], input=input, capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise AssertionError(f"zippy {' '.join(args)} exited {r.returncode}: {r.stderr}")
    return r


PY = sys.executable
