'use strict';
/*
 * @zippydata/core - zippy document stores for Node.js.
 *
 * The classes below give the API its shape (defaults, option objects,
 * iteration); build/zippy.node (src/zippy_node.c, over libzippy) does the
 * work. Documents come back from the addon as JSON text that V8's
 * JSON.parse turns into values, or - when the text may hold an integer
 * beyond 2^53 - as values the addon built itself with BigInt for those.
 */
const path = require('path');

function loadNative() {
  const file = path.join(__dirname, 'build', 'zippy.node');
  try {
    return require(file);
  } catch (e) {
    e.message = `@zippydata/core: cannot load the native addon ${file} (${e.message}). ` +
      'Build it with "make node" at the root of the zippy repository, or "npm install" in nodejs/.';
    throw e;
  }
}
const native = loadNative();

// Batch modes of native.scanNext (see read_batch in src/zippy_node.c).
const MODE_ARRAY = 0;
const MODE_JSONL = 1;
const MODE_RAW = 2;
const SCAN_WITH_ID = 1;
// JSON text per native call of scan(): JSON.parse of ~4 MiB pieces measured
// ~25% faster than of one 32 MiB text (less GC work per piece).
const SYNC_BATCH_BYTES = 4 << 20;
const RAW_BATCH_BYTES = 32 << 20;
const ASYNC_BATCH_ROWS = 1000;      // rows per thread-pool job of iter()
const ASYNC_BATCH_BYTES = 1 << 20;

const decode = (r) => (typeof r === 'string' ? JSON.parse(r) : r);

// Collection handles still open when the process exits - also through
// process.exit(), which skips the finalizers - are closed (flushed) then,
// as the Python package does at interpreter exit. Weak references: a handle
// JavaScript dropped is closed by its finalizer when it is collected.
const liveHandles = new Set();
const forget = new FinalizationRegistry((ref) => liveHandles.delete(ref));
let exitHooked = false;
function track(h) {
  const ref = new WeakRef(h);
  liveHandles.add(ref);
  forget.register(h, ref, ref);
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', closeAllAtExit);
  }
  return ref;
}
function untrack(ref) {
  liveHandles.delete(ref);
  forget.unregister(ref);
}
function closeAllAtExit() {
  for (const ref of liveHandles) {
    const h = ref.deref();
    if (h !== undefined) {
      try {
        native.collClose(h);
      } catch (e) {
        process.emitWarning(`@zippydata/core: closing a store at exit failed: ${e.message}`);
      }
    }
  }
  liveHandles.clear();
}

function typeError(msg) {
  const e = new TypeError(msg);
  e.code = 'ERR_INVALID_ARG_TYPE';
  return e;
}

function checkString(v, what) {
  if (typeof v !== 'string') throw typeError(`${what} must be a string, got ${describe(v)}`);
  if (v.length === 0) throw typeError(`${what} must not be empty`);
  return v;
}

function checkBatchSize(v, dflt) {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw typeError(`batchSize must be a positive integer, got ${describe(v)}`);
  }
  return v;
}

function checkLayout(v) {
  if (v === undefined || v === null || v === 'jsonl') return false;
  if (v === 'files') return true;
  throw typeError(`layout must be "jsonl" or "files", got ${describe(v)}`);
}

function checkMode(v) {
  if (v === undefined || v === null) return 'rw';
  if (v === 'rw' || v === 'r') return v;
  throw typeError(`mode must be "r" or "rw", got ${describe(v)}`);
}

function describe(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 40) + '...' : v);
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

