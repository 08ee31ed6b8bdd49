"""The Hugging Face bridge (zippy.hf) and the Arrow bridge (zippy.arrow_compat).

``to_hf_dict`` and ``from_hf`` work without ``datasets`` and are tested for
real; ``to_hf`` and the Arrow functions need their packages: without them
they must raise an ImportError naming the package (tested with the package
hidden), and their real tests skip."""

import os
import subprocess
import sys

import pytest

import zippy
from zippy import from_hf, to_hf, to_hf_dict
from zippy import arrow_compat


@pytest.fixture
def root(tmp_path):
    p = str(tmp_path / "store")
    with zippy.ZDSStore.open(p, "train") as s:
        s.put("a", {"text": "hello", "label": 1})
        s.put("b", {"text": "world", "label": 0, "extra": [1, 2]})
        s.put("c", {"label": 1, "text": "again"})
    return p


# -- to_hf_dict --------------------------------------------------------------------

def test_to_hf_dict(root):
    d = to_hf_dict(root, "train")
    assert list(d) == ["_id", "text", "label", "extra"]
    assert d == {"_id": ["a", "b", "c"], "text": ["hello", "world", "again"],
                 "label": [1, 0, 1], "extra": [None, [1, 2], None]}
    assert all(len(v) == 3 for v in d.values())


def test_to_hf_dict_from_open_handle_and_columns(root):
    with zippy.ZDSStore.open(root, "train") as s:
        d = to_hf_dict(s)
        assert d["_id"] == ["a", "b", "c"]
        assert to_hf_dict(s, columns=["label"]) == {"label": [1, 0, 1]}
        s.put("d", {"text": "still open"})
        assert to_hf_dict(s)["_id"][-1] == "d"  # the handle stays usable


def test_to_hf_dict_errors(root, tmp_path):
    with pytest.raises(KeyError):
        to_hf_dict(root, "validation")
    with pytest.raises(FileNotFoundError):
        to_hf_dict(str(tmp_path / "nope"))
    with pytest.raises(TypeError):
        to_hf_dict(42)


def test_to_hf_dict_empty(tmp_path):
    p = str(tmp_path / "e")
    with zippy.ZDSStore.open(p, "e"):
        pass
    assert to_hf_dict(p, "e") == {"_id": []}


# -- from_hf -----------------------------------------------------------------------

def test_from_hf_list_of_rows(tmp_path):
    p = str(tmp_path / "o")
    rows = [{"text": "x", "label": 1}, {"text": "y", "label": 0}]
    assert from_hf(rows, p, "train") == 2
    with zippy.ZDSStore.open(p, "train") as s:
        assert s.list_doc_ids() == ["0", "1"]
        assert s.get("1") == {"text": "y", "label": 0}


def test_from_hf_id_column_and_underscore_id(tmp_path):
    p = str(tmp_path / "o")
    rows = [{"key": "k1", "v": 1}, {"key": "k2", "v": 2}]
    assert from_hf(rows, p, "c1", id_column="key") == 2
    with zippy.ZDSStore.open(p, "c1") as s:
        assert s.get("k2") == {"key": "k2", "v": 2}
    assert from_hf([{"_id": "z", "v": 3}], p, "c2") == 1
    with zippy.ZDSStore.open(p, "c2") as s:
        assert s.get("z") == {"v": 3}


def test_round_trip_dict(root, tmp_path):
    d = to_hf_dict(root, "train")
    p = str(tmp_path / "copy")
    assert from_hf(d, p, "train") == 3  # a dict of columns is accepted too
    assert to_hf_dict(p, "train") == d


def test_from_hf_numpy_values(tmp_path):
    np = pytest.importorskip("numpy")
    p = str(tmp_path / "o")
    from_hf([{"emb": np.array([0.5, 1.5], dtype=np.float32), "n": np.int64(4)}], p)
    with zippy.ZDSStore.open(p) as s:
        assert s.get("0") == {"emb": [0.5, 1.5], "n": 4}


class FakeSplit:
    """Stands for a datasets.Dataset: an iterable of rows."""

    def __init__(self, rows):
        self.rows = rows

    def __iter__(self):
        return iter(self.rows)


class DatasetDict(dict):
    """Looks like a datasets.DatasetDict: a dict of splits."""


