"""zippy.remote: load_remote, dataset_info, clear_cache.

Git sources are tested with local bare repositories served over file://
(no network). Every test gets its own cache through ZDS_CACHE_DIR."""

import base64
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

import zippy
from zippy import (DatasetInfo, ZDataset, ZIterableDataset, clear_cache, dataset_info,
                   load_remote)
from zippy import remote

GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="git is not installed")
GIT_ID = ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main",
          "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"]


def git(*args, cwd=None):
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1")
    r = subprocess.run(["git"] + GIT_ID + list(args), cwd=cwd, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout.strip()


def write_store(root, collections):
    for name, docs in collections.items():
        with zippy.ZDSStore.open(str(root), name) as s:
            for doc_id, doc in docs.items():
                s.put(doc_id, doc)


def docs(n, tag=""):
    return {"d%d" % i: {"i": i, "tag": tag} for i in range(n)}


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    c = tmp_path / "cache"
    monkeypatch.setenv("ZDS_CACHE_DIR", str(c))
    return c


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A bare repo: commit 1 (tag v1) has data=3 docs; commit 2 (main) has
    data=5 docs and a second collection zz_more."""
    if GIT is None:
        pytest.skip("git is not installed")
    base = tmp_path_factory.mktemp("gitrepo")
    work = base / "work"
    work.mkdir()
    git("init", "-q", str(work))
    write_store(work, {"data": docs(3, "v1")})
    (work / "README.md").write_text("test dataset\n")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "first", cwd=work)
    git("tag", "v1", cwd=work)
    sha1 = git("rev-parse", "HEAD", cwd=work)
    write_store(work, {"data": docs(5, "v2"), "zz_more": docs(1)})
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "second", cwd=work)
    git("branch", "old", sha1, cwd=work)
    sha2 = git("rev-parse", "HEAD", cwd=work)
    bare = base / "dataset.git"
    git("clone", "-q", "--bare", str(work), str(bare))
    return {"url": "file://" + str(bare), "sha1": sha1, "sha2": sha2, "bare": bare,
            "work": work}


@pytest.fixture(scope="module")
def repo_nested(tmp_path_factory):
    """A bare repo holding two stores below nested/."""
    if GIT is None:
        pytest.skip("git is not installed")
    base = tmp_path_factory.mktemp("gitnested")
    work = base / "work"
    work.mkdir()
    git("init", "-q", str(work))
    write_store(work / "nested" / "one", {"a": docs(2)})
    write_store(work / "nested" / "two", {"b": docs(4)})
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "nested", cwd=work)
    bare = base / "nested.git"
    git("clone", "-q", "--bare", str(work), str(bare))
    return {"url": "file://" + str(bare)}


def entries(cache, kind="git"):
    d = cache / kind
    return sorted(p for p in d.iterdir() if p.is_dir()) if d.is_dir() else []


# -- git sources ----------------------------------------------------------------------

@needs_git
def test_load_git_default_branch(repo, cache):
    ds = load_remote(repo["url"])
    assert isinstance(ds, ZDataset)
    assert len(ds) == 5
    assert [d["tag"] for d in ds] == ["v2"] * 5
    (entry,) = entries(cache)
    assert (entry / "repo" / ".git").is_dir()
    assert (entry / "zds-source.json").is_file()
    # shallow: one commit only
    assert git("rev-list", "--count", "HEAD", cwd=entry / "repo") == "1"


@needs_git
@pytest.mark.parametrize("rev,n", [("v1", 3), ("main", 5), ("old", 3)])
def test_load_git_branch_and_tag(repo, rev, n):
    assert len(load_remote(repo["url"], revision=rev)) == n


@needs_git
def test_load_git_commit_ids(repo):
    assert len(load_remote(repo["url"], revision=repo["sha1"])) == 3
    assert len(load_remote(repo["url"], revision=repo["sha1"][:10])) == 3
    assert len(load_remote(repo["url"], revision=repo["sha2"])) == 5


@needs_git
def test_load_git_bad_revision(repo, cache):
    with pytest.raises(ValueError, match="nope"):
        load_remote(repo["url"], revision="nope")
    with pytest.raises(ValueError):
        load_remote(repo["url"], revision="--upload-pack=touch /tmp/x")
    with pytest.raises(ValueError):
        load_remote(repo["url"], revision="a b")
    with pytest.raises(TypeError):
        load_remote(repo["url"], revision=3)
    # a failed clone leaves nothing behind that looks complete
    assert entries(cache) == [] or all(
        not (e / "zds-source.json").exists() for e in entries(cache))


@needs_git
def test_missing_repository(tmp_path):
    with pytest.raises(remote.GitError) as e:
        load_remote("file://" + str(tmp_path / "no-such.git"), token="SECRET-tok")
    assert isinstance(e.value, RuntimeError)
    assert "SECRET-tok" not in str(e.value)


@needs_git
def test_cache_is_reused_and_force_download(repo, cache):
    load_remote(repo["url"])
    (entry,) = entries(cache)
    sentinel = entry / "repo" / "sentinel"
    sentinel.write_text("x")
    assert len(load_remote(repo["url"])) == 5
    assert sentinel.exists()  # not cloned again
    assert len(load_remote(repo["url"], force_download=True)) == 5
    assert not sentinel.exists()  # cloned again
    assert entries(cache) == [entry]


@needs_git
def test_cache_dir_argument_and_entries_per_revision(repo, cache, tmp_path):
    other = tmp_path / "elsewhere"
    load_remote(repo["url"], cache_dir=str(other))
    assert len(entries(other)) == 1
    assert entries(cache) == []
    load_remote(repo["url"])
    load_remote(repo["url"], revision="v1")
    assert len(entries(cache)) == 2


@needs_git
def test_token_never_stored(repo, cache):
    token = "ghp_SeCrEtToKeN123"
    ds = load_remote(repo["url"], token=token, revision="v1")
    assert len(ds) == 3
    load_remote(repo["url"], token=token, force_download=True)
    (e1, e2) = entries(cache)
    b64 = base64.b64encode(("x-access-token:" + token).encode()).decode()
    for e in (e1, e2):
        config = (e / "repo" / ".git" / "config").read_text()
        assert token not in config and b64 not in config
        assert "extraheader" not in config.lower()
    for dirpath, _, files in os.walk(cache):
        for f in files:
            data = Path(dirpath, f).read_bytes()
            assert token.encode() not in data and b64.encode() not in data, f


def test_token_goes_through_the_environment():
    env = remote._git_env("https://gitlab.com/o/r.git", "tok")
    n = int(env["GIT_CONFIG_COUNT"]) - 1
    assert env["GIT_CONFIG_KEY_%d" % n] == "http.extraHeader"
    cred = base64.b64encode(b"oauth2:tok").decode()
    assert env["GIT_CONFIG_VALUE_%d" % n] == "Authorization: Basic " + cred
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert "GIT_CONFIG_COUNT" not in remote._git_env("https://github.com/o/r.git", None) or \
        "GIT_CONFIG_COUNT" in os.environ
    with pytest.raises(TypeError):
        remote._git_env("https://github.com/o/r.git", "")


@needs_git
def test_credentials_in_url_are_not_kept(repo, cache):
    # file:// ignores user info, so this clone works and must drop it
    url = repo["url"].replace("file://", "file://someone:pw123@")
    try:
        load_remote(url)
    except remote.GitError as e:  # some git versions refuse user info in file URLs
        assert "pw123" not in str(e)
        return
    (entry,) = entries(cache)
    assert "pw123" not in (entry / "repo" / ".git" / "config").read_text()
    assert "pw123" not in (entry / "zds-source.json").read_text()


@needs_git
def test_streaming_split_collection(repo):
    it = load_remote(repo["url"], streaming=True)
    assert isinstance(it, ZIterableDataset)
    assert len(list(it)) == 5
    assert len(load_remote(repo["url"], split="zz_more")) == 1
    assert len(load_remote(repo["url"], "zz_more")) == 1
    assert len(load_remote(repo["url"], collection="data", split="data")) == 5
    with pytest.raises(ValueError, match="split"):
        load_remote(repo["url"], collection="data", split="zz_more")
    with pytest.raises(KeyError, match="missing"):
        load_remote(repo["url"], "missing")


@needs_git
def test_dataset_in_worker_processes_from_git(repo):
    torch = pytest.importorskip("torch")
    ds = load_remote(repo["url"])
    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=2, collate_fn=list,
                                         multiprocessing_context="fork")
    assert sorted(d["i"] for b in loader for d in b) == list(range(5))


@needs_git
def test_nested_stores_and_subpath(repo_nested):
    with pytest.raises(ValueError, match="several stores"):
        load_remote(repo_nested["url"])
    assert len(load_remote(repo_nested["url"], subpath="nested/one")) == 2
    assert len(load_remote(repo_nested["url"], subpath="nested/two")) == 4
    assert len(load_remote(repo_nested["url"], subpath="nested/two", split="b")) == 4
    with pytest.raises(ValueError):
        load_remote(repo_nested["url"], subpath="../../..")
    with pytest.raises(ValueError):
        load_remote(repo_nested["url"], subpath="/etc")
    with pytest.raises(FileNotFoundError):
        load_remote(repo_nested["url"], subpath="nested/three")


@needs_git
def test_clear_cache(repo, repo_nested, cache):
    assert clear_cache() == 0  # the cache does not even exist yet
    load_remote(repo["url"])
    load_remote(repo["url"], revision="v1")
    load_remote(repo_nested["url"], subpath="nested/one")
    assert len(entries(cache)) == 3
    assert clear_cache(repo["url"], revision="v1") == 1
    assert len(entries(cache)) == 2
    assert clear_cache(repo["url"]) == 1
    (left,) = entries(cache)
    assert "nested" in left.name
    assert clear_cache(repo["url"]) == 0
    assert clear_cache() == 1
    assert entries(cache) == []
    assert clear_cache() == 0
    assert clear_cache("owner/repo") == 0  # resolves, nothing cached, no network


@needs_git
def test_dataset_info_git_without_download(repo, cache):
    info = dataset_info(repo["url"])
    assert isinstance(info, DatasetInfo)
    assert info.provider == "git"
    assert info.revision == repo["sha2"]
    assert info.name == "dataset"
    assert info.uri == repo["url"]
    assert info.path is None and info.size_bytes is None
    assert not cache.exists() or entries(cache) == []  # nothing downloaded
    assert dataset_info(repo["url"], revision="v1").revision == repo["sha1"]
    assert dataset_info(repo["url"], revision="old").revision == repo["sha1"]
    # an abbreviated id of an advertised commit resolves to the full id; an
    # unknown commit id cannot be checked without a clone and is kept as given
    assert dataset_info(repo["url"], revision=repo["sha1"][:8]).revision == repo["sha1"]
    assert dataset_info(repo["url"], revision="ABCDEF12").revision == "abcdef12"
    with pytest.raises(ValueError, match="nope"):
        dataset_info(repo["url"], revision="nope")
    assert not cache.exists() or entries(cache) == []


@needs_git
def test_dataset_info_git_when_cached(repo):
    load_remote(repo["url"])
    info = dataset_info(repo["url"])
    assert info.path is not None and os.path.isdir(info.path)
    assert info.size_bytes > 0
    assert info.collections == {"data": 5, "zz_more": 1}
    assert info.description == "2 collections: data (5 documents), zz_more (1 documents)"
    assert info.last_modified


# -- source resolution (no network) -----------------------------------------------------

@pytest.mark.parametrize("ref,url", [
    ("owner/repo", "https://github.com/owner/repo.git"),
    ("owner/repo.git", "https://github.com/owner/repo.git"),
    ("github:owner/repo", "https://github.com/owner/repo.git"),
    ("gitlab:group/sub/repo", "https://gitlab.com/group/sub/repo.git"),
    ("bitbucket:team/repo", "https://bitbucket.org/team/repo.git"),
    ("https://example.org/x/y.git", "https://example.org/x/y.git"),
    ("git@example.org:x/y.git", "git@example.org:x/y.git"),
    ("ssh://git@example.org/x/y", "ssh://git@example.org/x/y"),
    ("file:///srv/repo.git", "file:///srv/repo.git"),
])
def test_resolve_git_references(ref, url):
    src = remote._resolve(ref)
    assert src.kind == "git" and src.location == url


@pytest.mark.parametrize("ref,exc,match", [
    ("foo:owner/repo", ValueError, "unknown host shorthand"),
    ("hf:owner/repo", ValueError, "unknown host shorthand"),
    ("s3://bucket/key", ValueError, "scheme"),
    ("./does/not/exist", FileNotFoundError, "exist"),
    ("a/b/c", FileNotFoundError, ""),
    ("github:onlyone", ValueError, ""),
    ("bitbucket:a/b/c", ValueError, ""),
    ("", ValueError, "empty"),
])
def test_resolve_bad_references(ref, exc, match):
    with pytest.raises(exc, match=match):
        remote._resolve(ref)
    with pytest.raises(exc):
        load_remote(ref)


def test_bad_path_type():
    with pytest.raises(TypeError):
        load_remote(123)
    with pytest.raises(TypeError):
        dataset_info(None)


def test_redact():
    assert remote._redact("https://u:p@host/x.git") == "https://host/x.git"
    assert remote._redact("https://host/x.git") == "https://host/x.git"


def test_local_path_shadows_shorthand(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_store(tmp_path / "owner" / "repo", {"c": docs(2)})
    src = remote._resolve("owner/repo")
    assert src.kind == "local"
    assert len(load_remote("owner/repo")) == 2


# -- local sources -------------------------------------------------------------------------

@pytest.fixture
def local_store(tmp_path):
    root = tmp_path / "mystore"
    write_store(root, {"data": {"x": {"v": 1}}})
    return root


def test_load_local_store(local_store):
    ds = load_remote(str(local_store))
    assert isinstance(ds, ZDataset)
    assert list(ds) == [{"v": 1}]
    assert list(load_remote(local_store, streaming=True)) == [{"v": 1}]  # a Path works
    assert len(load_remote(str(local_store.parent))) == 1  # a directory holding it


def test_load_local_first_sorted_collection(tmp_path):
    root = tmp_path / "s"
    write_store(root, {"b": docs(2), "a": docs(3)})
    assert len(load_remote(str(root))) == 3  # "a"
    assert len(load_remote(str(root), "b")) == 2
    assert len(load_remote(str(root), split="b")) == 2
    with pytest.raises(KeyError) as e:
        load_remote(str(root), "c")
    assert "a, b" in str(e.value)


def test_load_local_errors(local_store, tmp_path):
    with pytest.raises(ValueError, match="git"):
        load_remote(str(local_store), revision="main")
    with pytest.raises(FileNotFoundError):
        load_remote(str(tmp_path / "empty_dir_missing"))
    (tmp_path / "emptydir").mkdir()
    with pytest.raises(FileNotFoundError, match="no zippy store"):
        load_remote(str(tmp_path / "emptydir"))
    (tmp_path / "file.txt").write_text("hi")
    with pytest.raises(ValueError):
        load_remote(str(tmp_path / "file.txt"))
    with pytest.raises(TypeError):
        load_remote(str(local_store), collection=5)
    with pytest.raises(ValueError):
        load_remote(str(local_store), subpath="..")
    with pytest.raises(TypeError):
        load_remote(str(local_store), split=1)


def test_load_local_empty_store(tmp_path):
    root = tmp_path / "s"
    with zippy.ZDSRoot.open(str(root)):
        pass
    with pytest.raises(ValueError, match="no collections"):
        load_remote(str(root))


def test_load_does_not_modify_a_local_store(local_store):
    before = {p: p.stat().st_mtime_ns for p in local_store.rglob("*") if p.is_file()}
    list(load_remote(str(local_store)))
    after = {p: p.stat().st_mtime_ns for p in local_store.rglob("*") if p.is_file()}
    assert before == after


def test_dataset_info_local(local_store):
    info = dataset_info(str(local_store))
    assert info.provider == "local"
    assert info.description == "1 collection: data (1 documents)"
    assert info.collections == {"data": 1}
    assert info.path == str(local_store)
    assert info.uri == str(local_store)
    assert info.revision is None
    assert info.size_bytes > 0
    assert isinstance(info.last_modified, str) and info.last_modified[:2] == "20"
    assert info.name
    with pytest.raises(ValueError):
        dataset_info(str(local_store), revision="v1")


def test_dataset_info_local_several(tmp_path):
    root = tmp_path / "s"
    write_store(root, {"b": docs(2), "a": docs(3)})
    info = dataset_info(str(root))
    assert info.description == "2 collections: a (3 documents), b (2 documents)"


# -- .zds archives ---------------------------------------------------------------------------

def make_archive(store_root, path, extra=None):
    with zipfile.ZipFile(path, "w") as zf:
        for p in sorted(Path(store_root).rglob("*")):
            if p.is_file() and p.name not in ("lock", ".zds.lock"):
                zf.write(p, p.relative_to(store_root).as_posix())
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path


def test_load_archive(local_store, tmp_path, cache):
    arc = make_archive(local_store, tmp_path / "my.zds")
    ds = load_remote(str(arc))
    assert list(ds) == [{"v": 1}]
    (entry,) = entries(cache, "archives")
    sentinel = entry / "sentinel"
    sentinel.write_text("x")
    assert list(load_remote(str(arc))) == [{"v": 1}]
    assert sentinel.exists()  # extracted once
    assert clear_cache(str(arc)) == 1
    assert entries(cache, "archives") == []


def test_load_archive_made_by_the_cli(local_store, tmp_path):
    cli = Path(__file__).resolve().parents[2] / "build" / "zippy"
    if not cli.exists():
        pytest.skip("build/zippy not built")
    arc = tmp_path / "cli.zds"
    subprocess.run([str(cli), "pack", str(local_store), str(arc)], check=True,
                   capture_output=True)
    assert list(load_remote(str(arc))) == [{"v": 1}]


def test_dataset_info_archive_does_not_extract(local_store, tmp_path, cache):
    arc = make_archive(local_store, tmp_path / "my.zds")
    info = dataset_info(str(arc))
    assert info.provider == "local"
    assert info.size_bytes == arc.stat().st_size
    assert info.path == str(arc)
    # counts come from the zds.json inside the archive
    assert info.collections == {"data": 1}
    assert info.description == "1 collection: data (1 documents)"
    assert entries(cache, "archives") == []


@pytest.mark.parametrize("evil", ["../evil.txt", "/abs.txt", "a//b.txt", "a\\b.txt",
                                  "collections/../../x"])
def test_unsafe_archive_is_refused(local_store, tmp_path, cache, evil):
    arc = make_archive(local_store, tmp_path / "evil.zds", {evil: "boom"})
    with pytest.raises(ValueError, match="unsafe archive"):
        load_remote(str(arc))
    assert not (tmp_path / "evil.txt").exists()
    assert entries(cache, "archives") == []


def test_archive_with_symlink_is_refused(local_store, tmp_path):
    arc = tmp_path / "link.zds"
    make_archive(local_store, arc)
    with zipfile.ZipFile(arc, "a") as zf:
        info = zipfile.ZipInfo("collections/link")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc/passwd")
    with pytest.raises(ValueError, match="symbolic link"):
        load_remote(str(arc))


def test_archive_bomb_is_refused(local_store, tmp_path):
    arc = tmp_path / "bomb.zds"
    make_archive(local_store, arc)
    with zipfile.ZipFile(arc, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("big.bin", b"\0" * (4 << 20))
    with pytest.raises(ValueError, match="inflates"):
        load_remote(str(arc))


def test_not_an_archive(tmp_path):
    bad = tmp_path / "bad.zds"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ValueError):
        load_remote(str(bad))


@needs_git
def test_local_git_repositories(repo, cache):
    # a bare repository path is cloned like its file:// URL
    assert len(load_remote(str(repo["bare"]))) == 5
    assert len(load_remote(str(repo["bare"]), revision="v1")) == 3
    # a checkout is read in place, unless a revision is asked for
    assert len(load_remote(str(repo["work"]))) == 5
    assert len(load_remote(str(repo["work"]), revision="v1")) == 3
    assert dataset_info(str(repo["bare"])).provider == "git"
    assert dataset_info(str(repo["work"])).provider == "local"
    assert dataset_info(str(repo["work"]), revision="v1").revision == repo["sha1"]


@needs_git
def test_clear_cache_local_git_repositories(repo, cache):
    # a local bare repository is cached like its file:// URL: clear_cache
    # with the same path finds the clone(s) load_remote made
    bare = str(repo["bare"])
    load_remote(bare)
    load_remote(bare, revision="v1")
    assert len(entries(cache)) == 2
    assert clear_cache(bare, revision="v1") == 1
    assert len(entries(cache)) == 1
    assert clear_cache(bare) == 1
    assert entries(cache) == []
    # a checkout with a revision is cloned too; its path clears the clone
    # (every revision without revision=), as its file:// URL would
    work = str(repo["work"])
    load_remote(work, revision="v1")
    load_remote(work, revision="old")
    assert len(entries(cache)) == 2
    assert clear_cache(work, revision="old") == 1
    assert clear_cache(work) == 1
    assert entries(cache) == []
    # the same clone is found through the path or through the URL
    load_remote(bare)
    assert clear_cache(repo["url"]) == 1
    load_remote(repo["url"])
    assert clear_cache(bare) == 1
    assert entries(cache) == []


_UTC_Z = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"


@needs_git
def test_last_modified_is_the_same_utc_form_everywhere(tmp_path, cache, monkeypatch):
    import re

    work = tmp_path / "tzwork"
    work.mkdir()
    git("init", "-q", str(work))
    write_store(work, {"data": docs(2)})
    git("add", "-A", cwd=work)
    # committed in UTC+02:00: git's own ISO form would be "...+02:00"
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2024-03-01T12:00:00+02:00")
    monkeypatch.setenv("GIT_AUTHOR_DATE", "2024-03-01T12:00:00+02:00")
    git("commit", "-q", "-m", "tz", cwd=work)
    bare = tmp_path / "tz.git"
    git("clone", "-q", "--bare", str(work), str(bare))
    url = "file://" + str(bare)
    load_remote(url)
    info = dataset_info(url)
    assert info.provider == "git" and info.collections == {"data": 2}
    assert info.last_modified == "2024-03-01T10:00:00Z"
    # local stores, archives
    local = dataset_info(str(work))
    assert re.match(_UTC_Z, local.last_modified), local.last_modified
    arc = make_archive(work, tmp_path / "tz.zds")
    assert re.match(_UTC_Z, dataset_info(str(arc)).last_modified)


def test_last_modified_from_zds_json_is_normalized(tmp_path):
    import json

    root = tmp_path / "s"
    write_store(root, {"data": docs(1)})
    meta_path = root / "zds.json"
    for given, want in [("2024-03-01T12:00:00+02:00", "2024-03-01T10:00:00Z"),
                        ("2024-03-01T10:00:00.123456+00:00", "2024-03-01T10:00:00Z"),
                        ("2024-03-01T10:00:00", "2024-03-01T10:00:00Z"),
                        ("2024-03-01T10:00:00Z", "2024-03-01T10:00:00Z")]:
        meta = json.loads(meta_path.read_text())
        meta["modified"] = given
        meta_path.write_text(json.dumps(meta))
        assert dataset_info(str(root)).last_modified == want, given
    # not a date: the newest file's time, in the same form
    meta = json.loads(meta_path.read_text())
    meta["modified"] = "yesterday"
    meta_path.write_text(json.dumps(meta))
    import re

    assert re.match(_UTC_Z, dataset_info(str(root)).last_modified)