function isOptions(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function closedError(what) {
  const e = new Error(`the ${what} is closed`);
  e.code = 'ZIPPY_ECLOSED';
  return e;
}

// scan()/iter() options -> native.scanOpen arguments.
function scanArgs(opts, flags) {
  if (opts === undefined || opts === null) opts = {};
  if (!isOptions(opts)) throw typeError(`scan options must be an object, got ${describe(opts)}`);
  const { where, fields, limit, skip } = opts;
  let filter = null;
  if (where !== undefined && where !== null) {
    if (typeof where === 'string') filter = where;
    else if (isOptions(where)) filter = native.toJson(where);
    else throw typeError(`where must be a filter object (or its JSON text), got ${describe(where)}`);
  }
  let proj = null;
  if (fields !== undefined && fields !== null) {
    if (typeof fields === 'string') proj = fields;
    else if (Array.isArray(fields) && fields.every((f) => typeof f === 'string')) proj = fields.join(',');
    else throw typeError(`fields must be an array of dot paths, got ${describe(fields)}`);
  }
  const count = (v, what) => {
    if (v === undefined || v === null) return 0;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
      throw typeError(`${what} must be a non-negative integer, got ${describe(v)}`);
    }
    return v;
  };
  // limit 0 means "no rows" as in the CLI; native 0 means no limit.
  const lim = count(limit, 'limit');
  return { filter, proj, flags, limit: lim, skip: count(skip, 'skip'), none: limit === 0 };
}

function checkDoc(doc) {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw typeError(`a document must be a plain object, got ${describe(doc)}`);
  }
}

/*
 * Encoding a document. V8's JSON.stringify is several times faster than
 * walking the value through N-API calls, so it goes first, and its text is
 * used when it is exactly what we would write: when it did not throw
 * (BigInt, cycles), escaped no lone surrogate ("\ud...", which we store as
 * U+FFFD as Buffer.from does) and - if it holds a "null", which may be a
 * NaN or Infinity that JSON.stringify turned into null where we throw - a
 * quick walk finds no such number. Everything else, and documents with a
 * top-level "_id" or "$deleted" (which the library checks), goes to the
 * addon's own encoder (src/zippy_node.c), the reference for the rules:
 * BigInt as exact integers, NaN/Infinity refused with a TypeError,
 * undefined, functions and symbols skipped as JSON.stringify skips them,
 * toJSON (Dates) honoured, cycles reported with their path. The addon also
 * sends back text with a 16+ digit run (an integral Number beyond 2^53
 * would read back as a BigInt).
 */
const OBJECT_PROTO = Object.prototype;

// true if no NaN or +-Infinity can be reached in v as JSON.stringify walks
// it; false also when unsure (class instances other than Date, depth).
function allFinite(v, depth) {
  if (depth > 64) return false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (typeof x === 'number') {
        if (x - x !== 0) return false;
      } else if (typeof x === 'object' && x !== null && !allFinite(x, depth + 1)) {
        return false;
      }
    }
    return true;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== OBJECT_PROTO && proto !== null) return v instanceof Date;
  if (typeof v.toJSON === 'function') return false;
  for (const k in v) {
    const x = v[k];
    if (typeof x === 'number') {
      if (x - x !== 0) return false;
    } else if (typeof x === 'object' && x !== null && !allFinite(x, depth + 1)) {
      return false;
    }
  }
  return true;
}

function putDoc(h, id, doc) {
  checkDoc(doc);
  let json;
  try {
    json = JSON.stringify(doc);
  } catch {
    json = undefined;
  }
  if (json === undefined || json.indexOf('\\ud') !== -1 || doc._id !== undefined || doc.$deleted !== undefined ||
      (json.indexOf('null') !== -1 && !allFinite(doc, 0))) {
    native.put(h, id, doc);
  } else if (!native.putJson(h, id, json)) {
    native.put(h, id, doc); // a 16+ digit run: maybe an integral Number beyond 2^53
  }
}

class ZdsStore {
  #h;
  #ref;
  #root;
  #collection;
  #batchSize;

  /** @private Use ZdsStore.open() or ZdsRoot#collection(). */
  constructor(handle, root, collection, batchSize) {
    if (handle === undefined || typeof handle !== 'object' || handle === null) {
      throw new TypeError('use ZdsStore.open(root, collection) to open a store');
    }
    this.#h = handle;
    this.#ref = track(handle);
    this.#root = root;
    this.#collection = collection;
    this.#batchSize = batchSize;
  }

