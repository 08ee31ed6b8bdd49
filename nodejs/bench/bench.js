'use strict';
/*
 * Node benchmark of @zippydata/core against better-sqlite3 (run by
 * scripts/bench_node.sh, which installs better-sqlite3 if missing).
 *
 * N documents of ~180 bytes (deterministic generator: nested object,
 * array, numbers, strings, booleans), median of RUNS runs:
 *   write: zippy put x N + close (close flushes: fdatasync) against
 *          sqlite (WAL) insert x N in one transaction + commit, with
 *          JSON.stringify timed for sqlite as the encoding is for us;
 *   get:   10k random ids on freshly reopened handles; JSON.parse timed
 *          for sqlite as the decoding is for us;
 *   scan:  every document as a JS object: store.scan() against iterating
 *          SELECT id, doc with JSON.parse per row.
 * Targets of issue 4: write >= 5x, get >= 2x, scan >= 1.5x.
 *
 * Usage: node bench.js [N] [RUNS]   (env ZIPPY_BENCH_DIR: work directory)
 */
const fs = require('fs');
const os = require('os');
const path = require('path');

const N = Number(process.argv[2] || 100000);
const RUNS = Number(process.argv[3] || 3);
const GETS = 10000;
const dir = process.env.ZIPPY_BENCH_DIR || fs.mkdtempSync(path.join(os.tmpdir(), 'zippy-node-bench-'));

const { ZdsStore, BulkWriter, version } = require('../index.js');
let Database;
try {
  Database = require('better-sqlite3');
} catch (e) {
  console.error('bench: better-sqlite3 is not installed (scripts/bench_node.sh installs it)');
  process.exit(1);
}

// xorshift32: the same documents and ids on every run and machine
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return s / 4294967296;
  };
}
const CITIES = ['Paris', 'Oslo', 'Lima', 'Kyoto', 'Cairo', 'Austin', 'Perth', 'Quito'];
const TAGS = ['red', 'green', 'blue', 'alpha', 'beta', 'gamma', 'delta'];
function makeDocs(n) {
  const r = rng(42);
  const docs = new Array(n);
  for (let i = 0; i < n; i++) {
    docs[i] = {
      name: `user_${i}`,
      age: 18 + Math.floor(r() * 60),
      active: r() < 0.5,
      score: Math.round(r() * 10000) / 100,
      address: { city: CITIES[i % 8], zip: String(10000 + Math.floor(r() * 89999)) },
      tags: [TAGS[i % 7], TAGS[(i * 3) % 7]],
      visits: Math.floor(r() * 1000),
      note: 'lorem ipsum dolor sit amet',
    };
  }
  return docs;
}

const ids = Array.from({ length: N }, (_, i) => `doc${String(i).padStart(7, '0')}`);
const docs = makeDocs(N);
const r = rng(7);
const getIds = Array.from({ length: GETS }, () => ids[Math.floor(r() * N)]);
const avg = docs.reduce((a, d) => a + JSON.stringify(d).length, 0) / N;

const now = () => Number(process.hrtime.bigint()) / 1e9;
function timeit(fn) {
  const t = now();
  const x = fn();
  return [now() - t, x];
}
function rm(p) {
  fs.rmSync(p, { recursive: true, force: true });
}

function runZippy(run) {
  const root = path.join(dir, `zippy${run}`);
  rm(root);
  const res = {};
  [res.write] = timeit(() => {
    const s = ZdsStore.open(root, 'bench');
    for (let i = 0; i < N; i++) s.put(ids[i], docs[i]);
    s.close();
  });
  rm(root + 'b');
  [res.bulk] = timeit(() => {
    const w = BulkWriter.create(root + 'b', 'bench');
    for (let i = 0; i < N; i++) w.put(ids[i], docs[i]);
    w.close();
  });
  const s = ZdsStore.open(root, 'bench');
  let sum = 0;
  [res.get] = timeit(() => {
    for (let i = 0; i < GETS; i++) sum += s.get(getIds[i]).age;
  });
  let all;
  [res.scan, all] = timeit(() => s.scan());
  if (all.length !== N) throw new Error(`zippy scan returned ${all.length} documents`);
  [res.iterSync] = timeit(() => {
    let n = 0;
    for (const d of s) n += d.age > 0;
    return n;
  });
  s.close();
  rm(root);
  rm(root + 'b');
  return res;
}

