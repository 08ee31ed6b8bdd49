"""ZDataset: the map-style dataset over a collection."""

import pickle

import pytest

import zippy
from zippy import ZDataset

N = 40


def _doc(i):
    return {"i": i, "name": "n%d" % i, "score": i * 0.5, "tags": ["t%d" % (i % 3)],
            "ok": i % 2 == 0}


@pytest.fixture
def store(tmp_path):
    s = zippy.ZDSStore.open(str(tmp_path / "store"), "data")
    for i in range(N):
        s.put("d%03d" % i, _doc(i))
    s.flush()
    yield s
    s.close()


@pytest.fixture
def ds(store):
    return ZDataset(store)


def ids(items):
    return [x["i"] for x in items]


# -- basic access -------------------------------------------------------------

def test_len_and_items_in_insertion_order(ds):
    assert len(ds) == N
    assert ds[0] == _doc(0)
    assert ds[N - 1] == _doc(N - 1)
    assert ids(ds) == list(range(N))
    assert "_id" not in ds[0]


def test_negative_index(ds):
    assert ds[-1] == _doc(N - 1)
    assert ds[-N] == _doc(0)


@pytest.mark.parametrize("bad", [N, N + 5, -N - 1, 10 ** 12])
def test_index_past_the_end(ds, bad):
    with pytest.raises(IndexError):
        ds[bad]


@pytest.mark.parametrize("bad", ["0", 1.5, None, True, {"a": 1}])
def test_bad_index_types(ds, bad):
    with pytest.raises(TypeError):
        ds[bad]


def test_slices_return_lists(ds):
    assert isinstance(ds[2:5], list)
    assert ids(ds[2:5]) == [2, 3, 4]
    assert ids(ds[::10]) == [0, 10, 20, 30]
    assert ids(ds[-3:]) == [N - 3, N - 2, N - 1]
    assert ids(ds[5:1:-2]) == [5, 3]
    assert ds[N:N + 3] == []


def test_list_of_indices(ds):
    assert ids(ds[[3, 1, -1]]) == [3, 1, N - 1]
    with pytest.raises(IndexError):
        ds[[0, N]]


def test_iteration_twice(ds):
    assert ids(ds) == ids(ds) == list(range(N))


def test_get_returns_fresh_objects(ds):
    a = ds[0]
    a["name"] = "changed"
    a["tags"].append("x")
    assert ds[0] == _doc(0)


def test_snapshot_ignores_later_appends(store, ds):
    store.put("zz_new", {"i": 999})
    store.flush()
    assert len(ds) == N
    assert 999 not in ids(ds)
    assert len(ZDataset(store)) == N + 1


def test_constructor_indices_and_transform(store):
    d = ZDataset(store, indices=[5, 0, -1], transform=lambda x: x["i"] * 10)
    assert len(d) == 3
    assert list(d) == [50, 0, (N - 1) * 10]
    assert ZDataset(store, indices=range(3, 6))[0]["i"] == 3
    with pytest.raises(IndexError):
        ZDataset(store, indices=[N])
    with pytest.raises(TypeError):
        ZDataset(store, indices=["a"])
    with pytest.raises(TypeError):
        ZDataset(store, indices=5)
    with pytest.raises(TypeError):
        ZDataset(store, transform="not callable")


def test_numpy_indices(store):
    np = pytest.importorskip("numpy")
    d = ZDataset(store, indices=np.array([2, 4, -1]))
    assert ids(d) == [2, 4, N - 1]
    assert ids(ZDataset(store).select(np.arange(3))) == [0, 1, 2]
    with pytest.raises(IndexError):
        ZDataset(store, indices=np.array([N]))


def test_not_a_store():
    with pytest.raises(TypeError):
        ZDataset(object())
    with pytest.raises(TypeError):
        ZDataset(42)


def test_empty_collection(tmp_path):
    with zippy.ZDSStore.open(str(tmp_path / "e"), "empty") as s:
        d = ZDataset(s)
        assert len(d) == 0
        assert list(d) == []
        assert d.features == {}
        assert list(d.batch(3)) == []
        with pytest.raises(IndexError):
            d[0]


