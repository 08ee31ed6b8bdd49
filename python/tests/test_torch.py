"""The datasets with PyTorch's DataLoader, including several workers."""

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed")
from torch.utils.data import DataLoader, Dataset, IterableDataset  # noqa: E402

import zippy  # noqa: E402
from zippy import ZDataset, ZIterableDataset  # noqa: E402

N = 60


@pytest.fixture
def store(tmp_path):
    s = zippy.ZDSStore.open(str(tmp_path / "store"), "data")
    for i in range(N):
        s.put("d%03d" % i, {"i": i, "x": float(i) / 2})
    s.flush()
    yield s
    s.close()


def as_list(batch):  # a picklable collate_fn (spawn needs one)
    return list(batch)


def flat_ids(loader):
    return [x["i"] for batch in loader for x in batch]


def test_are_torch_datasets(store):
    assert isinstance(ZDataset(store), Dataset)
    assert isinstance(ZDataset(store), ZDataset)
    assert isinstance(ZIterableDataset(store), IterableDataset)
    assert isinstance(ZIterableDataset(store).shuffle(4).take(3), IterableDataset)
    assert isinstance(ZDataset(store).shuffle(1).select([0]), Dataset)


def test_opt_out_of_torch(store, monkeypatch):
    monkeypatch.setenv("ZIPPY_NO_TORCH", "1")
    d = ZDataset(store)
    assert not isinstance(d, Dataset)
    assert isinstance(d, ZDataset)
    assert not isinstance(ZIterableDataset(store), IterableDataset)


def test_map_style_single_process(store):
    ds = ZDataset(store)
    loader = DataLoader(ds, batch_size=8, collate_fn=as_list)
    assert flat_ids(loader) == list(range(N))


def test_map_style_default_collate(store):
    ds = ZDataset(store).map(lambda d: torch.tensor([d["i"], d["x"]]))
    batches = list(DataLoader(ds, batch_size=16))
    assert batches[0].shape == (16, 2)
    assert torch.cat(batches)[:, 0].tolist() == list(range(N))


@pytest.mark.parametrize("shuffle", [False, True])
def test_map_style_two_workers_fork(store, shuffle):
    ds = ZDataset(store)
    loader = DataLoader(ds, batch_size=7, num_workers=2, shuffle=shuffle,
                        collate_fn=as_list, multiprocessing_context="fork")
    got = flat_ids(loader)
    assert sorted(got) == list(range(N))
    assert len(got) == N
    if not shuffle:
        assert got == list(range(N))


def test_map_style_workers_after_transforms(store):
    ds = ZDataset(store).filter(lambda d: d["i"] % 3 == 0).shuffle(5)
    loader = DataLoader(ds, batch_size=4, num_workers=2, collate_fn=as_list,
                        multiprocessing_context="fork")
    got = flat_ids(loader)
    assert got == [d["i"] for d in ds]
    assert sorted(got) == list(range(0, N, 3))


def test_map_style_two_workers_spawn(store):
    # spawn pickles the dataset: the workers reopen the store read-only
    ds = ZDataset(store).shuffle(2)
    loader = DataLoader(ds, batch_size=10, num_workers=2, collate_fn=as_list,
                        multiprocessing_context="spawn")
    got = flat_ids(loader)
    assert got == [d["i"] for d in ds]
    assert sorted(got) == list(range(N))


def test_iterable_single_process(store):
    loader = DataLoader(ZIterableDataset(store), batch_size=8, collate_fn=as_list)
    assert flat_ids(loader) == list(range(N))


def test_iterable_two_workers_no_dups_nothing_lost(store):
    loader = DataLoader(ZIterableDataset(store), batch_size=5, num_workers=2,
                        collate_fn=as_list, multiprocessing_context="fork")
    got = flat_ids(loader)
    assert len(got) == N
    assert sorted(got) == list(range(N))


def test_iterable_two_workers_batch_size_none(store):
    loader = DataLoader(ZIterableDataset(store), batch_size=None, num_workers=2,
                        multiprocessing_context="fork")
    got = [d["i"] for d in loader]
    # workers take positions round-robin and DataLoader alternates workers
    assert got == list(range(N))


def test_iterable_two_workers_shuffled_deterministic(store):
    ds = ZIterableDataset(store).shuffle(buffer_size=8, seed=3)

    def run():
        return flat_ids(DataLoader(ds, batch_size=4, num_workers=2, collate_fn=as_list,
                                   multiprocessing_context="fork"))

    a, b = run(), run()
    assert sorted(a) == list(range(N))
    assert a == b
    assert a != list(range(N))


def test_iterable_two_workers_unseeded_shuffle(store):
    ds = ZIterableDataset(store, buffer_size=16)
    got = flat_ids(DataLoader(ds, batch_size=4, num_workers=2, collate_fn=as_list,
                              multiprocessing_context="fork"))
    assert sorted(got) == list(range(N))


def test_iterable_two_workers_take_skip(store):
    # take/skip count over the whole stream, not per worker
    ds = ZIterableDataset(store).shuffle(10, seed=5).take(25)
    expect = sorted(d["i"] for d in ds)
    got = flat_ids(DataLoader(ds, batch_size=3, num_workers=2, collate_fn=as_list,
                              multiprocessing_context="fork"))
    assert len(got) == 25 and sorted(got) == expect
    ds2 = ZIterableDataset(store).skip(50).map(lambda d: d)
    got2 = flat_ids(DataLoader(ds2, batch_size=3, num_workers=2, collate_fn=as_list,
                               multiprocessing_context="fork"))
    assert sorted(got2) == list(range(50, N))
    # an unseeded shuffle before take: workers share torch's epoch seed
    ds3 = ZIterableDataset(store).shuffle(10).take(30)
    got3 = flat_ids(DataLoader(ds3, batch_size=3, num_workers=2, collate_fn=as_list,
                               multiprocessing_context="fork"))
    assert len(got3) == 30 and len(set(got3)) == 30


def test_iterable_two_workers_filter_and_batch(store):
    ds = ZIterableDataset(store).filter(lambda d: d["i"] % 2 == 1).batch(4)
    got = [x["i"] for b in DataLoader(ds, batch_size=None, num_workers=2,
                                      multiprocessing_context="fork") for x in b]
    assert sorted(got) == list(range(1, N, 2))


@pytest.mark.filterwarnings("ignore:This DataLoader will create")
def test_iterable_three_workers_uneven(store):
    got = flat_ids(DataLoader(ZIterableDataset(store), batch_size=7, num_workers=3,
                              collate_fn=as_list, multiprocessing_context="fork"))
    assert sorted(got) == list(range(N))


def test_iterable_two_workers_spawn(store):
    ds = ZIterableDataset(store).shuffle(buffer_size=8, seed=1)
    got = flat_ids(DataLoader(ds, batch_size=6, num_workers=2, collate_fn=as_list,
                              multiprocessing_context="spawn"))
    assert sorted(got) == list(range(N))