function runSqlite(run) {
  const file = path.join(dir, `sqlite${run}.db`);
  for (const f of [file, file + '-wal', file + '-shm']) rm(f);
  const res = {};
  [res.write] = timeit(() => {
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE docs (id TEXT PRIMARY KEY, doc TEXT NOT NULL)');
    const ins = db.prepare('INSERT OR REPLACE INTO docs (id, doc) VALUES (?, ?)');
    db.transaction(() => {
      for (let i = 0; i < N; i++) ins.run(ids[i], JSON.stringify(docs[i]));
    })();
    db.close();
  });
  const db = new Database(file);
  const sel = db.prepare('SELECT doc FROM docs WHERE id = ?');
  let sum = 0;
  [res.get] = timeit(() => {
    for (let i = 0; i < GETS; i++) sum += JSON.parse(sel.get(getIds[i]).doc).age;
  });
  const scan = db.prepare('SELECT id, doc FROM docs');
  [res.scan] = timeit(() => {
    const out = [];
    for (const row of scan.iterate()) {
      const d = JSON.parse(row.doc);
      d._id = row.id;
      out.push(d);
    }
    if (out.length !== N) throw new Error('sqlite scan');
    return out;
  });
  db.close();
  for (const f of [file, file + '-wal', file + '-shm']) rm(f);
  return res;
}

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const Z = [];
const S = [];
for (let run = 0; run < RUNS; run++) {
  Z.push(runZippy(run));
  S.push(runSqlite(run));
}
const m = (rs, k) => median(rs.map((x) => x[k]));
const ops = (n, secs) => Math.round(n / secs);
const fmt = (x) => x.toLocaleString('en-US').padStart(11);

console.log(`@zippydata/core ${version()} vs better-sqlite3 (SQLite ${new Database(':memory:').prepare('select sqlite_version() v').get().v}), ` +
  `node ${process.version}, N=${N}, avg doc ${avg.toFixed(0)} bytes, median of ${RUNS}`);
console.log('operation                     zippy ops/s  sqlite ops/s   ratio  target');
const rows = [
  ['bulk write (put + close)', ops(N, m(Z, 'write')), ops(N, m(S, 'write')), 5],
  ['random get (10k)', ops(GETS, m(Z, 'get')), ops(GETS, m(S, 'get')), 2],
  ['full scan (scan())', ops(N, m(Z, 'scan')), ops(N, m(S, 'scan')), 1.5],
];
let met = 0;
for (const [name, z, s, target] of rows) {
  const ratio = z / s;
  if (ratio >= target) met++;
  console.log(`${name.padEnd(28)}${fmt(z)}  ${fmt(s)}  ${ratio.toFixed(2).padStart(6)}x  >=${target}x ${ratio >= target ? 'met' : 'MISSED'}`);
}
console.log(`${'BulkWriter put + close'.padEnd(28)}${fmt(ops(N, m(Z, 'bulk')))}  ${fmt(ops(N, m(S, 'write')))}  ${(m(S, 'write') / m(Z, 'bulk')).toFixed(2).padStart(6)}x`);
console.log(`${'sync iteration (for..of)'.padEnd(28)}${fmt(ops(N, m(Z, 'iterSync')))}  ${fmt(ops(N, m(S, 'scan')))}  ${(m(S, 'scan') / m(Z, 'iterSync')).toFixed(2).padStart(6)}x`);
console.log(`targets met: ${met}/${rows.length}`);
if (!process.env.ZIPPY_BENCH_DIR) rm(dir);