# -- transformations ------------------------------------------------------------

def test_select(ds):
    sel = ds.select([4, 2, 2, -1])
    assert ids(sel) == [4, 2, 2, N - 1]
    assert ids(sel.select([1, 0])) == [2, 4]  # positions in the selected dataset
    assert ids(ds.select(range(5, 8))) == [5, 6, 7]
    assert len(ds) == N  # unchanged
    with pytest.raises(IndexError):
        ds.select([N])
    with pytest.raises(IndexError):
        sel.select([4])
    with pytest.raises(TypeError):
        ds.select("abc")
    with pytest.raises(TypeError):
        ds.select([1.5])


def test_shuffle_deterministic(ds):
    a = ids(ds.shuffle(seed=42))
    b = ids(ds.shuffle(seed=42))
    c = ids(ds.shuffle(seed=7))
    assert a == b
    assert a != c
    assert sorted(a) == list(range(N)) and sorted(c) == list(range(N))
    assert a != list(range(N))
    assert ids(ds) == list(range(N))  # the original is untouched
    # positional seed as in the original API, and chaining
    assert ids(ds.shuffle(42)) == a
    assert ids(ds.shuffle(1).shuffle(1)) == ids(ds.shuffle(1).shuffle(1))


def test_shuffle_stable_permutation(ds):
    # the documented algorithm: random.Random(seed).shuffle over the positions
    import random
    expect = list(range(N))
    random.Random(123).shuffle(expect)
    assert ids(ds.shuffle(123)) == expect


def test_shuffle_without_seed_and_bad_seed(ds):
    assert sorted(ids(ds.shuffle())) == list(range(N))
    with pytest.raises(TypeError):
        ds.shuffle("seed")
    with pytest.raises(TypeError):
        ds.shuffle(1.5)


def test_map_is_lazy_and_composes(ds):
    calls = []

    def f(x):
        calls.append(x["i"])
        return {"i": x["i"], "double": x["i"] * 2}

    m = ds.map(f)
    assert calls == []  # nothing computed yet
    assert m[3] == {"i": 3, "double": 6}
    assert calls == [3]
    m2 = m.map(lambda x: x["double"] + 1)
    assert m2[4] == 9
    assert list(m2.take(3)) == [1, 3, 5]
    assert ds[3] == _doc(3)  # the source is unchanged
    with pytest.raises(TypeError):
        ds.map(None)


def test_filter(ds):
    even = ds.filter(lambda x: x["i"] % 2 == 0)
    assert ids(even) == list(range(0, N, 2))
    assert len(even) == N // 2
    assert even[-1]["i"] == N - 2
    # filter sees mapped items, and the map stays applied
    m = ds.map(lambda x: {"i": x["i"], "big": x["i"] >= 30}).filter(lambda x: x["big"])
    assert ids(m) == list(range(30, N))
    assert ds.filter(lambda x: False).features == {}
    with pytest.raises(TypeError):
        ds.filter(3)


def test_take_skip(ds):
    assert ids(ds.take(3)) == [0, 1, 2]
    assert ids(ds.skip(N - 2)) == [N - 2, N - 1]
    assert len(ds.take(N + 10)) == N
    assert len(ds.skip(N + 10)) == 0
    assert ids(ds.skip(5).take(2)) == [5, 6]
    assert ids(ds.shuffle(3).take(4)) == ids(ds.shuffle(3))[:4]
    for bad in (-1,):
        with pytest.raises(ValueError):
            ds.take(bad)
        with pytest.raises(ValueError):
            ds.skip(bad)
    with pytest.raises(TypeError):
        ds.take(2.0)
    with pytest.raises(TypeError):
        ds.skip("1")


def test_batch(ds):
    batches = list(ds.batch(16))
    assert [len(b) for b in batches] == [16, 16, 8]
    assert [x["i"] for b in batches for x in b] == list(range(N))
    assert [len(b) for b in ds.batch(16, drop_last=True)] == [16, 16]
    assert [len(b) for b in ds.batch(N)] == [N]
    with pytest.raises(ValueError):
        ds.batch(0)
    with pytest.raises(ValueError):
        ds.batch(-2)
    with pytest.raises(TypeError):
        ds.batch("4")


