"""The file-per-document layout through the Python API."""
import json
import subprocess

import pytest

import zippy


def test_files_layout_round_trip_and_hand_edits(tmp_path, cli):
    root = tmp_path / "store"
    s = zippy.ZDSStore.open(str(root), collection="notes", layout="files")
    s.put("doc_001", {"title": "Hello", "tags": ["a"], "n": 1})
    s["doc_002"] = {"title": "World", "n": 2}
    s.flush()
    docs = root / "collections" / "notes" / "docs"
    assert (docs / "doc_001.json").read_text() == '{\n  "title": "Hello",\n  "tags": [\n    "a"\n  ],\n  "n": 1\n}\n'
    assert s.stats()["layout"] == "files"
    assert [d["n"] for d in s.scan(predicate={"n": {"$gte": 2}})] == [2]
    assert s.get_at(0) == {"title": "Hello", "tags": ["a"], "n": 1}
    del s["doc_002"]
    s.close()
    assert not (docs / "doc_002.json").exists()
    (docs / "doc_001.json").write_text(json.dumps({"title": "Edited", "tags": [], "n": 10}, indent=4))
    (docs / "doc_003.json").write_text('{"n": 3}')
    r = zippy.ZDSRoot.open(str(root), mode="r")
    c = r.collection("notes")
    assert c.get("doc_001") == {"title": "Edited", "tags": [], "n": 10}
    assert c["doc_003"] == {"n": 3}
    assert len(c) == 2
    r.close()
    out = subprocess.run([cli, "get", str(root), "-c", "notes", "doc_003"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout == '{"n":3}\n'


def test_layout_is_checked(tmp_path):
    with pytest.raises(ValueError, match="layout"):
        zippy.ZDSStore.open(str(tmp_path / "s"), layout="xml")


def test_existing_collection_keeps_its_layout(tmp_path):
    root = str(tmp_path / "s")
    with zippy.ZDSStore.open(root, "c") as s:
        s.put("a", {"v": 1})
    with zippy.ZDSStore.open(root, "c", layout="files") as s:
        s.put("b", {"v": 2})
        assert s.stats()["layout"] == "jsonl"
    assert not (tmp_path / "s" / "collections" / "c" / "docs").exists()
