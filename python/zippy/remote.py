"""Load datasets from local stores, ``.zds`` archives and git repositories.

``load_remote(path, collection=None, *, revision=None, subpath=None, split=None,
streaming=False, cache_dir=None, token=None, force_download=False)``

``path`` is one of:

* a local directory: a store root, or a directory holding exactly one store
  (searched three levels deep, ``.git`` and hidden directories skipped);
* a local ``.zds`` archive (what ``zippy pack`` writes): extracted once into
  the cache (``<cache>/archives/<name>-<hash>/``) with the same safety rules
  as ``zippy unpack`` (no absolute paths, ``..``, empty segments,
  backslashes, symlinks or special files, duplicates, encryption, nor
  entries inflating more than 100x once over 1 MiB), keyed by the archive's
  absolute path, size and mtime;
* a local git repository, bare or not, when it is bare or ``revision`` is
  given: it is cloned like a ``file://`` URL (a non-bare checkout without
  ``revision`` is read in place as a local directory);
* a git repository: a URL (``https://``, ``http://``, ``ssh://``,
  ``git://``, ``file://``, or ``user@host:path``), ``github:owner/repo``,
  ``gitlab:group/.../repo``, ``bitbucket:owner/repo``, or the ``owner/repo``
  shorthand for GitHub (``https://github.com/owner/repo.git``) when no local
  path of that name exists. Another ``name:`` prefix is a ``ValueError``.

Git sources are cloned with the ``git`` command (no shell) into
``cache_dir``, else ``$ZDS_CACHE_DIR``, else ``~/.cache/zds``, under
``git/<repo>-<16 hex of sha256(url + revision)>/repo``, next to a
``zds-source.json`` describing it. Without ``revision`` the clone is shallow
(default branch). With one, a shallow clone of that branch or tag is tried
first, then a full clone checked out at the revision (any commit, full or
abbreviated); an unknown revision raises ``ValueError``. A cached entry is
reused as is (no network) until ``force_download=True`` re-clones it or
``clear_cache`` removes it. Clones are made in a temporary directory and
renamed into place, so an interrupted clone never looks complete.

``token`` authenticates HTTPS clones through an ``Authorization`` header
passed to git in its environment (``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``,
never on the command line), so it is never written into the clone's
``.git/config`` nor into the cache; credentials embedded in a URL are
removed from the clone's remote URL, and error messages never show them.
``GIT_TERMINAL_PROMPT=0``: git never waits for a password.

``subpath`` selects a directory (or a ``.zds`` file) inside the source;
``split`` is another name for ``collection``; ``collection=None`` picks the
only collection, or the first one in sorted order. A missing collection is
a ``KeyError`` naming the available ones. Stores are opened read-only: the
dataset never changes the checkout. Returns a ``ZDataset``, or a
``ZIterableDataset`` when ``streaming=True``.

``dataset_info(path, *, revision=None, subpath=None, token=None,
cache_dir=None) -> DatasetInfo`` describes a source without downloading:
for local stores it reads the store (``description`` like ``"1 collection:
data (1 documents)"``); for git it asks ``git ls-remote`` for the commit
(``revision`` is the resolved commit id; ``path``/``size_bytes``/
``last_modified``/``collections`` are filled only when the revision is
already in the cache). ``last_modified`` is always ISO-8601 UTC in one
form, ``"YYYY-MM-DDTHH:MM:SSZ"``: the commit time for git, the store's
``zds.json`` ``modified`` (converted to UTC) or else its newest file's
time for local stores and archives.

``clear_cache(path=None, *, revision=None, cache_dir=None) -> int`` removes
cache entries and returns how many: all of them, or only those of ``path``
(every cached revision of a git source unless ``revision`` is given; the
extraction of a ``.zds`` archive). ``path`` is resolved as ``load_remote``
resolves it: a local git repository (bare, or a checkout) means the clones
of its ``file://`` URL. A missing or empty cache is fine (0).
"""

from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Optional
from urllib.parse import urlsplit, urlunsplit

__all__ = ["load_remote", "dataset_info", "clear_cache", "DatasetInfo", "GitError"]

