"""compute_schema_id and validate_doc_id, and the value conversion helper."""

import datetime
import decimal
import hashlib
import re

import pytest

import zippy
from zippy import _native, compute_schema_id, validate_doc_id
from zippy.utils import _to_json_value


# -- compute_schema_id ----------------------------------------------------------

def test_schema_id_shape_and_definition():
    doc = {"name": "a", "age": 3, "tags": [1], "ok": True, "none": None, "sub": {"x": 1.5}}
    sid = compute_schema_id(doc)
    assert re.fullmatch(r"[0-9a-f]{16}", sid)
    expect = hashlib.sha256(_native.schema_of(doc).encode("utf-8")).hexdigest()[:16]
    assert sid == expect


def test_schema_id_depends_on_keys_and_types_only():
    a = compute_schema_id({"name": "Alice", "age": 28})
    assert a == compute_schema_id({"name": "Bob", "age": 99.5})      # values differ
    assert a == compute_schema_id({"age": 1, "name": ""})            # key order differs
    assert a != compute_schema_id({"name": "Alice", "age": "28"})    # type differs
    assert a != compute_schema_id({"name": "Alice"})                 # key missing
    assert a != compute_schema_id({"name": "Alice", "age": 28, "x": None})


def test_schema_id_nested_and_arrays():
    a = compute_schema_id({"a": {"b": 1}})
    assert a == compute_schema_id({"a": {"b": 2}})
    assert a != compute_schema_id({"a": {"c": 1}})
    assert a != compute_schema_id({"a": {"b": "1"}})
    # array elements are not inspected
    assert compute_schema_id({"t": [1, 2]}) == compute_schema_id({"t": ["x", {}]})
    assert compute_schema_id({"t": []}) != compute_schema_id({"t": {}})
    assert compute_schema_id({"b": True}) != compute_schema_id({"b": 1})


def test_schema_id_accepts_json_text():
    doc = {"x": 1, "y": [1], "z": {"w": None}}
    assert compute_schema_id('{"z":{"w":null},"x":5,"y":[]}') == compute_schema_id(doc)
    assert compute_schema_id(b'{"x":1,"y":[],"z":{"w":null}}') == compute_schema_id(doc)
    assert compute_schema_id({}) == compute_schema_id("{}")


def test_schema_id_is_stable_across_calls():
    doc = {"k%d" % i: i for i in range(50)}
    assert len({compute_schema_id(doc) for _ in range(5)}) == 1


@pytest.mark.parametrize("bad", [[1, 2], 5, None, 1.5, {1, 2}])
def test_schema_id_rejects_non_objects(bad):
    with pytest.raises(TypeError):
        compute_schema_id(bad)


@pytest.mark.parametrize("bad", ["[1,2]", "not json", '{"a":', "42"])
def test_schema_id_rejects_bad_json_text(bad):
    with pytest.raises((ValueError, TypeError)):
        compute_schema_id(bad)


def test_schema_id_matches_strict_collection(tmp_path):
    # two documents share a schema id exactly when a strict collection takes both
    with zippy.ZDSStore.open(str(tmp_path / "s"), "c", strict=True) as s:
        s.put("a", {"n": 1, "s": "x"})
        s.put("b", {"s": "y", "n": 2.5})
        assert compute_schema_id({"n": 1, "s": "x"}) == compute_schema_id({"s": "y", "n": 2.5})
        with pytest.raises(ValueError, match="Schema mismatch"):
            s.put("c", {"n": "1", "s": "x"})
        assert compute_schema_id({"n": "1", "s": "x"}) != compute_schema_id({"n": 1, "s": "x"})


# -- validate_doc_id ----------------------------------------------------------------

@pytest.mark.parametrize("good", ["user_001", "a", "A-b.c@d:e+f=g", "x" * 255, "café",
                                  "日本語", "u.1", "0"])
def test_valid_ids_are_returned(good):
    assert validate_doc_id(good) == good


@pytest.mark.parametrize("bad", ["", ".hidden", "a..b", "a/b", "a b", "x" * 256, "tab\t",
                                 "new\nline", "a\\b", "quote\"", "é" * 128, "a\x00b"])
def test_invalid_ids_raise_value_error(bad):
    with pytest.raises(ValueError) as e:
        validate_doc_id(bad)
    assert str(e.value)  # a message, not an empty error


def test_invalid_id_message_is_clear():
    with pytest.raises(ValueError, match="id"):
        validate_doc_id("a/b")


@pytest.mark.parametrize("bad", [None, 1, b"abc", ["a"], 1.5])
def test_non_string_ids_raise_type_error(bad):
    with pytest.raises(TypeError):
        validate_doc_id(bad)


def test_validate_agrees_with_the_store(tmp_path):
    with zippy.ZDSStore.open(str(tmp_path / "s")) as s:
        for cand in ["ok_1", "bad id", ".x", "a..b", "ü"]:
            try:
                validate_doc_id(cand)
                valid = True
            except ValueError:
                valid = False
            if valid:
                s.put(cand, {"v": 1})
                assert s.get(cand) == {"v": 1}
            else:
                with pytest.raises(ValueError):
                    s.put(cand, {"v": 1})


# -- _to_json_value ------------------------------------------------------------------

def test_to_json_value_plain_and_special():
    assert _to_json_value({"a": (1, 2), "b": [None, "x"], 3: True}) == \
        {"a": [1, 2], "b": [None, "x"], "3": True}
    assert _to_json_value(float("nan")) is None
    assert _to_json_value(datetime.date(2024, 1, 2)) == "2024-01-02"
    assert _to_json_value(datetime.datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05"
    assert _to_json_value(datetime.timedelta(seconds=90)) == 90.0
    assert _to_json_value(decimal.Decimal("1.5")) == 1.5
    with pytest.raises(ValueError, match="infinity"):
        _to_json_value(float("inf"))
    with pytest.raises(TypeError, match="set"):
        _to_json_value({1, 2})
    with pytest.raises(TypeError, match="bytes"):
        _to_json_value(b"x")
    with pytest.raises(TypeError, match="bytes key"):
        _to_json_value({b"k": 1})
    with pytest.raises(TypeError, match="object"):
        _to_json_value(object())


def test_to_json_value_numpy():
    np = pytest.importorskip("numpy")
    out = _to_json_value({"i": np.int64(3), "f": np.float32(0.5), "b": np.bool_(True),
                          "a": np.arange(3), "m": np.array([[1.5, np.nan]]),
                          "u": np.uint8(7), "nan": np.float64("nan")})
    assert out == {"i": 3, "f": 0.5, "b": True, "a": [0, 1, 2], "m": [[1.5, None]],
                   "u": 7, "nan": None}
    assert type(out["i"]) is int and type(out["f"]) is float and type(out["b"]) is bool
    assert _to_json_value(np.datetime64("2024-01-02T03:04:05")) == "2024-01-02T03:04:05"
    assert _to_json_value(np.datetime64("NaT")) is None