def test_from_hf_bad_input(tmp_path):
    p = str(tmp_path / "o")
    with pytest.raises(TypeError, match="train"):
        from_hf({"train": FakeSplit([{"a": 1}]), "test": FakeSplit([{"a": 2}])}, p)
    with pytest.raises(TypeError, match="split"):
        from_hf(DatasetDict(train=[{"a": 1}]), p)
    assert from_hf(FakeSplit([{"a": 1}]), p, "one_split") == 1
    with pytest.raises(TypeError):
        from_hf(42, p)
    with pytest.raises(TypeError):
        from_hf("text", p)
    with pytest.raises(TypeError):
        from_hf([1, 2], p, "ints")
    with pytest.raises(ValueError, match="duplicate"):
        from_hf([{"_id": "x"}, {"_id": "x"}], p, "dups")
    with pytest.raises(KeyError):
        from_hf([{"a": 1}], p, "c", id_column="missing")
    with pytest.raises(ValueError, match="different lengths"):
        from_hf({"a": [1, 2], "b": [1]}, p, "ragged")
    with pytest.raises(TypeError, match="set"):
        from_hf([{"s": {1}}], p, "sets")
    with pytest.raises(ValueError):
        from_hf([{"_id": "bad id", "v": 1}], p, "badid")


# -- optional packages ---------------------------------------------------------------

def test_to_hf_import_error(root, monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(ImportError, match="datasets"):
        to_hf(root, "train")


def test_arrow_import_errors(root, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    for call in (lambda: arrow_compat.to_arrow(root, "train"),
                 lambda: arrow_compat.read_zds_arrow(root, "train"),
                 lambda: arrow_compat.from_arrow(object(), str(tmp_path / "x"))):
        with pytest.raises(ImportError, match="pyarrow"):
            call()


def test_import_zippy_needs_no_optional_package():
    code = (
        "import sys\n"
        "for m in ('pyarrow', 'datasets', 'duckdb', 'torch', 'pandas'):\n"
        "    sys.modules[m] = None\n"
        "import zippy, zippy.hf, zippy.arrow_compat, zippy.duckdb_compat\n"
        "import zippy.pandas_compat, zippy.remote, zippy.utils, zippy.dataset\n"
        "import tempfile\n"
        "d = tempfile.mkdtemp()\n"
        "with zippy.ZDSStore.open(d, 'c') as s:\n"
        "    s.put('a', {'v': 1})\n"
        "    ds = zippy.ZDataset(s)\n"
        "    assert list(ds) == [{'v': 1}], list(ds)\n"
        "    assert list(zippy.ZIterableDataset(s).shuffle(4, seed=1)) == [{'v': 1}]\n"
        "assert zippy.to_hf_dict(d, 'c') == {'_id': ['a'], 'v': [1]}\n"
        "print('ok')\n"
    )
    env = dict(os.environ)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"


def test_to_hf_real(root):
    datasets = pytest.importorskip("datasets", reason="datasets package not installed")
    ds = to_hf(root, "train")
    assert isinstance(ds, datasets.Dataset)
    assert ds.column_names == ["_id", "text", "label", "extra"]
    assert ds[1]["text"] == "world"


def test_from_hf_real(tmp_path):
    datasets = pytest.importorskip("datasets", reason="datasets package not installed")
    hf = datasets.Dataset.from_dict({"text": ["a", "b"], "label": [0, 1]})
    p = str(tmp_path / "o")
    assert from_hf(hf, p, "train") == 2
    assert to_hf_dict(p, "train") == {"_id": ["0", "1"], "text": ["a", "b"], "label": [0, 1]}


def test_arrow_real(root, tmp_path):
    pa = pytest.importorskip("pyarrow", reason="pyarrow package not installed")
    t = arrow_compat.to_arrow(root, "train")
    assert t.column_names == ["_id", "text", "label", "extra"]
    assert t.num_rows == 3
    assert arrow_compat.read_zds_arrow(root, "train", columns=["label"]).column_names == ["label"]
    p = str(tmp_path / "o")
    assert arrow_compat.from_arrow(t, p, "copy") == 3
    assert to_hf_dict(p, "copy") == to_hf_dict(root, "train")
    with pytest.raises(TypeError):
        arrow_compat.from_arrow([{"a": 1}], p)
    assert arrow_compat.from_arrow(pa.table({"k": ["x"], "v": [1]}), p, "k", id_column="k") == 1
