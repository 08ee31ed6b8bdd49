'use strict';
// Scans, JSONL in and out, raw rows and iteration.
const test = require('node:test');
const assert = require('node:assert/strict');
const { zippy, storePath } = require('./helpers');
const { ZdsStore } = zippy;

function people(s) {
  s.put('u1', { name: 'Alice', age: 28, address: { city: 'Paris', zip: '75001' }, tags: ['a'] });
  s.put('u2', { name: 'Bob', age: 35, address: { city: 'Oslo', zip: '0150' }, tags: [] });
  s.put('u3', { name: 'Carol', age: 22, address: { city: 'Paris', zip: '75002' } });
  s.put('u4', { name: 'Dan', age: 41, plan: 'pro' });
}

test('scan() returns every document in insertion order with _id first', () => {
  const s = ZdsStore.open(storePath('scan'), 'people');
  assert.deepEqual(s.scan(), []);
  people(s);
  const all = s.scan();
  assert.deepEqual(all.map((d) => d._id), ['u1', 'u2', 'u3', 'u4']);
  assert.deepEqual(Object.keys(all[0]), ['_id', 'name', 'age', 'address', 'tags']);
  assert.deepEqual(all[1], { _id: 'u2', name: 'Bob', age: 35, address: { city: 'Oslo', zip: '0150' }, tags: [] });
  assert.deepEqual(s.scan({}).length, 4);
  s.close();
});

test('scan({where}) uses the CLI filter language (Mongo-style)', () => {
  const s = ZdsStore.open(storePath('where'), 'people');
  people(s);
  const ids = (w) => s.scan({ where: w }).map((d) => d._id);
  assert.deepEqual(ids({ age: { $gt: 25 } }), ['u1', 'u2', 'u4']);
  assert.deepEqual(ids({ age: 28 }), ['u1']);
  assert.deepEqual(ids({ 'address.city': 'Paris' }), ['u1', 'u3']);
  assert.deepEqual(ids({ age: { $gte: 22, $lt: 35 } }), ['u1', 'u3']);
  assert.deepEqual(ids({ name: { $in: ['Bob', 'Dan'] } }), ['u2', 'u4']);
  assert.deepEqual(ids({ plan: { $exists: true } }), ['u4']);
  assert.deepEqual(ids({ $or: [{ age: 22 }, { name: 'Dan' }] }), ['u3', 'u4']);
  assert.deepEqual(ids({ name: { $ne: 'Alice' }, age: { $lt: 40 } }), ['u2', 'u3']);
  assert.deepEqual(ids('{"age":{"$lte":22}}'), ['u3']); // JSON text works too
  assert.throws(() => s.scan({ where: { age: { $bogus: 1 } } }), { code: 'ZIPPY_EINVAL' });
  assert.throws(() => s.scan({ where: 42 }), TypeError);
  s.close();
});

test('scan({fields}) projects on dot paths, keeping nesting and _id', () => {
  const s = ZdsStore.open(storePath('fields'), 'people');
  people(s);
  const rows = s.scan({ fields: ['name', 'address.city'] });
  assert.deepEqual(rows[0], { _id: 'u1', name: 'Alice', address: { city: 'Paris' } });
  assert.deepEqual(rows[3], { _id: 'u4', name: 'Dan' });
  assert.deepEqual(s.scan({ where: { age: { $gt: 30 } }, fields: ['age'] }), [
    { _id: 'u2', age: 35 },
    { _id: 'u4', age: 41 },
  ]);
  assert.deepEqual(s.scan({ fields: 'name' }).map((d) => d.name), ['Alice', 'Bob', 'Carol', 'Dan']);
  assert.throws(() => s.scan({ fields: [1] }), TypeError);
  s.close();
});

test('scan limit and skip', () => {
  const s = ZdsStore.open(storePath('limit'), 'people');
  people(s);
  assert.deepEqual(s.scan({ limit: 2 }).map((d) => d._id), ['u1', 'u2']);
  assert.deepEqual(s.scan({ skip: 1, limit: 2 }).map((d) => d._id), ['u2', 'u3']);
  assert.deepEqual(s.scan({ limit: 0 }), []);
  assert.throws(() => s.scan({ limit: -1 }), TypeError);
  s.close();
});

