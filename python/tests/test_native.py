"""zippy._native: the C encoder/decoder and helpers, error mapping, leaks,
fork safety."""
import gc
import json
import math
import multiprocessing
import os
import random
import re
import struct
import sys
import tracemalloc

import pytest
from hypothesis import given, settings, strategies as st

import zippy
from zippy import _native

# ---------------------------------------------------------------------------
# dumps / loads


def test_dumps_compact_and_ordered():
    assert _native.dumps({"b": 1, "a": [True, False, None], "c": {"d": "e"}}) == \
        '{"b":1,"a":[true,false,null],"c":{"d":"e"}}'
    assert _native.dumps([]) == "[]" and _native.dumps({}) == "{}"
    assert _native.dumps("x") == '"x"' and _native.dumps(None) == "null"


def test_dumps_escapes_like_json():
    s = 'q"b\\n\n\r\t\b\f\x00\x1f\x7f/é東🎉\u2028'
    assert _native.dumps(s) == json.dumps(s, ensure_ascii=False, separators=(",", ":"))
    assert json.loads(_native.dumps(s)) == s


def test_dumps_floats_like_repr():
    rng = random.Random(3)
    for _ in range(20000):
        x = struct.unpack("d", struct.pack("Q", rng.getrandbits(64)))[0]
        if math.isfinite(x):
            assert _native.dumps(x) == repr(x)
        y = round(rng.random() * 10 ** rng.randint(-3, 9), rng.randint(0, 8))
        assert _native.dumps(y) == repr(y)
        assert _native.dumps(-y) == repr(-y)
    for x in (0.0, -0.0, 1.0, 1e15, 1e16, 1e-4, 1e-5, 0.1, 5e-324, 1.7976931348623157e308, 123.456):
        assert _native.dumps(x) == repr(x)


def test_dumps_ints():
    for v in (0, -1, 2**63 - 1, -(2**63), 2**64, -(2**200), 10**100):
        assert _native.dumps(v) == str(v)
        assert _native.loads(_native.dumps(v)) == v

    import enum

    class Color(enum.IntEnum):
        RED = 1

    assert _native.dumps({"c": Color.RED}) == '{"c":1}'
    assert _native.dumps(True) == "true"


def test_dumps_errors():
    with pytest.raises(TypeError, match="set"):
        _native.dumps({"a": {1}})
    with pytest.raises(ValueError, match="NaN"):
        _native.dumps([1, float("nan")])
    with pytest.raises(ValueError, match=r"key path a\[1\]"):
        _native.dumps({"a": [0, float("inf")]})
    with pytest.raises(TypeError, match="bytes"):
        _native.dumps(b"x")
    with pytest.raises(TypeError, match="key"):
        _native.dumps({(1, 2): 1})
    deep = []
    for _ in range(300):
        deep = [deep]
    with pytest.raises(ValueError, match="deeper"):
        _native.dumps(deep)


def _message(exc, fn):
    with pytest.raises(exc) as ei:
        fn()
    return str(ei.value)


