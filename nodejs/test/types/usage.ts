// Compile-only check of index.d.ts (tsc -p nodejs/tsconfig.json): the API as
// users write it must type-check, and misuse must not (@ts-expect-error).
import {
  ZdsStore, ZdsRoot, BulkWriter, ZDSStore, ZDSRoot, version,
  Document, StoredDocument, JsonValue, ZippyError,
} from '../..';

async function main(): Promise<void> {
  const v: string = version();
  const s: ZdsStore = ZdsStore.open('./store', 'users', 5000);
  const s2 = ZDSStore.open('./store', { collection: 'users', batchSize: 10, strict: true, mode: 'r' });
  s.put('u1', { name: 'Alice', age: 28, when: new Date(), big: 2n ** 64n, tags: ['a'], skip: undefined });
  const d: Document = s.get('u1');
  const age: JsonValue = d.age;
  const maybe: Document | null = s.get('nobody', { default: null });
  const at: StoredDocument = s.getAt(0);
  const id: string = at._id;
  s.delete('u1');
  const e: boolean = s.exists('u1');
  const rows: StoredDocument[] = s.scan({ where: { age: { $gt: 25 } }, fields: ['name', 'address.city'], limit: 10 });
  const ids: string[] = s.listDocIds();
  const n: number = s.count;
  const info: { root: string; collection: string; count: number } = s.info;
  const written: number = s.writeJsonl(Buffer.from('{"a":1}\n'), ['x']);
  const blob: Buffer = s.readJsonlBlob();
  const raw: Buffer[] = s.scanRaw();
  for await (const doc of s.iter({ where: { active: true } })) console.log(doc._id);
  for await (const doc of s) console.log(doc._id);
  for (const doc of s) console.log(doc._id);
  s.flush();
  s.close();
  s2.close();

  const w = BulkWriter.create('./store', 'items', 10000);
  w.put('i1', { x: 1 });
  const wc: number = w.count;
  w.flush();
  w.close();

  const r: ZdsRoot = ZDSRoot.open('./store', 5000, 'rw');
  const r2 = ZdsRoot.open('./store', { mode: 'r' });
  const c: ZdsStore = r.collection('users', 100);
  const names: string[] = r.listCollections();
  const has: boolean = r.collectionExists('users');
  const rinfo = r.info;
  const writable: boolean = rinfo.isWritable && r.isWritable;
  const p: string = r.rootPath;
  const mode: 'r' | 'rw' = r.mode;
  c.close();
  r.close();
  r2.close();

  try {
    s.get('x');
  } catch (err) {
    const z = err as ZippyError;
    if (z.code === 'ZIPPY_ENOTFOUND') console.log(z.message);
  }

  // @ts-expect-error documents are objects
  s.put('x', 42);
  // @ts-expect-error ids are strings
  s.put(1, {});
  // @ts-expect-error mode is "r" or "rw"
  ZdsRoot.open('./store', 5000, 'w');
  // @ts-expect-error count is read-only
  s.count = 3;
  // @ts-expect-error the constructor is private
  new ZdsStore();

  console.log(v, age, maybe, id, e, rows, ids, n, info, written, blob, raw, wc, names, has, writable, p, mode, r.batchSize);
}

void main;
