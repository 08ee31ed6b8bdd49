"""pandas bridge: ``read_zds`` and ``to_zds``.

``read_zds(path, collection="default", columns=None) -> DataFrame``
    One row per document in scan order (the order of each document's
    latest write: an update moves it to the end). Columns: ``_id`` first, then
    every top-level key in the order it is first met (document key order);
    a document without a key has ``None``/``NaN`` there. ``columns`` (a
    list, or one name) selects exactly those columns in that order
    (``"_id"`` included only if listed); a name no document has gives a
    column of ``None``. Nested objects and arrays stay Python dicts/lists.
    The store is opened read-only.

``to_zds(df, path, collection="default", doc_id_column=None, strict=False) -> int``
    Writes each row as a document and returns the number written. Ids:

    * ``doc_id_column`` given: that column's values (as ``str``); the column
      stays in the documents unless it is ``"_id"``;
    * else a column named ``"_id"``, if the frame has one (so ``to_zds(
      read_zds(p), q)`` copies a collection): it is not stored in the body;
    * else the index values as ``str`` (a default ``RangeIndex`` gives
      ``"0" .. "n-1"``).

    Ids must be unique (``ValueError`` otherwise) and valid ids. Values are
    converted: numpy scalars to int/float/bool, numpy arrays to lists, NaN,
    ``None``, ``NaT`` and ``pd.NA`` to ``null``, ``Timestamp``/datetime/date
    to ISO-8601 strings, ``Timedelta`` to seconds; infinity raises
    ``ValueError`` and values with no JSON form (bytes, sets, objects)
    ``TypeError`` naming the row and column. Rows are written through the
    store's bulk path (``put_batch``) and flushed before returning.
    ``strict=True`` opens the collection strict (every row must have the
    same schema, else ``ValueError`` "Schema mismatch").
"""

from __future__ import annotations

import os

from .utils import _rows_to_columns, _to_json_value

__all__ = ["read_zds", "to_zds"]

_BATCH = 10000
_INF = float("inf")


def _pd():
    try:
        import pandas as pd
    except ImportError as e:  # pragma: no cover - pandas is installed here
        raise ImportError(
            "zippy.pandas_compat needs the 'pandas' package: pip install pandas"
        ) from e
    return pd


def _scan_pairs(store):
    for item in store.scan_with_ids():
        yield item[0], item[1]


def read_zds(path, collection="default", columns=None):
    """Read a collection into a pandas DataFrame (see the module doc)."""
    pd = _pd()
    from .dataset import _open_for_read

    store, root = _open_for_read(path, collection)
    try:
        cols = _rows_to_columns(_scan_pairs(store), columns)
    finally:
        _close_quietly(store)
        _close_quietly(root)
    return pd.DataFrame(cols, columns=list(cols))


def _close_quietly(h):
    close = getattr(h, "close", None)
    if close is not None:
        try:
            close()
        except Exception:
            pass


def _frame_rows(df, doc_id_column):
    """Yield (id, doc) for each row of df, converted to JSON-able values."""
    if doc_id_column is not None:
        if not isinstance(doc_id_column, str):
            raise TypeError("doc_id_column must be a str, not %s" % type(doc_id_column).__name__)
        if doc_id_column not in df.columns:
            raise KeyError("doc_id_column %r is not a column of the DataFrame (columns: %s)"
                           % (doc_id_column, ", ".join(map(str, df.columns))))
        id_col = doc_id_column
    elif "_id" in df.columns:
        id_col = "_id"
    else:
        id_col = None
    if not df.columns.is_unique:
        raise ValueError("the DataFrame has duplicate column names")
    names = []
    for c in df.columns:
        if not isinstance(c, str):
            if isinstance(c, bytes):
                raise TypeError("column name %r is bytes; column names must be str" % (c,))
            c = str(c)
        names.append(c)
    body = [(j, n) for j, n in enumerate(names) if n != "_id"]
    id_pos = names.index(id_col) if id_col is not None else None
    seen = set()
    for start in range(0, len(df), _BATCH):
        chunk = df.iloc[start:start + _BATCH]
        ids = chunk.iloc[:, id_pos].tolist() if id_pos is not None else list(chunk.index)
        cols = [_column_values(chunk.iloc[:, j], n, start) for j, n in body]
        keys = [n for _, n in body]
        for k, raw in enumerate(ids):
            r = start + k
            doc_id = _id_text(raw, r)
            if doc_id in seen:
                raise ValueError("duplicate document id %r (row %d)" % (doc_id, r))
            seen.add(doc_id)
            yield doc_id, {n: col[k] for n, col in zip(keys, cols)}


def _column_values(series, name, start):
    """The values of a column as JSON-able Python objects (a list)."""
    kind = getattr(series.dtype, "kind", "O")
    values = series.tolist()
    if kind in "iub" and not hasattr(series.dtype, "na_value"):
        return values  # numpy ints/bools: tolist() gave Python ints/bools
    if kind == "f" and type(series.dtype).__module__.startswith("numpy"):
        out = values
        for k, v in enumerate(out):
            if v != v:
                out[k] = None
            elif v in (_INF, -_INF):
                raise ValueError("row %d, column %r: infinity cannot be stored as JSON"
                                 % (start + k, name))
        return out
    out = []
    for k, v in enumerate(values):
        if type(v) is str or v is None:
            out.append(v)
        else:
            out.append(_to_json_value(v, "row %d, column %r" % (start + k, name)))
    return out


def _id_text(raw, r):
    val = _to_json_value(raw, "id of row %d" % r)
    if val is None:
        raise ValueError("row %d has no id (missing value in the id column)" % r)
    if isinstance(val, float) and val.is_integer():
        val = int(val)
    return val if isinstance(val, str) else str(val)


def to_zds(df, path, collection="default", doc_id_column=None, strict=False):
    """Write a DataFrame into a collection; returns the number of documents written."""
    pd = _pd()
    if not isinstance(df, pd.DataFrame):
        raise TypeError("to_zds expects a pandas DataFrame, not %s" % type(df).__name__)
    return _write_pairs(_frame_rows(df, doc_id_column), path, collection, strict)


def _write_pairs(pairs, path, collection, strict=False):
    """Write (id, doc) pairs through the bulk path; returns the count."""
    from . import ZDSStore

    if not isinstance(collection, str):
        raise TypeError("collection must be a str, not %s" % type(collection).__name__)
    store = ZDSStore.open(os.fspath(path), collection, strict=strict)
    n = 0
    try:
        put_batch = getattr(store, "put_batch", None)
        batch = []
        for pair in pairs:
            batch.append(pair)
            if len(batch) >= _BATCH:
                n += _flush_batch(store, put_batch, batch)
                batch = []
        if batch:
            n += _flush_batch(store, put_batch, batch)
        store.flush()
    finally:
        store.close()
    return n


def _flush_batch(store, put_batch, batch):
    if put_batch is not None:
        r = put_batch(batch)
        return r if isinstance(r, int) and not isinstance(r, bool) else len(batch)
    for doc_id, doc in batch:
        store.put(doc_id, doc)
    return len(batch)
