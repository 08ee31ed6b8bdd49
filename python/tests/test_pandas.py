"""zippy.pandas_compat: read_zds and to_zds."""

import math

import pytest

pd = pytest.importorskip("pandas", reason="pandas is not installed")
np = pytest.importorskip("numpy", reason="numpy is not installed")

import zippy  # noqa: E402
from zippy.pandas_compat import read_zds, to_zds  # noqa: E402


@pytest.fixture
def root(tmp_path):
    p = str(tmp_path / "store")
    with zippy.ZDSStore.open(p, "users") as s:
        s.put("u1", {"name": "Alice", "age": 28, "address": {"city": "Paris"}})
        s.put("u2", {"name": "Bob", "email": "b@x", "age": 35})
        s.put("u3", {"zeta": 1, "name": "Carol"})
    return p


def test_read_zds_columns_follow_document_order(root):
    df = read_zds(root, "users")
    assert list(df.columns) == ["_id", "name", "age", "address", "email", "zeta"]
    assert list(df["_id"]) == ["u1", "u2", "u3"]
    assert list(df["name"]) == ["Alice", "Bob", "Carol"]
    assert df.loc[0, "address"] == {"city": "Paris"}
    assert df.loc[1, "email"] == "b@x"
    assert pd.isna(df.loc[0, "email"]) and pd.isna(df.loc[2, "age"])
    assert df.loc[1, "age"] == 35
    assert len(df) == 3


def test_read_zds_columns_selection(root):
    df = read_zds(root, "users", columns=["age", "name"])
    assert list(df.columns) == ["age", "name"]
    df2 = read_zds(root, "users", columns=["_id", "zeta"])
    assert list(df2.columns) == ["_id", "zeta"]
    assert list(df2["_id"]) == ["u1", "u2", "u3"]
    df3 = read_zds(root, "users", columns="name")
    assert list(df3.columns) == ["name"]
    # a column no document has is all missing
    df4 = read_zds(root, "users", columns=["nothere"])
    assert df4["nothere"].isna().all() and len(df4) == 3
    with pytest.raises(TypeError):
        read_zds(root, "users", columns=[1])


def test_read_zds_errors_and_empty(root, tmp_path):
    with pytest.raises(KeyError, match="nope"):
        read_zds(root, "nope")
    with pytest.raises(FileNotFoundError):
        read_zds(str(tmp_path / "absent"), "users")
    with zippy.ZDSStore.open(root, "empty"):
        pass
    df = read_zds(root, "empty")
    assert list(df.columns) == ["_id"] and len(df) == 0


def test_read_zds_default_collection(tmp_path):
    p = str(tmp_path / "s")
    with zippy.ZDSStore.open(p) as s:
        s.put("a", {"v": 1})
    assert read_zds(p).to_dict("records") == [{"_id": "a", "v": 1}]


def test_to_zds_ids_from_range_index(tmp_path):
    p = str(tmp_path / "o")
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    assert to_zds(df, p, "c") == 3
    with zippy.ZDSStore.open(p, "c") as s:
        assert s.list_doc_ids() == ["0", "1", "2"]
        assert s.get("1") == {"a": 2, "b": "y"}
        assert type(s.get("1")["a"]) is int


def test_to_zds_ids_from_index_and_column(tmp_path):
    p = str(tmp_path / "o")
    df = pd.DataFrame({"k": ["ka", "kb"], "v": [1.5, 2.5]}, index=["ia", "ib"])
    assert to_zds(df, p, "by_index") == 2
    assert to_zds(df, p, "by_col", doc_id_column="k") == 2
    with zippy.ZDSStore.open(p, "by_index") as s:
        assert s.list_doc_ids() == ["ia", "ib"]
        assert s.get("ia") == {"k": "ka", "v": 1.5}
    with zippy.ZDSStore.open(p, "by_col") as s:
        assert s.list_doc_ids() == ["ka", "kb"]
        assert s.get("kb") == {"k": "kb", "v": 2.5}  # the id column is kept
    # integer id column -> str ids
    to_zds(pd.DataFrame({"n": [10, 20], "v": [1, 2]}), p, "ints", doc_id_column="n")
    with zippy.ZDSStore.open(p, "ints") as s:
        assert s.list_doc_ids() == ["10", "20"]


def test_round_trip_through_id_column(root, tmp_path):
    df = read_zds(root, "users")
    p = str(tmp_path / "copy")
    # the _id column is used automatically and not stored in the body
    assert to_zds(df[["_id", "name"]], p, "users") == 3
    with zippy.ZDSStore.open(p, "users") as s:
        assert s.get("u2") == {"name": "Bob"}
    back = read_zds(p, "users")
    assert list(back["_id"]) == ["u1", "u2", "u3"]
    assert list(back.columns) == ["_id", "name"]


