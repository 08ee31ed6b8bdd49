"""ZDSStore / FastZDSStore / NativeStore: documents, scans, dict protocol,
bad input, strict mode, closed handles."""
import math
import os
import pickle
import sys
import threading

import pytest

import zippy
from zippy import ZDSStore, FastZDSStore, NativeStore


def reopen(s):
    root, name = s.root, s.collection_name
    s.close()
    return ZDSStore.open(root, name)


# ---------------------------------------------------------------------------
# basics


def test_put_get_roundtrip(zstore):
    doc = {"name": "Alice", "age": 28, "tags": ["a", "b"], "address": {"city": "Paris", "zip": "75001"},
           "active": True, "score": 9.5, "none": None}
    zstore.put("user_001", doc)
    assert zstore.get("user_001") == doc
    assert zstore["user_001"] == doc
    assert zstore.count() == 1


def test_data_survives_close_and_reopen(zstore):
    zstore.put("a", {"x": 1})
    zstore.put("b", {"x": 2})
    s = reopen(zstore)
    try:
        assert s.get("a") == {"x": 1}
        assert s.get("b") == {"x": 2}
        assert s.count() == 2
    finally:
        s.close()


def test_open_classmethod_and_constructor_agree(store_path):
    with ZDSStore.open(store_path, collection="c1") as a:
        a.put("k", {"v": 1})
    b = ZDSStore(store_path, collection="c1")
    assert b.get("k") == {"v": 1}
    assert b.collection_name == "c1"
    b.close()


def test_put_replaces(zstore):
    zstore.put("a", {"v": 1, "old": True})
    zstore.put("a", {"v": 2})
    assert zstore.get("a") == {"v": 2}
    assert zstore.count() == 1


def test_get_missing_raises_keyerror(zstore):
    with pytest.raises(KeyError):
        zstore.get("nope")
    with pytest.raises(KeyError):
        zstore["nope"]
    with pytest.raises(zippy.NotFoundError) as ei:
        zstore.get("nope")
    assert "nope" in str(ei.value)
    assert ei.value.code == -1


def test_get_default(zstore):
    sentinel = object()
    assert zstore.get("nope", None) is None
    assert zstore.get("nope", sentinel) is sentinel
    assert zstore.get("nope", default=42) == 42
    zstore.put("yes", {"a": 1})
    assert zstore.get("yes", None) == {"a": 1}


def test_delete(zstore):
    zstore.put("a", {"v": 1})
    zstore.delete("a")
    assert not zstore.exists("a")
    assert zstore.count() == 0
    with pytest.raises(KeyError):
        zstore.delete("a")
    with pytest.raises(KeyError):
        zstore.get("a")


def test_exists(zstore):
    assert zstore.exists("a") is False
    zstore.put("a", {})
    assert zstore.exists("a") is True


def test_empty_document(zstore):
    zstore.put("e", {})
    assert zstore.get("e") == {}


def test_list_doc_ids_sorted(zstore):
    for i in ["b", "a", "c10", "c2", "Z"]:
        zstore.put(i, {"i": i})
    assert zstore.list_doc_ids() == sorted(["b", "a", "c10", "c2", "Z"])
    zstore.delete("a")
    assert zstore.list_doc_ids() == ["Z", "b", "c10", "c2"]


def test_key_order_preserved(zstore):
    doc = {"z": 1, "a": 2, "m": {"y": 1, "b": 2}, "c": 3}
    zstore.put("k", doc)
    got = zstore.get("k")
    assert list(got) == ["z", "a", "m", "c"]
    assert list(got["m"]) == ["y", "b"]
    assert list(next(iter(zstore.scan()))) == ["z", "a", "m", "c"]


def test_get_returns_fresh_objects(zstore):
    doc = {"list": [1, 2], "sub": {"a": 1}}
    zstore.put("k", doc)
    doc["list"].append(3)  # mutating what was put changes nothing stored
    doc["sub"]["a"] = 99
    first = zstore.get("k")
    assert first == {"list": [1, 2], "sub": {"a": 1}}
    first["list"].append(4)
    first["new"] = 1
    second = zstore.get("k")
    assert second == {"list": [1, 2], "sub": {"a": 1}}
    assert second is not first and second["list"] is not first["list"]


def test_returned_docs_have_no_id(zstore):
    zstore.put("k", {"_id": "k", "a": 1})
    assert zstore.get("k") == {"a": 1}
    assert list(zstore.scan()) == [{"a": 1}]
    assert list(zstore.scan_fast()) == [{"a": 1}]
    assert zstore.get_at(0) == {"a": 1}


def test_id_field_must_match(zstore):
    with pytest.raises(ValueError):
        zstore.put("k", {"_id": "other", "a": 1})
    assert not zstore.exists("k")


def test_reserved_key_refused(zstore):
    with pytest.raises(ValueError, match="reserved"):
        zstore.put("k", {"$deleted": True})
    zstore.put("k", {"nested": {"$deleted": True}})  # only top level is reserved
    assert zstore.get("k") == {"nested": {"$deleted": True}}


