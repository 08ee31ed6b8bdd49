"""Small helpers: document schema ids and id validation.

``compute_schema_id(doc)``
    A stable, short identifier of a document's *schema* (its key set and
    JSON types, recursively; see ``zippy_schema`` in ``include/zippy.h``).
    It is the first 16 hexadecimal characters of the SHA-256 of the
    canonical schema text that the C engine computes
    (``zippy._native.schema_of``): compact JSON, keys sorted by byte order,
    types ``"string"``, ``"number"``, ``"boolean"``, ``"null"``,
    ``"array"`` (elements are not inspected), nested objects recursed.
    Key order and values do not matter, only keys and types; two documents
    get the same id exactly when a strict collection would accept both.
    ``doc`` may be a dict (any mapping) or a JSON object as ``str``/``bytes``.

``validate_doc_id(doc_id)``
    Checks an id with the engine's rules (1-255 bytes of UTF-8 letters and
    digits of any script and ``_ - . @ : + =``; not starting with ``.``, no
    ``..``). Returns the id unchanged when it is valid, so it can be used
    inline (``store.put(validate_doc_id(x), doc)``); raises ``ValueError``
    with a message naming the id otherwise, and ``TypeError`` when the id is
    not a ``str``.

The module also holds private conversion helpers shared by the pandas,
Arrow and Hugging Face bridges (``_to_json_value``, ``_rows_to_columns``).
"""

from __future__ import annotations

import datetime as _dt
import decimal as _decimal
import hashlib
import math
from collections.abc import Mapping

__all__ = ["compute_schema_id", "validate_doc_id"]


def _native():
    from . import _native as native  # the C extension (built by setup.py)

    return native


def compute_schema_id(doc) -> str:
    """Return the 16-hex-character schema id of ``doc`` (see the module doc)."""
    if isinstance(doc, (bytes, bytearray, memoryview)):
        doc = bytes(doc).decode("utf-8")
    if not isinstance(doc, (str, Mapping)):
        raise TypeError(
            "compute_schema_id expects a dict or a JSON object string, not %s"
            % type(doc).__name__
        )
    if isinstance(doc, Mapping) and not isinstance(doc, dict):
        doc = dict(doc)
    schema = _native().schema_of(doc)
    return hashlib.sha256(schema.encode("utf-8")).hexdigest()[:16]


def validate_doc_id(doc_id):
    """Return ``doc_id`` if it is a valid document id, else raise ValueError."""
    if not isinstance(doc_id, str):
        raise TypeError(
            "document id must be a str, not %s" % type(doc_id).__name__
        )
    if doc_id == "":
        raise ValueError("invalid document id '': an id is 1-255 bytes")
    _native().validate_id(doc_id)
    return doc_id


# ---------------------------------------------------------------------------
# private conversion helpers (pandas / Arrow / HF bridges)
# ---------------------------------------------------------------------------

def _to_json_value(value, path="value"):
    """Convert ``value`` into plain JSON-able Python data.

    numpy scalars -> int/float/bool, numpy arrays -> lists, NaN/NaT/pd.NA/None
    -> None, Timestamps/datetimes/dates/times -> ISO-8601 strings, timedeltas
    -> seconds as float, Decimal -> float, tuples/sets of values -> lists,
    mappings -> dicts with str keys. +/-inf raises ValueError (JSON has no
    infinity); other objects raise TypeError naming ``path``.
    """
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            raise ValueError("%s: infinity cannot be stored as JSON" % path)
        return float(value)
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                if isinstance(k, (bytes, bytearray)):
                    raise TypeError("%s: bytes key %r; keys must be str" % (path, k))
                k = str(k)
            out[k] = _to_json_value(v, "%s.%s" % (path, k))
        return out
    if isinstance(value, (list, tuple)):
        return [_to_json_value(v, "%s[%d]" % (path, i)) for i, v in enumerate(value)]
    # pandas / numpy objects, without importing either eagerly
    mod = type(value).__module__ or ""
    if mod.startswith("numpy"):
        import numpy as np

        if isinstance(value, np.ndarray):
            return [_to_json_value(v, "%s[%d]" % (path, i)) for i, v in enumerate(value.tolist())]
        if isinstance(value, np.datetime64):
            if np.isnat(value):
                return None
            import pandas as pd  # numpy datetime64 -> ISO via pandas when present

            return pd.Timestamp(value).isoformat()
        if isinstance(value, np.timedelta64):
            if np.isnat(value):
                return None
            return value / np.timedelta64(1, "s")
        if isinstance(value, np.generic):
            return _to_json_value(value.item(), path)
    if mod.startswith("pandas"):
        import pandas as pd

        if value is pd.NaT or value is pd.NA:
            return None
        if isinstance(value, pd.Timestamp):
            return value.isoformat()
        if isinstance(value, pd.Timedelta):
            return value.total_seconds()
        if hasattr(value, "tolist"):
            return _to_json_value(value.tolist(), path)
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, _decimal.Decimal):
        return _to_json_value(float(value), path)
    if isinstance(value, (set, frozenset)):
        raise TypeError("%s: a set is not JSON (convert it to a list)" % path)
    if isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError("%s: bytes are not JSON (decode them to str)" % path)
    if hasattr(value, "tolist"):  # e.g. torch tensors, array-likes
        return _to_json_value(value.tolist(), path)
    raise TypeError("%s: %s is not JSON-serializable" % (path, type(value).__name__))