def test_to_zds_numpy_and_special_values(tmp_path):
    p = str(tmp_path / "o")
    df = pd.DataFrame({
        "i": np.array([1, 2], dtype=np.int32),
        "f": np.array([0.5, np.nan]),
        "b": np.array([True, False]),
        "arr": [np.arange(3), np.array([1.5, 2.5])],
        "ts": [pd.Timestamp("2024-01-02 03:04:05"), pd.NaT],
        "obj": [{"n": np.int64(5)}, None],
        "u": np.array([7, 8], dtype=np.uint16),
    })
    assert to_zds(df, p) == 2
    with zippy.ZDSStore.open(p) as s:
        d0, d1 = s.get("0"), s.get("1")
    assert d0 == {"i": 1, "f": 0.5, "b": True, "arr": [0, 1, 2],
                  "ts": "2024-01-02T03:04:05", "obj": {"n": 5}, "u": 7}
    assert d1 == {"i": 2, "f": None, "b": False, "arr": [1.5, 2.5], "ts": None,
                  "obj": None, "u": 8}
    assert type(d0["i"]) is int and type(d0["b"]) is bool and type(d0["f"]) is float


def test_to_zds_nullable_and_categorical(tmp_path):
    p = str(tmp_path / "o")
    df = pd.DataFrame({"n": pd.array([1, None], dtype="Int64"),
                       "c": pd.Categorical(["a", "b"]),
                       "s": pd.array(["x", None], dtype="string")})
    to_zds(df, p)
    with zippy.ZDSStore.open(p) as s:
        assert s.get("0") == {"n": 1, "c": "a", "s": "x"}
        assert s.get("1") == {"n": None, "c": "b", "s": None}


def test_to_zds_bad_input(tmp_path):
    p = str(tmp_path / "o")
    with pytest.raises(TypeError):
        to_zds([{"a": 1}], p)
    with pytest.raises(ValueError, match="infinity"):
        to_zds(pd.DataFrame({"a": [math.inf]}), p, "inf")
    with pytest.raises(TypeError, match="bytes"):
        to_zds(pd.DataFrame({"a": [b"raw"]}), p, "bytes")
    with pytest.raises(TypeError, match="set"):
        to_zds(pd.DataFrame({"a": [{1, 2}]}), p, "sets")
    with pytest.raises(ValueError, match="duplicate"):
        to_zds(pd.DataFrame({"a": [1, 2]}, index=["x", "x"]), p, "dups")
    with pytest.raises(KeyError, match="nope"):
        to_zds(pd.DataFrame({"a": [1]}), p, "c", doc_id_column="nope")
    with pytest.raises(ValueError):
        to_zds(pd.DataFrame({"a": [1]}, index=["bad id"]), p, "badid")
    with pytest.raises(ValueError, match="no id"):
        to_zds(pd.DataFrame({"k": [None], "a": [1]}), p, "noid", doc_id_column="k")


def test_to_zds_strict(tmp_path):
    p = str(tmp_path / "o")
    ok = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    assert to_zds(ok, p, "s", strict=True) == 2
    bad = pd.DataFrame({"a": [1, "two"]}, dtype=object)
    with pytest.raises(ValueError, match="Schema mismatch"):
        to_zds(bad, p, "s2", strict=True)
    # not strict: mixed types are fine
    assert to_zds(bad, p, "loose") == 2


def test_to_zds_overwrites_existing_ids(tmp_path):
    p = str(tmp_path / "o")
    to_zds(pd.DataFrame({"v": [1, 2]}), p)
    to_zds(pd.DataFrame({"v": [9]}), p)
    with zippy.ZDSStore.open(p) as s:
        assert s.count() == 2
        assert s.get("0") == {"v": 9}


def test_to_zds_many_rows_bulk(tmp_path):
    p = str(tmp_path / "o")
    n = 25000  # more than one bulk batch
    df = pd.DataFrame({"x": np.arange(n), "y": np.arange(n) * 0.25})
    assert to_zds(df, p) == n
    back = read_zds(p)
    assert len(back) == n
    assert back["x"].tolist() == list(range(n))
    assert back["_id"].iloc[-1] == str(n - 1)


def test_cli_reads_to_zds_and_read_zds_reads_cli(cli, tmp_path):
    import json
    import subprocess
    p = str(tmp_path / "o")
    to_zds(pd.DataFrame({"name": ["A", "B"], "n": [1, 2]}, index=["a", "b"]), p, "t")
    r = subprocess.run([cli, "export", p, "-c", "t"], capture_output=True, text=True,
                       check=True)
    assert [json.loads(line) for line in r.stdout.splitlines()] == [
        {"_id": "a", "name": "A", "n": 1}, {"_id": "b", "name": "B", "n": 2}]
    subprocess.run([cli, "import", p, "-c", "fromcli", "-"], check=True, text=True,
                   input='{"_id":"x","k":[1,2],"z":null}\n{"_id":"y","k":[],"w":true}\n',
                   capture_output=True)
    df = read_zds(p, "fromcli")
    assert list(df.columns) == ["_id", "k", "z", "w"]
    assert df.to_dict("records")[0] == {"_id": "x", "k": [1, 2], "z": None, "w": None}
