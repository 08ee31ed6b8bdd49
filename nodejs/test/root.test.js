'use strict';
// ZdsRoot, BulkWriter, read-only mode, strict mode, handles sharing a collection.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { zippy, storePath, snapshot } = require('./helpers');
const { ZdsStore, ZdsRoot, BulkWriter } = zippy;

test('ZdsRoot.open: getters, defaults and info', () => {
  const root = storePath('root');
  const r = ZdsRoot.open(root);
  assert.equal(r.rootPath, root);
  assert.equal(r.batchSize, 5000);
  assert.equal(r.mode, 'rw');
  assert.equal(r.isWritable, true);
  assert.deepEqual(r.info, { root, batchSize: 5000, mode: 'rw', isWritable: true, collections: [] });
  assert.ok(fs.existsSync(path.join(root, 'zds.json')));
  r.close();
  const r2 = ZdsRoot.open(root, 100, 'rw');
  assert.equal(r2.batchSize, 100);
  r2.close();
  const r3 = ZdsRoot.open(root, { batchSize: 7, mode: 'r' });
  assert.equal(r3.batchSize, 7);
  assert.equal(r3.mode, 'r');
  assert.equal(r3.isWritable, false);
  r3.close();
});

test('ZdsRoot: collection(), listCollections(), collectionExists()', () => {
  const root = storePath('colls');
  const r = ZdsRoot.open(root);
  assert.deepEqual(r.listCollections(), []);
  assert.equal(r.collectionExists('users'), false);
  const users = r.collection('users');
  assert.ok(users instanceof ZdsStore);
  assert.equal(users.batchSize, 5000);
  users.put('u1', { name: 'Alice' });
  const orders = r.collection('orders', 10);
  assert.equal(orders.batchSize, 10);
  orders.put('o1', { total: 5 });
  assert.deepEqual(r.listCollections(), ['orders', 'users']);
  assert.equal(r.collectionExists('users'), true);
  assert.equal(r.collectionExists('nope'), false);
  assert.equal(r.collectionExists('../bad'), false);
  assert.deepEqual(r.info.collections, ['orders', 'users']);
  assert.deepEqual(users.info, { root, collection: 'users', count: 1 });
  assert.throws(() => r.collection('bad/name'), { code: 'ZIPPY_EINVAL' });
  assert.throws(() => r.collection(''), TypeError);
  assert.throws(() => r.collection(5), TypeError);
  // collections opened from the root stay usable after it closes
  r.close();
  r.close();
  assert.deepEqual(users.get('u1'), { name: 'Alice' });
  users.put('u2', { name: 'Bob' });
  users.close();
  orders.close();
  assert.throws(() => r.listCollections(), { code: 'ZIPPY_ECLOSED' });
  assert.throws(() => r.collection('x'), { code: 'ZIPPY_ECLOSED' });
  const again = ZdsStore.open(root, 'users');
  assert.equal(again.count, 2);
  again.close();
});

test('a root may be opened twice in one process', () => {
  const root = storePath('twice');
  const a = ZdsRoot.open(root);
  const b = ZdsRoot.open(root);
  const ca = a.collection('c');
  const cb = b.collection('c');
  ca.put('x', { from: 'a' });
  assert.deepEqual(cb.get('x'), { from: 'a' }); // one engine per collection per process
  cb.put('y', { from: 'b' });
  assert.equal(ca.count, 2);
  ca.close();
  assert.deepEqual(cb.get('y'), { from: 'b' });
  cb.close();
  a.close();
  b.close();
});

test('ZdsStore.open works while a ZdsRoot holds the same directory', () => {
  const root = storePath('coexist');
  const r = ZdsRoot.open(root);
  const viaRoot = r.collection('users');
  viaRoot.put('u1', { n: 1 });
  const s = ZdsStore.open(root, 'users');
  assert.deepEqual(s.get('u1'), { n: 1 });
  s.put('u2', { n: 2 });
  assert.deepEqual(viaRoot.get('u2'), { n: 2 });
  const other = ZdsStore.open(root, 'other');
  other.put('o', {});
  assert.deepEqual(r.listCollections(), ['other', 'users']);
  s.close();
  other.close();
  viaRoot.close();
  r.close();
});

test('mode "r" refuses writes with a clear error and changes no file', () => {
  const root = storePath('readonly');
  const w = ZdsStore.open(root, 'c');
  w.put('a', { v: 1 });
  w.close();
  const before = snapshot(root);
  const r = ZdsRoot.open(root, 5000, 'r');
  assert.equal(r.isWritable, false);
  const c = r.collection('c');
  assert.equal(c.isWritable, false);
  assert.deepEqual(c.get('a'), { v: 1 });
  assert.equal(c.count, 1);
  assert.deepEqual(c.scan(), [{ _id: 'a', v: 1 }]);
  for (const f of [() => c.put('b', { v: 2 }), () => c.put('b', { v: null }), () => c.delete('a'),
    () => c.writeJsonl(Buffer.from('{"v":3}'), ['z'])]) {
    assert.throws(f, (e) => {
      assert.equal(e.code, 'ZIPPY_EREADONLY');
      assert.match(e.message, /read-only/);
      return true;
    });
  }
  assert.throws(() => r.collection('missing'), { code: 'ZIPPY_ENOTFOUND' });
  c.flush();
  c.close();
  r.close();
  const s = ZdsStore.open(root, { collection: 'c', mode: 'r' });
  assert.throws(() => s.put('b', {}), { code: 'ZIPPY_EREADONLY' });
  s.close();
  assert.deepEqual(snapshot(root), before);
  // a read-only open never creates a store
  const missing = storePath('nostore');
  assert.throws(() => ZdsRoot.open(missing, 5000, 'r'), { code: 'ZIPPY_ENOTFOUND' });
  assert.equal(fs.existsSync(missing), false);
});

