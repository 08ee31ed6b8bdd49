"""Datasets over a zippy collection: map-style ``ZDataset`` and streaming
``ZIterableDataset``, usable on their own or with PyTorch's ``DataLoader``.

ZDataset (map-style)
--------------------
``ZDataset(store, indices=None, transform=None)`` wraps an open collection
handle (``ZDSStore``, ``FastZDSStore``, a ``ZDSRoot`` collection, ...; a
path opens that store's ``default`` collection read-only). Items
are the documents (dicts, without ``_id``) in the collection's scan order,
the order of each document's latest write (an update moves it to the end),
read with ``store.get_at(position)`` (O(1) per item).

* The dataset is a *snapshot of positions*: ``indices=None`` means positions
  ``0 .. store.count()-1`` as counted when the dataset is created, so its
  length never changes when documents are appended later. ``indices`` are
  store positions (negative ones count from the end).
* ``len(ds)``, ``ds[i]`` (negative allowed, ``IndexError`` past the end),
  ``ds[a:b:c]`` and ``ds[[i, j]]`` return lists, iteration.
* ``select(indices)`` (positions *in this dataset*), ``shuffle(seed=None)``
  (a new dataset in a permuted order; the permutation is
  ``random.Random(seed).shuffle`` so a given seed gives the same order on
  every machine), ``map(fn)`` (lazy: ``fn`` runs when an item is read),
  ``filter(fn)`` (eager: evaluates ``fn`` on every item once and keeps the
  positions where it is true), ``take(n)``, ``skip(n)``, ``batch(n,
  drop_last=False)`` (an iterator of lists). All return new datasets and
  never modify the store or the original dataset.
* ``features``: a dict ``{field: type_name}`` inferred from the first 100
  items (after ``map``): keys in the order first seen; type names
  ``"string"``, ``"int64"``, ``"float64"``, ``"bool"``, ``"null"``,
  ``"list"``, ``"dict"``; a field seen as both ``int64`` and ``float64`` is
  ``"float64"``, ``null`` values do not decide a type (a field that is only
  ever null is ``"null"``), any other mix is ``"mixed"``. Items that are not
  dicts give ``{}``. ``column_names`` is ``list(features)``.

ZIterableDataset (streaming)
----------------------------
``ZIterableDataset(store, buffer_size=0, seed=None)`` streams the collection
in scan order, the order of each document's latest write (an update moves
it to the end; ``buffer_size > 0`` adds a shuffle buffer). ``shuffle(
buffer_size=1000, seed=None)``, ``map``, ``filter``, ``take(n)``,
``skip(n)``, ``batch(n, drop_last=False)`` return new datasets and are
applied lazily, in the order they were chained. Each iteration re-reads the
collection as it is at that moment. The shuffle buffer keeps
``buffer_size`` items, emits a random one as each new item arrives and
drains in random order: every item comes out exactly once; the same seed
gives the same order (``seed=None`` gives a fresh order per iteration).
``len()`` works while it can be computed without reading (not after
``filter``).

PyTorch
-------
torch is optional. When it is importable, constructing a dataset returns an
instance of a subclass that also derives from ``torch.utils.data.Dataset``
(``IterableDataset`` for ``ZIterableDataset``), so ``DataLoader`` handles
them natively; ``isinstance(ds, ZDataset)`` stays true. torch is imported
only when the first dataset is created, never by ``import zippy``; set
``ZIPPY_NO_TORCH=1`` to opt out.

With ``DataLoader(num_workers=N)`` a ``ZIterableDataset`` is split between
the workers (``torch.utils.data.get_worker_info()``): each worker reads the
positions ``worker_id, worker_id+N, ...`` through ``get_at``, so every item
is produced exactly once. When the chain contains ``take``/``skip`` (which
count over the whole stream), each worker runs the chain up to the last
``take``/``skip`` identically (same shuffle seed: the given one, or the
epoch seed torch shares between workers) and keeps every N-th result; the
rest of the chain runs per worker. A shuffle after the split uses
``seed + worker_id``.

Both classes pickle as (store root, collection name, positions/chain); the
unpickled copy reopens the collection read-only, which is what spawn-based
workers need (the parent flushes its writes when pickling, so the worker
sees them). Functions given to ``map``/``filter`` must then be picklable
(module-level functions, not lambdas). Fork-based workers (the Linux
default) share the parent's open handle and need nothing of this.
"""