_HOSTS = {
    "github": "https://github.com/%s.git",
    "gitlab": "https://gitlab.com/%s.git",
    "bitbucket": "https://bitbucket.org/%s.git",
}
# user names that go with a token in HTTP Basic auth, by host
_TOKEN_USERS = {
    "github.com": "x-access-token",
    "gitlab.com": "oauth2",
    "bitbucket.org": "x-token-auth",
}
_GIT_SCHEMES = ("https", "http", "ssh", "git", "file", "git+ssh", "ssh+git")
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_SCP_RE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!//).+")
_SHORT_PREFIX_RE = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*):(.+)$")
_REPO_PATH_RE = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")
_OWNER_REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+$")
_HEX_RE = re.compile(r"^[0-9a-fA-F]{4,64}$")
_SOURCE_FILE = "zds-source.json"
_SEARCH_DEPTH = 3
_MAX_RATIO = 100
_RATIO_FLOOR = 1 << 20


class GitError(RuntimeError):
    """A git command failed (the message carries git's own, credentials removed)."""


@dataclass
class DatasetInfo:
    """What ``dataset_info`` reports about a dataset source."""

    name: str
    provider: str  # "local" or "git"
    uri: str
    revision: Optional[str] = None
    path: Optional[str] = None
    size_bytes: Optional[int] = None
    last_modified: Optional[str] = None  # ISO-8601 UTC, "YYYY-MM-DDTHH:MM:SSZ"
    description: str = ""
    collections: Optional[Dict[str, int]] = field(default=None)


# ---------------------------------------------------------------------------
# sources
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Source:
    kind: str  # "local" or "git"
    location: str  # absolute path, or the git URL