def test_unicode_ids_and_documents(zstore):
    docs = {
        "café": {"texte": "déjà vu", "emoji": "🎉🚀", "cjk": "東京"},
        "日本語": {"k": "значение"},
        "user@example.com": {"a": 1},
        "a:b+c=d_e-f.g": {"ok": True},
        "नमस्ते": {"hindi": True},
    }
    for k, v in docs.items():
        zstore.put(k, v)
    s = reopen(zstore)
    try:
        for k, v in docs.items():
            assert s.get(k) == v
        assert s.list_doc_ids() == sorted(docs)
    finally:
        s.close()


def test_string_escapes_roundtrip(zstore):
    doc = {"q": 'say "hi"', "bs": "a\\b", "ctl": "\n\r\t\b\f\x00\x01\x1f", "slash": "/",
           "u2028": "\u2028\u2029", "key\nwith\"quote": 1}
    zstore.put("k", doc)
    assert reopen(zstore).get("k") == doc


def test_big_ints_roundtrip(zstore):
    doc = {"big": 2**64 + 1, "neg": -(2**80), "huge": 10**60, "i64max": 2**63 - 1, "i64min": -(2**63),
           "u64": 2**64 - 1}
    zstore.put("k", doc)
    got = reopen(zstore).get("k")
    assert got == doc
    assert all(type(v) is int for v in got.values())


def test_floats_roundtrip_exactly(zstore):
    vals = [0.1, 0.2, 1 / 3, 1e-300, 5e-324, 1.7976931348623157e308, -0.0, 0.0, 1.0, 1e16, 1e22, 123456.789,
            2.5e-8, 3.141592653589793, -2.718281828459045, 100.0, 1e15, 12345678.125]
    zstore.put("k", {"v": vals})
    got = reopen(zstore).get("k")["v"]
    for a, b in zip(vals, got):
        assert type(b) is float
        assert a == b and math.copysign(1, a) == math.copysign(1, b), (a, b)
        assert repr(a) == repr(b)


def test_bool_and_none_types(zstore):
    zstore.put("k", {"t": True, "f": False, "n": None, "one": 1, "zero": 0})
    got = zstore.get("k")
    assert got["t"] is True and got["f"] is False and got["n"] is None
    assert type(got["one"]) is int and type(got["zero"]) is int


def test_tuples_become_lists(zstore):
    zstore.put("k", {"t": (1, (2, 3))})
    assert zstore.get("k") == {"t": [1, [2, 3]]}


def test_dict_subclasses(zstore):
    from collections import OrderedDict, defaultdict

    od = OrderedDict([("b", 1), ("a", 2)])
    od.move_to_end("b")
    dd = defaultdict(list, {"x": [1]})
    zstore.put("k", {"od": od, "dd": dd})
    got = zstore.get("k")
    assert list(got["od"]) == ["a", "b"]
    assert got["dd"] == {"x": [1]}
    zstore.put("top", od)  # a dict subclass is a document
    assert list(zstore.get("top")) == ["a", "b"]


def test_numpy_values(zstore):
    np = pytest.importorskip("numpy")
    doc = {"i": np.int64(7), "f": np.float32(1.5), "d": np.float64(0.1), "b": np.bool_(True),
           "arr": np.arange(4, dtype=np.int32), "m": np.array([[1.5, 2.0], [3.0, 4.25]]), "u": np.uint64(2**63)}
    zstore.put("k", doc)
    got = zstore.get("k")
    assert got == {"i": 7, "f": 1.5, "d": 0.1, "b": True, "arr": [0, 1, 2, 3], "m": [[1.5, 2.0], [3.0, 4.25]],
                   "u": 2**63}
    assert got["b"] is True


# ---------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize("bad", ["", "../x", "a/b", ".hidden", "a..b", "a b", "x" * 256, "tab\t", "nul\0x",
                                 "back\\slash", 'quo"te'])
def test_invalid_ids_raise_valueerror(zstore, bad):
    with pytest.raises(ValueError):
        zstore.put(bad, {"a": 1})
    with pytest.raises(ValueError):
        zstore.get(bad)
    with pytest.raises(ValueError):
        zstore.delete(bad)
    with pytest.raises(ValueError):
        zstore.exists(bad)
    with pytest.raises(ValueError):
        zstore[bad] = {"a": 1}
    assert bad not in zstore  # the container protocol answers False
    assert zstore.count() == 0


def test_invalid_id_message_names_it(zstore):
    with pytest.raises(zippy.InvalidArgumentError) as ei:
        zstore.put("../evil", {})
    assert "../evil" in str(ei.value)


def test_longest_id_ok(zstore):
    zstore.put("x" * 255, {"a": 1})
    assert zstore.get("x" * 255) == {"a": 1}