def test_encoding_errors_name_the_bad_values_own_path():
    import collections

    # a non-str key: the path of the object holding it, never the key
    # encoded just before it
    cases = [
        ({"a": 1, 2: 3}, TypeError, " at the top level"),
        ({2: 3}, TypeError, " at the top level"),
        ({"x": {"a": 1, 2: 3}}, TypeError, " at key path x"),
        ({"x": [{"a": 1, (1, 2): 3}]}, TypeError, " at key path x[0]"),
        ({"a": 1, "b": [1, {"c": 1, 5: 2}]}, TypeError, " at key path b[1]"),
        (collections.OrderedDict([("a", 1), (2, 3)]), TypeError, " at the top level"),
        ({"x": collections.OrderedDict([("a", 1), (b"k", 3)])}, TypeError, " at key path x"),
        # values that fail after a sibling: their own key
        ({"a": 1, "b": float("nan")}, ValueError, " at key path b: JSON has no NaN"),
        ({"a": {"k": 1}, "b": float("inf")}, ValueError, " at key path b: JSON has no NaN"),
        ({"a": [1, 2], "b": {"c": 1, "d": {1}}}, TypeError, " at key path b.d: JSON documents"),
        ({"a": 1, "b": object()}, TypeError, " at key path b: JSON documents"),
        ({"a": 1, "b": b"x"}, TypeError, " at key path b: JSON documents"),
        ({"a": "ok", "b": "\ud800"}, ValueError, " at key path b"),
        ({"a": [0, {"z": 1}], "b": [0, 1, float("-inf")]}, ValueError, " at key path b[2]:"),
    ]
    for doc, exc, tail in cases:
        msg = _message(exc, lambda: _native.dumps(doc))
        if ":" in tail:
            assert tail in msg, (doc, msg)
        else:
            assert msg.endswith(tail), (doc, msg)
        assert "key path a" not in msg, (doc, msg)
    d = {"a": 1}
    d["b"] = d
    assert _message(ValueError, lambda: _native.dumps(d)).endswith("circular reference at key path b")


def test_encoding_errors_through_put_name_the_path(zstore):
    msg = _message(TypeError, lambda: zstore.put("k", {"a": 1, 2: 3}))
    assert msg.endswith(" at the top level") and "key path a" not in msg, msg
    msg = _message(TypeError, lambda: zstore.put("k", {"x": {"a": 1, 2: 3}}))
    assert msg.endswith(" at key path x"), msg
    msg = _message(ValueError, lambda: zstore.put("k", {"a": 1, "b": float("nan")}))
    assert " at key path b:" in msg, msg
    msg = _message(TypeError, lambda: zstore.put_batch([("k", {"a": 1, 2: 3})]))
    assert msg.endswith(" at the top level"), msg
    assert not zstore.exists("k")


def test_too_deep_message_is_short_and_names_the_limit():
    deep = {}
    for _ in range(300):
        deep = {"n": deep}
    msg = _message(ValueError, lambda: _native.dumps(deep))
    assert "deeper than 256 levels" in msg and "depth limit" in msg, msg
    assert msg.endswith(" at key path n.n.n.n.n...n.n.n"), msg
    assert len(msg) < 200, msg
    deep = []
    for _ in range(300):
        deep = [deep]
    msg = _message(ValueError, lambda: _native.dumps({"top": deep}))
    assert msg.endswith(" at key path top[0][0][0][0]...[0][0][0]"), msg
    # mixed parts keep their separators around the gap
    deep = {"z": 1}
    for i in range(300):
        deep = {"k%d" % (i % 7): [deep]}
    msg = _message(ValueError, lambda: _native.dumps(deep))
    tail = msg.split(" at key path ", 1)[1]
    head, _, last = tail.partition("...")
    part = re.compile(r"\[\d+\]|[^.\[\]]+")
    assert len(part.findall(head)) == 5 and not head.endswith("."), msg
    assert len(part.findall(last)) == 3 and not last.startswith("."), msg
    # paths up to 8 parts are shown whole
    msg = _message(TypeError, lambda: _native.dumps({"a": {"b": {"c": {"d": [[{"e": {"f": {1}}}]]}}}}))
    assert msg.endswith(" at key path a.b.c.d[0][0].e.f: JSON documents hold dict, list, tuple, str, "
                        "int, float, bool and None (numpy values are converted with .tolist())"), msg
    msg = _message(TypeError, lambda: _native.dumps({"a": {"b": {"c": {"d": [[{"e": {"f": {"g": {1}}}}]]}}}}))
    assert " at key path a.b.c.d[0]...e.f.g: " in msg, msg