def _redact(url):
    """The URL without user:password@."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme and "@" in parts.netloc:
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return url


def _resolve(path):
    if isinstance(path, os.PathLike):
        path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, str):
        raise TypeError("path must be a str or a path, not %s" % type(path).__name__)
    if not path:
        raise ValueError("path is empty")
    m = _SCHEME_RE.match(path)
    if m:
        scheme = m.group(1).lower()
        if scheme not in _GIT_SCHEMES:
            raise ValueError("unsupported URL scheme %r in %r (git sources use: %s)"
                             % (scheme, _redact(path), ", ".join(_GIT_SCHEMES)))
        return _Source("git", path)
    if os.path.exists(path):
        return _Source("local", os.path.abspath(path))
    if _SCP_RE.match(path):
        return _Source("git", path)
    m = _SHORT_PREFIX_RE.match(path)
    if m and "/" not in m.group(1):
        prefix, rest = m.group(1).lower(), m.group(2)
        if prefix not in _HOSTS:
            raise ValueError(
                "unknown host shorthand %r in %r: use github:owner/repo, "
                "gitlab:owner/repo, bitbucket:owner/repo or a full git URL"
                % (m.group(1), path))
        rest = rest.strip("/")
        if rest.endswith(".git"):
            rest = rest[:-4]
        if not _REPO_PATH_RE.match(rest) or ".." in rest.split("/"):
            raise ValueError("%r is not an owner/repo reference" % path)
        if prefix != "gitlab" and rest.count("/") != 1:
            raise ValueError("%s: expects owner/repo, got %r" % (prefix, rest))
        return _Source("git", _HOSTS[prefix] % rest)
    if _OWNER_REPO_RE.match(path) and not path.startswith("."):
        owner, repo = path.split("/")
        if repo.endswith(".git"):
            repo = repo[:-4]
        return _Source("git", _HOSTS["github"] % (owner + "/" + repo))
    raise FileNotFoundError(
        "%r is neither an existing local path nor a git repository reference "
        "(URL, owner/repo, github:/gitlab:/bitbucket:owner/repo)" % path)


def _cache_root(cache_dir):
    if cache_dir is not None:
        return Path(os.fspath(cache_dir)).expanduser()
    env = os.environ.get("ZDS_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "zds"


def _slug(text):
    s = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.")
    return (s or "dataset")[:48]


def _repo_name(url):
    tail = _redact(url).rstrip("/").rsplit("/", 1)[-1]
    tail = tail.rsplit(":", 1)[-1]
    if tail.endswith(".git"):
        tail = tail[:-4]
    return tail or "repo"


def _git_entry(root, url, revision):
    h = hashlib.sha256(("%s\n%s" % (url, revision or "")).encode("utf-8")).hexdigest()[:16]
    return root / "git" / ("%s-%s" % (_slug(_repo_name(url)), h))


def _check_revision(revision):
    if revision is None:
        return None
    if not isinstance(revision, str):
        raise TypeError("revision must be a str, not %s" % type(revision).__name__)
    if (not revision or revision.startswith("-") or any(c.isspace() for c in revision)
            or any(ord(c) < 32 or ord(c) == 127 for c in revision) or ".." in revision
            or revision.endswith(".lock") or any(c in revision for c in "~^:?*[\\")):
        raise ValueError("invalid revision %r" % revision)
    return revision


# ---------------------------------------------------------------------------
# git
# ---------------------------------------------------------------------------

def _git_env(url, token):
    env = dict(os.environ)
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.setdefault("GIT_ASKPASS", "")  # no GUI prompts either
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    if token is not None:
        if not isinstance(token, str) or not token:
            raise TypeError("token must be a non-empty str")
        host = (urlsplit(url).hostname or "").lower() if _SCHEME_RE.match(url) else ""
        user = _TOKEN_USERS.get(host, "x-access-token")
        cred = base64.b64encode(("%s:%s" % (user, token)).encode("utf-8")).decode("ascii")
        try:
            n = int(env.get("GIT_CONFIG_COUNT", "0") or 0)
        except ValueError:
            n = 0
        env["GIT_CONFIG_KEY_%d" % n] = "http.extraHeader"
        env["GIT_CONFIG_VALUE_%d" % n] = "Authorization: Basic " + cred
        env["GIT_CONFIG_COUNT"] = str(n + 1)
    return env


def _scrub(text, url, token):
    if url:
        red = _redact(url)
        if red != url:
            text = text.replace(url, red)
    if token:
        text = text.replace(token, "***")
    return text


def _git(args, env, url=None, token=None, cwd=None):
    try:
        p = subprocess.run(["git"] + [os.fspath(a) for a in args], env=env, cwd=cwd,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    except FileNotFoundError:
        raise GitError("git sources need the 'git' command, which is not installed") from None
    if p.returncode != 0:
        msg = (p.stderr or p.stdout or "").strip()
        raise GitError(_scrub("git %s failed for %s: %s"
                              % (args[0] if args[0] != "-C" else args[2], _redact(url or "?"), msg),
                              url, token))
    return p.stdout


def _clone(url, revision, dest, env, token):
    """Clone url into dest at revision; returns the commit id."""
    if revision is None:
        _git(["clone", "--quiet", "--depth", "1", "--", url, dest], env, url, token)
    else:
        try:
            _git(["clone", "--quiet", "--depth", "1", "--branch", revision, "--", url, dest],
                 env, url, token)
        except GitError:
            shutil.rmtree(dest, ignore_errors=True)
            _git(["clone", "--quiet", "--no-checkout", "--", url, dest], env, url, token)
            try:
                _git(["-C", dest, "checkout", "--quiet", "--detach", revision], env, url, token)
            except GitError:
                raise ValueError("revision %r not found in %s" % (revision, _redact(url))) from None
    if _redact(url) != url:
        _git(["-C", dest, "remote", "set-url", "origin", _redact(url)], env, url, token)
    return _git(["-C", dest, "rev-parse", "HEAD"], env, url, token).strip()


def _read_source(entry):
    try:
        with open(entry / _SOURCE_FILE, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _now_iso():
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _install(tmp, entry, replace):
    """Rename the finished tmp directory to entry; returns entry."""
    if entry.exists():
        if not replace:
            shutil.rmtree(tmp, ignore_errors=True)  # someone else finished first
            return entry
        trash = Path(tempfile.mkdtemp(prefix=entry.name + ".old-", dir=entry.parent))
        os.replace(entry, trash / "x")
        try:
            os.replace(tmp, entry)
        finally:
            shutil.rmtree(trash, ignore_errors=True)
        return entry
    try:
        os.replace(tmp, entry)
    except OSError:
        if not entry.exists():
            raise
        shutil.rmtree(tmp, ignore_errors=True)
    return entry


def _fetch_git(url, revision, cache_dir, token, force_download):
    """The local checkout of url@revision, cloning it when needed."""
    root = _cache_root(cache_dir)
    entry = _git_entry(root, url, revision)
    if not force_download and _read_source(entry) is not None and (entry / "repo").is_dir():
        return entry / "repo"
    entry.parent.mkdir(parents=True, exist_ok=True)
    env = _git_env(url, token)
    tmp = Path(tempfile.mkdtemp(prefix=entry.name + ".tmp-", dir=entry.parent))
    try:
        commit = _clone(url, revision, tmp / "repo", env, token)
        meta = {"provider": "git", "url": _redact(url), "revision": revision,
                "commit": commit, "fetched": _now_iso()}
        with open(tmp / _SOURCE_FILE, "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=1)
        _install(tmp, entry, replace=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return entry / "repo"


def _ls_remote(url, token):
    out = _git(["ls-remote", "--", url], _git_env(url, token), url, token)
    refs = {}
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 2:
            refs[parts[1]] = parts[0]
    return refs


def _resolve_remote_revision(url, revision, token):
    refs = _ls_remote(url, token)
    if revision is None:
        sha = refs.get("HEAD")
        if sha is None:
            raise ValueError("%s has no HEAD (an empty repository?)" % _redact(url))
        return sha
    for ref in ("refs/tags/%s^{}" % revision, "refs/tags/%s" % revision,
                "refs/heads/%s" % revision, revision):
        if ref in refs:
            return refs[ref]
    if _HEX_RE.match(revision):
        for sha in refs.values():
            if sha.startswith(revision.lower()):
                return sha
        return revision.lower()  # a commit id: only a clone can tell whether it exists
    raise ValueError("revision %r not found in %s" % (revision, _redact(url)))


# ---------------------------------------------------------------------------
# archives
# ---------------------------------------------------------------------------

def _check_archive(zf, zpath):
    seen = set()
    for info in zf.infolist():
        name = info.filename
        bad = None
        if name.startswith("/") or "\\" in name or "\0" in name:
            bad = "absolute path or backslash"
        else:
            segs = name[:-1].split("/") if name.endswith("/") else name.split("/")
            if any(s in ("", ".", "..") for s in segs):
                bad = "empty, '.' or '..' path segment"
        if bad is None and name in seen:
            bad = "duplicate entry"
        if bad is None and info.flag_bits & 0x1:
            bad = "encrypted entry"
        mode = (info.external_attr >> 16) & 0xFFFF
        if bad is None and mode:
            kind = stat.S_IFMT(mode)
            if kind == stat.S_IFLNK:
                bad = "symbolic link"
            elif kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                bad = "special file"
        if (bad is None and info.file_size > _RATIO_FLOOR
                and info.file_size > _MAX_RATIO * max(info.compress_size, 1)):
            bad = "inflates more than %dx" % _MAX_RATIO
        if bad is not None:
            raise ValueError("unsafe archive %s: entry %r: %s" % (zpath, name, bad))
        seen.add(name)


def _extract_archive(zpath, cache_dir):
    zpath = Path(zpath).resolve()
    st = zpath.stat()
    key = "%s\n%d\n%d" % (zpath, st.st_size, st.st_mtime_ns)
    h = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    root = _cache_root(cache_dir)
    entry = root / "archives" / ("%s-%s" % (_slug(zpath.stem), h))
    if _read_source(entry) is not None and (entry / "store").is_dir():
        return entry / "store"
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=entry.name + ".tmp-", dir=entry.parent))
    try:
        try:
            zf = zipfile.ZipFile(zpath)
        except zipfile.BadZipFile as e:
            raise ValueError("%s is not a .zds archive (%s)" % (zpath, e)) from None
        with zf:
            _check_archive(zf, zpath)
            dest = tmp / "store"
            dest.mkdir()
            for info in zf.infolist():
                target = dest / info.filename
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out, 1 << 20)
        with open(tmp / _SOURCE_FILE, "w", encoding="utf-8") as f:
            json.dump({"provider": "local", "archive": str(zpath), "size": st.st_size,
                       "mtime_ns": st.st_mtime_ns, "fetched": _now_iso()}, f, indent=1)
        _install(tmp, entry, replace=False)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return entry / "store"


# ---------------------------------------------------------------------------
# finding the store
# ---------------------------------------------------------------------------

def _is_store(d):
    return (d / "collections").is_dir() or (d / "zds.json").is_file()


def _search(base, pred, depth):
    found = []
    if depth == 0:
        return found
    try:
        children = sorted(base.iterdir())
    except OSError:
        return found
    for c in children:
        if c.name.startswith("."):
            continue
        if pred(c):
            found.append(c)
        elif c.is_dir() and not c.is_symlink():
            found.extend(_search(c, pred, depth - 1))
    return found


def _within(base, sub):
    if not isinstance(sub, (str, os.PathLike)):
        raise TypeError("subpath must be a str, not %s" % type(sub).__name__)
    sub = os.fspath(sub)
    if os.path.isabs(sub):
        raise ValueError("subpath %r must be relative" % sub)
    target = (base / sub).resolve()
    if target != base.resolve() and base.resolve() not in target.parents:
        raise ValueError("subpath %r leaves %s" % (sub, base))
    if not target.exists():
        raise FileNotFoundError("subpath %r does not exist in %s" % (sub, base))
    return target


def _is_archive(p):
    return p.is_file() and (p.suffix == ".zds" or zipfile.is_zipfile(p))


def _find_store(base, cache_dir, extract=True):
    """The store root at or below base (a directory or a .zds archive)."""
    base = Path(base)
    if base.is_file():
        if not _is_archive(base):
            raise ValueError("%s is neither a store directory nor a .zds archive" % base)
        return _find_store(_extract_archive(base, cache_dir), cache_dir) if extract else base
    if _is_store(base):
        return base
    stores = _search(base, lambda c: c.is_dir() and _is_store(c), _SEARCH_DEPTH)
    if len(stores) == 1:
        return stores[0]
    if len(stores) > 1:
        raise ValueError("%s holds several stores (%s): choose one with subpath="
                         % (base, ", ".join(str(s.relative_to(base)) for s in stores)))
    archives = _search(base, lambda c: c.is_file() and c.suffix == ".zds", _SEARCH_DEPTH)
    if len(archives) == 1:
        return _find_store(archives[0], cache_dir, extract)
    if len(archives) > 1:
        raise ValueError("%s holds several .zds archives (%s): choose one with subpath="
                         % (base, ", ".join(str(a.relative_to(base)) for a in archives)))
    raise FileNotFoundError("no zippy store found in %s" % base)


def _pick_collection(store_root, collection, split):
    if split is not None:
        if not isinstance(split, str):
            raise TypeError("split must be a str, not %s" % type(split).__name__)
        if collection is not None and collection != split:
            raise ValueError("collection=%r and split=%r disagree (split is another name "
                             "for collection)" % (collection, split))
        collection = split
    if collection is not None:
        if not isinstance(collection, str):
            raise TypeError("collection must be a str, not %s" % type(collection).__name__)
        return collection
    names = sorted(_list_collections(store_root))
    if not names:
        raise ValueError("the store at %s has no collections" % store_root)
    return names[0]


def _list_collections(store_root):
    from . import ZDSRoot

    r = ZDSRoot.open(os.fspath(store_root), mode="r")
    try:
        return list(r.list_collections())
    finally:
        try:
            r.close()
        except Exception:
            pass


def _local_git_url(path):
    """file:// URL of a local git repository (bare or not), else None."""
    p = Path(path)
    if not p.is_dir():
        return None
    bare = (p / "HEAD").is_file() and (p / "objects").is_dir() and (p / "refs").is_dir()
    if bare or (p / ".git").exists():
        return "file://" + str(p.resolve())
    return None


