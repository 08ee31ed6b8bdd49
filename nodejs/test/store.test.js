'use strict';
// ZdsStore: every call, its results and its errors.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { zippy, storePath } = require('./helpers');
const { ZdsStore, ZDSStore, ZdsRoot, ZDSRoot, BulkWriter, version } = zippy;

test('version() is the library version x.y.z', () => {
  assert.match(version(), /^\d+\.\d+\.\d+$/);
  assert.equal(version(), require('../package.json').version);
});

test('aliases ZDSStore and ZDSRoot are the same classes', () => {
  assert.equal(ZDSStore, ZdsStore);
  assert.equal(ZDSRoot, ZdsRoot);
  assert.equal(typeof BulkWriter.create, 'function');
});

test('open creates the store; put/get round-trip without _id', () => {
  const root = storePath('basic');
  const s = ZdsStore.open(root, 'users');
  s.put('user_001', { name: 'Alice', age: 28 });
  assert.deepEqual(s.get('user_001'), { name: 'Alice', age: 28 });
  assert.ok(fs.existsSync(path.join(root, 'zds.json')));
  assert.ok(fs.existsSync(path.join(root, 'collections', 'users', 'meta', 'data.jsonl')));
  s.put('user_001', { name: 'Alice', age: 29 }); // replace
  assert.deepEqual(s.get('user_001'), { name: 'Alice', age: 29 });
  assert.equal(s.count, 1);
  s.close();
});

test('open defaults: collection "default", batchSize 5000; options form', () => {
  const root = storePath('defaults');
  const a = ZdsStore.open(root);
  assert.equal(a.collection, 'default');
  assert.equal(a.batchSize, 5000);
  a.put('x', { v: 1 });
  a.close();
  const b = ZdsStore.open(root, { collection: 'other', batchSize: 10 });
  assert.equal(b.collection, 'other');
  assert.equal(b.batchSize, 10);
  assert.equal(b.count, 0);
  b.close();
  const c = ZdsStore.open(root, {});
  assert.equal(c.collection, 'default');
  assert.deepEqual(c.get('x'), { v: 1 });
  c.close();
  const d = ZdsStore.open(root, 'default', 7);
  assert.equal(d.batchSize, 7);
  d.close();
});

test('batchSize: the store flushes every batchSize writes', () => {
  const root = storePath('batch');
  const s = ZdsStore.open(root, 'c', 3);
  const log = path.join(root, 'collections', 'c', 'meta', 'data.jsonl');
  for (let i = 0; i < 3; i++) s.put(`d${i}`, { i });
  // flushed: the three lines are in the file
  assert.equal(fs.readFileSync(log, 'utf8').trim().split('\n').length, 3);
  s.close();
});

test('get of a missing id throws a not-found Error with code ZIPPY_ENOTFOUND', () => {
  const s = ZdsStore.open(storePath('missing'), 'users');
  assert.throws(() => s.get('nobody'), (e) => {
    assert.ok(e instanceof Error);
    assert.equal(e.code, 'ZIPPY_ENOTFOUND');
    assert.match(e.message, /not found/);
    assert.match(e.message, /nobody/);
    return true;
  });
  s.close();
});

test('get(id, {default}) returns the default for a missing id', () => {
  const s = ZdsStore.open(storePath('default'), 'users');
  assert.equal(s.get('nobody', { default: null }), null);
  assert.equal(s.get('nobody', { default: undefined }), undefined);
  const fallback = { a: 1 };
  assert.equal(s.get('nobody', { default: fallback }), fallback);
  s.put('here', { a: 2 });
  assert.deepEqual(s.get('here', { default: null }), { a: 2 });
  s.close();
});

test('getAt(index) follows insertion order, with _id first', () => {
  const s = ZdsStore.open(storePath('getat'), 'c');
  s.put('b', { n: 1 });
  s.put('a', { n: 2 });
  s.put('c', { n: 3 });
  assert.deepEqual(s.getAt(0), { _id: 'b', n: 1 });
  assert.deepEqual(s.getAt(1), { _id: 'a', n: 2 });
  assert.deepEqual(Object.keys(s.getAt(2)), ['_id', 'n']);
  s.put('b', { n: 4 }); // an update moves to the place of its latest write
  assert.deepEqual(s.getAt(2), { _id: 'b', n: 4 });
  assert.deepEqual(s.getAt(0), { _id: 'a', n: 2 });
  assert.throws(() => s.getAt(3), { code: 'ZIPPY_ENOTFOUND' });
  assert.throws(() => s.getAt(-1), TypeError);
  assert.throws(() => s.getAt(1.5), TypeError);
  assert.throws(() => s.getAt('0'), TypeError);
  s.close();
});