def test_features(store):
    ds = ZDataset(store)
    assert ds.features == {"i": "int64", "name": "string", "score": "float64",
                           "tags": "list", "ok": "bool"}
    assert ds.column_names == ["i", "name", "score", "tags", "ok"]
    store.put("x1", {"i": 1.5, "name": None, "nested": {"a": 1}, "w": None})
    store.put("x2", {"i": 2, "name": 3, "w": None})
    d2 = ZDataset(store).skip(N)
    assert d2.features == {"i": "float64", "name": "int64", "nested": "dict", "w": "null"}
    d3 = ZDataset(store).skip(N + 1).map(lambda x: {"name": x["name"]})
    assert d3.features == {"name": "int64"}
    # string and int for the same key -> mixed
    store.put("x3", {"name": "s"})
    assert ZDataset(store).skip(N + 1).features["name"] == "mixed"
    assert ZDataset(store).map(lambda x: x["i"]).features == {}


def test_from_store(store, tmp_path):
    root = str(tmp_path / "store")
    d = ZDataset.from_store(root, "data")
    assert len(d) == N and d[1] == _doc(1)
    assert ids(d.shuffle(5)) == ids(ZDataset(store).shuffle(5))
    with pytest.raises(KeyError) as e:
        ZDataset.from_store(root, "nope")
    assert "nope" in str(e.value) and "data" in str(e.value)
    with pytest.raises(FileNotFoundError):
        ZDataset.from_store(str(tmp_path / "missing"), "data")
    with pytest.raises(TypeError):
        ZDataset.from_store(root, 3)


def test_from_store_default_collection(tmp_path):
    with zippy.ZDSStore.open(str(tmp_path / "s")) as s:
        s.put("a", {"v": 1})
    d = ZDataset.from_store(str(tmp_path / "s"))
    assert list(d) == [{"v": 1}]


def test_pickle_round_trip(ds):
    d = ds.shuffle(9).take(7)
    d2 = pickle.loads(pickle.dumps(d))
    assert isinstance(d2, ZDataset)
    assert type(d2) is type(d)
    assert list(d2) == list(d)
    assert len(d2) == 7


def test_pickle_keeps_picklable_transform(ds):
    d = pickle.loads(pickle.dumps(ds.map(len).map(str)))
    assert d[0] == str(len(_doc(0)))


def test_repr(ds):
    r = repr(ds)
    assert "ZDataset" in r and "data" in r and str(N) in r


def test_store_updates_visible_through_positions(store):
    d = ZDataset(store)
    store.put("d000", {"i": 0, "name": "updated"})
    store.flush()
    # the update takes the place of its latest write: last position
    assert ZDataset(store)[-1] == {"i": 0, "name": "updated"}
    assert len(d) == N


def test_path_argument_opens_default_collection(tmp_path):
    p = tmp_path / "s"
    with zippy.ZDSStore.open(str(p)) as s:
        s.put("a", {"v": 1})
        s.put("b", {"v": 2})
    assert list(ZDataset(str(p))) == [{"v": 1}, {"v": 2}]
    assert list(ZDataset(p).select([1])) == [{"v": 2}]  # a pathlib.Path too


def test_store_to_dataset_helpers(store):
    assert ids(store.to_dataset().shuffle(4)) == ids(ZDataset(store).shuffle(4))
    assert ids(store.to_iterable_dataset()) == list(range(N))


def test_pickle_with_relative_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with zippy.ZDSStore.open("rel", "c") as s:
        s.put("a", {"v": 1})
        blob = pickle.dumps(ZDataset(s))
    monkeypatch.chdir("/")
    assert list(pickle.loads(blob)) == [{"v": 1}]


def test_copy_shares_the_store(ds):
    import copy
    d = ds.shuffle(2)
    for c in (copy.copy(d), copy.deepcopy(d)):
        assert c.store is d.store
        assert list(c) == list(d)
