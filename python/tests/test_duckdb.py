"""zippy.duckdb_compat. The duckdb module is optional (and not installable on
the development machine): without it every entry point raises an ImportError
naming it, which is tested whether or not duckdb is present; the SQL tests
skip when it is missing."""

import sys

import pytest

import zippy
from zippy import duckdb_compat as dc

SKIP_REASON = "duckdb module not installed"


@pytest.fixture
def root(tmp_path):
    p = str(tmp_path / "store")
    with zippy.ZDSStore.open(p, "users") as s:
        s.put("u1", {"name": "Alice", "age": 28, "city": "Paris"})
        s.put("u2", {"name": "Bob", "age": 35, "city": "Lyon"})
        s.put("u3", {"name": "Carol", "age": 41, "city": "Paris"})
    return p


# -- always run: the ImportError, and the SQL builder --------------------------------

def test_import_error_names_duckdb(root, monkeypatch):
    monkeypatch.setitem(sys.modules, "duckdb", None)  # simulate absence
    calls = [
        lambda: dc.sql(root, "users", "SELECT 1"),
        lambda: dc.query_zds(root, "users", "SELECT * FROM data"),
        lambda: dc.query_zds_df(root, "users", "SELECT * FROM data"),
        lambda: dc.register_zds(object(), root, "users"),
        lambda: dc.export_query_to_zds(object(), "SELECT 1", root, "out"),
        lambda: dc.aggregate(root, "users", "city", {"age": "avg"}),
        lambda: dc.count_where(root, "users", "age > 30"),
        lambda: dc.ZDSConnection(root),
    ]
    for call in calls:
        with pytest.raises(ImportError, match="duckdb"):
            call()


def test_module_imports_without_duckdb(monkeypatch):
    monkeypatch.setitem(sys.modules, "duckdb", None)
    import importlib
    mod = importlib.reload(dc)
    assert callable(mod.query_zds)


def test_aggregate_sql_builder():
    q = dc._agg_sql("city", {"age": ["avg", "max"], "*": "count"}, "age > 1")
    assert q == ('SELECT "city", AVG("age") AS "avg_age", MAX("age") AS "max_age", '
                 'COUNT(*) AS "count" FROM data WHERE age > 1 GROUP BY "city" ORDER BY "city"')
    assert dc._agg_sql(None, {"x": "sum"}, None) == 'SELECT SUM("x") AS "sum_x" FROM data'
    assert 'GROUP BY "a", "b"' in dc._agg_sql(["a", "b"], {"c": "min"}, None)
    # identifiers are quoted, so a hostile name stays a name
    assert '"we""ird"' in dc._agg_sql('we"ird', {"x": "sum"}, None)
    with pytest.raises(ValueError, match="unknown aggregate"):
        dc._agg_sql("city", {"age": "drop table"}, None)
    with pytest.raises(ValueError):
        dc._agg_sql("city", {"*": "sum"}, None)
    with pytest.raises(TypeError):
        dc._agg_sql("city", {}, None)
    with pytest.raises(TypeError):
        dc._agg_sql(3, {"a": "sum"}, None)


# -- with duckdb ---------------------------------------------------------------------

@pytest.fixture
def duckdb():
    return pytest.importorskip("duckdb", reason=SKIP_REASON)


def test_sql_table_is_data(duckdb, root):
    df = dc.sql(root, "users", "SELECT name FROM data WHERE age > 30 ORDER BY name")
    assert list(df["name"]) == ["Bob", "Carol"]


def test_query_zds_rows_and_column_order(duckdb, root):
    rows = dc.query_zds(root, "users", "SELECT * FROM data ORDER BY _id")
    assert list(rows[0]) == ["_id", "name", "age", "city"]
    assert rows[0]["_id"] == "u1" and rows[0]["age"] == 28
    rows = dc.query_zds(root, "users", "SELECT name FROM users WHERE age > ? ORDER BY name", [30])
    assert rows == [{"name": "Bob"}, {"name": "Carol"}]


def test_query_zds_df(duckdb, root):
    df = dc.query_zds_df(root, "users", "SELECT * FROM data ORDER BY _id")
    assert list(df.columns) == ["_id", "name", "age", "city"]
    assert len(df) == 3


def test_register_and_export(duckdb, root):
    conn = duckdb.connect()
    assert dc.register_zds(conn, root, "users") == "users"
    assert dc.register_zds(conn, root, "users", view_name="people") == "people"
    assert conn.execute("SELECT COUNT(*) FROM people").fetchone()[0] == 3
    n = dc.export_query_to_zds(conn, "SELECT _id, name FROM users WHERE city = 'Paris'",
                               root, "parisians")
    assert n == 2
    with zippy.ZDSStore.open(root, "parisians") as s:
        assert s.list_doc_ids() == ["u1", "u3"]
        assert s.get("u1") == {"name": "Alice"}
    n = dc.export_query_to_zds(conn, "SELECT name, age FROM users", root, "by_name",
                               id_column="name")
    assert n == 3
    conn.close()


def test_aggregate_and_count_where(duckdb, root):
    rows = dc.aggregate(root, "users", "city", {"age": "avg", "*": "count"})
    assert rows == [{"city": "Lyon", "avg_age": 35.0, "count": 1},
                    {"city": "Paris", "avg_age": 34.5, "count": 2}]
    assert dc.count_where(root, "users", "age > 30") == 2
    assert dc.count_where(root, "users") == 3
    assert dc.count_where(root, "users", "city = ?", ["Paris"]) == 2


def test_connection(duckdb, root):
    with dc.ZDSConnection(root) as c:
        assert c.register("users") == "users"
        assert c.query("SELECT COUNT(*) AS n FROM users") == [{"n": 3}]
        assert len(c.query_df("SELECT * FROM users")) == 3
        assert c.export("SELECT _id, age FROM users WHERE age < 40", "young") == 2
        assert c.execute("SELECT 42").fetchone()[0] == 42
        # an unregistered collection is registered on first use
        assert c.query("SELECT COUNT(*) AS n FROM young") == [{"n": 2}]
    with pytest.raises(FileNotFoundError):
        dc.ZDSConnection(root + "-missing")


def test_missing_collection(duckdb, root):
    with pytest.raises(KeyError):
        dc.query_zds(root, "nope", "SELECT * FROM data")
