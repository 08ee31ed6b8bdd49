// Type declarations of @zippydata/core (checked by `tsc -p nodejs/tsconfig.json`).
/// <reference types="node" />

/** A JSON value as stored. Integers beyond +-(2^53 - 1) are read back as BigInt. */
export type JsonValue = string | number | bigint | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A document: a JSON object. */
export type Document = { [key: string]: JsonValue };

/**
 * What put() accepts: a plain object. As with JSON.stringify, members that are
 * undefined, functions or symbols are skipped (null inside arrays) and toJSON()
 * is honoured (Dates become ISO strings); BigInt is written as an exact integer;
 * NaN and Infinity are refused with a TypeError.
 */
export type DocumentInput = { [key: string]: unknown };

/** A document as returned by scans, iteration and getAt(): "_id" first. */
export type StoredDocument = { _id: string } & Document;

/** Mongo-style filter on dot paths, as the CLI's --where. */
export type Filter = { [pathOrOperator: string]: unknown };

export interface ScanOptions {
  /** Filter object (or its JSON text): {"age": {"$gt": 25}}, {"address.city": "Oslo"}, $and/$or/$not... */
  where?: Filter | string;
  /** Projection: dot paths (["name", "address.city"]) or a comma list; "_id" is always kept. */
  fields?: string[] | string;
  /** At most this many rows (0: none). */
  limit?: number;
  /** Rows to skip after filtering. */
  skip?: number;
}

export interface IterOptions extends ScanOptions {
  /** Rows read per thread-pool job (default 1000). */
  batchRows?: number;
}

export interface GetOptions<D> {
  /** Returned instead of throwing when the id is absent. */
  default: D;
}

export interface StoreOpenOptions {
  collection?: string;
  /** The store flushes (fdatasync) after every batchSize writes. Default 5000. */
  batchSize?: number;
  /** Strict schema: every document must have the schema of the first one. */
  strict?: boolean;
  /** "rw" (default: creates what is missing) or "r" (read-only). */
  mode?: 'r' | 'rw';
  /** Layout of a collection this call creates: "jsonl" (default) or "files"
   * (one pretty JSON file per document). An existing collection keeps its own. */
  layout?: 'jsonl' | 'files';
}

export interface StoreInfo {
  /** The root exactly as passed to open(). */
  root: string;
  collection: string;
  count: number;
}

/** Error thrown by the library: code is "ZIPPY_ENOTFOUND", "ZIPPY_EINVAL", ... */
export interface ZippyError extends Error {
  code:
    | 'ZIPPY_ENOTFOUND'
    | 'ZIPPY_EEXISTS'
    | 'ZIPPY_EINVAL'
    | 'ZIPPY_ECORRUPT'
    | 'ZIPPY_ELOCKED'
    | 'ZIPPY_EIO'
    | 'ZIPPY_ENOMEM'
    | 'ZIPPY_EREADONLY'
    | 'ZIPPY_ESCHEMA'
    | 'ZIPPY_ENOSPC'
    | 'ZIPPY_ETOOBIG'
    | 'ZIPPY_ECLOSED'
    | 'ZIPPY_EBUSY'
    | 'ZIPPY_EUNSUPPORTED'
    | 'ZIPPY_ERROR';
  /** The library's negative error code. */
  errno?: number;
}

export declare class ZdsStore implements AsyncIterable<StoredDocument>, Iterable<StoredDocument> {
  private constructor();
  static open(root: string, collection?: string, batchSize?: number): ZdsStore;
  static open(root: string, options: StoreOpenOptions): ZdsStore;

  /** Stores doc under id, replacing any earlier version. */
  put(id: string, doc: DocumentInput): void;
  /** The document (without "_id"); throws ZIPPY_ENOTFOUND if absent. */
  get(id: string): Document;
  /** The document, or options.default if absent. */
  get<D>(id: string, options: GetOptions<D>): Document | D;
  /** The document at position index of the insertion order, "_id" first. */
  getAt(index: number): StoredDocument;
  /** Deletes id; throws ZIPPY_ENOTFOUND if absent. */
  delete(id: string): void;
  exists(id: string): boolean;
  /** Matching documents, "_id" first, in insertion order. */
  scan(options?: ScanOptions): StoredDocument[];
  /** Async iteration that reads batches off the event loop. */
  iter(options?: IterOptions): AsyncGenerator<StoredDocument, void, undefined>;
  [Symbol.asyncIterator](): AsyncIterator<StoredDocument>;
  [Symbol.iterator](): Iterator<StoredDocument>;
  /** Every live id, sorted by bytes. */
  listDocIds(): string[];
  readonly count: number;
  readonly info: StoreInfo;
  readonly root: string;
  readonly collection: string;
  readonly batchSize: number;
  readonly isWritable: boolean;
  readonly isStrict: boolean;
  readonly closed: boolean;
  /** Makes every earlier write durable. */
  flush(): void;
  /** Flushes and releases the store (closing twice is fine). */
  close(): void;
  /**
   * Writes JSONL (one object per line, the last may lack its newline);
   * ids[i] names line i, or without ids each line's "_id". Returns lines written.
   */
  writeJsonl(buffer: Buffer | Uint8Array | string, ids?: string[] | null): number;
  /** The live documents as JSONL ("_id" first), one Buffer. */
  readJsonlBlob(options?: ScanOptions): Buffer;
  /** The live documents as raw JSON, one Buffer each ("_id" first). */
  scanRaw(options?: ScanOptions): Buffer[];
}

export interface BulkWriterOptions {
  collection?: string;
  /** Documents buffered per write (default 10000). */
  batchSize?: number;
  strict?: boolean;
}

export declare class BulkWriter {
  private constructor();
  static create(root: string, collection?: string, batchSize?: number): BulkWriter;
  static create(root: string, options: BulkWriterOptions): BulkWriter;
  put(id: string, doc: DocumentInput): void;
  /** Writes what is pending and makes everything durable. */
  flush(): void;
  /** Documents accepted by put() so far. */
  readonly count: number;
  /** Documents buffered and not yet written. */
  readonly pending: number;
  readonly root: string;
  readonly collection: string;
  readonly batchSize: number;
  close(): void;
}

export interface RootOpenOptions {
  batchSize?: number;
  mode?: 'r' | 'rw';
}

export interface RootInfo {
  root: string;
  batchSize: number;
  mode: 'r' | 'rw';
  isWritable: boolean;
  collections: string[];
}

export declare class ZdsRoot {
  private constructor();
  static open(root: string, batchSize?: number, mode?: 'r' | 'rw'): ZdsRoot;
  static open(root: string, options: RootOpenOptions): ZdsRoot;
  readonly rootPath: string;
  readonly batchSize: number;
  readonly mode: 'r' | 'rw';
  readonly isWritable: boolean;
  readonly info: RootInfo;
  readonly closed: boolean;
  /** Opens (creating unless read-only) a collection as a ZdsStore. */
  collection(name: string, batchSize?: number): ZdsStore;
  /** Collection names, sorted. */
  listCollections(): string[];
  collectionExists(name: string): boolean;
  close(): void;
}

/** The library version, "x.y.z". */
export declare function version(): string;

export { ZdsStore as ZDSStore, ZdsRoot as ZDSRoot };