from __future__ import annotations

import itertools
import operator
import os
import random
import sys
from array import array
from collections.abc import Mapping

__all__ = ["ZDataset", "ZIterableDataset"]

_FEATURE_SAMPLE = 100


# ---------------------------------------------------------------------------
# store plumbing
# ---------------------------------------------------------------------------

def _store_location(store):
    """(root path str, collection name) of an open handle, or None."""
    root = None
    for attr in ("root", "root_path", "path"):
        val = getattr(store, attr, None)
        if isinstance(val, (str, os.PathLike)):
            root = os.path.abspath(os.fspath(val))
            break
    name = None
    for attr in ("collection_name", "name", "collection"):
        val = getattr(store, attr, None)
        if isinstance(val, str):
            name = val
            break
    if root is None or name is None:
        return None
    return root, name


def _open_for_read(root, collection="default"):
    """Open ``collection`` of the store at ``root`` for reading.

    Returns (handle, keepalive). Read-only when the package offers it, so a
    dataset never takes the writer lock nor changes files on disk.
    """
    from . import ZDSRoot  # late import: the package imports this module

    root = os.fspath(root)
    if not isinstance(collection, str):
        raise TypeError("collection must be a str, not %s" % type(collection).__name__)
    if not os.path.exists(root):  # a store directory or a .zds archive (opened in place)
        raise FileNotFoundError("no zippy store at %r" % root)
    r = ZDSRoot.open(root, mode="r")
    try:
        if not r.collection_exists(collection):
            names = sorted(r.list_collections())
            raise KeyError(
                "collection %r not found in store %r (collections: %s)"
                % (collection, root, ", ".join(names) if names else "none")
            )
        handle = r.collection(collection)
    except BaseException:
        try:
            r.close()
        except Exception:
            pass
        raise
    return handle, r


def _count(store):
    c = store.count
    return int(c() if callable(c) else c)


def _torch_data():
    """torch.utils.data, or None when torch is absent or disabled."""
    if os.environ.get("ZIPPY_NO_TORCH", "") not in ("", "0"):
        return None
    mod = sys.modules.get("torch.utils.data")
    if mod is not None:
        return mod
    try:
        import torch.utils.data as mod
    except Exception:  # ImportError, or a broken torch install
        return None
    return mod


_VARIANTS = {}


def _torch_variant(cls, base_name):
    """cls itself, or a cached subclass of (cls, torch base) when torch is present."""
    tud = _torch_data()
    if tud is None:
        return cls
    base = getattr(tud, base_name)
    if issubclass(cls, base):
        return cls
    key = (cls, base)
    var = _VARIANTS.get(key)
    if var is None:
        var = type(cls.__name__, (cls, base), {
            "__module__": cls.__module__,
            "__qualname__": cls.__qualname__,
            "__doc__": cls.__doc__,
        })
        _VARIANTS[key] = var
    return var


def _worker_info():
    tud = sys.modules.get("torch.utils.data")
    if tud is None:
        return None
    try:
        return tud.get_worker_info()
    except Exception:
        return None


def _check_count(n, what):
    if isinstance(n, bool):
        raise TypeError("%s expects an int, not bool" % what)
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError("%s expects an int, not %s" % (what, type(n).__name__)) from None
    if n < 0:
        raise ValueError("%s expects a non-negative count, got %d" % (what, n))
    return n


def _check_positive(n, what):
    n = _check_count(n, what)
    if n == 0:
        raise ValueError("%s expects a positive size, got 0" % what)
    return n


