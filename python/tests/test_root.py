"""ZDSRoot / NativeRoot: collections, read-only mode, several handles,
locking across processes."""
import pathlib
import subprocess
import sys
import textwrap

import pytest

import zippy
from zippy import NativeRoot, NativeStore, ZDSRoot, ZDSStore


def test_open_attributes(tmp_path):
    path = tmp_path / "store"
    r = ZDSRoot.open(str(path))
    assert isinstance(r.root_path, pathlib.Path) and r.root_path == path
    assert r.batch_size == 5000 and r.mode == "rw" and r.is_writable
    assert (path / "zds.json").exists()
    r.close()
    assert not r.is_writable
    r2 = ZDSRoot(path, batch_size=10, native=True, mode="rw")  # PathLike accepted
    assert r2.batch_size == 10
    r2.close()


def test_collections(tmp_path):
    with ZDSRoot.open(tmp_path / "s") as r:
        assert r.list_collections() == []
        users = r.collection("users")
        users.put("u1", {"name": "Ann"})
        orders = r.collection("orders", batch_size=100, strict=True)
        orders.put("o1", {"total": 5})
        assert orders.batch_size == 100 and users.batch_size == 5000
        assert r.list_collections() == ["orders", "users"]
        assert r.collection_exists("users") and "orders" in r
        assert not r.collection_exists("nope") and not r.collection_exists("../bad")
        assert users.get("u1") == {"name": "Ann"}
        assert users.count() == 1 and users.exists("u1") and users.list_doc_ids() == ["u1"]
        assert list(users.scan()) == [{"name": "Ann"}]
        users["u2"] = {"name": "Bob"}
        assert len(users) == 2 and "u2" in users
        del users["u2"]
        users.delete("u1")
        assert users.count() == 0
        users.flush()
        assert orders.is_strict
        with pytest.raises(ValueError, match="Schema mismatch"):
            orders.put("o2", {"other": 1})
        assert r["users"].collection_name == "users"
        assert isinstance(users, ZDSStore)
    assert users.closed and orders.closed  # closed with the root


def test_repr_names_root_and_collections(tmp_path):
    r = ZDSRoot.open(tmp_path / "s")
    r.collection("alpha").put("a", {})
    r.collection("beta")
    text = repr(r)
    assert str(tmp_path / "s") in text and "alpha" in text and "beta" in text
    r.close()
    assert "closed" in repr(r)


def test_closed_root(tmp_path):
    r = ZDSRoot.open(tmp_path / "s")
    r.close()
    with pytest.raises(ValueError, match="closed"):
        r.collection("x")
    with pytest.raises(ValueError, match="closed"):
        r.list_collections()