def test_tolist_and_item_duck_typing():
    class Scalar:
        def item(self):
            return 3

    class Arr:
        def tolist(self):
            return [1, {"x": Scalar()}]

    class Loop:
        def tolist(self):
            return Loop()

    class Raising:
        def tolist(self):
            raise RuntimeError("nope")

    assert _native.dumps({"a": Arr(), "s": Scalar()}) == '{"a":[1,{"x":3}],"s":3}'
    with pytest.raises(TypeError, match="Loop"):
        _native.dumps({"a": Loop()})
    with pytest.raises(RuntimeError, match="nope"):
        _native.dumps({"a": Raising()})


def test_loads():
    assert _native.loads('{"a":[1,2.5,"x",true,false,null,{}],"b":-0.0}') == \
        {"a": [1, 2.5, "x", True, False, None, {}], "b": -0.0}
    assert _native.loads(b'  {"k" : "v"}  ') == {"k": "v"}
    assert _native.loads(bytearray(b"[1]")) == [1]
    assert _native.loads(memoryview(b"7")) == 7
    assert _native.loads('"\\u00e9\\ud83c\\udf89"') == "é🎉"
    assert _native.loads("123456789012345678901234567890") == 123456789012345678901234567890
    assert _native.loads("1e400") == float("inf")
    assert type(_native.loads("1.0")) is float and type(_native.loads("10")) is int
    assert _native.loads("-9223372036854775808") == -(2**63)
    d = _native.loads('{"a":1,"a":2}')
    assert d == {"a": 2}


def test_loads_errors():
    for bad in ["", "{", '{"a":}', "[1,]", "nan", "{'a':1}", '{"a":1} x', "01"]:
        with pytest.raises(ValueError):
            _native.loads(bad)
    with pytest.raises(ValueError, match="line 2"):
        _native.loads('{\n"a": x}')
    with pytest.raises(TypeError):
        _native.loads(5)
    assert _native.loads("[" * 256 + "]" * 256) is not None
    with pytest.raises(ValueError):
        _native.loads("[" * 257 + "]" * 257)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**100), max_value=2**100)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5),
    max_leaves=15)


@settings(max_examples=150, deadline=None)
@given(json_values)
def test_roundtrip_matches_json_module(value):
    text = _native.dumps(value)
    assert json.loads(text) == value
    assert _native.loads(text) == value
    assert _native.loads(json.dumps(value)) == value
    assert text == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@pytest.fixture(scope="module")
def prop_store(tmp_path_factory):
    s = zippy.ZDSStore.open(str(tmp_path_factory.mktemp("prop")))
    yield s
    s.close()


@settings(max_examples=150, deadline=None)
@given(doc=st.dictionaries(st.text(min_size=1), json_values, max_size=6))
def test_store_roundtrip_property(prop_store, doc):
    doc.pop("_id", None)
    doc.pop("$deleted", None)
    prop_store.put("k", doc)
    got = prop_store.get("k")
    assert got == doc and list(got) == list(doc)
    assert next(iter(prop_store.scan())) == doc


# ---------------------------------------------------------------------------
# helpers used by the glue modules


def test_schema_of():
    assert _native.schema_of({"b": 1, "a": "x", "c": [1], "d": {"z": None, "y": True}}) == \
        '{"a":"string","b":"number","c":"array","d":{"y":"boolean","z":"null"}}'
    assert _native.schema_of('{"age": 3.5}') == '{"age":"number"}'
    assert _native.schema_of(b'{"age": 3}') == _native.schema_of({"age": 1})
    with pytest.raises(ValueError):
        _native.schema_of("[1]")
    with pytest.raises(ValueError):
        _native.schema_of("{bad")
    with pytest.raises(TypeError):
        _native.schema_of({"a": {1}})


def test_validate_id_and_id_valid():
    for good in ["a", "user_001", "é", "x" * 255, "a.b", "a@b:c+d=e-f"]:
        assert _native.validate_id(good) is None
        assert _native.id_valid(good) is True
    for bad in ["", "../x", "a/b", ".x", "a..b", "x" * 256, "a b"]:
        assert _native.id_valid(bad) is False
        with pytest.raises(ValueError) as ei:
            _native.validate_id(bad)
        assert isinstance(ei.value, zippy.InvalidArgumentError)
    assert _native.id_valid(5) is False and _native.id_valid(b"a") is False
    with pytest.raises(TypeError):
        _native.validate_id(5)
    assert _native.collection_name_valid("users") and not _native.collection_name_valid("../x")


