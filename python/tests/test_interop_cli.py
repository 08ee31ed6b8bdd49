"""A store written by Python is read by the zippy CLI (build/zippy), and
the other way round."""
import json

import pytest

import zippy
from conftest import run_cli

DOCS = {
    "user_001": {"name": "Alice", "age": 28, "address": {"city": "Paris"}, "tags": ["a", "b"]},
    "user_002": {"name": "Bob", "age": 35, "score": 0.1, "big": 2**70},
    "café": {"name": "Zoë", "age": 41, "emoji": "🎉", "quote": 'a "b" \\ c\n'},
}


@pytest.fixture
def py_store(tmp_path):
    path = str(tmp_path / "pystore")
    with zippy.ZDSStore.open(path, "users") as s:
        for k, v in DOCS.items():
            s.put(k, v)
        s.put("gone", {"x": 1})
        s.delete("gone")
    return path


def test_cli_reads_python_store(cli, py_store):
    assert run_cli(cli, "count", py_store, "-c", "users").stdout.strip() == "3"
    assert run_cli(cli, "ids", py_store, "-c", "users").stdout.split("\n")[:3] == sorted(DOCS)
    for k, v in DOCS.items():
        out = run_cli(cli, "get", py_store, "-c", "users", k).stdout
        got = json.loads(out)
        assert got == v and list(got) == list(v)
    assert run_cli(cli, "get", py_store, "-c", "users", "user_002").stdout.strip() == \
        '{"name":"Bob","age":35,"score":0.1,"big":1180591620717411303424}'
    r = run_cli(cli, "get", py_store, "-c", "users", "gone", check=False)
    assert r.returncode == 1
    rows = [json.loads(line) for line in
            run_cli(cli, "scan", py_store, "-c", "users", "--where", '{"age":{"$gt":30}}').stdout.splitlines()]
    assert [r["_id"] for r in rows] == ["user_002", "café"]
    assert run_cli(cli, "verify", py_store, "-c", "users").returncode == 0
    assert "users" in run_cli(cli, "list", py_store).stdout


def test_cli_export_matches_read_jsonl_blob(cli, py_store):
    exported = run_cli(cli, "export", py_store, "-c", "users").stdout
    with zippy.ZDSStore.open(py_store, "users") as s:
        assert s.read_jsonl_blob().decode() == exported


def test_python_reads_cli_store(cli, tmp_path):
    path = str(tmp_path / "clistore")
    run_cli(cli, "init", path, "-c", "people")
    run_cli(cli, "put", path, "-c", "people", "p1", '{"name": "Ann", "n": 12345678901234567890123}')
    run_cli(cli, "put", path, "-c", "people", "-i", "p2", "-d", '{"name":"Ben","f":1.5e300,"z":-0.0}')
    lines = "".join(json.dumps({"_id": f"imp{i}", "i": i, "s": "é" * i}) + "\n" for i in range(50))
    run_cli(cli, "import", path, "-c", "people", "-", input=lines)
    run_cli(cli, "delete", path, "-c", "people", "imp0")
    with zippy.ZDSStore.open(path, "people") as s:
        assert s.count() == 51
        assert s.get("p1") == {"name": "Ann", "n": 12345678901234567890123}
        p2 = s.get("p2")
        assert p2 == {"name": "Ben", "f": 1.5e300, "z": 0.0} and str(p2["z"]) == "-0.0"
        assert s.get("imp7") == {"i": 7, "s": "é" * 7}
        assert "imp0" not in s
        assert s.ids_in_order()[:3] == ["p1", "p2", "imp1"]
        assert [d["i"] for d in s.scan(predicate={"i": {"$lt": 4}})] == [1, 2, 3]
        s.put("from_python", {"ok": True})  # and Python can write to it
    assert run_cli(cli, "get", path, "-c", "people", "from_python").stdout.strip() == '{"ok":true}'


def test_python_reads_while_cli_is_refused(cli, tmp_path):
    path = str(tmp_path / "s")
    s = zippy.ZDSStore.open(path, "c")
    s.put("a", {"v": 1})
    r = run_cli(cli, "put", path, "-c", "c", "b", "{}", check=False)
    assert r.returncode == 1 and "locked" in r.stderr
    s.flush()
    assert run_cli(cli, "get", path, "-c", "c", "a").stdout.strip() == '{"v":1}'  # readers take no lock
    s.close()
    run_cli(cli, "put", path, "-c", "c", "b", "{}")


def test_strict_collection_interop(cli, tmp_path):
    path = str(tmp_path / "s")
    with zippy.ZDSStore.open(path, "strict", strict=True) as s:
        s.put("a", {"name": "x", "n": 1})
    r = run_cli(cli, "put", path, "-c", "strict", "b", '{"other": 1}', check=False)
    assert r.returncode == 1 and "Schema mismatch" in r.stderr
    run_cli(cli, "put", path, "-c", "strict", "b", '{"n": 2, "name": "y"}')
    with zippy.ZDSStore.open(path, "strict") as s:
        assert s.get("b") == {"n": 2, "name": "y"} and s.is_strict


def test_pack_roundtrip_with_cli(cli, py_store, tmp_path):
    archive = str(tmp_path / "s.zds")
    run_cli(cli, "pack", py_store, archive)
    out = str(tmp_path / "restored")
    zippy._native.unpack(archive, out)
    with zippy.ZDSStore.open(out, "users") as s:
        assert {k: s.get(k) for k in DOCS} == DOCS