def test_bad_mode_and_batch(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        ZDSRoot.open(tmp_path / "s", mode="x")
    with pytest.raises(ValueError):
        ZDSRoot.open(tmp_path / "s", batch_size=-1)


def test_read_only_mode(tmp_path):
    path = tmp_path / "s"
    with ZDSRoot.open(path) as r:
        r.collection("c").put("a", {"v": 1})
    files_before = sorted((p.relative_to(path), p.stat().st_mtime_ns) for p in path.rglob("*"))
    with ZDSRoot.open(path, mode="r") as ro:
        assert ro.mode == "r" and not ro.is_writable
        c = ro.collection("c")
        assert c.get("a") == {"v": 1} and c.count() == 1
        assert c.writable is False
        for write in (lambda: c.put("b", {}), lambda: c.delete("a"), lambda: c.__setitem__("b", {}),
                      lambda: c.put_batch([("b", {})]), lambda: c.write_jsonl(b"{}", ["b"]), lambda: c.compact()):
            with pytest.raises(PermissionError) as ei:
                write()
            assert isinstance(ei.value, zippy.ReadOnlyError)
            assert "read-only" in str(ei.value) or "readonly" in str(ei.value).replace("-", "")
        with pytest.raises(zippy.NotFoundError):
            ro.collection("missing")  # never created
        c.flush()  # nothing to flush: fine
    files_after = sorted((p.relative_to(path), p.stat().st_mtime_ns) for p in path.rglob("*"))
    assert files_after == files_before


def test_read_only_missing_store(tmp_path):
    with pytest.raises(FileNotFoundError):
        ZDSRoot.open(tmp_path / "none", mode="r")
    assert not (tmp_path / "none").exists()


def test_two_roots_same_path_share_writes(tmp_path):
    a = ZDSRoot.open(tmp_path / "s")
    b = ZDSRoot.open(tmp_path / "s")
    ca, cb = a.collection("c"), b.collection("c")
    ca.put("x", {"v": 1})
    assert cb.get("x") == {"v": 1}  # at once, no flush
    cb.put("x", {"v": 2})
    assert ca.get("x") == {"v": 2}
    cb.delete("x")
    assert "x" not in ca
    ro = ZDSRoot.open(tmp_path / "s", mode="r").collection("c")
    ca.put("y", {"v": 3})
    assert ro.get("y") == {"v": 3}  # a read-only handle in the same process shares the engine
    a.close()
    assert cb.get("y") == {"v": 3}
    b.close()
    ro.close()


def test_zdsstore_and_root_share(tmp_path):
    s1 = ZDSStore.open(tmp_path / "s", "c")
    s2 = ZDSStore.open(tmp_path / "s", "c")
    s1.put("a", {"v": 1})
    assert s2.get("a") == {"v": 1}
    s1.close()
    s2.put("b", {"v": 2})
    s2.close()
    with ZDSStore.open(tmp_path / "s", "c") as s3:
        assert s3.count() == 2


def test_drop_collection(tmp_path):
    r = ZDSRoot.open(tmp_path / "s")
    c = r.collection("gone")
    c.put("a", {})
    with pytest.raises(zippy.LockedError):
        r.drop_collection("gone")  # still open
    c.close()
    r.drop_collection("gone")
    assert r.list_collections() == []
    r.close()


def test_native_root(tmp_path):
    with NativeRoot.open(tmp_path / "s", batch_size=3) as r:
        c = r.collection("n")
        assert isinstance(c, NativeStore)
        assert c.put_batch([(f"k{i}", {"i": i}) for i in range(7)]) == 7
        assert c.read_jsonl_blob().count(b"\n") == 7


HOLDER = textwrap.dedent("""
    import sys, time, zippy
    s = zippy.ZDSStore.open(sys.argv[1], "locked")
    s.put("held", {"by": "child"})
    s.flush()
    print("ready", flush=True)
    sys.stdin.readline()
    s.close()
""")


@pytest.fixture
def holder(tmp_path):
    """A child process holding collection "locked" open for writing."""
    path = str(tmp_path / "s")
    p = subprocess.Popen([sys.executable, "-c", HOLDER, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline().strip() == "ready"
    yield path, p
    if p.poll() is None:
        p.stdin.write("\n")
        p.stdin.flush()
        p.wait(timeout=30)
    p.stdin.close()
    p.stdout.close()


def test_locked_by_another_process(holder):
    path, proc = holder
    with pytest.raises(zippy.LockedError) as ei:
        ZDSStore.open(path, "locked")
    err = ei.value
    assert isinstance(err, OSError) and isinstance(err, zippy.ZippyError)
    assert "locked" in str(err) and str(proc.pid) in str(err)
    # a root opened writable still opens; only the collection is locked
    with ZDSRoot.open(path) as r:
        with pytest.raises(zippy.LockedError):
            r.collection("locked")
        r.collection("other").put("a", {})  # other collections are free
    # readers take no lock
    with ZDSRoot.open(path, mode="r") as ro:
        assert ro.collection("locked").get("held") == {"by": "child"}


def test_lock_released_when_holder_exits(holder):
    path, proc = holder
    proc.stdin.write("\n")
    proc.stdin.flush()
    assert proc.wait(timeout=30) == 0
    with ZDSStore.open(path, "locked") as s:
        assert s.get("held") == {"by": "child"}
        s.put("mine", {})


def test_reader_refresh_sees_other_process_writes(tmp_path):
    path = str(tmp_path / "s")
    with ZDSStore.open(path, "c") as s:
        s.put("a", {})
    ro = ZDSRoot.open(path, mode="r").collection("c")
    assert ro.count() == 1
    subprocess.run([sys.executable, "-c",
                    f"import zippy\nwith zippy.ZDSStore.open({path!r}, 'c') as s: s.put('b', {{}})"],
                   check=True, timeout=60)
    ro.refresh()
    assert ro.count() == 2 and ro.get("b") == {}
    ro.close()