@pytest.mark.parametrize("bad", [1, 1.5, None, b"bytes", ("t",), ["l"]])
def test_non_str_ids_raise_typeerror(zstore, bad):
    with pytest.raises(TypeError, match="id must be a str"):
        zstore.put(bad, {"a": 1})
    with pytest.raises(TypeError):
        zstore.get(bad)
    with pytest.raises(TypeError):
        zstore.delete(bad)
    assert zstore.count() == 0


@pytest.mark.parametrize("bad", [[1, 2], "text", 5, None, (("a", 1),), b"{}", {("a",)}])
def test_non_dict_documents_raise_typeerror(zstore, bad):
    with pytest.raises(TypeError, match="must be a dict"):
        zstore.put("k", bad)
    assert not zstore.exists("k")


def _raises_naming(exc, match, fn):
    with pytest.raises(exc) as ei:
        fn()
    assert match in str(ei.value), str(ei.value)


def test_set_value_typeerror_names_type_and_path(zstore):
    _raises_naming(TypeError, "set", lambda: zstore.put("k", {"a": {"b": {1, 2}}}))
    _raises_naming(TypeError, "a.b", lambda: zstore.put("k", {"a": {"b": {1, 2}}}))
    _raises_naming(TypeError, "x[2]", lambda: zstore.put("k", {"x": [1, 2, frozenset()]}))
    assert not zstore.exists("k")


def test_nan_and_infinity_valueerror(zstore):
    _raises_naming(ValueError, "NaN", lambda: zstore.put("k", {"v": float("nan")}))
    _raises_naming(ValueError, "v", lambda: zstore.put("k", {"v": float("nan")}))
    _raises_naming(ValueError, "Infinity", lambda: zstore.put("k", {"a": [float("inf")]}))
    _raises_naming(ValueError, "a[0]", lambda: zstore.put("k", {"a": [float("-inf")]}))
    assert not zstore.exists("k")


def test_bytes_keys_and_values(zstore):
    _raises_naming(TypeError, "bytes", lambda: zstore.put("k", {b"key": 1}))
    _raises_naming(TypeError, "b'key'", lambda: zstore.put("k", {b"key": 1}))
    _raises_naming(TypeError, "bytes", lambda: zstore.put("k", {"v": b"value"}))
    _raises_naming(TypeError, "bytearray", lambda: zstore.put("k", {"v": bytearray(b"x")}))
    _raises_naming(TypeError, "int", lambda: zstore.put("k", {1: "int key"}))
    assert not zstore.exists("k")


def test_arbitrary_objects_typeerror(zstore):
    import datetime
    import decimal

    class Thing:
        pass

    for v in (Thing(), datetime.date(2020, 1, 1), decimal.Decimal("1.5"), object(), complex(1, 2), print):
        with pytest.raises(TypeError):
            zstore.put("k", {"v": v})
    assert not zstore.exists("k")


def test_circular_reference_valueerror(zstore):
    d = {"a": 1}
    d["self"] = d
    _raises_naming(ValueError, "circular", lambda: zstore.put("k", d))
    lst = []
    lst.append(lst)
    _raises_naming(ValueError, "circular", lambda: zstore.put("k", {"l": lst}))
    assert not zstore.exists("k")


def test_shared_but_not_circular_is_fine(zstore):
    shared = {"x": 1}
    zstore.put("k", {"a": shared, "b": shared, "l": [shared, shared]})
    assert zstore.get("k") == {"a": {"x": 1}, "b": {"x": 1}, "l": [{"x": 1}, {"x": 1}]}


def _nested(depth):
    doc = {}
    cur = doc
    for _ in range(depth - 1):
        cur["n"] = {}
        cur = cur["n"]
    return doc


def test_depth_limit(zstore):
    zstore.put("ok", _nested(256))
    got = zstore.get("ok")
    depth = 0
    while got:
        got = got["n"]
        depth += 1
    assert depth == 255  # 256 objects: 255 non-empty levels
    _raises_naming(ValueError, "deeper than 256", lambda: zstore.put("bad", _nested(257)))
    assert not zstore.exists("bad")


def test_failed_put_leaves_old_version(zstore):
    zstore.put("k", {"v": 1})
    with pytest.raises(TypeError):
        zstore.put("k", {"v": {1}})
    assert zstore.get("k") == {"v": 1}


def test_lone_surrogate_refused(zstore):
    with pytest.raises(ValueError):
        zstore.put("k", {"v": "\ud800"})


# ---------------------------------------------------------------------------
# dict protocol


