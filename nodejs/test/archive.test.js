'use strict';
// A .zds archive opened in place from Node: read-only, same answers as the
// directory it was packed from.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const { zippy, storePath, CLI } = require('./helpers');
const { ZdsStore, ZdsRoot } = zippy;

const skip = fs.existsSync(CLI) ? false : `the CLI ${CLI} is not built (make cli)`;

test('a packed store opens in place, read-only', { skip }, () => {
  const root = storePath('zds');
  const s = ZdsStore.open(root, 'users');
  for (let i = 0; i < 30; i++) s.put(`u${String(i).padStart(2, '0')}`, { n: i, big: 2n ** 60n + BigInt(i) });
  s.delete('u03');
  s.close();
  const zds = path.join(path.dirname(root), 'store.zds');
  execFileSync(CLI, ['pack', root, zds], { stdio: 'pipe' });
  const before = fs.readFileSync(zds);

  const d = ZdsStore.open(root, { collection: 'users', mode: 'r' });
  const a = ZdsStore.open(zds, 'users');
  assert.equal(a.count, 29);
  assert.deepEqual(a.listDocIds(), d.listDocIds());
  assert.deepEqual(a.scan(), d.scan());
  assert.deepEqual(a.scan({ where: { n: { $gte: 25 } }, fields: ['n'] }), d.scan({ where: { n: { $gte: 25 } }, fields: ['n'] }));
  assert.deepEqual(a.get('u10'), { n: 10, big: 2n ** 60n + 10n });
  assert.deepEqual(a.getAt(3), d.getAt(3));
  assert.throws(() => a.put('x', { n: 1 }), (e) => e.code === 'ZIPPY_EREADONLY' && /archive/.test(e.message));
  assert.throws(() => a.delete('u10'), (e) => e.code === 'ZIPPY_EREADONLY');
  a.close();
  d.close();

  const r = ZdsRoot.open(zds);
  assert.equal(r.isWritable, false);
  assert.deepEqual(r.listCollections(), ['users']);
  assert.throws(() => r.collection('brand_new'), (e) => e.code === 'ZIPPY_EREADONLY');
  r.close();
  assert.ok(before.equals(fs.readFileSync(zds)), 'the archive did not change');
});

test('a hostile archive is refused with an error', () => {
  const bad = path.join(path.dirname(storePath('bad')), 'bad.zds');
  fs.writeFileSync(bad, Buffer.concat([Buffer.from('PK\x05\x06'), Buffer.alloc(10)]));
  assert.throws(() => ZdsStore.open(bad, 'users'), (e) => typeof e.code === 'string' && e.code.startsWith('ZIPPY_'));
});