def test_error_classes_map_one_to_one():
    from zippy.errors import _BY_CODE

    assert sorted(_BY_CODE) == list(range(-14, 0))
    assert len(set(_BY_CODE.values())) == 14
    for code, cls in _BY_CODE.items():
        assert issubclass(cls, zippy.ZippyError) and cls.code == code
        assert _native.strerror(code)
    assert issubclass(zippy.NotFoundError, KeyError) and issubclass(zippy.NotFoundError, FileNotFoundError)
    assert issubclass(zippy.LockedError, OSError)
    assert issubclass(zippy.ReadOnlyError, PermissionError)
    assert issubclass(zippy.SchemaError, ValueError)
    assert issubclass(zippy.InvalidArgumentError, ValueError)
    assert issubclass(zippy.ClosedError, ValueError)
    assert str(zippy.NotFoundError("plain message")) == "plain message"


def test_pack_unpack(tmp_path):
    src = str(tmp_path / "s")
    with zippy.ZDSStore.open(src, "c") as s:
        s.put("a", {"v": 1})
    _native.pack(src, str(tmp_path / "s.zds"))
    _native.unpack(str(tmp_path / "s.zds"), str(tmp_path / "out"))
    with zippy.ZDSStore.open(str(tmp_path / "out"), "c") as s:
        assert s.get("a") == {"v": 1}
    with pytest.raises(FileExistsError):
        _native.pack(src, str(tmp_path / "s.zds"))


# ---------------------------------------------------------------------------
# leaks


def _growth(fn, rounds=4, per_round=3000):
    """Python-object memory growth (bytes) over rounds after a warm-up."""
    fn(per_round)
    gc.collect()
    tracemalloc.start()
    try:
        fn(per_round)
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        for _ in range(rounds):
            fn(per_round)
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()


