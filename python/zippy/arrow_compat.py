"""Apache Arrow bridge (``pyarrow`` is optional).

``to_arrow(store_or_path, collection="default", columns=None) -> pyarrow.Table``
    Columns as in ``zippy.pandas_compat.read_zds``: ``_id`` first, then the
    top-level keys in the order first met (missing values are null);
    ``columns`` selects. Types are inferred by ``pyarrow`` (nested objects
    become structs, arrays lists); a key whose values mix incompatible types
    makes pyarrow raise. ``read_zds_arrow(path, collection, columns)`` is the
    same for a path.

``from_arrow(table, path, collection="default", id_column=None, strict=False) -> int``
    Writes the rows of a ``pyarrow.Table`` (or ``RecordBatch``) and returns
    the number written. Ids as in ``zippy.hf.from_hf``: ``id_column``, else an
    ``_id`` column, else the row number as ``str``.

Every function raises ``ImportError("zippy.arrow_compat needs the 'pyarrow'
package ...")`` when pyarrow is missing; ``import zippy`` never needs it.
"""

from __future__ import annotations

from .utils import _pairs_from_records, _records_from_columns

__all__ = ["to_arrow", "from_arrow", "read_zds_arrow", "write_zds_arrow"]


def _pa():
    try:
        import pyarrow as pa
    except ImportError as e:
        raise ImportError(
            "zippy.arrow_compat needs the 'pyarrow' package: pip install pyarrow"
        ) from e
    return pa


def to_arrow(store_or_path, collection="default", columns=None):
    """The collection as a ``pyarrow.Table``."""
    pa = _pa()
    from .hf import to_hf_dict

    cols = to_hf_dict(store_or_path, collection, columns)
    return pa.table(cols)


def read_zds_arrow(path, collection="default", columns=None):
    """Read a collection of the store at ``path`` into a ``pyarrow.Table``."""
    return to_arrow(path, collection, columns)


def from_arrow(table, path, collection="default", id_column=None, strict=False):
    """Write a ``pyarrow.Table``/``RecordBatch`` into a collection; returns the count."""
    pa = _pa()
    from .pandas_compat import _write_pairs

    if not isinstance(table, (pa.Table, pa.RecordBatch)):
        raise TypeError("from_arrow expects a pyarrow Table or RecordBatch, not %s"
                        % type(table).__name__)
    records = _records_from_columns(table.to_pydict())
    return _write_pairs(_pairs_from_records(records, id_column), path, collection, strict)


write_zds_arrow = from_arrow