test('scan of many documents (several native batches)', () => {
  const s = ZdsStore.open(storePath('many'), 'c');
  const lines = [];
  for (let i = 0; i < 20000; i++) lines.push(JSON.stringify({ _id: `d${i}`, i, pad: 'x'.repeat(100) }));
  assert.equal(s.writeJsonl(Buffer.from(lines.join('\n'))), 20000);
  const all = s.scan();
  assert.equal(all.length, 20000);
  assert.equal(all[19999].i, 19999);
  assert.equal(s.scan({ where: { i: { $gte: 19990 } } }).length, 10);
  s.close();
});

test('writeJsonl(buffer, ids) pairs lines with ids; get omits _id; last line may lack its newline', () => {
  const s = ZdsStore.open(storePath('jsonl'), 'c');
  const buf = Buffer.from('{"name":"a","n":1}\n{"name":"b","n":2}\n{"name":"c","n":3}');
  assert.equal(s.writeJsonl(buf, ['a', 'b', 'c']), 3);
  assert.deepEqual(s.get('b'), { name: 'b', n: 2 });
  assert.equal(s.count, 3);
  assert.equal(s.writeJsonl(Buffer.from('{"x":1}\n{"x":2}\n'), ['p', 'q']), 2);
  assert.deepEqual(s.get('q'), { x: 2 });
  // a Uint8Array and a string work too; without ids each line's _id names it
  assert.equal(s.writeJsonl(new TextEncoder().encode('{"_id":"r","x":3}\n'), undefined), 1);
  assert.equal(s.writeJsonl('{"_id":"s","x":4}'), 1);
  assert.deepEqual(s.get('s'), { x: 4 });
  assert.equal(s.count, 7);
  s.close();
});

test('writeJsonl errors name the line; earlier lines are kept', () => {
  const s = ZdsStore.open(storePath('jsonlerr'), 'c');
  assert.throws(() => s.writeJsonl(Buffer.from('{"a":1}\n{"a":\n{"a":3}\n'), ['x', 'y', 'z']), (e) => {
    assert.equal(e.code, 'ZIPPY_EINVAL');
    assert.match(e.message, /line 2/);
    return true;
  });
  assert.equal(s.exists('x'), true);
  assert.equal(s.exists('z'), false);
  assert.throws(() => s.writeJsonl(Buffer.from('{"a":1}\n'), ['../bad']), { code: 'ZIPPY_EINVAL' });
  assert.throws(() => s.writeJsonl(Buffer.from('{"a":1}\n{"a":2}\n'), ['one']), { code: 'ZIPPY_EINVAL' });
  assert.throws(() => s.writeJsonl(12, ['a']), TypeError);
  assert.throws(() => s.writeJsonl(Buffer.from('{}'), 'a'), TypeError);
  assert.throws(() => s.writeJsonl(Buffer.from('{}'), [1]), TypeError);
  s.close();
});

test('readJsonlBlob() is one Buffer of the live documents as JSONL with _id', () => {
  const s = ZdsStore.open(storePath('blob'), 'c');
  assert.equal(s.readJsonlBlob().length, 0);
  s.put('a', { v: 1 });
  s.put('b', { v: 'two' });
  s.put('c', { v: 3 });
  s.delete('b');
  const blob = s.readJsonlBlob();
  assert.ok(Buffer.isBuffer(blob));
  assert.equal(blob.toString(), '{"_id":"a","v":1}\n{"_id":"c","v":3}\n');
  // it feeds writeJsonl of another store as it is
  const t = ZdsStore.open(storePath('blob2'), 'c');
  assert.equal(t.writeJsonl(blob), 2);
  assert.deepEqual(t.get('c'), { v: 3 });
  t.close();
  s.close();
});

