'use strict';
// Documents: every JSON type round-trips; the encoding rules.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { zippy, storePath } = require('./helpers');
const { ZdsStore } = zippy;

function withStore(tag, fn) {
  const root = storePath(tag);
  const s = ZdsStore.open(root, 'v');
  try {
    return fn(s, root);
  } finally {
    s.close();
  }
}
function logOf(s, root) {
  s.flush();
  return fs.readFileSync(path.join(root, 'collections', 'v', 'meta', 'data.jsonl'), 'utf8');
}

test('every JSON type round-trips: strings, numbers, booleans, null, arrays, nested objects', () => {
  withStore('types', (s) => {
    const doc = {
      str: 'hello',
      empty: '',
      int: 42,
      neg: -17,
      zero: 0,
      frac: 3.14159,
      tiny: 5e-324,
      huge: 1.7976931348623157e308,
      exp: 1e21,
      small: 1e-7,
      t: true,
      f: false,
      nil: null,
      arr: [1, 'two', null, false, [3, [4]], { five: 5 }],
      emptyArr: [],
      emptyObj: {},
      nested: { a: { b: { c: { d: 'deep' } } } },
    };
    s.put('all', doc);
    assert.deepEqual(s.get('all'), doc);
    s.put('nonull', { a: [1, 2.5, 'x', true], b: { c: 'd' } }); // the JSON.stringify fast path
    assert.deepEqual(s.get('nonull'), { a: [1, 2.5, 'x', true], b: { c: 'd' } });
  });
});

test('numbers keep their value: shortest round-trip text, -0 as 0', () => {
  withStore('numbers', (s, root) => {
    const vals = [0.1, 0.1 + 0.2, 1 / 3, -2.5e-300, 123456789012345, 2 ** 53 - 1, -(2 ** 53 - 1), 1e300, 4.35];
    s.put('n', { vals });
    assert.deepEqual(s.get('n').vals, vals);
    s.put('z', { z: -0, nz: null });
    assert.ok(Object.is(s.get('z').z, 0));
    assert.match(logOf(s, root), /"vals":\[0\.1,0\.30000000000000004,/);
  });
});

test('integers beyond 2^53 come back as BigInt; BigInt is written as an exact integer', () => {
  withStore('bigint', (s, root) => {
    const doc = {
      big: 12345678901234567890n,
      neg: -9223372036854775808n,
      u64max: 18446744073709551615n,
      huge: 123456789012345678901234567890123456789n,
      edge: 9007199254740993n,
      safe: 9007199254740991n, // within 2^53: comes back as a Number
      small: 5n,
      inArray: [1n, 2n ** 64n],
      nested: { id: 98765432109876543210n },
    };
    s.put('b', doc);
    const back = s.get('b');
    assert.equal(back.big, 12345678901234567890n);
    assert.equal(back.neg, -9223372036854775808n);
    assert.equal(back.u64max, 18446744073709551615n);
    assert.equal(back.huge, 123456789012345678901234567890123456789n);
    assert.equal(back.edge, 9007199254740993n);
    assert.equal(back.safe, 9007199254740991);
    assert.equal(back.small, 5);
    assert.deepEqual(back.inArray, [1, 18446744073709551616n]);
    assert.equal(back.nested.id, 98765432109876543210n);
    const line = logOf(s, root);
    assert.match(line, /"big":12345678901234567890,/);
    assert.match(line, /"huge":123456789012345678901234567890123456789,/);
    // scans, getAt and iteration decode the same way
    assert.equal(s.scan()[0].big, 12345678901234567890n);
    assert.equal(s.getAt(0).huge, 123456789012345678901234567890123456789n);
  });
});

test('integral Numbers beyond 2^53 stay Numbers (written with an exponent)', () => {
  withStore('bignum', (s, root) => {
    s.put('n', { a: 2 ** 60, b: -(2 ** 70), c: 1e20 });
    const back = s.get('n');
    assert.equal(back.a, 2 ** 60);
    assert.equal(typeof back.a, 'number');
    assert.equal(back.b, -(2 ** 70));
    assert.equal(back.c, 1e20);
    assert.match(logOf(s, root), /"a":1\.152921504606847e\+18/);
  });
});

test('a store text with big integers written elsewhere reads as BigInt', () => {
  withStore('bigtext', (s) => {
    s.writeJsonl(Buffer.from('{"_id":"x","n":99999999999999999999,"f":1.5,"s":"12345678901234567890"}\n'));
    assert.deepEqual(s.get('x'), { n: 99999999999999999999n, f: 1.5, s: '12345678901234567890' });
  });
});

test('key order is preserved (V8 orders integer-like keys first, as in JS)', () => {
  withStore('order', (s, root) => {
    const doc = { zebra: 1, apple: 2, mango: { z: 1, a: 2, m: 3 }, _x: 4, Alpha: 5 };
    s.put('o', doc);
    assert.deepEqual(Object.keys(s.get('o')), ['zebra', 'apple', 'mango', '_x', 'Alpha']);
    assert.deepEqual(Object.keys(s.get('o').mango), ['z', 'a', 'm']);
    assert.match(logOf(s, root), /\{"_id":"o","zebra":1,"apple":2,"mango":\{"z":1,"a":2,"m":3\}/);
    s.put('n', { b: 1, 2: 'two', a: 3, 1: 'one' });
    assert.deepEqual(Object.keys(s.get('n')), ['1', '2', 'b', 'a']);
    // JSONL written by other tools keeps its order too
    s.writeJsonl('{"_id":"w","z":1,"y":2,"x":3}');
    assert.deepEqual(Object.keys(s.get('w')), ['z', 'y', 'x']);
  });
});

test('strings: escapes, control characters, unicode, emoji, NUL', () => {
  withStore('strings', (s) => {
    const doc = {
      quote: 'say "hi"',
      backslash: 'C:\\path\\file',
      controls: '\n\r\t\b\f\u0001\u001f',
      nul: 'a\u0000b',
      unicode: 'héllo wörld ñ 日本語 Ελληνικά',
      emoji: '😀👍🏽',
      'key "quoted"\n': 'v',
      '': 'empty key',
      line: '\u2028\u2029',
    };
    s.put('s', doc);
    assert.deepEqual(s.get('s'), doc);
    s.put('t', { ...doc, n: null }); // the addon's encoder
    assert.deepEqual(s.get('t'), { ...doc, n: null });
  });
});

test('a lone surrogate is stored as U+FFFD (as Buffer.from does)', () => {
  withStore('surrogate', (s) => {
    s.put('a', { x: 'a\ud800b' });
    assert.equal(s.get('a').x, 'a\ufffdb');
    s.put('b', { x: '\udfff', n: null });
    assert.equal(s.get('b').x, '\ufffd');
  });
});

test('Dates are stored as ISO strings (toJSON), as JSON.stringify does', () => {
  withStore('dates', (s) => {
    const d = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678));
    s.put('d', { when: d, list: [d] });
    assert.deepEqual(s.get('d'), { when: '2024-01-02T03:04:05.678Z', list: ['2024-01-02T03:04:05.678Z'] });
    s.put('e', { when: d, n: null, bad: new Date(NaN) });
    assert.deepEqual(s.get('e'), { when: '2024-01-02T03:04:05.678Z', n: null, bad: null });
    class Money {
      constructor(c) { this.cents = c; }
      toJSON() { return { amount: this.cents / 100, currency: 'EUR' }; }
    }
    s.put('m', { price: new Money(1250), big: 2n ** 70n });
    assert.deepEqual(s.get('m'), { price: { amount: 12.5, currency: 'EUR' }, big: 2n ** 70n });
  });
});