def test_dict_protocol(zstore):
    zstore["a"] = {"v": 1}
    zstore["b"] = {"v": 2}
    assert zstore["a"] == {"v": 1}
    assert "a" in zstore and "zz" not in zstore
    assert 5 not in zstore and None not in zstore
    assert len(zstore) == 2
    del zstore["a"]
    assert "a" not in zstore and len(zstore) == 1
    with pytest.raises(KeyError):
        del zstore["a"]
    zstore["c"] = {"v": 3}
    zstore["0"] = {"v": 0}
    assert list(zstore) == ["0", "b", "c"]
    assert zstore.keys() == ["0", "b", "c"]
    assert list(zstore.values()) == [{"v": 0}, {"v": 2}, {"v": 3}]
    assert list(zstore.items()) == [("0", {"v": 0}), ("b", {"v": 2}), ("c", {"v": 3})]
    assert dict(zstore.items()) == {"0": {"v": 0}, "b": {"v": 2}, "c": {"v": 3}}


def test_pop_setdefault_update(zstore):
    zstore.update({"a": {"v": 1}, "b": {"v": 2}})
    assert zstore.pop("a") == {"v": 1}
    assert "a" not in zstore
    assert zstore.pop("a", None) is None
    with pytest.raises(KeyError):
        zstore.pop("a")
    assert zstore.setdefault("b", {"v": 9}) == {"v": 2}
    assert zstore.setdefault("c", {"v": 3}) == {"v": 3}
    assert zstore.count() == 2


def test_repr(zstore):
    zstore.put("a", {})
    r = repr(zstore)
    assert "ZDSStore" in r and zstore.root in r and "default" in r and "count=1" in r
    zstore.close()
    assert "closed" in repr(zstore)


def test_bool_of_empty_store_is_len_based(zstore):
    assert len(zstore) == 0 and not zstore
    zstore.put("a", {})
    assert zstore


# ---------------------------------------------------------------------------
# scans


@pytest.fixture
def people(zstore):
    rows = [("u1", {"name": "Ann", "age": 25, "address": {"city": "Paris"}, "tags": ["a"]}),
            ("u2", {"name": "Bob", "age": 35, "address": {"city": "Lima"}}),
            ("u3", {"name": "Cid", "age": 45, "address": {"city": "Paris"}, "active": True}),
            ("u0", {"name": "Dee", "age": 30})]
    for i, d in rows:
        zstore.put(i, d)
    return zstore


def test_scan_all_in_insertion_order(people):
    assert [d["name"] for d in people.scan()] == ["Ann", "Bob", "Cid", "Dee"]


def test_scan_update_moves_to_end(people):
    people.put("u1", {"name": "Ann2", "age": 26})
    assert [d["name"] for d in people.scan()] == ["Bob", "Cid", "Dee", "Ann2"]


def test_scan_equality_predicate(people):
    assert [d["name"] for d in people.scan(predicate={"age": 35})] == ["Bob"]
    assert [d["name"] for d in people.scan(predicate={"address.city": "Paris"})] == ["Ann", "Cid"]
    assert list(people.scan(predicate={"age": 99})) == []


def test_scan_operator_predicate(people):
    assert [d["name"] for d in people.scan(predicate={"age": {"$gt": 30}})] == ["Bob", "Cid"]
    assert [d["name"] for d in people.scan(predicate={"age": {"$gte": 30, "$lt": 45}})] == ["Bob", "Dee"]
    assert [d["name"] for d in people.scan(predicate={"name": {"$in": ["Ann", "Dee"]}})] == ["Ann", "Dee"]
    assert [d["name"] for d in people.scan(predicate={"active": {"$exists": True}})] == ["Cid"]
    assert [d["name"] for d in people.scan(predicate={"$or": [{"age": 25}, {"age": 45}]})] == ["Ann", "Cid"]
    assert [d["name"] for d in people.scan(predicate='{"age":{"$ne":25}}')] == ["Bob", "Cid", "Dee"]


def test_scan_callable_predicate(people):
    assert [d["name"] for d in people.scan(predicate=lambda d: d["age"] % 10 == 5)] == ["Ann", "Bob", "Cid"]
    assert list(people.scan(fields=["name"], predicate=lambda d: d["age"] > 40)) == [{"name": "Cid"}]


def test_scan_bad_predicate(people):
    with pytest.raises(ValueError):
        list(people.scan(predicate='{"age": {"$bogus": 1}}'))
    with pytest.raises(ValueError):
        list(people.scan(predicate="not json"))
    with pytest.raises(TypeError):
        list(people.scan(predicate=42))
    with pytest.raises(ValueError):
        people.scan(predicate={"age": float("nan")})


def test_scan_projection(people):
    assert list(people.scan(fields=["name"])) == [{"name": n} for n in ["Ann", "Bob", "Cid", "Dee"]]
    rows = list(people.scan(fields="name,address.city", predicate={"age": {"$lt": 30}}))
    assert rows == [{"name": "Ann", "address": {"city": "Paris"}}]
    rows = list(people.scan(fields=("address.city",)))
    assert rows[0] == {"address": {"city": "Paris"}} and rows[3] == {}


def test_scan_limit_skip(people):
    assert [d["name"] for d in people.scan(limit=2)] == ["Ann", "Bob"]
    assert [d["name"] for d in people.scan(skip=1, limit=2)] == ["Bob", "Cid"]
    assert [d["name"] for d in people.scan(predicate={"age": {"$gt": 20}}, skip=3)] == ["Dee"]