test('scanRaw() returns one Buffer of raw JSON per document', () => {
  const s = ZdsStore.open(storePath('raw'), 'c');
  assert.deepEqual(s.scanRaw(), []);
  s.put('a', { v: 1 });
  s.put('b', { v: [2, 3] });
  const raw = s.scanRaw();
  assert.equal(raw.length, 2);
  assert.ok(raw.every((b) => Buffer.isBuffer(b)));
  assert.deepEqual(raw.map(String), ['{"_id":"a","v":1}', '{"_id":"b","v":[2,3]}']);
  assert.deepEqual(s.scanRaw({ where: { v: 1 } }).map(String), ['{"_id":"a","v":1}']);
  s.close();
});

test('for await (const doc of store.iter()) visits every document', async () => {
  const s = ZdsStore.open(storePath('iter'), 'people');
  people(s);
  const seen = [];
  for await (const doc of s.iter()) seen.push(doc);
  assert.deepEqual(seen, s.scan());
  const paris = [];
  for await (const doc of s.iter({ where: { 'address.city': 'Paris' }, fields: ['name'] })) paris.push(doc);
  assert.deepEqual(paris, [{ _id: 'u1', name: 'Alice' }, { _id: 'u3', name: 'Carol' }]);
  const viaSymbol = [];
  for await (const doc of s) viaSymbol.push(doc._id);
  assert.deepEqual(viaSymbol, ['u1', 'u2', 'u3', 'u4']);
  const sync = [];
  for (const doc of s) sync.push(doc._id);
  assert.deepEqual(sync, ['u1', 'u2', 'u3', 'u4']);
  s.close();
});

test('iter() does not block the event loop on a large collection (a timer fires meanwhile)', async () => {
  const s = ZdsStore.open(storePath('iterbig'), 'big');
  const N = 60000;
  const lines = [];
  for (let i = 0; i < N; i++) lines.push(JSON.stringify({ _id: `k${i}`, i, text: 'lorem ipsum dolor sit amet '.repeat(4) }));
  s.writeJsonl(Buffer.from(lines.join('\n')));
  let ticks = 0;
  let firedAt = -1;
  let n = 0;
  const timer = setInterval(() => {
    ticks++;
    if (firedAt < 0) firedAt = n;
  }, 1);
  try {
    for await (const doc of s.iter({ batchRows: 500 })) {
      assert.equal(doc.i, n);
      n++;
    }
  } finally {
    clearInterval(timer);
  }
  assert.equal(n, N);
  assert.ok(ticks > 0, 'the timer never fired during iteration');
  assert.ok(firedAt < N, 'the timer fired only after the iteration');
  s.close();
});

test('breaking out of iteration closes the scan; the store stays usable', async () => {
  const s = ZdsStore.open(storePath('iterbreak'), 'c');
  for (let i = 0; i < 3000; i++) s.put(`d${i}`, { i });
  let n = 0;
  for await (const doc of s.iter()) {
    if (++n === 10) break;
    assert.ok(doc._id);
  }
  assert.equal(n, 10);
  for (const doc of s) {
    if (doc.i === 5) break;
  }
  s.put('after', { ok: true });
  assert.equal(s.count, 3001);
  s.close();
});

test('iteration sees the collection as of its start; writes during it go on', async () => {
  const s = ZdsStore.open(storePath('itersnap'), 'c');
  for (let i = 0; i < 2500; i++) s.put(`d${i}`, { i });
  let n = 0;
  for await (const doc of s.iter()) {
    if (n++ === 0) s.put('new', { late: true });
    assert.notEqual(doc._id, 'new');
  }
  assert.equal(n, 2500);
  assert.equal(s.count, 2501);
  s.close();
});

test('an iteration started before close() finishes after it', async () => {
  const s = ZdsStore.open(storePath('iterclose'), 'c');
  for (let i = 0; i < 3000; i++) s.put(`d${i}`, { i });
  const it = s.iter()[Symbol.asyncIterator]();
  const first = await it.next();
  assert.equal(first.value._id, 'd0');
  s.close();
  let n = 1;
  for (let r = await it.next(); !r.done; r = await it.next()) n++;
  assert.equal(n, 3000);
  await assert.rejects(s.iter().next(), { code: 'ZIPPY_ECLOSED' });
});