def _rss_kb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def test_no_leaks_get_put_scan(tmp_path):
    s = zippy.ZDSStore.open(str(tmp_path / "s"))
    doc = {"name": "x" * 50, "n": [1, 2.5, {"k": None}], "big": 2**70, "t": True, "é": "ü"}
    for i in range(200):
        s.put(f"k{i}", doc)
    key, default = "k7", object()
    rc_key, rc_doc, rc_def = sys.getrefcount(key), sys.getrefcount(doc), sys.getrefcount(default)

    def gets(n):
        for _ in range(n):
            s.get(key)
            s.get("missing", default)
            s.exists(key)
            _native.loads(_native.dumps(doc))

    def puts(n):
        for i in range(n):
            s.put(key, doc)

    def scans(n):
        for _ in range(n // 200):
            for _ in s.scan():
                pass
            for _ in s.scan_with_ids(fields=["name"], predicate={"t": True}):
                pass
            s.get_at(3)

    def errors(n):
        for _ in range(n // 3):
            for bad in (lambda: s.put("../x", doc), lambda: s.get("missing"), lambda: s.put("k", {"s": {1}})):
                try:
                    bad()
                except (ValueError, KeyError, TypeError):
                    pass

    for fn in (gets, puts, scans, errors):
        assert _growth(fn) < 64 * 1024, fn.__name__
    assert (sys.getrefcount(key), sys.getrefcount(doc), sys.getrefcount(default)) == (rc_key, rc_doc, rc_def)

    # C-level allocations (malloc) are not traced: RSS must stay flat too
    # (not measurable under AddressSanitizer, whose quarantine holds freed memory).
    if "asan" in os.environ.get("LD_PRELOAD", ""):
        s.close()
        return
    gets(20000)
    scans(20000)
    before = _rss_kb()
    for _ in range(3):
        gets(20000)
        scans(20000)
        errors(6000)
    assert _rss_kb() - before < 4096
    s.close()


def test_no_leak_of_store_objects(tmp_path):
    path = str(tmp_path / "s")
    zippy.ZDSStore.open(path).close()
    gc.collect()
    n0 = len(gc.get_objects())
    for _ in range(200):
        with zippy.ZDSStore.open(path) as s:
            s.put("a", {"v": 1})
            list(s.scan())
    gc.collect()
    assert len(gc.get_objects()) - n0 < 50


# ---------------------------------------------------------------------------
# fork


def _child_reads(store, q):
    try:
        out = {
            "get": store.get("k5"),
            "count": store.count(),
            "scan": len(list(store.scan())),
            "at": store.get_at(0),
            "ids": store.list_doc_ids()[:2],
            "unflushed": store.get("unflushed"),
        }
        try:
            store.put("child", {})
            out["write"] = "allowed"
        except PermissionError as e:
            out["write"] = str(e)
        q.put(out)
    except Exception as e:  # noqa: BLE001
        q.put({"error": repr(e)})


def test_fork_child_reads_parent_store(tmp_path):
    path = str(tmp_path / "s")
    s = zippy.ZDSStore.open(path, "f")
    for i in range(50):
        s.put(f"k{i}", {"i": i})
    s.flush()
    s.put("unflushed", {"u": 1})  # still in the engine's buffer at fork time
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_child_reads, args=(s, q)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [q.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    for r in results:
        assert "error" not in r, r
        assert r["get"] == {"i": 5} and r["count"] == 51 and r["scan"] == 51
        assert r["at"] == {"i": 0} and r["ids"] == ["k0", "k1"] and r["unflushed"] == {"u": 1}
        assert "fork" in r["write"]
    # the parent's handle is intact and still the writer
    s.put("after", {"ok": True})
    assert s.count() == 52 and not s.exists("child")
    s.close()
    with zippy.ZDSStore.open(path, "f") as s2:
        assert s2.count() == 52 and s2.get("unflushed") == {"u": 1}
        assert s2.list_doc_ids().count("unflushed") == 1


def test_fork_child_exit_does_not_close_parent_handle(tmp_path):
    path = str(tmp_path / "s")
    s = zippy.ZDSStore.open(path, "f")
    s.put("a", {"v": 1})
    pid = os.fork()
    if pid == 0:  # child: what interpreter exit does (atexit close_all, finalizers), then leave
        code = 1
        try:
            assert s.get("a") == {"v": 1}
            from zippy import store as store_module

            store_module._close_all()  # the atexit handler
            assert s.closed
            gc.collect()
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    s.put("b", {"v": 2})  # still writable: the lock was not given up
    with pytest.raises(zippy.LockedError):
        import subprocess

        r = subprocess.run([sys.executable, "-c", f"import zippy; zippy.ZDSStore.open({path!r}, 'f')"],
                           capture_output=True, text=True, timeout=60)
        if "LockedError" in r.stderr:
            raise zippy.LockedError("locked")
    s.close()
    with zippy.ZDSStore.open(path, "f") as s2:
        assert s2.count() == 2
        raw = s2.read_jsonl_blob().decode().splitlines()
        assert raw == ['{"_id":"a","v":1}', '{"_id":"b","v":2}']


def test_fork_child_can_open_its_own_reader(tmp_path):
    path = str(tmp_path / "s")
    s = zippy.ZDSStore.open(path, "f")
    s.put("a", {"v": 1})
    s.flush()
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()

    def child(q):
        try:
            zippy.ZDSStore.open(path, "f")
            q.put("opened writer?!")
        except zippy.LockedError:
            with zippy.ZDSRoot.open(path, mode="r") as r:
                q.put(r.collection("f").get("a"))

    p = ctx.Process(target=child, args=(q,))
    p.start()
    assert q.get(timeout=60) == {"v": 1}
    p.join(timeout=60)
    s.close()