def _source_of(path, revision):
    """The source, turning local git repositories into git sources when
    they are bare (no store to read in place) or a revision is asked for."""
    src = _resolve(path)
    if src.kind == "local":
        base = Path(src.location)
        url = _local_git_url(base)
        if url is not None and (revision is not None or not _is_store(base)
                                and (base / "HEAD").is_file()):
            return _Source("git", url)
    return src


def _cache_source(path, revision):
    """The source whose cache entries clear_cache(path) removes: resolved as
    load_remote resolves it (_source_of), and a local git checkout read in
    place without revision is its file:// URL still, so that clear_cache of
    its path removes the clones that load_remote(path, revision=...) made."""
    src = _source_of(path, revision)
    if src.kind == "local":
        url = _local_git_url(src.location)
        if url is not None:
            return _Source("git", url)
    return src


def _materialize(path, revision, subpath, cache_dir, token, force_download):
    """(store root Path, source, commit or None)."""
    revision = _check_revision(revision)
    src = _source_of(path, revision)
    if src.kind == "local":
        if revision is not None:
            raise ValueError("revision=%r applies to git sources only; %s is a local path"
                             % (revision, src.location))
        base = Path(src.location)
        commit = None
    else:
        base = _fetch_git(src.location, revision, cache_dir, token, force_download)
        commit = (_read_source(base.parent) or {}).get("commit")
    if subpath is not None:
        base = _within(base, subpath)
    return _find_store(base, cache_dir), src, commit