def test_scan_with_ids_and_raw(people):
    assert [i for i, _ in people.scan_with_ids()] == ["u1", "u2", "u3", "u0"]
    assert dict(people.scan_with_ids())["u2"] == {"name": "Bob", "age": 35, "address": {"city": "Lima"}}
    raw = list(people.scan_raw())
    assert all(isinstance(r, bytes) for r in raw)
    assert raw[1] == b'{"name":"Bob","age":35,"address":{"city":"Lima"}}'
    assert list(people.scan_ids(predicate={"age": {"$gte": 35}})) == ["u2", "u3"]


def test_scan_is_a_snapshot(people):
    it = people.scan()
    first = next(it)
    people.put("new", {"name": "New", "age": 1})
    people.delete("u3")
    rest = list(it)
    assert [first["name"]] + [d["name"] for d in rest] == ["Ann", "Bob", "Cid", "Dee"]


def test_scan_survives_handle_close(people):
    it = people.scan()
    next(it)
    root = people.root
    people.close()
    assert len(list(it)) == 3
    s = ZDSStore.open(root)
    s.close()


def test_scan_early_close(people):
    it = people.scan()
    next(it)
    it.close()
    assert list(it) == []
    with people.scan() as it2:
        assert next(it2)["name"] == "Ann"


def test_find(people):
    assert people.find({"age": {"$gt": 40}}) == [{"name": "Cid", "age": 45, "address": {"city": "Paris"},
                                                  "active": True}]


# ---------------------------------------------------------------------------
# positional access, preload, bulk writes


def test_get_at_and_ids_in_order(people):
    assert people.ids_in_order() == ["u1", "u2", "u3", "u0"]
    assert people.get_at(0)["name"] == "Ann"
    assert people.get_at(3)["name"] == "Dee"
    assert people.get_at(-1)["name"] == "Dee"
    assert people.get_at(-4)["name"] == "Ann"
    assert people.id_at(2) == "u3"
    assert people.item_at(1) == ("u2", {"name": "Bob", "age": 35, "address": {"city": "Lima"}})
    for bad in (4, 100, -5, 2**70, -(2**70)):
        with pytest.raises(IndexError):
            people.get_at(bad)
    with pytest.raises(TypeError):
        people.get_at("0")
    people.put("u1", {"name": "Ann3"})  # moves to the end
    assert people.get_at(3) == {"name": "Ann3"}
    assert people.ids_in_order() == ["u2", "u3", "u0", "u1"]


def test_preload_returns_self(people):
    assert people.preload() is people
    assert people.get_at(1)["name"] == "Bob"


def test_bulk_write(store_path):
    with ZDSStore.open(store_path, "bulk") as s:
        with s.bulk_write() as w:
            assert w is s
            for i in range(1000):
                w.put(f"d{i}", {"i": i})
            assert s.count() == 1000  # visible before the block ends
    with ZDSStore.open(store_path, "bulk") as s:
        assert s.count() == 1000 and s.get("d999") == {"i": 999}


def test_put_batch_and_jsonl(store_path):
    s = NativeStore.open(store_path, "n")
    assert s.put_batch([("a", {"v": 1}), ("b", {"v": 2})]) == 2
    assert s.put_batch({"c": {"v": 3}}) == 1
    assert s.put_batch([]) == 0
    assert s.write_jsonl(b'{"v":4}\n{"v":5}', ["d", "e"]) == 2  # last line without newline
    assert s.write_jsonl(b'{"_id":"f","v":6}\n') == 1
    assert [s.get(k)["v"] for k in "abcdef"] == [1, 2, 3, 4, 5, 6]
    blob = s.read_jsonl_blob()
    lines = blob.decode().splitlines()
    assert lines[0] == '{"_id":"a","v":1}' and len(lines) == 6 and blob.endswith(b"\n")
    assert list(s.scan_raw())[0] == b'{"v":1}'
    s.close()


def test_put_batch_validates_everything_first(zstore):
    with pytest.raises(TypeError):
        zstore.put_batch([("a", {"v": 1}), ("b", {"v": {1}})])
    with pytest.raises(ValueError):
        zstore.put_batch([("a", {"v": 1}), ("../b", {"v": 2})])
    with pytest.raises(TypeError):
        zstore.put_batch([("a", {"v": 1}), "nope"])
    with pytest.raises(TypeError):
        zstore.put_batch([("a", [1])])
    assert zstore.count() == 0


def test_write_jsonl_errors_name_the_line(zstore):
    with pytest.raises(ValueError, match="line 2"):
        zstore.write_jsonl(b'{"v":1}\n{"v":\n', ["a", "b"])
    with pytest.raises(ValueError):
        zstore.write_jsonl(b'{"v":1}\n', ["a", "b"])  # more ids than lines
    with pytest.raises(TypeError):
        zstore.write_jsonl(b'{"v":1}\n', [1])


