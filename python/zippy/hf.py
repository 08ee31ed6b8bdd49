"""Hugging Face ``datasets`` bridge: ``from_hf``, ``to_hf``, ``to_hf_dict``.

``to_hf_dict(path_or_store, collection="default", columns=None) -> dict``
    A plain ``{column: [values...]}`` dict, the form
    ``datasets.Dataset.from_dict`` takes: ``_id`` first, then the top-level
    keys in the order first met; a document without a key gives ``None``
    there. ``columns`` selects exactly those columns. Works without
    ``datasets`` installed. ``path_or_store`` is a store root path (opened
    read-only) or an open collection handle (read as it is, not closed).

``to_hf(path_or_store, collection="default", columns=None) -> datasets.Dataset``
    ``datasets.Dataset.from_dict(to_hf_dict(...))``. Needs ``datasets``
    (``ImportError`` naming it otherwise).

``from_hf(hf_dataset, path, collection="default", id_column=None, strict=False) -> int``
    Writes every row of a ``datasets.Dataset`` (or ``IterableDataset``, or any
    iterable of dicts, or a dict of equal-length column lists such as
    ``to_hf_dict`` returns) into a collection and returns the number written.
    Ids come from ``id_column`` (kept in the document unless it is
    ``"_id"``), else from an ``"_id"`` column (not stored in the body), else
    the row number as ``str`` (``"0"``, ``"1"``, ...). Pass one split: a
    ``DatasetDict`` raises ``TypeError`` naming its splits. Does not itself
    import ``datasets``. Values convert as in ``zippy.pandas_compat``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .utils import _pairs_from_records, _records_from_columns, _rows_to_columns

__all__ = ["from_hf", "to_hf", "to_hf_dict"]


def _datasets():
    try:
        import datasets
    except ImportError as e:
        raise ImportError(
            "zippy.hf needs the 'datasets' package (Hugging Face): pip install datasets"
        ) from e
    return datasets


def _pairs_of(path_or_store, collection):
    """(iterator of (id, doc), cleanup) for a path or an open handle."""
    if hasattr(path_or_store, "scan_with_ids"):
        return path_or_store.scan_with_ids(), (lambda: None)
    if not isinstance(path_or_store, (str, os.PathLike)):
        raise TypeError("expected a store path or an open zippy collection, not %s"
                        % type(path_or_store).__name__)
    from .dataset import _open_for_read

    store, root = _open_for_read(path_or_store, collection)

    def cleanup():
        for h in (store, root):
            try:
                h.close()
            except Exception:
                pass

    return store.scan_with_ids(), cleanup


def to_hf_dict(path_or_store, collection="default", columns=None):
    """A ``{column: list}`` dict of the collection (see the module doc)."""
    pairs, cleanup = _pairs_of(path_or_store, collection)
    try:
        return _rows_to_columns(((p[0], p[1]) for p in pairs), columns)
    finally:
        cleanup()


def to_hf(path_or_store, collection="default", columns=None):
    """A ``datasets.Dataset`` of the collection."""
    datasets = _datasets()
    return datasets.Dataset.from_dict(to_hf_dict(path_or_store, collection, columns))


def _records_of(hf_dataset):
    if type(hf_dataset).__name__ in ("DatasetDict", "IterableDatasetDict"):
        raise TypeError(
            "from_hf expects one split (a Dataset), not a %s of splits (%s): "
            "pass e.g. ds[%r]" % (type(hf_dataset).__name__,
                                   ", ".join(map(str, hf_dataset.keys())),
                                   next(iter(hf_dataset.keys()), "train")))
    if isinstance(hf_dataset, Mapping):
        values = list(hf_dataset.values())
        if values and all(isinstance(v, (list, tuple)) for v in values):
            return _records_from_columns(hf_dataset)
        if not values:
            return iter(())
        raise TypeError(
            "from_hf expects one split (a Dataset), not a %s of splits (%s): "
            "pass e.g. ds[%r]" % (type(hf_dataset).__name__,
                                   ", ".join(map(str, hf_dataset.keys())),
                                   next(iter(hf_dataset.keys())))
        )
    if isinstance(hf_dataset, (str, bytes)) or not hasattr(hf_dataset, "__iter__"):
        raise TypeError("from_hf expects a datasets.Dataset or an iterable of dicts, not %s"
                        % type(hf_dataset).__name__)
    return iter(hf_dataset)


def from_hf(hf_dataset, path, collection="default", id_column=None, strict=False):
    """Write a Hugging Face dataset (one split) into a collection; returns the count."""
    from .pandas_compat import _write_pairs

    records = _records_of(hf_dataset)
    return _write_pairs(_pairs_from_records(records, id_column), path, collection, strict)