# ---------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------

def load_remote(path, collection=None, *, revision=None, subpath=None, split=None,
                streaming=False, cache_dir=None, token=None, force_download=False):
    """Load a collection from a local or git source as a dataset (see the module doc)."""
    from .dataset import ZDataset, ZIterableDataset, _open_for_read

    store_root, _, _ = _materialize(path, revision, subpath, cache_dir, token, force_download)
    name = _pick_collection(store_root, collection, split)
    handle, keep = _open_for_read(store_root, name)
    if streaming:
        ds = ZIterableDataset(handle)
    else:
        ds = ZDataset(handle)
    ds._keep = keep
    return ds


def _tree_stats(base):
    size = 0
    newest = 0.0
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for fn in filenames:
            try:
                st = os.lstat(os.path.join(dirpath, fn))
            except OSError:
                continue
            size += st.st_size
            newest = max(newest, st.st_mtime)
    return size, newest


def _iso(ts):
    """A POSIX time as ISO-8601 UTC, "YYYY-MM-DDTHH:MM:SSZ" (every last_modified)."""
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _iso_text(text):
    """ISO-8601 text (any offset, "Z", fractions; naive means UTC) in the
    form of _iso(), or None when it is not such a date."""
    if not isinstance(text, str) or not text.strip():
        return None
    t = text.strip()
    if t[-1:] in ("Z", "z"):
        t = t[:-1] + "+00:00"  # fromisoformat() takes "Z" only from 3.11
    try:
        d = _dt.datetime.fromisoformat(t)
    except ValueError:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=_dt.timezone.utc)
    return d.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _describe(counts):
    n = len(counts)
    parts = ", ".join("%s (%d documents)" % (k, v) for k, v in counts.items())
    return "%d collection%s%s" % (n, "" if n == 1 else "s", ": " + parts if parts else "")


