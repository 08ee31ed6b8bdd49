"""ZIterableDataset: the streaming dataset over a collection."""

import pickle

import pytest

import zippy
from zippy import ZIterableDataset

N = 100


@pytest.fixture
def store(tmp_path):
    s = zippy.ZDSStore.open(str(tmp_path / "store"), "data")
    for i in range(N):
        s.put("d%03d" % i, {"i": i, "even": i % 2 == 0})
    s.flush()
    yield s
    s.close()


@pytest.fixture
def it(store):
    return ZIterableDataset(store)


def ids(items):
    return [x["i"] for x in items]


def test_iterates_in_insertion_order(it):
    assert ids(it) == list(range(N))
    assert ids(it) == list(range(N))  # iterable more than once
    assert len(it) == N
    assert "_id" not in next(iter(it))


def test_sees_new_documents_on_each_iteration(store, it):
    store.put("new", {"i": 1000, "even": True})
    assert ids(it)[-1] == 1000
    assert len(it) == N + 1


def test_shuffle_no_dups_no_losses_and_deterministic(it):
    a = ids(it.shuffle(buffer_size=10, seed=1))
    b = ids(it.shuffle(buffer_size=10, seed=1))
    c = ids(it.shuffle(buffer_size=10, seed=2))
    assert sorted(a) == list(range(N))
    assert sorted(c) == list(range(N))
    assert a == b
    assert a != c
    assert a != list(range(N))


@pytest.mark.parametrize("buf", [1, 2, 7, N - 1, N, N + 50, 1000])
def test_shuffle_buffer_sizes(it, buf):
    out = ids(it.shuffle(buffer_size=buf, seed=3))
    assert sorted(out) == list(range(N))
    assert len(set(out)) == N


def test_shuffle_buffer_is_local(it):
    # with a buffer of k, the item emitted at position p was read at most
    # k positions later (it had to be in the buffer)
    out = ids(it.shuffle(buffer_size=5, seed=11))
    for p, i in enumerate(out):
        assert i <= p + 5


def test_shuffle_without_seed_differs_between_iterations(it):
    s = it.shuffle(buffer_size=50)
    runs = [tuple(ids(s)) for _ in range(3)]
    assert all(sorted(r) == list(range(N)) for r in runs)
    assert len(set(runs)) > 1


def test_constructor_buffer_and_seed(store):
    a = ids(ZIterableDataset(store, buffer_size=20, seed=5))
    b = ids(ZIterableDataset(store, buffer_size=20, seed=5))
    assert a == b and sorted(a) == list(range(N)) and a != list(range(N))
    assert ids(ZIterableDataset(store, buffer_size=0, seed=5)) == list(range(N))


def test_bad_arguments(store, it):
    with pytest.raises(ValueError):
        ZIterableDataset(store, buffer_size=-1)
    with pytest.raises(TypeError):
        ZIterableDataset(store, seed="x")
    with pytest.raises(TypeError):
        ZIterableDataset(12)
    with pytest.raises(ValueError):
        it.shuffle(buffer_size=0)
    with pytest.raises(TypeError):
        it.shuffle(seed=1.5)
    with pytest.raises(ValueError):
        it.take(-1)
    with pytest.raises(ValueError):
        it.skip(-3)
    with pytest.raises(TypeError):
        it.take("3")
    with pytest.raises(ValueError):
        it.batch(0)
    with pytest.raises(TypeError):
        it.map(3)
    with pytest.raises(TypeError):
        it.filter(None)


def test_map_filter_take_skip_batch(it):
    m = it.map(lambda x: x["i"] * 2)
    assert list(m.take(3)) == [0, 2, 4]
    f = it.filter(lambda x: x["even"])
    assert ids(f) == list(range(0, N, 2))
    assert ids(it.skip(95)) == [95, 96, 97, 98, 99]
    assert ids(it.skip(10).take(3)) == [10, 11, 12]
    assert ids(it.take(3).skip(1)) == [1, 2]
    assert ids(it.take(N + 5)) == list(range(N))
    assert list(it.skip(N + 1)) == []
    batches = list(it.batch(32))
    assert [len(b) for b in batches] == [32, 32, 32, 4]
    assert [len(b) for b in it.batch(32, drop_last=True)] == [32, 32, 32]
    assert [x["i"] for b in batches for x in b] == list(range(N))
    # the order of the chain matters
    assert list(it.map(lambda x: x["i"]).filter(lambda v: v > 96)) == [97, 98, 99]
    chained = it.filter(lambda x: x["even"]).map(lambda x: x["i"]).batch(10).take(2)
    assert list(chained) == [list(range(0, 20, 2)), list(range(20, 40, 2))]


def test_lazy(it):
    calls = []
    m = it.map(lambda x: calls.append(x["i"]) or x)
    assert calls == []
    next(iter(m))
    assert calls == [0]


def test_chaining_does_not_modify_the_original(it):
    it.shuffle(10, seed=1).take(5)
    assert ids(it) == list(range(N))


def test_len(it):
    assert len(it.map(lambda x: x)) == N
    assert len(it.take(10)) == 10
    assert len(it.skip(90)) == 10
    assert len(it.skip(200)) == 0
    assert len(it.batch(32)) == 4
    assert len(it.batch(32, drop_last=True)) == 3
    assert len(it.shuffle(10, seed=1)) == N
    with pytest.raises(TypeError):
        len(it.filter(lambda x: True))


def test_shuffle_then_take(it):
    a = ids(it.shuffle(20, seed=4).take(10))
    assert a == ids(it.shuffle(20, seed=4))[:10]
    assert len(set(a)) == 10


def test_from_store(store, tmp_path):
    root = str(tmp_path / "store")
    s = ZIterableDataset.from_store(root, "data")
    assert ids(s) == list(range(N))
    s2 = ZIterableDataset.from_store(root, "data", buffer_size=10, seed=3)
    assert ids(s2) == ids(ZIterableDataset(store, buffer_size=10, seed=3))
    with pytest.raises(KeyError):
        ZIterableDataset.from_store(root, "missing")
    with pytest.raises(FileNotFoundError):
        ZIterableDataset.from_store(str(tmp_path / "nope"))


def test_features(it):
    assert it.features == {"i": "int64", "even": "bool"}


def test_pickle_round_trip(it):
    s = it.shuffle(10, seed=8).filter(bool).take(20)
    s2 = pickle.loads(pickle.dumps(s))
    assert isinstance(s2, ZIterableDataset)
    assert ids(s2) == ids(s)


def test_repr(it):
    assert "ZIterableDataset" in repr(it.shuffle(3).take(2))
    assert "take" in repr(it.shuffle(3).take(2))


def test_empty(tmp_path):
    with zippy.ZDSStore.open(str(tmp_path / "e"), "e") as s:
        z = ZIterableDataset(s, buffer_size=10, seed=1)
        assert list(z) == []
        assert list(z.batch(4)) == []
        assert len(z) == 0


def test_copy_shares_the_store(it):
    import copy
    s = it.shuffle(5, seed=2).take(10)
    for c in (copy.copy(s), copy.deepcopy(s)):
        assert c.store is s.store
        assert ids(c) == ids(s)