def test_get_raw_and_put_raw(zstore):
    zstore.put_raw("k", '{"a": 1, "b" : [1, 2]}')
    assert zstore.get_raw("k") == b'{"a":1,"b":[1,2]}'
    assert zstore.get_raw("k", with_id=True) == b'{"_id":"k","a":1,"b":[1,2]}'
    with pytest.raises(ValueError):
        zstore.put_raw("k", b"[1]")
    with pytest.raises(ValueError):
        zstore.put_raw("k", b"{bad")


# ---------------------------------------------------------------------------
# FastZDSStore / NativeStore / misc


def test_fast_store(store_path):
    s = FastZDSStore.open(store_path, "fast", batch_size=10)
    assert s.batch_size == 10
    for i in range(25):
        s.put(f"k{i}", {"i": i})
    assert list(s.scan_with_ids())[0] == ("k0", {"i": 0})
    for i in range(20):
        s.delete(f"k{i}")
    before = s.stats()["log_bytes"]
    s.compact()
    after = s.stats()
    assert after["log_bytes"] < before and after["count"] == 5
    assert s.list_doc_ids() == [f"k{i}" for i in range(20, 25)]
    s.close()


def test_native_aliases(store_path):
    assert issubclass(NativeStore, ZDSStore) and issubclass(FastZDSStore, ZDSStore)
    assert zippy.get_backend() == "native"
    assert zippy.__version__ == "0.2.0" == zippy._native.version()


def test_batch_size_flushes(store_path, cli):
    # With batch_size=5, the 5th put is durable: a reader in another process sees it.
    import subprocess

    s = FastZDSStore.open(store_path, "b", batch_size=5)
    for i in range(5):
        s.put(f"k{i}", {"i": i})
    r = subprocess.run([cli, "count", store_path, "-c", "b"], capture_output=True, text=True)
    assert r.stdout.strip() == "5", r.stderr
    s.put("k5", {"i": 5})
    s.close()


def test_stats_verify_info(people):
    st = people.stats()
    assert st["count"] == 4 and st["layout"] == "jsonl" and st["strict"] is False
    people.flush()
    v = people.verify()
    assert v["ok"] is True and v["live"] == 4
    info = people.info()
    assert info["collection"] == "default" and info["schema"] is None


def test_collection_and_list_collections(store_path):
    s = ZDSStore.open(store_path, "users")
    other = s.collection("orders")
    other.put("o1", {"total": 5})
    assert s.list_collections() == ["orders", "users"]
    assert other.root == s.root and other.collection_name == "orders"
    assert type(other) is ZDSStore
    assert s.root_path == __import__("pathlib").Path(store_path)
    with pytest.raises(ValueError):
        s.collection("../bad")
    other.close()
    s.close()


def test_open_create_false(tmp_path):
    missing = str(tmp_path / "nothere")
    with pytest.raises(FileNotFoundError):
        ZDSStore.open(missing, create=False)
    with pytest.raises(KeyError):
        ZDSStore.open(missing, create=False)
    assert not os.path.exists(missing)
    ZDSStore.open(missing).close()
    with pytest.raises(zippy.NotFoundError, match="nocoll"):
        ZDSStore.open(missing, "nocoll", create=False)
    assert ZDSStore.open(missing, "default", create=False).count() == 0


def test_invalid_collection_names(store_path):
    for bad in ["", "../x", "a/b", ".hidden", "x" * 65]:
        with pytest.raises(ValueError):
            ZDSStore.open(store_path, bad)
    with pytest.raises(TypeError):
        ZDSStore.open(store_path, 5)


