'use strict';
// Stores written from Node are read by the CLI and by Python, and back.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { execFileSync, spawnSync } = require('child_process');
const { zippy, storePath, tmpdir, CLI, REPO } = require('./helpers');
const { ZdsStore } = zippy;

const haveCli = fs.existsSync(CLI);
const cliSkip = haveCli ? false : `the CLI ${CLI} is not built (make cli)`;
const cli = (...args) => execFileSync(CLI, args, { encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });

const PY = path.join(REPO, '.venv', 'bin', 'python');
function pythonSkip() {
  if (!fs.existsSync(PY)) return `${PY} does not exist (make python)`;
  const r = spawnSync(PY, ['-c', 'import zippy'], { encoding: 'utf8' });
  return r.status === 0 ? false : `"import zippy" fails in ${PY}: ${(r.stderr || '').trim().split('\n').pop()}`;
}
const pySkip = pythonSkip();
function python(code, ...args) {
  const r = spawnSync(PY, ['-c', code, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return r.stdout;
}

const DOCS = {
  u1: { name: 'Alice', age: 28, address: { city: 'Paris' }, tags: ['a', 'b'], active: true },
  u2: { name: 'Bøb 日本', age: 35, score: 9.75, nothing: null, big: 12345678901234567890n },
  u3: { name: 'Carol', age: 22, nested: { deep: { list: [1, [2, { three: 3 }]] } } },
};

function writeFromNode(root) {
  const s = ZdsStore.open(root, 'people');
  for (const [id, doc] of Object.entries(DOCS)) s.put(id, doc);
  s.put('gone', { x: 1 });
  s.delete('gone');
  return s;
}

test('a store written from Node is readable by the CLI (get, count, scan, export)', { skip: cliSkip }, () => {
  const root = storePath('tocli');
  const s = writeFromNode(root);
  s.flush(); // the CLI reads what is flushed, while this process holds the writer lock
  assert.equal(cli('count', root, '-c', 'people').trim(), '3');
  assert.equal(cli('get', root, '-c', 'people', 'u1').trim(),
    '{"name":"Alice","age":28,"address":{"city":"Paris"},"tags":["a","b"],"active":true}');
  assert.equal(cli('get', root, '-c', 'people', 'u2').trim(),
    '{"name":"Bøb 日本","age":35,"score":9.75,"nothing":null,"big":12345678901234567890}');
  const rows = cli('scan', root, '-c', 'people', '--where', '{"age":{"$gt":25}}', '--fields', 'name').trim().split('\n');
  assert.deepEqual(rows, ['{"_id":"u1","name":"Alice"}', '{"_id":"u2","name":"Bøb 日本"}']);
  assert.equal(cli('ids', root, '-c', 'people'), 'u1\nu2\nu3\n');
  s.close();
  assert.equal(cli('export', root, '-c', 'people').trim().split('\n').length, 3);
  const v = spawnSync(CLI, ['verify', root], { encoding: 'utf8' });
  assert.equal(v.status, 0, v.stdout + v.stderr);
});

test('a store written by the CLI (put, import) is readable from Node', { skip: cliSkip }, () => {
  const root = storePath('fromcli');
  cli('put', root, '-c', 'users', 'user_001', '{"name":"Alice","age":28,"n":99999999999999999999}');
  const file = path.join(tmpdir('jsonl'), 'users.jsonl');
  fs.writeFileSync(file, '{"_id":"u2","name":"Bob","tags":["x"]}\n{"_id":"u3","name":"Çarol","z":null}\n');
  cli('import', root, '-c', 'users', file);
  const s = ZdsStore.open(root, 'users');
  assert.equal(s.count, 3);
  assert.deepEqual(s.get('user_001'), { name: 'Alice', age: 28, n: 99999999999999999999n });
  assert.deepEqual(s.get('u3'), { name: 'Çarol', z: null });
  assert.deepEqual(s.scan({ fields: ['name'] }).map((d) => d.name), ['Alice', 'Bob', 'Çarol']);
  // and Node writes on top of it; the CLI sees both
  s.put('u4', { name: 'Dan' });
  s.close();
  assert.equal(cli('count', root, '-c', 'users').trim(), '4');
  assert.equal(cli('get', root, '-c', 'users', 'u4').trim(), '{"name":"Dan"}');
});

test('Python reads a store written from Node', { skip: pySkip }, () => {
  const root = storePath('topy');
  const s = writeFromNode(root);
  s.close();
  const out = python(`
import json, sys, zippy
s = zippy.ZDSStore(sys.argv[1], "people")
n = s.count() if callable(s.count) else s.count
print(n)
for i in ("u1", "u2", "u3"):
    print(json.dumps(s.get(i), ensure_ascii=False, separators=(",", ":")))
s.close()
`, root);
  const lines = out.trim().split('\n');
  assert.equal(lines[0], '3');
  assert.equal(lines[1], '{"name":"Alice","age":28,"address":{"city":"Paris"},"tags":["a","b"],"active":true}');
  assert.equal(lines[2], '{"name":"Bøb 日本","age":35,"score":9.75,"nothing":null,"big":12345678901234567890}');
  assert.equal(lines[3], '{"name":"Carol","age":22,"nested":{"deep":{"list":[1,[2,{"three":3}]]}}}');
});

test('Node reads a store written from Python', { skip: pySkip }, () => {
  const root = storePath('frompy');
  python(`
import sys, zippy
s = zippy.ZDSStore(sys.argv[1], "py")
s.put("a", {"name": "from python", "big": 2**70, "f": 0.5, "none": None, "list": [1, "two", [3]]})
s.put("b", {"z": 1, "y": 2, "x": 3})
s.close()
`, root);
  const s = ZdsStore.open(root, 'py');
  assert.equal(s.count, 2);
  assert.deepEqual(s.get('a'), { name: 'from python', big: 2n ** 70n, f: 0.5, none: null, list: [1, 'two', [3]] });
  assert.deepEqual(Object.keys(s.get('b')), ['z', 'y', 'x']);
  s.close();
});