test('undefined, functions and symbols: skipped in objects, null in arrays (as JSON.stringify)', () => {
  withStore('undef', (s) => {
    s.put('u', { a: undefined, b: 1, f() {}, sym: Symbol('s'), arr: [undefined, () => 1, Symbol('t'), 2] });
    assert.deepEqual(s.get('u'), { b: 1, arr: [null, null, null, 2] });
    s.put('v', { a: undefined, b: null, big: 1n, arr: [undefined] });
    assert.deepEqual(s.get('v'), { b: null, big: 1, arr: [null] });
    s.put('w', { [Symbol('k')]: 1, ok: true });
    assert.deepEqual(s.get('w'), { ok: true });
  });
});

test('class instances and prototypes: own enumerable properties only', () => {
  withStore('classes', (s) => {
    class P {
      constructor() { this.x = 1; }
      get y() { return 2; }
    }
    const o = Object.create({ inherited: 1 });
    o.own = 2;
    Object.defineProperty(o, 'hidden', { value: 3, enumerable: false });
    s.put('p', { p: new P(), o, nullProto: Object.assign(Object.create(null), { k: 'v' }) });
    assert.deepEqual(s.get('p'), { p: { x: 1 }, o: { own: 2 }, nullProto: { k: 'v' } });
  });
});

test('NaN and Infinity are refused with a TypeError naming the path; nothing is stored', () => {
  withStore('nan', (s) => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      assert.throws(() => s.put('x', { a: { b: [1, bad] } }), (e) => {
        assert.ok(e instanceof TypeError);
        assert.match(e.message, /(NaN|Infinity) cannot be stored as JSON/);
        assert.match(e.message, /a\.b\[1\]/);
        return true;
      });
    }
    assert.throws(() => s.put('x', { n: 0 / 0 }), TypeError);
    // with real nulls around too, and behind toJSON
    assert.throws(() => s.put('x', { z: null, deep: [{ a: null }, { b: [Infinity] }] }), /Infinity.*deep\[1\]\.b\[0\]/);
    assert.throws(() => s.put('x', { z: null, when: new Date(0), o: { toJSON: () => ({ v: NaN }) } }), /NaN/);
    class Box { constructor() { this.v = -Infinity; } }
    assert.throws(() => s.put('x', { z: null, box: new Box() }), /Infinity/);
    assert.equal(s.count, 0);
    s.put('ok', { z: null, when: new Date(0), list: [null, 1.5, { n: null }] });
    assert.deepEqual(s.get('ok'), { z: null, when: '1970-01-01T00:00:00.000Z', list: [null, 1.5, { n: null }] });
  });
});