  /**
   * ZdsStore.open(root, collection = "default", batchSize = 5000)
   * ZdsStore.open(root, { collection, batchSize, strict, mode, layout })
   * layout ("jsonl" or "files") applies to a collection created by this
   * call; an existing collection keeps its own.
   */
  static open(root, collection = 'default', batchSize = 5000) {
    let strict = false;
    let mode = 'rw';
    let files = false;
    if (isOptions(collection)) {
      const o = collection;
      collection = o.collection === undefined ? 'default' : o.collection;
      batchSize = o.batchSize;
      strict = !!o.strict;
      mode = checkMode(o.mode);
      files = checkLayout(o.layout);
    }
    checkString(root, 'root');
    checkString(collection, 'collection');
    batchSize = checkBatchSize(batchSize, 5000);
    const h = native.collOpen(null, root, collection, mode === 'r', strict, files);
    return ZdsStore.#wrap(h, root, collection, batchSize);
  }

  // Writes are visible at once to every handle of the collection in this
  // process; batchSize bounds what a crash can lose: the store flushes
  // (fdatasync) after every batchSize writes, as the Python package does.
  static #wrap(h, root, collection, batchSize) {
    native.configure(h, 0, batchSize);
    return new ZdsStore(h, root, collection, batchSize);
  }

  /** @private For ZdsRoot#collection(). */
  static _fromHandle(h, root, collection, batchSize) {
    return ZdsStore.#wrap(h, root, collection, batchSize);
  }

  #handle() {
    if (this.#h === null) throw closedError('store');
    return this.#h;
  }

  /** Stores doc (a plain object) under id, replacing any earlier version. */
  put(id, doc) {
    putDoc(this.#handle(), id, doc);
  }

  /**
   * The document stored under id (without "_id"). Throws an Error with
   * code "ZIPPY_ENOTFOUND" if there is none, unless options.default is
   * given: then that is returned.
   */
  get(id, options) {
    if (options !== undefined && isOptions(options) && 'default' in options) {
      const r = native.get(this.#handle(), id, 2);
      return r === undefined ? options.default : decode(r);
    }
    return decode(native.get(this.#handle(), id, 0));
  }

  /** The document at position index of the scan (insertion) order, with "_id" first. */
  getAt(index) {
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0) {
      throw typeError(`index must be a non-negative integer, got ${describe(index)}`);
    }
    return decode(native.getAt(this.#handle(), index));
  }

  /** Deletes id; throws (code "ZIPPY_ENOTFOUND") if it is absent. */
  delete(id) {
    native.del(this.#handle(), id);
  }

  exists(id) {
    return native.exists(this.#handle(), id);
  }

  #openScan(opts, flags) {
    const a = scanArgs(opts, flags);
    const h = this.#handle();
    if (a.none) return null;
    return native.scanOpen(h, a.filter, a.proj, a.flags, a.limit, a.skip);
  }

  /**
   * Documents matching where (Mongo-style filter, as the CLI's --where),
   * projected on fields (dot paths), each with "_id" first, in insertion
   * order. Options limit and skip as the CLI's.
   */
  scan(options) {
    const scan = this.#openScan(options, SCAN_WITH_ID);
    if (scan === null) return [];
    try {
      let out = null;
      for (;;) {
        const batch = native.scanNext(scan, MODE_ARRAY, 0, SYNC_BATCH_BYTES);
        if (batch === null) break;
        const docs = decode(batch);
        if (out === null) out = docs;
        else for (let i = 0; i < docs.length; i++) out.push(docs[i]);
      }
      return out === null ? [] : out;
    } finally {
      native.scanClose(scan);
    }
  }

  /**
   * Async iteration over the documents (as scan(), "_id" first). Rows are
   * read in batches on libuv's thread pool, so the event loop keeps
   * serving timers and I/O while a large collection is walked.
   */
  async *iter(options) {
    let batchRows = ASYNC_BATCH_ROWS;
    if (isOptions(options) && options.batchRows !== undefined) {
      batchRows = checkBatchSize(options.batchRows, ASYNC_BATCH_ROWS);
    }
    const scan = this.#openScan(options, SCAN_WITH_ID);
    if (scan === null) return;
    try {
      for (;;) {
        const batch = await native.scanNextAsync(scan, MODE_ARRAY, batchRows, ASYNC_BATCH_BYTES);
        if (batch === null) return;
        const docs = decode(batch);
        for (let i = 0; i < docs.length; i++) yield docs[i];
      }
    } finally {
      native.scanClose(scan);
    }
  }

  [Symbol.asyncIterator]() {
    return this.iter();
  }

  *[Symbol.iterator]() {
    const scan = this.#openScan(undefined, SCAN_WITH_ID);
    try {
      for (;;) {
        const batch = native.scanNext(scan, MODE_ARRAY, ASYNC_BATCH_ROWS, ASYNC_BATCH_BYTES);
        if (batch === null) return;
        const docs = decode(batch);
        for (let i = 0; i < docs.length; i++) yield docs[i];
      }
    } finally {
      native.scanClose(scan);
    }
  }

  /** Every live id, sorted by bytes. */
  listDocIds() {
    const s = native.ids(this.#handle());
    return s === '' ? [] : s.split('\n');
  }

  get count() {
    return native.count(this.#handle());
  }

  get info() {
    return { root: this.#root, collection: this.#collection, count: this.count };
  }

  get root() {
    return this.#root;
  }

  get collection() {
    return this.#collection;
  }

  get batchSize() {
    return this.#batchSize;
  }

  get isWritable() {
    return native.writable(this.#handle());
  }

  get isStrict() {
    return native.strict(this.#handle());
  }

  get closed() {
    return this.#h === null;
  }

  /** Makes every earlier write durable (fdatasync). */
  flush() {
    native.flush(this.#handle());
  }

  /** Flushes and releases the store; later calls throw. Closing twice is fine. */
  close() {
    if (this.#h === null) return;
    const h = this.#h;
    this.#h = null;
    untrack(this.#ref);
    native.collClose(h);
  }

  /**
   * Writes JSONL text (a Buffer, Uint8Array or string: one object per
   * line, the last line may lack its newline) with ids[i] naming line i.
   * Without ids each line's "_id" names it. Returns the lines written.
   */
  writeJsonl(buffer, ids) {
    if (ids !== undefined && ids !== null && !Array.isArray(ids)) {
      throw typeError(`ids must be an array of strings, got ${describe(ids)}`);
    }
    return native.putJsonl(this.#handle(), buffer, ids === undefined ? null : ids);
  }

  /** The live documents as JSONL ("_id" first, one per line) in one Buffer. */
  readJsonlBlob(options) {
    const scan = this.#openScan(options, SCAN_WITH_ID);
    if (scan === null) return Buffer.alloc(0);
    try {
      return native.scanNext(scan, MODE_JSONL, 0, Number.MAX_SAFE_INTEGER);
    } finally {
      native.scanClose(scan);
    }
  }

  /** The live documents as raw JSON, one Buffer each ("_id" first). */
  scanRaw(options) {
    const scan = this.#openScan(options, SCAN_WITH_ID);
    if (scan === null) return [];
    try {
      const out = [];
      for (;;) {
        const r = native.scanNext(scan, MODE_RAW, 0, RAW_BATCH_BYTES);
        if (r === null) return out;
        const [buf, ends] = r;
        let start = 0;
        for (let i = 0; i < ends.length; i++) {
          out.push(buf.subarray(start, ends[i]));
          start = ends[i];
        }
      }
    } finally {
      native.scanClose(scan);
    }
  }
}

class BulkWriter {
  #h;
  #ref;
  #count = 0;
  #root;
  #collection;
  #batchSize;

  /** @private Use BulkWriter.create(). */
  constructor(handle, root, collection, batchSize) {
    if (handle === undefined || typeof handle !== 'object' || handle === null) {
      throw new TypeError('use BulkWriter.create(root, collection) to create a writer');
    }
    this.#h = handle;
    this.#ref = track(handle);
    this.#root = root;
    this.#collection = collection;
    this.#batchSize = batchSize;
  }

  /**
   * BulkWriter.create(root, collection = "default", batchSize = 10000)
   * BulkWriter.create(root, { collection, batchSize, strict })
   * Documents are buffered and written batchSize at a time; flush() and
   * close() write what is pending and make it durable.
   */
  static create(root, collection = 'default', batchSize = 10000) {
    let strict = false;
    if (isOptions(collection)) {
      const o = collection;
      collection = o.collection === undefined ? 'default' : o.collection;
      batchSize = o.batchSize;
      strict = !!o.strict;
    }
    checkString(root, 'root');
    checkString(collection, 'collection');
    batchSize = checkBatchSize(batchSize, 10000);
    const h = native.collOpen(null, root, collection, false, strict);
    // Strict collections check each document's schema: write through so
    // a mismatch is reported by the put() that caused it.
    native.configure(h, native.strict(h) ? 0 : batchSize, 0);
    return new BulkWriter(h, root, collection, batchSize);
  }

  #handle() {
    if (this.#h === null) throw closedError('writer');
    return this.#h;
  }

  put(id, doc) {
    putDoc(this.#handle(), id, doc);
    this.#count++;
  }

  /** Writes the pending documents and makes everything durable. */
  flush() {
    native.flush(this.#handle());
  }

  /** Documents accepted by put() so far (written or pending). */
  get count() {
    return this.#count;
  }

  /** Documents buffered and not yet written to the collection. */
  get pending() {
    return this.#h === null ? 0 : native.pending(this.#h);
  }

  get root() {
    return this.#root;
  }

  get collection() {
    return this.#collection;
  }

  get batchSize() {
    return this.#batchSize;
  }

  close() {
    if (this.#h === null) return;
    const h = this.#h;
    this.#h = null;
    untrack(this.#ref);
    native.collClose(h);
  }
}

class ZdsRoot {
  #h;
  #root;
  #batchSize;
  #mode;

  /** @private Use ZdsRoot.open(). */
  constructor(handle, root, batchSize, mode) {
    if (handle === undefined || typeof handle !== 'object' || handle === null) {
      throw new TypeError('use ZdsRoot.open(root) to open a root');
    }
    this.#h = handle;
    this.#root = root;
    this.#batchSize = batchSize;
    this.#mode = mode;
  }

  /**
   * ZdsRoot.open(root, batchSize = 5000, mode = "rw")
   * ZdsRoot.open(root, { batchSize, mode })
   * mode "rw" creates the store if missing; "r" opens an existing store
   * read-only (writes through it throw ZIPPY_EREADONLY).
   */
  static open(root, batchSize = 5000, mode = 'rw') {
    if (isOptions(batchSize)) {
      const o = batchSize;
      batchSize = o.batchSize;
      mode = o.mode;
    }
    checkString(root, 'root');
    batchSize = checkBatchSize(batchSize, 5000);
    mode = checkMode(mode);
    const h = native.rootOpen(root, mode === 'r');
    return new ZdsRoot(h, root, batchSize, mode);
  }

  #handle() {
    if (this.#h === null) throw closedError('root');
    return this.#h;
  }

  get rootPath() {
    return this.#root;
  }

  get batchSize() {
    return this.#batchSize;
  }

  get mode() {
    return this.#mode;
  }

  /** false for mode "r" and for a .zds archive opened in place. */
  get isWritable() {
    return this.#mode === 'rw' && native.rootWritable(this.#handle());
  }

  get info() {
    return {
      root: this.#root,
      batchSize: this.#batchSize,
      mode: this.#mode,
      isWritable: this.isWritable,
      collections: this.listCollections(),
    };
  }

  /**
   * Opens collection name of this root as a ZdsStore (created if missing
   * unless the root is read-only). It stays usable after the root closes.
   */
  collection(name, batchSize) {
    checkString(name, 'collection');
    batchSize = checkBatchSize(batchSize, this.#batchSize);
    const h = native.collOpen(this.#handle(), this.#root, name, this.#mode === 'r', false);
    return ZdsStore._fromHandle(h, this.#root, name, batchSize);
  }

  /** Collection names, sorted. */
  listCollections() {
    return native.rootList(this.#handle());
  }

  collectionExists(name) {
    checkString(name, 'collection');
    return native.rootHas(this.#handle(), name);
  }

  get closed() {
    return this.#h === null;
  }

  close() {
    if (this.#h === null) return;
    const h = this.#h;
    this.#h = null;
    native.rootClose(h);
  }
}

/** The version of libzippy ("x.y.z"). */
function version() {
  return native.version();
}

module.exports = {
  ZdsStore,
  ZdsRoot,
  BulkWriter,
  ZDSStore: ZdsStore,
  ZDSRoot: ZdsRoot,
  version,
};
