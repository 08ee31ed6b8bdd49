"""Opening a .zds archive in place (read-only) from Python."""
import subprocess

import pytest

import zippy


@pytest.fixture
def archive(tmp_path, cli):
    root = tmp_path / "store"
    with zippy.ZDSStore.open(str(root), "users") as s:
        for i in range(50):
            s.put(f"u{i:02d}", {"n": i, "name": f"user {i}", "tags": ["a"] if i % 2 else []})
        s.delete("u07")
    with zippy.ZDSStore.open(str(root), "notes", layout="files") as s:
        s.put("n1", {"text": "hello"})
    out = tmp_path / "store.zds"
    subprocess.run([cli, "pack", str(root), str(out)], check=True, capture_output=True)
    return root, out


def test_open_archive_in_place_reads_like_the_directory(archive):
    root, zds = archive
    d = zippy.ZDSStore.open(str(root), "users")
    a = zippy.ZDSStore.open(str(zds), "users")  # create=True is fine: the collection exists
    assert a.count() == d.count() == 49
    assert a.list_doc_ids() == d.list_doc_ids()
    assert list(a.scan()) == list(d.scan())
    assert list(a.scan(predicate={"n": {"$gt": 40}}, fields=["name"])) == \
        list(d.scan(predicate={"n": {"$gt": 40}}, fields=["name"]))
    assert a.get("u10") == {"n": 10, "name": "user 10", "tags": []}
    assert a.get_at(5) == d.get_at(5)
    assert "u07" not in a
    with pytest.raises(zippy.ReadOnlyError, match="archive"):
        a.put("x", {"n": 1})
    with pytest.raises(PermissionError):
        del a["u10"]
    d.close()
    a.close()
    # a files-layout collection packed with it opens in place too
    n = zippy.ZDSStore.open(str(zds), "notes")
    assert n.get("n1") == {"text": "hello"} and n.stats()["layout"] == "files"
    n.close()


def test_archive_root_and_dataset(archive):
    _, zds = archive
    r = zippy.ZDSRoot.open(str(zds))
    assert not r.is_writable
    assert "users" in r.list_collections()
    assert r.collection_exists("users") and not r.collection_exists("nope")
    r.close()
    ds = zippy.ZDataset.from_store(str(zds), "users")
    assert len(ds) == 49 and ds[0]["n"] == 0
    with pytest.raises((zippy.ReadOnlyError, zippy.NotFoundError)):
        zippy.ZDSStore.open(str(zds), "brand_new")  # would have to be created


def test_hostile_archive_is_refused(tmp_path):
    bad = tmp_path / "bad.zds"
    bad.write_bytes(b"PK\x05\x06" + b"\x00" * 10)  # a truncated end record
    with pytest.raises(zippy.ZippyError):
        zippy.ZDSStore.open(str(bad), "users")
