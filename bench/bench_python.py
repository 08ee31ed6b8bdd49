"""zippy (Python) against sqlite3 + json: bulk put, random get, full scan.

100k documents of ~180 bytes (nested object, list, numbers, strings, bool),
generated deterministically. Each figure is the median of 3 runs, in
operations per second:

  write  put of every document (dicts), then zippy's close() (flush +
         fdatasync) / sqlite's commit, in one transaction, WAL.
  get    10k random ids: zippy get() / SELECT doc WHERE id=? + json.loads.
  scan   every document as a dict: zippy scan() / SELECT all + json.loads.

Usage: bench_python.py [N] (default 100000). Targets (issue 3): write >= 5x
sqlite, get >= 3x, scan >= 2x.
"""
import json
import os
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time

import zippy

GETS = 10_000
RUNS = 3
CITIES = ["Paris", "Lagos", "Lima", "Osaka", "Oslo", "Quito", "Dakar", "Perth"]
TAGS = ["red", "green", "blue", "gold", "teal", "gray", "pink"]


def make_docs(n):
    rng = random.Random(42)
    docs = []
    for i in range(n):
        docs.append((f"user_{i:07d}", {
            "name": f"user number {i}",
            "email": f"user{i}@example.org",
            "age": rng.randint(18, 90),
            "score": round(rng.random() * 100, 3),
            "active": rng.random() < 0.5,
            "address": {"city": rng.choice(CITIES), "zip": f"{rng.randint(10000, 99999)}"},
            "tags": rng.sample(TAGS, 3),
            "visits": rng.randint(0, 10_000),
        }))
    return docs


def bench_zippy(docs, ids, workdir):
    root = os.path.join(workdir, "zippy")
    t0 = time.perf_counter()
    s = zippy.ZDSStore.open(root, "bench")
    put = s.put
    for i, d in docs:
        put(i, d)
    s.close()
    t_write = time.perf_counter() - t0

    s = zippy.ZDSStore.open(root, "bench")
    get = s.get
    t0 = time.perf_counter()
    for i in ids:
        get(i)
    t_get = time.perf_counter() - t0

    t0 = time.perf_counter()
    n = 0
    for _ in s.scan():
        n += 1
    t_scan = time.perf_counter() - t0
    assert n == len(docs), n
    s.close()
    shutil.rmtree(root)
    return t_write, t_get, t_scan


def bench_sqlite(docs, ids, workdir):
    path = os.path.join(workdir, "bench.sqlite")
    t0 = time.perf_counter()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE t (id TEXT PRIMARY KEY, doc TEXT)")
    dumps = json.dumps
    with db:  # one transaction, committed at the end
        ex = db.execute
        for i, d in docs:
            ex("INSERT OR REPLACE INTO t VALUES (?, ?)", (i, dumps(d)))
    db.close()
    t_write = time.perf_counter() - t0

    db = sqlite3.connect(path)
    loads = json.loads
    t0 = time.perf_counter()
    ex = db.execute
    for i in ids:
        loads(ex("SELECT doc FROM t WHERE id=?", (i,)).fetchone()[0])
    t_get = time.perf_counter() - t0

    t0 = time.perf_counter()
    n = 0
    for (doc,) in db.execute("SELECT doc FROM t"):
        loads(doc)
        n += 1
    t_scan = time.perf_counter() - t0
    assert n == len(docs), n
    db.close()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    return t_write, t_get, t_scan


def main():
    N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    docs = make_docs(N)
    rng = random.Random(7)
    ids = [docs[rng.randrange(N)][0] for _ in range(GETS)]
    avg = sum(len(zippy.dumps(d)) for _, d in docs[:1000]) / 1000
    workdir = tempfile.mkdtemp(prefix="zippy-bench-py-", dir=os.environ.get("BENCH_DIR"))
    try:
        z, q = [], []
        for _ in range(RUNS):
            z.append(bench_zippy(docs, ids, workdir))
            q.append(bench_sqlite(docs, ids, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"zippy {zippy.__version__} Python bindings vs sqlite3 {sqlite3.sqlite_version} + json")
    print(f"N={N} documents of {avg:.0f} bytes, {GETS} random gets, median of {RUNS} runs\n")
    print(f"| {'operation':<22} | {'zippy ops/s':>12} | {'sqlite ops/s':>12} | {'ratio':>6} | target |")
    print(f"|{'-' * 24}|{'-' * 14}:|{'-' * 14}:|{'-' * 7}:|--------|")
    rows = [("write (put + close)", 0, N, 5), ("get (10k random)", 1, GETS, 3), ("scan (full, dicts)", 2, N, 2)]
    ok = True
    for label, k, ops, target in rows:
        zt = statistics.median(r[k] for r in z)
        qt = statistics.median(r[k] for r in q)
        ratio = qt / zt
        met = ratio >= target
        ok &= met
        print(f"| {label:<22} | {ops / zt:>12,.0f} | {ops / qt:>12,.0f} | {ratio:>5.1f}x | {'>=' + str(target) + 'x':<4} {'ok' if met else 'MISS'} |")
    print("\nall targets met" if ok else "\nsome targets missed")


if __name__ == "__main__":
    main()
