"""Store classes of the zippy package.

``ZDSStore`` (and ``FastZDSStore``/``NativeStore``) subclass the C type
``zippy._native.Collection``: ``put``, ``get``, ``delete``, ``exists``,
``count``, the dict protocol (``s[id]``, ``s[id] = doc``, ``del s[id]``,
``id in s``, ``len(s)``), ``get_at``, ``put_batch``, ``write_jsonl``,
``read_jsonl_blob``, ``flush``, ``close``, ``compact`` and the scan iterator
are C methods; this module adds the constructors, multi-collection access and
the conveniences written in Python.

Scan order (``scan``, ``get_at``, ``ids_in_order``, datasets) is the order of
each document's latest write (an update moves it to the end).

Documents are JSON objects: dicts of str keys whose values are dict, list,
tuple, str, int (any size), float (finite), bool or None; numpy scalars and
arrays are converted with ``.tolist()``. Key order is kept. Documents come
back as fresh dicts without ``"_id"``.

Durability: writes are visible at once to every handle of the collection in
this process, and become durable at ``flush()``, ``close()``, the end of a
``with`` block or ``bulk_write()`` block, at interpreter exit, or, with
``sync_writes=True``, before each ``put``/``delete`` returns. ``batch_size``
(``ZDSRoot``, ``FastZDSStore``) additionally flushes after every
``batch_size`` writes, which bounds what a crash can lose.
"""

import atexit
import contextlib
import os
import pathlib
import sys
import weakref

from . import _native
from .errors import ZippyError

_MISSING = object()

__all__ = ["ZDSStore", "FastZDSStore", "NativeStore", "ZDSRoot", "NativeRoot"]

# Every handle still open at interpreter exit is flushed and closed (the C
# destructor would do it too, but module teardown order is not guaranteed).
_OPEN = weakref.WeakSet()


@atexit.register
def _close_all():
    for handle in list(_OPEN):
        try:
            handle.close()
        except Exception as e:  # noqa: BLE001 - exit goes on, but never silently
            sys.stderr.write(f"zippy: closing {handle.collection_name} of {handle.root} at exit failed: {e}\n")


def _mode_readonly(mode):
    if mode in ("r", "ro", "read"):
        return True
    if mode in ("rw", "w", "a", "r+", "w+", "a+"):
        return False
    raise ValueError(f"mode must be 'r' (read-only) or 'rw' (read-write), not {mode!r}")


def _sync(sync_writes):
    return _native.SYNC_ALWAYS if sync_writes else _native.SYNC_FLUSH


def _project(doc, paths):
    """Projection of doc on dot paths, as the engine's --fields does."""
    out = {}
    for path in paths:
        parts = path.split(".")
        src = doc
        for p in parts:
            if not isinstance(src, dict) or p not in src:
                break
            src = src[p]
        else:
            dst = out
            for p in parts[:-1]:
                dst = dst.setdefault(p, {})
            dst[parts[-1]] = src
    return out


def _field_list(fields):
    if fields is None:
        return None
    if isinstance(fields, str):
        return [f for f in fields.split(",") if f]
    return list(fields)


def _reopen(cls, root, collection):
    """Unpickling: a read-only handle on the same collection."""
    nroot = _native.Root(root, readonly=True, create=False)
    return cls._from_root(nroot, collection, create=False, strict=False, sync=_native.SYNC_FLUSH, batch_size=0)