test('ZdsRoot.open rejects bad arguments', () => {
  const root = storePath('rootargs');
  assert.throws(() => ZdsRoot.open(root, 5000, 'x'), TypeError);
  assert.throws(() => ZdsRoot.open(root, 0), TypeError);
  assert.throws(() => ZdsRoot.open(root, 1.5), TypeError);
  assert.throws(() => ZdsRoot.open(42), TypeError);
  assert.throws(() => ZdsRoot.open(''), TypeError);
  assert.equal(fs.existsSync(root), false);
  const file = path.join(path.dirname(root), 'plain-file');
  fs.writeFileSync(file, 'x');
  assert.throws(() => ZdsRoot.open(file), (e) => e instanceof Error && /^ZIPPY_E/.test(e.code));
});

test('BulkWriter: create, put, count, flush, close', () => {
  const root = storePath('bulk');
  const w = BulkWriter.create(root, 'items', 100);
  assert.equal(w.batchSize, 100);
  for (let i = 0; i < 250; i++) w.put(`item${i}`, { i, sq: i * i, odd: i % 2 === 1 });
  assert.equal(w.count, 250);
  assert.equal(w.pending, 50); // two batches of 100 written, 50 pending
  w.flush();
  assert.equal(w.pending, 0);
  const s = ZdsStore.open(root, 'items');
  assert.equal(s.count, 250);
  assert.deepEqual(s.get('item249'), { i: 249, sq: 62001, odd: true });
  w.put('late', { v: null, big: 2n ** 64n });
  w.close();
  w.close();
  assert.deepEqual(s.get('late'), { v: null, big: 18446744073709551616n });
  s.close();
  assert.throws(() => w.put('x', {}), { code: 'ZIPPY_ECLOSED' });
  const d = BulkWriter.create(storePath('bulk2'));
  assert.equal(d.collection, 'default');
  assert.equal(d.batchSize, 10000);
  d.close();
});

test('BulkWriter refuses bad input at put() and writes nothing for it', () => {
  const root = storePath('bulkbad');
  const w = BulkWriter.create(root, 'c', 10);
  w.put('ok1', { v: 1 });
  assert.throws(() => w.put('../x', { v: 1 }), { code: 'ZIPPY_EINVAL' });
  assert.throws(() => w.put('x', [1]), TypeError);
  assert.throws(() => w.put('x', { n: NaN }), TypeError);
  assert.throws(() => w.put('x', { _id: 'y' }), { code: 'ZIPPY_EINVAL' });
  assert.throws(() => w.put('x', { $deleted: true }), { code: 'ZIPPY_EINVAL' });
  w.put('ok2', { v: 2 });
  assert.equal(w.count, 2);
  w.close();
  const s = ZdsStore.open(root, 'c');
  assert.deepEqual(s.listDocIds(), ['ok1', 'ok2']);
  s.close();
});

test('strict mode: a document with another schema is refused ("Schema mismatch")', () => {
  const root = storePath('strict');
  const s = ZdsStore.open(root, { collection: 'typed', strict: true });
  assert.equal(s.isStrict, true);
  s.put('a', { name: 'Alice', age: 28 });
  s.put('b', { age: 30, name: 'Bob' }); // key order does not matter
  assert.throws(() => s.put('c', { name: 'Carol' }), (e) => {
    assert.equal(e.code, 'ZIPPY_ESCHEMA');
    assert.match(e.message, /^Schema mismatch:/);
    return true;
  });
  assert.throws(() => s.put('c', { name: 'Carol', age: '22' }), { code: 'ZIPPY_ESCHEMA' });
  assert.equal(s.count, 2);
  s.close();
  // the mode persists
  const again = ZdsStore.open(root, 'typed');
  assert.equal(again.isStrict, true);
  assert.throws(() => again.put('d', { other: true }), { code: 'ZIPPY_ESCHEMA' });
  again.close();
  // BulkWriter on a strict collection reports the mismatch at put()
  const w = BulkWriter.create(root, { collection: 'typed', strict: true });
  w.put('e', { name: 'Eve', age: 50 });
  assert.throws(() => w.put('f', { name: 'Frank' }), { code: 'ZIPPY_ESCHEMA' });
  w.close();
  const flexible = ZdsStore.open(root, 'loose');
  assert.equal(flexible.isStrict, false);
  flexible.close();
});