def _rows_to_columns(rows, columns=None, id_key="_id"):
    """Turn an iterable of ``(id, doc)`` pairs into an ordered dict of lists.

    Columns: ``_id`` first, then every key in the order it is first seen;
    missing values are None. With ``columns``, exactly those columns in
    that order (a column no document has is all None).
    """
    if columns is not None:
        if isinstance(columns, str):
            columns = [columns]
        columns = list(columns)
        for c in columns:
            if not isinstance(c, str):
                raise TypeError("column names must be str, not %s" % type(c).__name__)
        out = {c: [] for c in columns}
        for doc_id, doc in rows:
            for c in columns:
                out[c].append(doc_id if c == id_key else doc.get(c))
        return out
    out = {id_key: []}
    n = 0
    for doc_id, doc in rows:
        out[id_key].append(doc_id)
        for k, v in doc.items():
            col = out.get(k)
            if col is None:
                col = out[k] = [None] * n
            col.append(v)
        n += 1
        for col in out.values():
            if len(col) < n:
                col.append(None)
    return out


def _pairs_from_records(records, id_column=None, what="row"):
    """Yield (id, doc) from an iterable of mappings.

    Ids: ``id_column``'s value (kept in the document unless it is
    ``"_id"``), else the record's ``"_id"`` (removed from the document),
    else the record's ordinal as ``str``. Values go through
    ``_to_json_value``. Duplicate ids raise ValueError.
    """
    if id_column is not None and not isinstance(id_column, str):
        raise TypeError("id_column must be a str, not %s" % type(id_column).__name__)
    seen = set()
    for r, rec in enumerate(records):
        if not isinstance(rec, Mapping):
            raise TypeError("%s %d is a %s, not a mapping" % (what, r, type(rec).__name__))
        if id_column is not None:
            if id_column not in rec:
                raise KeyError("%s %d has no id column %r" % (what, r, id_column))
            raw = rec[id_column]
        elif "_id" in rec:
            raw = rec["_id"]
        else:
            raw = str(r)
        val = _to_json_value(raw, "id of %s %d" % (what, r))
        if val is None:
            raise ValueError("%s %d has no id (missing value in the id column)" % (what, r))
        if isinstance(val, float) and val.is_integer():
            val = int(val)
        doc_id = val if isinstance(val, str) else str(val)
        if doc_id in seen:
            raise ValueError("duplicate document id %r (%s %d)" % (doc_id, what, r))
        seen.add(doc_id)
        doc = {}
        for k, v in rec.items():
            if k == "_id":
                continue
            if not isinstance(k, str):
                if isinstance(k, (bytes, bytearray)):
                    raise TypeError("%s %d: bytes key %r; keys must be str" % (what, r, k))
                k = str(k)
            doc[k] = _to_json_value(v, "%s %d, column %r" % (what, r, k))
        yield doc_id, doc


def _records_from_columns(cols):
    """Rows (dicts) of a dict of equal-length column lists."""
    names = list(cols)
    lists = [list(cols[n]) for n in names]
    lengths = {len(l) for l in lists}
    if len(lengths) > 1:
        raise ValueError("columns have different lengths: %s"
                         % ", ".join("%s=%d" % (n, len(l)) for n, l in zip(names, lists)))
    for row in zip(*lists):
        yield dict(zip(names, row))
