'use strict';
// The file-per-document layout through the Node API: same calls, one pretty
// JSON file per document, hand edits seen after reopening.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { zippy, storePath, CLI } = require('./helpers');
const { ZdsStore } = zippy;

test('layout "files": documents are pretty JSON files without _id', () => {
  const root = storePath('files');
  const s = ZdsStore.open(root, { collection: 'notes', layout: 'files' });
  s.put('doc_001', { title: 'Hello', tags: ['a'], n: 1 });
  s.put('doc_002', { title: 'World', n: 2 });
  s.put('a:b', { n: 3 });
  s.flush();
  const file = path.join(root, 'collections', 'notes', 'docs', 'doc_001.json');
  assert.equal(fs.readFileSync(file, 'utf8'),
    '{\n  "title": "Hello",\n  "tags": [\n    "a"\n  ],\n  "n": 1\n}\n');
  assert.equal(s.count, 3);
  assert.deepEqual(s.get('a:b'), { n: 3 });
  assert.deepEqual(s.scan({ where: { n: { $gte: 2 } }, fields: ['n'] }).map((d) => d.n), [2, 3]);
  assert.deepEqual(s.getAt(0), { _id: 'doc_001', title: 'Hello', tags: ['a'], n: 1 });
  s.delete('doc_002');
  s.close();
  assert.equal(fs.existsSync(path.join(root, 'collections', 'notes', 'docs', 'doc_002.json')), false);

  // a hand edit and a new file are seen on the next open
  fs.writeFileSync(file, '{"title": "Edited", "tags": [], "n": 10}\n');
  fs.writeFileSync(path.join(root, 'collections', 'notes', 'docs', 'doc_009.json'), '{"n": 9}');
  const r = ZdsStore.open(root, { collection: 'notes', mode: 'r' });
  assert.deepEqual(r.get('doc_001'), { title: 'Edited', tags: [], n: 10 });
  assert.deepEqual(r.get('doc_009'), { n: 9 });
  assert.equal(r.count, 3);
  r.close();

  // an existing collection keeps its layout whatever the option says
  const again = ZdsStore.open(root, { collection: 'notes', layout: 'jsonl' });
  again.put('doc_010', { n: 10 });
  again.close();
  assert.ok(fs.existsSync(path.join(root, 'collections', 'notes', 'docs', 'doc_010.json')));
  if (fs.existsSync(CLI)) {
    assert.equal(execFileSync(CLI, ['get', root, '-c', 'notes', 'doc_009'], { encoding: 'utf8' }), '{"n":9}\n');
  }
});

test('layout option is checked', () => {
  const root = storePath('files-bad');
  assert.throws(() => ZdsStore.open(root, { collection: 'x', layout: 'xml' }), TypeError);
  assert.equal(fs.existsSync(root), false);
});
