'use strict';
// Bad input: clear errors, and nothing changes.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const { zippy, storePath, snapshot } = require('./helpers');
const { ZdsStore, ZdsRoot, BulkWriter } = zippy;

function fixture(tag) {
  const root = storePath(tag);
  const s = ZdsStore.open(root, 'c');
  s.put('keep', { v: 1 });
  s.flush();
  return { root, s };
}

test('non-object documents are refused with a TypeError', () => {
  const { root, s } = fixture('notobj');
  const before = snapshot(root);
  for (const bad of [null, undefined, 42, 'text', true, 10n, [], [1, 2], () => 1, Symbol('s')]) {
    assert.throws(() => s.put('x', bad), (e) => {
      assert.ok(e instanceof TypeError, `${String(bad)}: ${e}`);
      assert.match(e.message, /document must be a plain object/);
      return true;
    });
  }
  assert.throws(() => s.put('x'), TypeError);
  s.flush();
  assert.deepEqual(snapshot(root), before);
  assert.equal(s.count, 1);
  s.close();
});

test('invalid ids are refused (code ZIPPY_EINVAL, message names the id); nothing changes', () => {
  const { root, s } = fixture('badids');
  const before = snapshot(root);
  for (const id of ['', '../evil', '.hidden', 'a/b', 'a..b', 'x'.repeat(256), 'sp ace', 'tab\t', 'nl\n', 'q"uote']) {
    assert.throws(() => s.put(id, { v: 2 }), (e) => {
      assert.equal(e.code, 'ZIPPY_EINVAL', JSON.stringify(id));
      assert.match(e.message, /id/);
      return true;
    });
    assert.throws(() => s.put(id, { v: null }), { code: 'ZIPPY_EINVAL' });
  }
  assert.throws(() => s.get('../evil'), { code: 'ZIPPY_EINVAL' });
  assert.throws(() => s.delete('.hidden'), { code: 'ZIPPY_EINVAL' });
  s.flush();
  assert.deepEqual(snapshot(root), before);
  // valid unusual ids work
  for (const id of ['a.b', 'user@example.com', 'k:v+w=x', 'ünïcødé', '日本', 'x'.repeat(255), '_', '-1']) {
    s.put(id, { id });
    assert.deepEqual(s.get(id), { id });
  }
  s.close();
});

test('ids must be strings', () => {
  const { s } = fixture('idtype');
  for (const id of [1, null, undefined, {}, ['a'], Symbol('x'), 5n]) {
    assert.throws(() => s.put(id, { v: 1 }), (e) => e instanceof TypeError && /id must be a string/.test(e.message));
    assert.throws(() => s.get(id), TypeError);
    assert.throws(() => s.exists(id), TypeError);
    assert.throws(() => s.delete(id), TypeError);
  }
  assert.equal(s.count, 1);
  s.close();
});

test('a document that fails to encode changes nothing (throwing getter, cycle, NaN)', () => {
  const { root, s } = fixture('encfail');
  const before = snapshot(root);
  const getter = { a: 1 };
  Object.defineProperty(getter, 'boom', { enumerable: true, get() { throw new Error('getter failed'); } });
  assert.throws(() => s.put('keep', getter), /getter failed/);
  const cyc = { n: null };
  cyc.me = cyc;
  assert.throws(() => s.put('keep', cyc), /circular/);
  assert.throws(() => s.put('keep', { x: [1, 2, NaN] }), /NaN/);
  assert.deepEqual(s.get('keep'), { v: 1 });
  s.flush();
  assert.deepEqual(snapshot(root), before);
  s.close();
});

test('open with bad arguments throws TypeErrors and creates nothing', () => {
  const root = storePath('openargs');
  assert.throws(() => ZdsStore.open(), TypeError);
  assert.throws(() => ZdsStore.open(42), TypeError);
  assert.throws(() => ZdsStore.open(root, 42), TypeError);
  assert.throws(() => ZdsStore.open(root, ''), TypeError);
  assert.throws(() => ZdsStore.open(root, 'c', 0), TypeError);
  assert.throws(() => ZdsStore.open(root, 'c', -5), TypeError);
  assert.throws(() => ZdsStore.open(root, 'c', '10'), TypeError);
  assert.throws(() => ZdsStore.open(root, { mode: 'x' }), TypeError);
  assert.throws(() => BulkWriter.create(root, 'c', 0), TypeError);
  assert.throws(() => BulkWriter.create(null), TypeError);
  assert.equal(fs.existsSync(root), false);
  // invalid collection names are the library's EINVAL
  assert.throws(() => ZdsStore.open(root, '../up'), { code: 'ZIPPY_EINVAL' });
  assert.throws(() => ZdsStore.open(root, '.hidden'), { code: 'ZIPPY_EINVAL' });
  assert.throws(() => ZdsStore.open(root, 'x'.repeat(65)), { code: 'ZIPPY_EINVAL' });
});

test('bad scan options throw TypeErrors', () => {
  const { s } = fixture('scanargs');
  assert.throws(() => s.scan(5), TypeError);
  assert.throws(() => s.scan({ where: [1] }), TypeError);
  assert.throws(() => s.scan({ fields: 5 }), TypeError);
  assert.throws(() => s.scan({ skip: 'x' }), TypeError);
  assert.throws(() => s.scan({ where: '{bad json' }), { code: 'ZIPPY_EINVAL' });
  assert.throws(() => s.scan({ fields: 'a..b' }), { code: 'ZIPPY_EINVAL' });
  s.close();
});

test('errors carry code and errno; library messages name the store, collection or id', () => {
  const { s } = fixture('codes');
  try {
    s.get('ghost');
    assert.fail('no error');
  } catch (e) {
    assert.equal(e.code, 'ZIPPY_ENOTFOUND');
    assert.equal(e.errno, -1);
    assert.match(e.message, /ghost/);
    assert.match(e.message, /collection c/);
  }
  s.close();
});

test('a collection locked by another process: ZIPPY_ELOCKED naming the pid', () => {
  const root = storePath('locked');
  const s = ZdsStore.open(root, 'c');
  s.put('a', { v: 1 });
  s.flush();
  const { spawnSync } = require('child_process');
  const script = `const {ZdsStore}=require(${JSON.stringify(require('path').join(__dirname, '..'))});
    try { ZdsStore.open(${JSON.stringify(root)}, 'c'); console.log('opened'); }
    catch (e) { console.log(e.code + ' ' + e.message); }
    const r = ZdsStore.open(${JSON.stringify(root)}, {collection: 'c', mode: 'r'});
    console.log('reader sees ' + r.count);`;
  const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' }).stdout;
  assert.match(out, new RegExp(`ZIPPY_ELOCKED .*${process.pid}`));
  assert.match(out, /reader sees 1/);
  s.close();
});

test('ZdsRoot bad arguments', () => {
  const r = ZdsRoot.open(storePath('rootbad'));
  assert.throws(() => r.collection('c', 0), TypeError);
  assert.throws(() => r.collectionExists(1), TypeError);
  r.close();
});