def test_sync_writes(store_path, cli):
    import subprocess

    s = ZDSStore.open(store_path, "sync", sync_writes=True)
    s.put("a", {"v": 1})
    # durable (and written to the log) before close: another process reads it
    r = subprocess.run([cli, "get", store_path, "-c", "sync", "a"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == '{"v":1}', r.stderr
    s.delete("a")
    s.close()


# ---------------------------------------------------------------------------
# strict mode


def test_strict_mode(store_path):
    s = ZDSStore.open(store_path, "strict", strict=True)
    s.put("a", {"name": "x", "age": 1, "tags": [], "sub": {"k": True}})
    s.put("b", {"age": 2, "name": "y", "tags": [1, 2], "sub": {"k": False}})  # key order is free
    with pytest.raises(ValueError, match="Schema mismatch"):
        s.put("c", {"name": "z"})
    with pytest.raises(zippy.SchemaError):
        s.put("c", {"name": 5, "age": 1, "tags": [], "sub": {"k": True}})
    with pytest.raises(ValueError, match="Schema mismatch"):
        s.put("c", {"name": "x", "age": 1, "tags": [], "sub": {"k": True}, "extra": 1})
    assert s.count() == 2 and not s.exists("c")
    assert s.is_strict is True
    assert s.schema() == '{"age":"number","name":"string","sub":{"k":"boolean"},"tags":"array"}'
    s.close()
    # the mode persists: reopening without strict=True still refuses
    s = ZDSStore.open(store_path, "strict")
    assert s.is_strict is True
    with pytest.raises(ValueError, match="Schema mismatch"):
        s.put("d", {"other": 1})
    s.close()


def _schema_error(fn):
    with pytest.raises(zippy.SchemaError) as ei:
        fn()
    assert isinstance(ei.value, ValueError) and ei.value.code == zippy.SchemaError.code
    return str(ei.value)


def test_strict_batch_mismatch_message_and_partial_write(store_path):
    s = ZDSStore.open(store_path, "strict", strict=True)
    s.put("a", {"v": 1})
    # put_batch: line N is the N-th (id, doc) pair; those before it stay written
    msg = _schema_error(lambda: s.put_batch([("b", {"v": 2}), ("c", {"v": 3}), ("d", {"w": 1}),
                                             ("e", {"v": 5})]))
    assert msg.startswith('Schema mismatch: (line 3 of the batch) document "d" does not fit'), msg
    assert "line 3:" not in msg
    assert s.exists("b") and s.exists("c") and not s.exists("d") and not s.exists("e")
    assert s.count() == 3
    # put_batch with a dict, and update(), which goes through put_batch
    msg = _schema_error(lambda: s.put_batch({"f": {"w": 1}}))
    assert msg.startswith('Schema mismatch: (line 1 of the batch) document "f"'), msg
    msg = _schema_error(lambda: s.update({"g": {"v": 7}, "h": {"v": "text"}}))
    assert msg.startswith('Schema mismatch: (line 2 of the batch) document "h"'), msg
    assert s.exists("g") and not s.exists("h")
    # write_jsonl, with ids or with "_id" members; blank lines count
    msg = _schema_error(lambda: s.write_jsonl(b'{"v":8}\n\n{"x":1}\n{"v":9}\n', ["i", "j", "k"]))
    assert msg.startswith('Schema mismatch: (line 3 of the batch) document "j"'), msg
    assert s.exists("i") and not s.exists("j") and not s.exists("k")
    msg = _schema_error(lambda: s.write_jsonl('{"_id":"l","v":1}\n{"_id":"m","v":[1]}\n'))
    assert msg.startswith('Schema mismatch: (line 2 of the batch) document "m"'), msg
    assert s.exists("l") and not s.exists("m")
    # what was kept is durable like any write
    s.close()
    s = ZDSStore.open(store_path, "strict", create=False)
    assert sorted(s.keys()) == ["a", "b", "c", "g", "i", "l"]
    s.close()


def test_strict_batch_partial_write_counts_toward_batch_size(store_path):
    import glob

    s = zippy.FastZDSStore.open(store_path, "strict", strict=True, batch_size=3)
    (log,) = glob.glob(os.path.join(store_path, "collections", "strict", "**", "data.jsonl"),
                       recursive=True)
    s.put("a", {"v": 1})
    _schema_error(lambda: s.put_batch([("b", {"v": 2}), ("c", {"w": 1})]))
    assert os.path.getsize(log) == 0  # nothing flushed yet
    s.put("d", {"v": 3})  # a, b (kept by the failed batch) and d: 3 writes, a flush
    assert os.path.getsize(log) > 0
    with open(log, "rb") as f:
        assert f.read().count(b"\n") == 3
    s.close()


def test_flexible_by_default(zstore):
    zstore.put("a", {"x": 1})
    zstore.put("b", {"y": "other"})
    assert zstore.is_strict is False and zstore.schema() is None


def test_strict_on_mixed_collection_refused(store_path):
    with ZDSStore.open(store_path, "mixed") as s:
        s.put("a", {"x": 1})
        s.put("b", {"y": 1})
    with pytest.raises(ValueError, match="Schema mismatch"):
        ZDSStore.open(store_path, "mixed", strict=True)


# ---------------------------------------------------------------------------
# closed handles, context managers


def test_closed_handle_raises(store_path):
    s = ZDSStore.open(store_path)
    s.put("a", {})
    s.close()
    s.close()  # idempotent
    assert s.closed
    calls = [lambda: s.put("b", {}), lambda: s.get("a"), lambda: s.get("a", None), lambda: s.delete("a"),
             lambda: s.exists("a"), lambda: s.count(), lambda: s.list_doc_ids(), lambda: s.scan(),
             lambda: s.flush(), lambda: s.get_at(0), lambda: len(s), lambda: s["a"], lambda: "a" in s,
             lambda: s.put_batch([]), lambda: s.read_jsonl_blob(), lambda: s.compact(), lambda: s.preload()]
    for call in calls:
        with pytest.raises(ValueError, match="closed"):
            call()
    with pytest.raises(zippy.ClosedError):
        s.get("a")


def test_context_manager_closes_and_flushes(store_path):
    with ZDSStore.open(store_path, "cm") as s:
        s.put("a", {"v": 1})
    assert s.closed
    with ZDSStore.open(store_path, "cm") as s2:
        assert s2.get("a") == {"v": 1}


def test_context_manager_on_exception(store_path):
    with pytest.raises(RuntimeError):
        with ZDSStore.open(store_path, "cm") as s:
            s.put("a", {"v": 1})
            raise RuntimeError("boom")
    assert s.closed
    with ZDSStore.open(store_path, "cm") as s2:
        assert s2.get("a") == {"v": 1}


def test_unflushed_writes_survive_interpreter_exit(store_path):
    import subprocess

    code = ("import zippy\n"
            f"s = zippy.ZDSStore.open({store_path!r}, 'exit')\n"
            "for i in range(100): s.put(f'k{i}', {'i': i})\n"
            "global_ref = s\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    with ZDSStore.open(store_path, "exit") as s:
        assert s.count() == 100


def test_pickle_reopens_read_only(people):
    data = pickle.dumps(people)
    copy = pickle.loads(data)
    try:
        assert copy.count() == 4 and copy.get("u2")["name"] == "Bob"
        assert copy.writable is False
        with pytest.raises(PermissionError):
            copy.put("x", {})
        people.put("later", {"name": "Later", "age": 0})
        assert copy.get("later")["name"] == "Later"  # same process: same engine
    finally:
        copy.close()


def test_to_dataset(people):
    ds = people.to_dataset()
    assert len(ds) == 4 and ds[0]["name"] == "Ann" and ds[-1]["name"] == "Dee"
    it = people.to_iterable_dataset()
    assert [d["name"] for d in it] == ["Ann", "Bob", "Cid", "Dee"]


# ---------------------------------------------------------------------------
# threads


def test_threads_share_a_handle(store_path):
    s = ZDSStore.open(store_path, "threads")
    errors = []

    def writer(t):
        try:
            for i in range(500):
                s.put(f"t{t}-{i}", {"t": t, "i": i})
                if i % 100 == 0:
                    s.flush()
                assert s.get(f"t{t}-{i}") == {"t": t, "i": i}
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    assert s.count() == 2000
    s.close()


def test_scan_interrupted_by_compaction_raises_busy(store_path):
    s = FastZDSStore.open(store_path, "busy")
    s.put_batch([(f"k{i:04d}", {"i": i}) for i in range(1000)])
    for i in range(0, 1000, 2):
        s.delete(f"k{i:04d}")
    it = s.scan()
    assert next(it) == {"i": 1}
    s.compact()
    seen = 1
    with pytest.raises(zippy.BusyError, match="compact"):
        for _ in it:
            seen += 1
    assert 1 <= seen < 500  # the rows read before the compaction came out first
    assert len(list(s.scan())) == 500  # a new scan sees the compacted log
    s.close()


def test_scan_in_threads(store_path):
    s = ZDSStore.open(store_path, "ts")
    s.put_batch([(f"k{i}", {"i": i}) for i in range(3000)])
    results = []

    def reader():
        results.append(sum(d["i"] for d in s.scan()))

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [sum(range(3000))] * 4
    s.close()


# ---------------------------------------------------------------------------
# documented order


def test_docstrings_state_the_scan_order(zstore):
    import pathlib

    import zippy.arrow_compat
    import zippy.dataset
    import zippy.hf
    import zippy.pandas_compat
    import zippy.store

    scan_type = type(zstore.scan())
    stating = [ZDSStore.scan, ZDSStore.scan_ids, ZDSStore.get_at, ZDSStore.ids_in_order,
               zippy.ZDataset, zippy.ZIterableDataset, scan_type, zippy.store, zippy.dataset,
               zippy.pandas_compat]
    for obj in stating + [ZDSStore.id_at, ZDSStore.item_at, ZDSStore.scan_with_ids,
                          ZDSStore.read_jsonl_blob, zippy.hf, zippy.arrow_compat]:
        assert "insertion order" not in (obj.__doc__ or ""), obj
    for obj in stating:
        doc = " ".join((obj.__doc__ or "").split())
        assert "latest write" in doc and "moves it to the end" in doc, obj
    guide = pathlib.Path(__file__).resolve().parents[2] / "docs" / "PYTHON.md"
    if guide.exists():
        text = " ".join(guide.read_text(encoding="utf-8").split())
        assert "insertion order" not in text
        assert "the order of each document's latest write" in text
    # and what they state holds
    for k in "abc":
        zstore.put(k, {"k": k})
    zstore.put("a", {"k": "a2"})
    assert [zstore.id_at(i) for i in range(3)] == ["b", "c", "a"] == zstore.ids_in_order()
    assert [d["k"] for d in zstore.scan()] == ["b", "c", "a2"]
    assert [d["k"] for d in zstore.to_dataset()] == ["b", "c", "a2"]
    assert [d["k"] for d in zstore.to_iterable_dataset()] == ["b", "c", "a2"]