class ZDSStore(_native.Collection):
    """One collection of a zippy store.

    ``ZDSStore.open(root, collection="default", strict=False, create=True,
    sync_writes=False, layout=None)`` or the constructor with the same arguments.

    - ``layout="files"``: a collection created by this call keeps one
      pretty JSON file per document (``docs/<id>.json``); ``"jsonl"`` (the
      default for new collections) the JSONL log. An existing collection
      keeps its own layout.

    - ``create=False``: a missing store or collection raises
      ``zippy.NotFoundError`` (a ``FileNotFoundError`` and a ``KeyError``).
    - ``strict=True``: every document must have the schema of the first one
      (``zippy.SchemaError``, a ``ValueError`` whose message starts
      "Schema mismatch:").
    - ``sync_writes=True``: each put/delete is durable when it returns.
    - Another process writing the collection: ``zippy.LockedError``
      (an ``OSError``) naming its pid.
    """

    def __init__(self, root, collection="default", strict=False, create=True, sync_writes=False,
                 layout=None, *, batch_size=0, _native_root=None):
        self._attach(root, collection, strict=strict, create=create, sync=_sync(sync_writes),
                     batch_size=batch_size, native_root=_native_root, layout=layout)

    def _attach(self, root, collection, *, strict, create, sync, batch_size, native_root=None, layout=None):
        if native_root is None:
            native_root = _native.Root(root, readonly=False, create=bool(create), sync=sync)
        self._open(native_root, collection, create=bool(create), strict=bool(strict), sync=sync,
                   batch_size=batch_size or 0, layout=layout)
        self._sync_mode = sync
        _OPEN.add(self)

    @classmethod
    def _from_root(cls, native_root, collection, *, create, strict, sync, batch_size, layout=None):
        obj = cls.__new__(cls)
        obj._attach(None, collection, strict=strict, create=create, sync=sync, batch_size=batch_size,
                    native_root=native_root, layout=layout)
        return obj

    @classmethod
    def open(cls, root, collection="default", strict=False, create=True, sync_writes=False, layout=None):
        """Opens (by default creating) collection ``collection`` of store ``root``."""
        return cls(root, collection, strict=strict, create=create, sync_writes=sync_writes, layout=layout)

    # ------------------------------------------------------------------
    # store-level

    @property
    def root(self):
        """The store's path (str, as given to open)."""
        return self._native_root.path

    @property
    def root_path(self):
        """The store's path as a pathlib.Path."""
        return pathlib.Path(self._native_root.path)

    @property
    def name(self):
        return self.collection_name

    def collection(self, name, strict=False, create=None, layout=None):
        """Another collection of the same store, as a handle of this class."""
        if create is None:
            create = not self._native_root.readonly
        return type(self)._from_root(self._native_root, name, create=create, strict=strict,
                                     sync=self._sync_mode, batch_size=self.batch_size, layout=layout)

    def list_collections(self):
        """Sorted names of the store's collections."""
        return self._native_root.list()

    # ------------------------------------------------------------------
    # reads

    def scan(self, fields=None, predicate=None, *, limit=None, skip=None):
        """Iterates over the documents (without "_id") in scan order: the
        order of each document's latest write (an update moves it to the end).

        ``predicate``: ``{"field": value}`` (equality on dot paths) or the
        CLI's operator form (``{"age": {"$gt": 30}}``, ``$ne $in $nin
        $exists $and $or $not``), as a dict or JSON text; a callable taking
        the document is applied in Python. ``fields``: a list of dot paths
        or a comma-separated string; rows keep the nesting
        (``address.city`` gives ``{"address": {"city": ...}}``)."""
        return self._scan_mode(_native.SCAN_DOCS, fields, predicate, limit, skip)

    def scan_with_ids(self, fields=None, predicate=None, *, limit=None, skip=None):
        """Like scan(), yielding ``(id, doc)`` pairs."""
        return self._scan_mode(_native.SCAN_PAIRS, fields, predicate, limit, skip)

    def scan_raw(self, fields=None, predicate=None, *, limit=None, skip=None):
        """Like scan(), yielding each document's compact JSON as bytes."""
        return self._scan_mode(_native.SCAN_RAW, fields, predicate, limit, skip)

    def scan_fast(self):
        """The fastest full iteration over the documents (no filter, no projection)."""
        return self._scan()

    def scan_ids(self, predicate=None):
        """The ids of the documents matching predicate, in scan order (the order
        of each document's latest write: an update moves it to the end)."""
        return self._scan_mode(_native.SCAN_IDS, None, predicate, None, None)

    def _scan_mode(self, mode, fields, predicate, limit, skip):
        if predicate is None or isinstance(predicate, (dict, str, bytes)):
            return self._scan(fields, predicate, limit, skip, mode)
        if not callable(predicate):
            raise TypeError(f"predicate must be a dict, JSON text or a callable, not {type(predicate).__name__}")
        return self._scan_callable(mode, _field_list(fields), predicate, limit, skip)

    def _scan_callable(self, mode, fields, predicate, limit, skip):
        skip = skip or 0
        emitted = 0
        for doc_id, doc in self._scan(None, None, 0, 0, _native.SCAN_PAIRS):
            if not predicate(doc):
                continue
            if skip:
                skip -= 1
                continue
            if limit and emitted >= limit:
                return
            emitted += 1
            if fields:
                doc = _project(doc, fields)
            if mode == _native.SCAN_DOCS:
                yield doc
            elif mode == _native.SCAN_PAIRS:
                yield doc_id, doc
            elif mode == _native.SCAN_IDS:
                yield doc_id
            else:
                yield _native.dumps(doc).encode()

    def find(self, predicate=None, fields=None, limit=None):
        """A list of the documents matching predicate (see scan())."""
        return list(self.scan(fields=fields, predicate=predicate, limit=limit))

    def preload(self):
        """Reads every document once, so that later reads find the data in
        memory and get_at() its order built. Returns self."""
        self._preload()
        return self

    # ------------------------------------------------------------------
    # dict protocol (s[id], s[id] = doc, del s[id], id in s, len(s) are C)

    def __iter__(self):
        """Iterates over the ids, sorted (as list_doc_ids())."""
        return iter(self.list_doc_ids())

    def keys(self):
        """The ids, sorted."""
        return self.list_doc_ids()

    def values(self):
        """The documents, in the order of keys()."""
        for doc_id in self.list_doc_ids():
            doc = self.get(doc_id, _MISSING)
            if doc is not _MISSING:
                yield doc

    def items(self):
        """``(id, doc)`` pairs, in the order of keys()."""
        for doc_id in self.list_doc_ids():
            doc = self.get(doc_id, _MISSING)
            if doc is not _MISSING:
                yield doc_id, doc

    def update(self, other=(), **kw):
        """Puts every (id, doc) of a dict or iterable of pairs (``put_batch``:
        a failing document keeps the ones before it)."""
        self.put_batch(dict(other, **kw) if kw else other)

    def pop(self, doc_id, default=_MISSING):
        """Removes doc_id and returns its document (default, or KeyError, if absent)."""
        doc = self.get(doc_id, _MISSING)
        if doc is _MISSING:
            if default is _MISSING:
                return self.get(doc_id)  # raises NotFoundError (a KeyError)
            return default
        self.delete(doc_id)
        return doc

    def setdefault(self, doc_id, doc):
        """The document of doc_id, storing doc first if it is absent."""
        got = self.get(doc_id, _MISSING)
        if got is _MISSING:
            self.put(doc_id, doc)
            return self.get(doc_id)
        return got

    # ------------------------------------------------------------------
    # writes

    @contextlib.contextmanager
    def bulk_write(self):
        """``with store.bulk_write() as s: s.put(...)`` - flushes once at the end."""
        try:
            yield self
        finally:
            if not self.closed:
                self.flush()

    # ------------------------------------------------------------------
    # datasets

    def to_dataset(self, **kwargs):
        """A map-style ``zippy.ZDataset`` over this collection."""
        from .dataset import ZDataset

        return ZDataset(self, **kwargs)

    def to_iterable_dataset(self, **kwargs):
        """An iterable ``zippy.ZIterableDataset`` over this collection."""
        from .dataset import ZIterableDataset

        return ZIterableDataset(self, **kwargs)

    # ------------------------------------------------------------------

    def info(self):
        """Statistics of the collection (count, bytes, strict, ...)."""
        out = self.stats()
        out["collection"] = self.collection_name
        out["root"] = self.root
        out["schema"] = self.schema()
        return out

    def __repr__(self):
        name = type(self).__name__
        try:
            root = self._native_root.path
        except Exception:  # noqa: BLE001 - repr of a half-built object
            return f"<{name} (not open)>"
        if self.closed:
            return f"{name}(root={root!r}, collection={self.collection_name!r}, closed)"
        return f"{name}(root={root!r}, collection={self.collection_name!r}, count={self.count()})"

    def __reduce__(self):
        # Pickling (torch DataLoader workers with the spawn start method):
        # the copy reopens the collection read-only in its process. What
        # this handle wrote is flushed first, so that the copy sees it.
        if not self.closed and self.writable:
            self.flush()
        return (_reopen, (type(self), self.root, self.collection_name))

    def __copy__(self):
        return _reopen(type(self), self.root, self.collection_name)

    def __deepcopy__(self, memo):
        return self.__copy__()


