"""zippy: a fast, human-readable document store (Python bindings of libzippy).

    import zippy
    with zippy.ZDSStore.open("./store", collection="users") as users:
        users.put("user_001", {"name": "Alice", "age": 28})
        users.get("user_001")                     # {'name': 'Alice', 'age': 28}
        for doc in users.scan(predicate={"age": {"$gt": 25}}, fields=["name"]):
            ...

Stores are directories of JSONL logs that the ``zippy`` CLI, the C library
and the Node addon read and write too. The engine is C (``zippy._native``);
``get_backend()`` is always ``"native"``.

Optional bridges, imported on use: ``zippy.pandas_compat``,
``zippy.duckdb_compat``, ``zippy.arrow_compat``.
"""

from . import _native
from .errors import (
    AlreadyExistsError,
    BusyError,
    ClosedError,
    CorruptError,
    InvalidArgumentError,
    LockedError,
    NoSpaceError,
    NotFoundError,
    ReadOnlyError,
    SchemaError,
    TooBigError,
    UnsupportedError,
    ZippyError,
    ZippyIOError,
    ZippyMemoryError,
)
from .store import FastZDSStore, NativeRoot, NativeStore, ZDSRoot, ZDSStore
from .dataset import ZDataset, ZIterableDataset
from .remote import DatasetInfo, clear_cache, dataset_info, load_remote
from .hf import from_hf, to_hf, to_hf_dict
from .utils import compute_schema_id, validate_doc_id

__version__ = _native.__version__

dumps = _native.dumps
loads = _native.loads


def get_backend():
    """The storage backend: always "native" (the C engine)."""
    return "native"


__all__ = [
    "ZDSStore",
    "ZDSRoot",
    "FastZDSStore",
    "NativeStore",
    "NativeRoot",
    "ZDataset",
    "ZIterableDataset",
    "load_remote",
    "dataset_info",
    "clear_cache",
    "DatasetInfo",
    "from_hf",
    "to_hf",
    "to_hf_dict",
    "compute_schema_id",
    "validate_doc_id",
    "get_backend",
    "dumps",
    "loads",
    "__version__",
    "ZippyError",
    "NotFoundError",
    "AlreadyExistsError",
    "InvalidArgumentError",
    "CorruptError",
    "LockedError",
    "ZippyIOError",
    "ZippyMemoryError",
    "ReadOnlyError",
    "SchemaError",
    "NoSpaceError",
    "TooBigError",
    "ClosedError",
    "BusyError",
    "UnsupportedError",
]