def _check_seed(seed):
    if seed is None:
        return None
    if isinstance(seed, bool):
        raise TypeError("seed must be an int or None, not bool")
    try:
        return operator.index(seed)
    except TypeError:
        raise TypeError("seed must be an int or None, not %s" % type(seed).__name__) from None


def _check_fn(fn, what):
    if not callable(fn):
        raise TypeError("%s expects a callable, not %s" % (what, type(fn).__name__))
    return fn


class _Compose:
    """g(f(x)); picklable when f and g are."""

    __slots__ = ("f", "g")

    def __init__(self, f, g):
        self.f, self.g = f, g

    def __call__(self, x):
        return self.g(self.f(x))

    def __reduce__(self):
        return (_Compose, (self.f, self.g))


def _type_name(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int64"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (list, tuple)):
        return "list"
    if isinstance(v, Mapping):
        return "dict"
    return type(v).__name__


def _infer_features(items):
    seen = {}
    for item in items:
        if not isinstance(item, Mapping):
            return {}
        for k, v in item.items():
            t = _type_name(v)
            old = seen.get(k)
            if old is None or old == "null":
                seen[k] = t
            elif t == "null" or t == old:
                pass
            elif {old, t} == {"int64", "float64"}:
                seen[k] = "float64"
            else:
                seen[k] = "mixed"
    return seen


# ---------------------------------------------------------------------------
# ZDataset
# ---------------------------------------------------------------------------

def _rebuild(cls, state):
    obj = cls.__new__(cls)
    obj.__setstate__(state)
    return obj


class ZDataset:
    """Map-style dataset over a collection, in scan order: the order of each
    document's latest write (an update moves it to the end). See the module
    documentation."""

    def __new__(cls, *args, **kwargs):
        return object.__new__(_torch_variant(cls, "Dataset"))

    def __init__(self, store, indices=None, transform=None):
        keep = None
        if isinstance(store, (str, os.PathLike)):
            store, keep = _open_for_read(store, "default")
        if not hasattr(store, "get_at"):
            raise TypeError(
                "ZDataset needs an open zippy collection (with get_at), not %s"
                % type(store).__name__
            )
        if transform is not None:
            _check_fn(transform, "transform")
        self._store = store
        self._keep = keep
        self._transform = transform
        n = _count(store)
        self._indices = range(n) if indices is None else self._positions(indices, n, "index")

    @classmethod
    def from_store(cls, root, collection="default"):
        """Open ``collection`` of the store at ``root`` (read-only) as a dataset."""
        store, keep = _open_for_read(root, collection)
        ds = cls(store)
        ds._keep = keep
        return ds

    # -- construction helpers -------------------------------------------

    @staticmethod
    def _positions(indices, n, what):
        """Validate ``indices`` against ``n`` and return a compact sequence."""
        if isinstance(indices, range):
            if len(indices) == 0:
                return range(0)
            lo, hi = min(indices[0], indices[-1]), max(indices[0], indices[-1])
            if lo < -n or hi >= n:
                bad = lo if lo < -n else hi
                raise IndexError("%s %d out of range for %d items" % (what, bad, n))
            if lo < 0:
                return array("q", (i % n if i < 0 else i for i in indices))
            return indices
        if isinstance(indices, (str, bytes, Mapping)) or not hasattr(indices, "__iter__"):
            raise TypeError("indices must be a sequence of ints, not %s" % type(indices).__name__)
        dtype = getattr(indices, "dtype", None)
        if dtype is not None and getattr(dtype, "kind", "") in "iu" and hasattr(indices, "astype"):
            flat = indices.reshape(-1).astype("int64")
            if flat.size:
                lo, hi = int(flat.min()), int(flat.max())
                if lo < -n or hi >= n:
                    raise IndexError("%s %d out of range for %d items"
                                     % (what, lo if lo < -n else hi, n))
                if lo < 0:
                    flat = flat % n if n else flat
            out = array("q")
            out.frombytes(flat.tobytes())
            return out
        out = array("q")
        for i in indices:
            if isinstance(i, bool):
                raise TypeError("indices must be ints, not bool")
            try:
                i = operator.index(i)
            except TypeError:
                raise TypeError("indices must be ints, not %s" % type(i).__name__) from None
            if i < -n or i >= n:
                raise IndexError("%s %d out of range for %d items" % (what, i, n))
            out.append(i + n if i < 0 else i)
        return out

    def _derive(self, indices=None, transform=None):
        new = object.__new__(type(self))
        new._store = self._store
        new._keep = self._keep
        new._transform = self._transform if transform is None else transform
        new._indices = self._indices if indices is None else indices
        return new

    def _fetch(self, pos):
        doc = self._store.get_at(pos)
        if self._transform is not None:
            doc = self._transform(doc)
        return doc

    # -- sequence protocol ----------------------------------------------

    def __len__(self):
        return len(self._indices)

    def __getitem__(self, key):
        if isinstance(key, slice):
            return [self._fetch(self._indices[j]) for j in range(*key.indices(len(self._indices)))]
        if isinstance(key, bool):
            raise TypeError("dataset indices must be ints or slices, not bool")
        try:
            i = operator.index(key)
        except TypeError:
            if isinstance(key, (str, bytes, Mapping)) or not hasattr(key, "__iter__"):
                raise TypeError(
                    "dataset indices must be ints, slices or lists of ints, not %s"
                    % type(key).__name__
                ) from None
            return [self._fetch(self._indices[j])
                    for j in self._positions(key, len(self._indices), "index")]
        n = len(self._indices)
        if i < -n or i >= n:
            raise IndexError("dataset index %d out of range (%d items)" % (i, n))
        return self._fetch(self._indices[i])

    def __iter__(self):
        for pos in self._indices:
            yield self._fetch(pos)

    def __repr__(self):
        loc = _store_location(self._store)
        where = "collection=%r, root=%r, " % (loc[1], loc[0]) if loc else ""
        return "ZDataset(%snum_rows=%d)" % (where, len(self))

    # -- transformations ------------------------------------------------

    def select(self, indices):
        """A dataset of the items at ``indices`` (positions in this dataset)."""
        rel = self._positions(indices, len(self._indices), "index")
        src = self._indices
        if isinstance(rel, range) and isinstance(src, range) and rel.step > 0:
            return self._derive(indices=src[rel.start:rel.stop:rel.step])
        return self._derive(indices=array("q", (src[j] for j in rel)))

    def shuffle(self, seed=None):
        """A new dataset with the items in a random order (deterministic per seed)."""
        seed = _check_seed(seed)
        order = array("q", self._indices)
        rng = random.Random(seed) if seed is not None else random.Random()
        rng.shuffle(order)
        return self._derive(indices=order)

    def map(self, fn):
        """A new dataset whose items are ``fn(item)`` (computed on access)."""
        _check_fn(fn, "map")
        t = fn if self._transform is None else _Compose(self._transform, fn)
        return self._derive(transform=t)

    def filter(self, fn):
        """A new dataset of the items for which ``fn(item)`` is true."""
        _check_fn(fn, "filter")
        keep = array("q")
        for pos in self._indices:
            if fn(self._fetch(pos)):
                keep.append(pos)
        return self._derive(indices=keep)

    def take(self, n):
        """The first ``n`` items (all of them when there are fewer)."""
        n = _check_count(n, "take")
        return self._derive(indices=self._indices[:n])

    def skip(self, n):
        """All items but the first ``n``."""
        n = _check_count(n, "skip")
        return self._derive(indices=self._indices[n:])

    def batch(self, n, drop_last=False):
        """Iterate over lists of ``n`` consecutive items (the last may be shorter)."""
        n = _check_positive(n, "batch")
        return self._batches(n, drop_last)

    def _batches(self, n, drop_last):
        buf = []
        for item in self:
            buf.append(item)
            if len(buf) == n:
                yield buf
                buf = []
        if buf and not drop_last:
            yield buf

    @property
    def features(self):
        """{field: type name} inferred from the first items (see module doc)."""
        k = min(len(self._indices), _FEATURE_SAMPLE)
        return _infer_features(self._fetch(self._indices[j]) for j in range(k))

    @property
    def column_names(self):
        return list(self.features)

    @property
    def store(self):
        return self._store

    # -- pickling (spawn-based DataLoader workers) ----------------------

    def __getstate__(self):
        loc = _store_location(self._store)
        if loc is None:
            raise TypeError("this ZDataset's store does not expose its root and "
                            "collection name, so it cannot be pickled")
        _flush_quietly(self._store)
        return {"root": loc[0], "collection": loc[1],
                "indices": self._indices, "transform": self._transform}

    def __setstate__(self, state):
        store, keep = _open_for_read(state["root"], state["collection"])
        self._store = store
        self._keep = keep
        self._transform = state["transform"]
        self._indices = state["indices"]

    def __reduce_ex__(self, protocol):
        return (_rebuild, (_base_class(type(self)), self.__getstate__()))

    def __copy__(self):
        return self._derive()

    def __deepcopy__(self, memo):
        return self._derive()  # the store handle is shared, never copied


def _base_class(cls):
    """The user-visible class behind a torch variant (for pickling)."""
    for key, var in _VARIANTS.items():
        if var is cls:
            return key[0]
    return cls


def _flush_quietly(store):
    flush = getattr(store, "flush", None)
    if flush is None:
        return
    try:
        flush()
    except Exception:
        pass  # read-only handles have nothing to flush


# ---------------------------------------------------------------------------
# ZIterableDataset
# ---------------------------------------------------------------------------

def _shuffle_buffer(items, size, rng):
    buf = []
    for item in items:
        if len(buf) < size:
            buf.append(item)
            continue
        j = rng.randrange(size)
        out = buf[j]
        buf[j] = item
        yield out
    rng.shuffle(buf)
    yield from buf


def _batcher(items, n, drop_last):
    buf = []
    for item in items:
        buf.append(item)
        if len(buf) == n:
            yield buf
            buf = []
    if buf and not drop_last:
        yield buf


class ZIterableDataset:
    """Streaming dataset over a collection, in scan order: the order of each
    document's latest write (an update moves it to the end). See the module
    documentation."""

    def __new__(cls, *args, **kwargs):
        return object.__new__(_torch_variant(cls, "IterableDataset"))

    def __init__(self, store, buffer_size=0, seed=None):
        keep = None
        if isinstance(store, (str, os.PathLike)):
            store, keep = _open_for_read(store, "default")
        if not (hasattr(store, "get_at") and hasattr(store, "count")):
            raise TypeError(
                "ZIterableDataset needs an open zippy collection, not %s"
                % type(store).__name__
            )
        buffer_size = _check_count(buffer_size, "buffer_size")
        seed = _check_seed(seed)
        self._store = store
        self._keep = keep
        self._ops = (("shuffle", buffer_size, seed),) if buffer_size > 0 else ()

    @classmethod
    def from_store(cls, root, collection="default", buffer_size=0, seed=None):
        """Open ``collection`` of the store at ``root`` (read-only) as a stream."""
        store, keep = _open_for_read(root, collection)
        ds = cls(store, buffer_size=buffer_size, seed=seed)
        ds._keep = keep
        return ds

    def _chain(self, op):
        new = object.__new__(type(self))
        new._store = self._store
        new._keep = self._keep
        new._ops = self._ops + (op,)
        return new

    # -- chainable operations -------------------------------------------

    def shuffle(self, buffer_size=1000, seed=None):
        """Shuffle through a buffer of ``buffer_size`` items."""
        buffer_size = _check_positive(buffer_size, "shuffle buffer_size")
        return self._chain(("shuffle", buffer_size, _check_seed(seed)))

    def map(self, fn):
        return self._chain(("map", _check_fn(fn, "map")))

    def filter(self, fn):
        return self._chain(("filter", _check_fn(fn, "filter")))

    def take(self, n):
        return self._chain(("take", _check_count(n, "take")))

    def skip(self, n):
        return self._chain(("skip", _check_count(n, "skip")))

    def batch(self, n, drop_last=False):
        return self._chain(("batch", _check_positive(n, "batch"), bool(drop_last)))

    # -- iteration ------------------------------------------------------

    def _source_all(self):
        scan = getattr(self._store, "scan_fast", None) or getattr(self._store, "scan", None)
        if scan is not None:
            return iter(scan())
        return (self._store.get_at(i) for i in range(_count(self._store)))

    def _source_positions(self, start, step):
        get_at = self._store.get_at
        for i in range(start, _count(self._store), step):
            try:
                yield get_at(i)
            except IndexError:  # documents deleted meanwhile
                return

    @staticmethod
    def _apply(items, ops, seed_for):
        for op in ops:
            kind = op[0]
            if kind == "map":
                items = map(op[1], items)
            elif kind == "filter":
                items = filter(op[1], items)
            elif kind == "take":
                items = itertools.islice(items, op[1])
            elif kind == "skip":
                items = itertools.islice(items, op[1], None)
            elif kind == "batch":
                items = _batcher(items, op[1], op[2])
            elif kind == "shuffle":
                items = _shuffle_buffer(items, op[1], random.Random(seed_for(op[2])))
        return items

    def __iter__(self):
        ops = self._ops
        info = _worker_info()
        if info is None or info.num_workers <= 1:
            return iter(self._apply(self._source_all(), ops, lambda s: s))
        wid, nw = info.id, info.num_workers
        # the seed torch shares between all workers of one epoch
        epoch_seed = int(info.seed) - int(wid)
        split = 0
        for k, op in enumerate(ops):
            if op[0] in ("take", "skip"):
                split = k + 1
        if split == 0:
            items = self._source_positions(wid, nw)
        else:
            shared = self._apply(
                self._source_all(), ops[:split],
                lambda s: epoch_seed if s is None else s)
            items = itertools.islice(shared, wid, None, nw)

        def per_worker(s):
            return int(info.seed) if s is None else s * 1000003 + wid

        return iter(self._apply(items, ops[split:], per_worker))

    def __len__(self):
        n = _count(self._store)
        for op in self._ops:
            kind = op[0]
            if kind == "take":
                n = min(n, op[1])
            elif kind == "skip":
                n = max(0, n - op[1])
            elif kind == "batch":
                n = n // op[1] if op[2] else -(-n // op[1])
            elif kind == "filter":
                raise TypeError("the length of a filtered ZIterableDataset is unknown")
        return n

    def __repr__(self):
        loc = _store_location(self._store)
        where = "collection=%r, root=%r" % (loc[1], loc[0]) if loc else ""
        ops = ", ".join(op[0] for op in self._ops)
        return "ZIterableDataset(%s%s)" % (where, ", ops=[%s]" % ops if ops else "")

    @property
    def store(self):
        return self._store

    @property
    def features(self):
        """{field: type name} inferred from the first items of the stream."""
        return _infer_features(itertools.islice(iter(self), _FEATURE_SAMPLE))

    # -- pickling -------------------------------------------------------

    def __getstate__(self):
        loc = _store_location(self._store)
        if loc is None:
            raise TypeError("this ZIterableDataset's store does not expose its root "
                            "and collection name, so it cannot be pickled")
        _flush_quietly(self._store)
        return {"root": loc[0], "collection": loc[1], "ops": self._ops}

    def __setstate__(self, state):
        store, keep = _open_for_read(state["root"], state["collection"])
        self._store = store
        self._keep = keep
        self._ops = tuple(state["ops"])

    def __reduce_ex__(self, protocol):
        return (_rebuild, (_base_class(type(self)), self.__getstate__()))

    def __copy__(self):
        return self._chain_copy()

    def __deepcopy__(self, memo):
        return self._chain_copy()

    def _chain_copy(self):
        new = object.__new__(type(self))
        new._store = self._store
        new._keep = self._keep
        new._ops = self._ops
        return new