test('delete removes; deleting a missing id throws ZIPPY_ENOTFOUND', () => {
  const s = ZdsStore.open(storePath('delete'), 'c');
  s.put('a', { x: 1 });
  s.put('b', { x: 2 });
  s.delete('a');
  assert.equal(s.exists('a'), false);
  assert.equal(s.count, 1);
  assert.throws(() => s.delete('a'), (e) => e.code === 'ZIPPY_ENOTFOUND' && /not found/.test(e.message));
  assert.throws(() => s.get('a'), { code: 'ZIPPY_ENOTFOUND' });
  assert.equal(s.count, 1);
  s.close();
});

test('exists', () => {
  const s = ZdsStore.open(storePath('exists'), 'c');
  assert.equal(s.exists('a'), false);
  s.put('a', {});
  assert.equal(s.exists('a'), true);
  s.close();
});

test('listDocIds returns every live id, sorted', () => {
  const s = ZdsStore.open(storePath('ids'), 'c');
  assert.deepEqual(s.listDocIds(), []);
  for (const id of ['zeta', 'alpha', 'mid', 'ünï', 'B']) s.put(id, { id });
  s.delete('mid');
  assert.deepEqual(s.listDocIds(), ['B', 'alpha', 'zeta', 'ünï']);
  s.close();
});

test('count and info ({root, collection, count}, root exactly as passed in)', () => {
  const root = storePath('info');
  const rel = path.relative(process.cwd(), root) + '/';
  const s = ZdsStore.open(rel, 'things');
  assert.equal(s.count, 0);
  s.put('a', { v: 1 });
  s.put('b', { v: 2 });
  assert.equal(s.count, 2);
  assert.deepEqual(s.info, { root: rel, collection: 'things', count: 2 });
  assert.equal(s.root, rel);
  s.close();
});

test('flush makes writes durable and visible to a new handle', () => {
  const root = storePath('flush');
  const s = ZdsStore.open(root, 'c');
  s.put('a', { v: 1 });
  s.flush();
  const log = path.join(root, 'collections', 'c', 'meta', 'data.jsonl');
  assert.equal(fs.readFileSync(log, 'utf8'), '{"_id":"a","v":1}\n');
  s.close();
});

test('close: later calls throw ZIPPY_ECLOSED; closing twice is fine; data persists', () => {
  const root = storePath('close');
  const s = ZdsStore.open(root, 'c');
  s.put('a', { v: 1 });
  s.close();
  s.close();
  assert.equal(s.closed, true);
  for (const f of [() => s.get('a'), () => s.put('b', {}), () => s.count, () => s.info, () => s.scan(),
    () => s.exists('a'), () => s.delete('a'), () => s.flush(), () => s.listDocIds(), () => s.getAt(0),
    () => s.readJsonlBlob(), () => s.scanRaw(), () => s.writeJsonl(Buffer.from('{}'), ['x'])]) {
    assert.throws(f, (e) => e.code === 'ZIPPY_ECLOSED' && /closed/.test(e.message));
  }
  const t = ZdsStore.open(root, 'c');
  assert.deepEqual(t.get('a'), { v: 1 });
  t.close();
});

test('a store left open is flushed when the process exits', () => {
  const root = storePath('exit');
  const { execFileSync } = require('child_process');
  const script = `const {ZdsStore}=require(${JSON.stringify(path.join(__dirname, '..'))});
    const s=ZdsStore.open(${JSON.stringify(root)},'c'); for(let i=0;i<10;i++) s.put('d'+i,{i});`;
  execFileSync(process.execPath, ['-e', script]);
  const s = ZdsStore.open(root, 'c');
  assert.equal(s.count, 10);
  assert.deepEqual(s.get('d9'), { i: 9 });
  s.close();
  // a BulkWriter with a batch in flight and documents pending, then process.exit()
  const bulk = `const {BulkWriter}=require(${JSON.stringify(path.join(__dirname, '..'))});
    const w=BulkWriter.create(${JSON.stringify(root)},'b',1000); for(let i=0;i<2500;i++) w.put('d'+i,{i});
    process.exit(0);`;
  execFileSync(process.execPath, ['-e', bulk]);
  const b = ZdsStore.open(root, 'b');
  assert.equal(b.count, 2500);
  b.close();
});

test('the constructor is private: use open()', () => {
  assert.throws(() => new ZdsStore(), TypeError);
  assert.throws(() => new ZdsRoot(), TypeError);
  assert.throws(() => new BulkWriter(), TypeError);
});
