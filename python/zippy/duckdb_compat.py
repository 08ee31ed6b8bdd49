"""SQL over collections with DuckDB (the ``duckdb`` module is optional).

A collection is loaded into DuckDB through ``zippy.pandas_compat.read_zds``
(one row per document, ``_id`` first, then the keys in document order) and
registered as a view of an in-memory connection; nested objects and arrays
are handed to DuckDB's pandas scan, which maps them to STRUCT and LIST.
The store is opened read-only; nothing is written back unless you export.

Functions (``path`` is a store root):

* ``sql(path, collection, query, params=None)`` -> ``pandas.DataFrame``:
  the collection is the table ``data`` (and also its own name).
* ``query_zds(path, collection, sql, params=None)`` -> list of dicts (one per
  row, keys in column order); the table is ``data`` or the collection name.
* ``query_zds_df(...)`` -> the same as a ``DataFrame``.
* ``register_zds(conn, path, collection, view_name=None)`` -> the view name
  (default: the collection name) registered on your duckdb connection.
* ``export_query_to_zds(conn, sql, path, collection, id_column=None)`` ->
  number of documents written: each result row becomes a document; ids as
  in ``pandas_compat.to_zds`` (``id_column``, else an ``_id`` column, else
  the row number).
* ``aggregate(path, collection, group_by, agg, where=None)`` -> list of dicts:
  ``group_by`` is a column name or a list of them (or None), ``agg`` maps a
  column to a function name or a list of them among count, count_distinct,
  sum, avg/mean, min, max, median, stddev; ``"*"`` with count counts rows.
  Result columns: the group columns, then ``<fn>_<column>`` (``count`` for
  ``"*"``). ``where`` is an SQL condition.
* ``count_where(path, collection, where=None, params=None)`` -> int.
* ``ZDSConnection(path)``: an in-memory DuckDB connection bound to a store,
  with ``register(collection, view_name=None)``, ``query(sql, params=None)``
  (list of dicts), ``query_df``, ``export(sql, collection, id_column=None)``
  (into this store), ``execute(sql, params=None)`` (the raw duckdb result),
  ``close()`` and the context manager. A query naming a collection that is
  not registered yet registers it and runs again.

``where``/``sql`` strings are SQL run as given: do not build them from
untrusted input; pass values through ``params`` (``?`` placeholders).
Identifiers given to ``aggregate`` are quoted, and its function names are
checked against the list above.

Without duckdb every entry point raises ``ImportError`` naming ``duckdb``.
"""

from __future__ import annotations

import os
import re

__all__ = [
    "sql", "query_zds", "query_zds_df", "register_zds", "export_query_to_zds",
    "aggregate", "count_where", "ZDSConnection",
]

_AGG_FUNCS = {
    "count": "COUNT({})",
    "count_distinct": "COUNT(DISTINCT {})",
    "sum": "SUM({})",
    "avg": "AVG({})",
    "mean": "AVG({})",
    "min": "MIN({})",
    "max": "MAX({})",
    "median": "MEDIAN({})",
    "stddev": "STDDEV({})",
}


def _duckdb():
    try:
        import duckdb
    except ImportError as e:
        raise ImportError(
            "zippy.duckdb_compat needs the 'duckdb' module, which is not installed: "
            "pip install duckdb"
        ) from e
    return duckdb


def _quote(name):
    if not isinstance(name, str) or not name:
        raise TypeError("SQL identifiers must be non-empty str, not %r" % (name,))
    return '"' + name.replace('"', '""') + '"'


def _frame(path, collection):
    from .pandas_compat import read_zds

    return read_zds(path, collection)


def register_zds(conn, path, collection, view_name=None):
    """Register ``collection`` of the store at ``path`` as a view on ``conn``."""
    _duckdb()
    name = collection if view_name is None else view_name
    if not isinstance(name, str) or not name:
        raise TypeError("view_name must be a non-empty str")
    conn.register(name, _frame(path, collection))
    return name


def _rows(result):
    desc = result.description
    if not desc:
        return []
    cols = [d[0] for d in desc]
    return [dict(zip(cols, row)) for row in result.fetchall()]


def _execute(conn, query, params):
    if params is None:
        return conn.execute(query)
    return conn.execute(query, params)


def _connect_with(path, collection):
    duckdb = _duckdb()
    conn = duckdb.connect(database=":memory:")
    try:
        df = _frame(path, collection)
        conn.register("data", df)
        if collection != "data":
            conn.register(collection, df)
    except BaseException:
        conn.close()
        raise
    return conn