def _store_summary(store_root):
    """(counts, zds.json dict) of a store, read-only."""
    from . import ZDSRoot

    try:
        with open(Path(store_root) / "zds.json", encoding="utf-8") as f:
            meta = json.load(f)
        if not isinstance(meta, dict):
            meta = {}
    except (OSError, ValueError):
        meta = {}
    counts = {}
    r = ZDSRoot.open(os.fspath(store_root), mode="r")
    try:
        for name in sorted(r.list_collections()):
            c = r.collection(name)
            try:
                counts[name] = int(c.count())
            finally:
                try:
                    c.close()
                except Exception:
                    pass
    finally:
        try:
            r.close()
        except Exception:
            pass
    return counts, meta


def _archive_summary(zpath):
    """(counts, zds.json dict) read from inside a .zds archive, no extraction."""
    counts, meta = {}, {}
    try:
        with zipfile.ZipFile(zpath) as zf:
            names = [n for n in zf.namelist() if n == "zds.json" or n.endswith("/zds.json")]
            if names:
                meta = json.loads(zf.read(min(names, key=len)).decode("utf-8"))
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise ValueError("%s is not a readable .zds archive (%s)" % (zpath, e)) from None
    for k, v in (meta.get("collections") or {}).items():
        if isinstance(v, dict) and isinstance(v.get("count"), int):
            counts[k] = v["count"]
    return counts, meta