test('circular structures are refused with a TypeError; nothing is stored', () => {
  withStore('cycle', (s) => {
    const a = { name: 'a' };
    a.self = a;
    assert.throws(() => s.put('c', a), (e) => e instanceof TypeError && /circular/.test(e.message) && /self/.test(e.message));
    const b = { list: [] };
    b.list.push({ back: b });
    assert.throws(() => s.put('c', { root: b }), /circular structure.*root\.list\[0\]\.back/);
    assert.equal(s.count, 0);
    // the same object twice (not a cycle) is fine
    const shared = { v: 1 };
    s.put('ok', { a: shared, b: shared });
    assert.deepEqual(s.get('ok'), { a: { v: 1 }, b: { v: 1 } });
  });
});

test('nesting deeper than 256 levels is refused', () => {
  withStore('deep', (s) => {
    const ok = {};
    let cur = ok;
    for (let i = 0; i < 200; i++) cur = cur.n = {};
    s.put('ok', ok);
    let depth = 0;
    for (let d = s.get('ok'); d.n; d = d.n) depth++;
    assert.equal(depth, 200);
    const bad = {};
    cur = bad;
    for (let i = 0; i < 300; i++) cur = cur.n = {};
    assert.throws(() => s.put('bad', bad), (e) => e.code === 'ZIPPY_EINVAL' && /deeper than 256/.test(e.message));
    bad.x = null; // the addon's encoder says the same
    assert.throws(() => s.put('bad', bad), (e) => e.code === 'ZIPPY_EINVAL' && /deeper than 256/.test(e.message));
    assert.equal(s.exists('bad'), false);
  });
});

test('large documents and many keys', () => {
  withStore('large', (s) => {
    const big = { text: 'x'.repeat(3 << 20), arr: Array.from({ length: 50000 }, (_, i) => i) };
    s.put('big', big);
    assert.deepEqual(s.get('big'), big);
    const wide = {};
    for (let i = 0; i < 5000; i++) wide[`k${i}`] = i % 2 ? `v${i}` : i;
    s.put('wide', wide);
    assert.deepEqual(s.get('wide'), wide);
  });
});

test('a top-level "_id" must equal the id; "$deleted" is reserved', () => {
  withStore('topid', (s) => {
    s.put('a', { _id: 'a', v: 1 });
    assert.deepEqual(s.get('a'), { v: 1 });
    assert.throws(() => s.put('b', { _id: 'other', v: 1 }), { code: 'ZIPPY_EINVAL' });
    assert.throws(() => s.put('b', { $deleted: true }), { code: 'ZIPPY_EINVAL' });
    assert.equal(s.exists('b'), false);
    s.put('c', { nested: { $deleted: true, _id: 'x' } }); // only top-level keys are special
    assert.deepEqual(s.get('c'), { nested: { $deleted: true, _id: 'x' } });
  });
});

test('documents come back as fresh objects (no sharing with what was put)', () => {
  withStore('fresh', (s) => {
    const doc = { list: [1], o: { a: 1 } };
    s.put('f', doc);
    doc.list.push(2);
    doc.o.a = 99;
    assert.deepEqual(s.get('f'), { list: [1], o: { a: 1 } });
    const g = s.get('f');
    g.list.push(3);
    assert.deepEqual(s.get('f'), { list: [1], o: { a: 1 } });
  });
});

test('the 16-digit check finds long digit runs at every offset (exact BigInt / Number types)', () => {
  withStore('offsets', (s) => {
    for (let k = 0; k < 40; k++) {
      const pad = 'x'.repeat(k);
      s.put('a', { pad, n: 2 ** 60, m: 9007199254740993n, f: 0.30000000000000004, s: '1234567890123456' });
      const back = s.get('a');
      assert.equal(typeof back.n, 'number', `offset ${k}`);
      assert.equal(back.n, 2 ** 60);
      assert.equal(back.m, 9007199254740993n, `offset ${k}`);
      assert.equal(back.f, 0.30000000000000004);
      assert.equal(back.s, '1234567890123456');
      s.put('b', { pad, big: 10n ** 15n, nine: 999999999999999, bigger: 10n ** 16n });
      assert.deepEqual(s.get('b'), { pad, big: 1000000000000000, nine: 999999999999999, bigger: 10000000000000000n });
    }
  });
});