def query_zds(path, collection, sql, params=None):
    """Run ``sql`` over the collection (table ``data``); a list of dicts."""
    conn = _connect_with(path, collection)
    try:
        return _rows(_execute(conn, sql, params))
    finally:
        conn.close()


def query_zds_df(path, collection, sql, params=None):
    """Run ``sql`` over the collection (table ``data``); a DataFrame."""
    conn = _connect_with(path, collection)
    try:
        return _execute(conn, sql, params).fetchdf()
    finally:
        conn.close()


def sql(path, collection, query, params=None):
    """Run ``query`` with the collection as table ``data``; a DataFrame."""
    return query_zds_df(path, collection, query, params)


def export_query_to_zds(conn, sql, path, collection, id_column=None):
    """Write the rows of ``sql`` (run on ``conn``) into a collection; returns the count."""
    _duckdb()
    from .pandas_compat import to_zds

    df = conn.execute(sql).fetchdf()
    return to_zds(df, path, collection, doc_id_column=id_column)


def _agg_sql(group_by, agg, where):
    if group_by is None:
        groups = []
    elif isinstance(group_by, str):
        groups = [group_by]
    else:
        groups = list(group_by)
    if not isinstance(agg, dict) or not agg:
        raise TypeError("agg must be a non-empty dict {column: function or [functions]}")
    select = [_quote(g) for g in groups]
    for col, fns in agg.items():
        for fn in [fns] if isinstance(fns, str) else list(fns):
            key = str(fn).lower()
            if key not in _AGG_FUNCS:
                raise ValueError("unknown aggregate function %r (use one of: %s)"
                                 % (fn, ", ".join(sorted(_AGG_FUNCS))))
            if col == "*":
                if key != "count":
                    raise ValueError("'*' can only be counted, not %r" % fn)
                select.append("COUNT(*) AS %s" % _quote("count"))
            else:
                select.append("%s AS %s" % (_AGG_FUNCS[key].format(_quote(col)),
                                            _quote("%s_%s" % (key, col))))
    q = "SELECT %s FROM data" % ", ".join(select)
    if where:
        q += " WHERE " + where
    if groups:
        q += " GROUP BY %s ORDER BY %s" % (", ".join(_quote(g) for g in groups),
                                          ", ".join(_quote(g) for g in groups))
    return q


def aggregate(path, collection, group_by, agg, where=None):
    """Grouped aggregates of a collection; a list of dicts (see the module doc)."""
    _duckdb()
    return query_zds(path, collection, _agg_sql(group_by, agg, where))


def count_where(path, collection, where=None, params=None):
    """Number of documents matching the SQL condition ``where`` (all when None)."""
    q = "SELECT COUNT(*) AS n FROM data"
    if where:
        q += " WHERE " + where
    rows = query_zds(path, collection, q, params)
    return int(rows[0]["n"])


_MISSING_TABLE = re.compile(r"Table with name ([^\s!]+) does not exist")


class ZDSConnection:
    """An in-memory DuckDB connection over the collections of one store."""

    def __init__(self, path, database=":memory:"):
        duckdb = _duckdb()
        self.path = os.fspath(path)
        if not os.path.exists(self.path):  # a store directory or a .zds archive
            raise FileNotFoundError("no zippy store at %r" % self.path)
        self.conn = duckdb.connect(database=database)
        self._views = {}

    def register(self, collection, view_name=None):
        name = register_zds(self.conn, self.path, collection, view_name)
        self._views[name] = collection
        return name

    def _auto(self, fn, query, params):
        tried = set()
        while True:
            try:
                return fn(_execute(self.conn, query, params))
            except Exception as e:  # duckdb.CatalogException
                m = _MISSING_TABLE.search(str(e))
                name = m.group(1).strip('"') if m else None
                if name is None or name in tried or not self._collection_exists(name):
                    raise
                tried.add(name)
                self.register(name)

    def _collection_exists(self, name):
        from . import ZDSRoot

        try:
            r = ZDSRoot.open(self.path, mode="r")
        except Exception:
            return False
        try:
            return bool(r.collection_exists(name))
        except Exception:
            return False
        finally:
            try:
                r.close()
            except Exception:
                pass

    def query(self, sql, params=None):
        return self._auto(_rows, sql, params)

    def query_df(self, sql, params=None):
        return self._auto(lambda r: r.fetchdf(), sql, params)

    def execute(self, sql, params=None):
        return self._auto(lambda r: r, sql, params)

    def export(self, sql, collection, id_column=None):
        from .pandas_compat import to_zds

        df = self.query_df(sql)
        return to_zds(df, self.path, collection, doc_id_column=id_column)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __repr__(self):
        return "ZDSConnection(%r, views=%s)" % (self.path, sorted(self._views))