class FastZDSStore(ZDSStore):
    """``FastZDSStore.open(root, collection="default", strict=False, batch_size=1000)``.

    The same engine as ZDSStore; ``batch_size`` writes are flushed (made
    durable) together."""

    def __init__(self, root, collection="default", strict=False, batch_size=1000, *, create=True,
                 sync_writes=False, layout=None, _native_root=None):
        self._attach(root, collection, strict=strict, create=create, sync=_sync(sync_writes),
                     batch_size=batch_size, native_root=_native_root, layout=layout)

    @classmethod
    def open(cls, root, collection="default", strict=False, batch_size=1000, create=True, sync_writes=False,
             layout=None):
        return cls(root, collection, strict=strict, batch_size=batch_size, create=create, sync_writes=sync_writes,
                   layout=layout)


class NativeStore(FastZDSStore):
    """Alias of FastZDSStore kept for code written against the original
    package's native backend (``put_batch``, ``write_jsonl``,
    ``read_jsonl_blob``, ``scan_raw`` are on every store class)."""


class ZDSRoot:
    """A zippy store directory with several collections.

    ``ZDSRoot.open(root, batch_size=5000, native=False, mode="rw")``.
    ``mode="r"`` opens read-only: nothing is created or changed, writes
    raise ``zippy.ReadOnlyError`` (a ``PermissionError``). ``batch_size`` is
    the default of ``collection()``: its handles flush every batch_size
    writes. ``native`` is accepted for compatibility (the engine is always
    the native one)."""

    _store_class = ZDSStore

    def __init__(self, root, batch_size=5000, native=False, mode="rw"):
        readonly = _mode_readonly(mode)
        if batch_size is not None and batch_size < 0:
            raise ValueError(f"batch_size must be >= 0, not {batch_size}")
        self._native_root = _native.Root(root, readonly=readonly, create=not readonly)
        self.root_path = pathlib.Path(os.fspath(root))
        self.batch_size = batch_size
        self.mode = mode
        self.native = native
        self._handles = weakref.WeakSet()

    @classmethod
    def open(cls, root, batch_size=5000, native=False, mode="rw"):
        return cls(root, batch_size=batch_size, native=native, mode=mode)

    @property
    def is_writable(self):
        return not self._native_root.readonly and not self._native_root.closed

    @property
    def closed(self):
        return self._native_root.closed

    def collection(self, name, batch_size=None, strict=False, layout=None):
        """A handle on collection ``name`` (created if missing, unless the
        root is read-only, where a missing one raises NotFoundError).
        ``layout`` ("jsonl" or "files") applies if this call creates it."""
        handle = self._store_class._from_root(
            self._native_root, name, create=self.is_writable, strict=strict, sync=_native.SYNC_FLUSH,
            batch_size=self.batch_size if batch_size is None else batch_size, layout=layout)
        self._handles.add(handle)
        return handle

    __getitem__ = collection

    def list_collections(self):
        return self._native_root.list()

    def collection_exists(self, name):
        return self._native_root.has(name)

    def __contains__(self, name):
        return self.collection_exists(name)

    def drop_collection(self, name):
        """Removes a collection and its files (LockedError while it is open)."""
        self._native_root.drop(name)

    def flush(self):
        for handle in list(self._handles):
            if not handle.closed:
                handle.flush()

    def close(self):
        """Flushes and closes every collection handle this root gave out, then the root."""
        errors = []
        for handle in list(self._handles):
            try:
                handle.close()
            except ZippyError as e:
                errors.append(e)
        self._handles = weakref.WeakSet()
        self._native_root.close()
        if errors:
            raise errors[0]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        name = type(self).__name__
        if self.closed:
            return f"{name}({str(self.root_path)!r}, mode={self.mode!r}, closed)"
        return f"{name}({str(self.root_path)!r}, mode={self.mode!r}, collections={self.list_collections()!r})"


class NativeRoot(ZDSRoot):
    """ZDSRoot whose collections are NativeStore handles."""

    _store_class = NativeStore