def _local_info(base, uri):
    base = Path(base)
    target = _find_store(base, None, extract=False)
    if target.is_file():
        counts, meta = _archive_summary(target)
        size = target.stat().st_size
        newest = target.stat().st_mtime
        name = meta.get("name") or target.stem
    else:
        counts, meta = _store_summary(target)
        size, newest = _tree_stats(target)
        name = meta.get("name") or target.name
    desc = _describe(counts)
    if isinstance(meta.get("description"), str) and meta["description"]:
        desc = "%s (%s)" % (meta["description"], desc)
    modified = _iso_text(meta.get("modified"))
    return DatasetInfo(name=str(name), provider="local", uri=uri, revision=None,
                       path=str(target), size_bytes=size,
                       last_modified=modified or (_iso(newest) if newest else None),
                       description=desc, collections=counts)


def dataset_info(path, *, revision=None, subpath=None, token=None, cache_dir=None):
    """Describe a source without downloading it (see the module doc)."""
    revision = _check_revision(revision)
    src = _source_of(path, revision)
    if src.kind == "local":
        if revision is not None:
            raise ValueError("revision=%r applies to git sources only; %s is a local path"
                             % (revision, src.location))
        base = Path(src.location)
        if subpath is not None:
            base = _within(base, subpath)
        return _local_info(base, src.location)
    url = src.location
    commit = _resolve_remote_revision(url, revision, token)
    info = DatasetInfo(name=_repo_name(url), provider="git", uri=_redact(url), revision=commit,
                       description="git repository %s at %s" % (
                           _redact(url), "%s (%s)" % (revision, commit[:12]) if revision
                           else commit[:12]))
    entry = _git_entry(_cache_root(cache_dir), url, revision)
    meta = _read_source(entry)
    if meta is not None and meta.get("commit") == commit and (entry / "repo").is_dir():
        repo = entry / "repo"
        try:
            base = _within(repo, subpath) if subpath is not None else repo
            local = _local_info(base, url)
        except (OSError, ValueError):
            return info
        info.path = local.path
        info.size_bytes = local.size_bytes
        info.collections = local.collections
        info.description = local.description
        try:
            stamp = _git(["-C", repo, "log", "-1", "--format=%ct"], _git_env(url, None), url).strip()
            info.last_modified = _iso(int(stamp))
        except (GitError, ValueError, OverflowError, OSError):
            info.last_modified = local.last_modified
    return info


def clear_cache(path=None, *, revision=None, cache_dir=None):
    """Remove cached clones/extractions (all, or those of ``path``); returns how many."""
    root = _cache_root(cache_dir)
    victims = []
    if path is None:
        for sub in ("git", "archives"):
            d = root / sub
            if d.is_dir():
                victims.extend(p for p in d.iterdir() if p.is_dir())
    else:
        revision = _check_revision(revision)
        src = _cache_source(path, revision)
        if src.kind == "git":
            if revision is not None:
                victims.append(_git_entry(root, src.location, revision))
            else:
                d = root / "git"
                if d.is_dir():
                    want = _redact(src.location)
                    for p in d.iterdir():
                        meta = _read_source(p)
                        if meta is not None and meta.get("url") == want:
                            victims.append(p)
        else:
            d = root / "archives"
            target = str(Path(src.location).resolve())
            if d.is_dir():
                for p in d.iterdir():
                    meta = _read_source(p)
                    if meta is not None and meta.get("archive") == target:
                        victims.append(p)
    n = 0
    for p in victims:
        if p.is_dir():
            shutil.rmtree(p)
            n += 1
    return n
