/**
 * The cache store (src/state/cache-store.ts) and its scripts cache-write.lua
 * (compare-and-set on the render sequence) and read-cache.lua (documents read
 * atomically with the promotion pointer), on a real Redis.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { CdcViewsError } from '../../../src/errors.ts';
import { CacheStore, readThroughPointer } from '../../../src/state/cache-store.ts';
import { CacheKeys } from '../../../src/state/keys.ts';
import { fileRedis, key, uniqueId, withOverrides } from './helpers.ts';

const redis = await fileRedis();

/** A cache namespace of its own, removed after the test. */
function newCache(t: TestContext, client: Redis = redis): CacheStore {
  const cache = new CacheStore(client, `cache:${uniqueId('c')}:`);
  t.after(() => cache.destroy());
  return cache;
}

test('cache-write: a higher sequence wins; an equal or lower one is skipped', async (t) => {
  const cache = newCache(t);
  assert.deepEqual(await cache.write([{ keyString: key(1), seq: 5, doc: { v: 5 } }], 0), { written: 1, skipped: 0 });
  assert.deepEqual(await cache.write([{ keyString: key(1), seq: 5, doc: { v: 'again' } }, { keyString: key(2), seq: 1, doc: { v: 1 } }], 0), { written: 1, skipped: 1 });
  assert.deepEqual(await cache.write([{ keyString: key(1), seq: 4, doc: { v: 4 } }], 0), { written: 0, skipped: 1 });
  assert.deepEqual(await cache.read(key(1)), { v: 5 });
  assert.deepEqual(await cache.write([{ keyString: key(1), seq: 6, doc: { v: 6 } }], 0), { written: 1, skipped: 0 });
  assert.deepEqual(await cache.read(key(1)), { v: 6 });
  assert.equal(await redis.get(cache.keys.document(key(1))), '{"v":6}', 'stored under <prefix><key string> as JSON');
  assert.deepEqual(await redis.hgetall(cache.keys.sequences), { [key(1)]: '6', [key(2)]: '1' });
  assert.deepEqual(await cache.write([], 0), { written: 0, skipped: 0 });
});

test('cache-write: sequences compare as numbers (10 beats 9)', async (t) => {
  const cache = newCache(t);
  await cache.write([{ keyString: key(1), seq: 9, doc: { v: 9 } }], 0);
  assert.deepEqual(await cache.write([{ keyString: key(1), seq: 10, doc: { v: 10 } }], 0), { written: 1, skipped: 0 });
  assert.deepEqual(await cache.write([{ keyString: key(1), seq: 9, doc: { v: 9 } }], 0), { written: 0, skipped: 1 });
  assert.deepEqual(await cache.read(key(1)), { v: 10 });
});

test('cache-write: a delete removes the document and keeps its sequence; an older write does not resurrect it', async (t) => {
  const cache = newCache(t);
  await cache.write([{ keyString: key(1), seq: 3, doc: { v: 3 } }], 0);
  assert.deepEqual(await cache.write([{ keyString: key(1), seq: 7, doc: null }], 0), { written: 1, skipped: 0 });
  assert.equal(await cache.read(key(1)), null);
  assert.equal(await redis.exists(cache.keys.document(key(1))), 0);
  assert.equal(await redis.hget(cache.keys.sequences, key(1)), '7');
  assert.deepEqual(await cache.write([{ keyString: key(1), seq: 5, doc: { v: 5 } }], 0), { written: 0, skipped: 1 });
  assert.equal(await cache.read(key(1)), null);
  assert.deepEqual(await cache.write([{ keyString: key(1), seq: 8, doc: { v: 8 } }], 0), { written: 1, skipped: 0 });
  assert.deepEqual(await cache.read(key(1)), { v: 8 });
});

test('cache-write: a TTL expires each written document; 0 keeps it', async (t) => {
  const cache = newCache(t);
  await cache.write([{ keyString: key(1), seq: 1, doc: { v: 1 } }, { keyString: key(2), seq: 1, doc: { v: 2 } }], 300);
  for (const k of [key(1), key(2)]) {
    const ttl = await redis.ttl(cache.keys.document(k));
    assert.ok(ttl > 290 && ttl <= 300, `${k}: ttl ${ttl}`);
  }
  await cache.write([{ keyString: key(3), seq: 1, doc: { v: 3 } }], 0);
  assert.equal(await redis.ttl(cache.keys.document(key(3))), -1);
  // A skipped write leaves the expiry as it was.
  await cache.write([{ keyString: key(3), seq: 1, doc: { v: 'old' } }], 60);
  assert.equal(await redis.ttl(cache.keys.document(key(3))), -1);
});

test('destroy removes this namespace only', async (t) => {
  const a = newCache(t);
  const b = new CacheStore(redis, `${a.keys.prefix.slice(0, -1)}x:`);
  t.after(() => b.destroy());
  await a.write([{ keyString: key(1), seq: 1, doc: { a: 1 } }], 0);
  await b.write([{ keyString: key(1), seq: 1, doc: { b: 1 } }], 0);
  assert.equal(await a.destroy(), 2, 'the document and the sequence hash');
  assert.equal(await a.read(key(1)), null);
  assert.deepEqual(await b.read(key(1)), { b: 1 });
});

test('destroy of a prefix without a trailing separator leaves the namespaces it merely starts (v1 vs v10)', async (t) => {
  const base = `cache:${uniqueId('drop')}-v1`;
  const v1 = new CacheStore(redis, base);
  const v10 = new CacheStore(redis, `${base}0`);
  t.after(async () => {
    await v1.destroy();
    await v10.destroy();
  });
  await v1.write([{ keyString: key(1), seq: 1, doc: { v: 1 } }], 0);
  await v10.write([{ keyString: key(1), seq: 1, doc: { v: 10 } }, { keyString: key(2), seq: 1, doc: { v: 10 } }], 0);
  assert.equal(await v1.destroy(), 2, 'v1: one document and its sequence hash');
  assert.deepEqual(await v10.read(key(1)), { v: 10 });
  assert.deepEqual(await v10.read(key(2)), { v: 10 });
  assert.equal(await redis.exists(v10.keys.sequences), 1, "v10's sequence hash stays");
});

test('readThroughPointer: nothing promoted → no prefix and a null per key', async () => {
  const pointer = CacheKeys.pointer(`cache:${uniqueId('nothing')}:v:`);
  assert.deepEqual(await readThroughPointer(redis, pointer, [key(1), key(2)]), { prefix: null, docs: [null, null] });
});

/** Two versions of a cache view and their pointer (removed after the test); key 1 is in both, key 2 only in the second. */
async function twoVersions(t: TestContext): Promise<{ pointer: string; first: CacheStore; second: CacheStore }> {
  const first = newCache(t);
  const second = newCache(t);
  const pointer = CacheKeys.pointer(`cache:${uniqueId('p')}:v:`);
  t.after(() => redis.del(pointer));
  await first.write([{ keyString: key(1), seq: 1, doc: { v: 'first' } }], 0);
  await second.write([{ keyString: key(1), seq: 1, doc: { v: 'second' } }, { keyString: key(2), seq: 1, doc: { v: 'second' } }], 0);
  return { pointer, first, second };
}

test('readThroughPointer: the documents under the prefix the pointer names, null where absent', async (t) => {
  const { pointer, first } = await twoVersions(t);
  await redis.set(pointer, first.keys.prefix);
  assert.deepEqual(await readThroughPointer(redis, pointer, [key(1), key(2)]), { prefix: first.keys.prefix, docs: [{ v: 'first' }, null] });
  assert.deepEqual(await readThroughPointer(redis, pointer, []), { prefix: first.keys.prefix, docs: [] });
});

test('readThroughPointer: a pointer switched between its read and the script is read again', async (t) => {
  const { pointer, first, second } = await twoVersions(t);
  await redis.set(pointer, second.keys.prefix);
  // The GET of the pointer still sees the version promoted before the switch.
  let gets = 0;
  const racing = withOverrides(redis, { get: (k: string) => (gets++, k === pointer ? Promise.resolve(first.keys.prefix) : redis.get(k)) });
  assert.deepEqual(await readThroughPointer(racing, pointer, [key(1), key(2)]), { prefix: second.keys.prefix, docs: [{ v: 'second' }, { v: 'second' }] });
  assert.equal(gets, 1);
  // A pointer dropped meanwhile: nothing promoted any more.
  await redis.del(pointer);
  assert.deepEqual(await readThroughPointer(racing, pointer, [key(1)]), { prefix: null, docs: [null] });
});

test('readThroughPointer gives up with CACHE_POINTER_UNSTABLE when the pointer changed on 10 reads in a row', async () => {
  const pointer = CacheKeys.pointer(`cache:${uniqueId('p')}:v:`);
  // The script's reply as if a promotion switched the pointer right before every read.
  let reads = 0;
  const promoting = withOverrides(redis, {
    get: () => Promise.resolve('cache:v0:'),
    cdcvReadCache: () => Promise.resolve([0, `cache:v${++reads}:`]),
  });
  await assert.rejects(readThroughPointer(promoting, pointer, [key(1)]), (err: unknown) => {
    assert.ok(err instanceof CdcViewsError);
    assert.equal(err.code, 'CACHE_POINTER_UNSTABLE');
    assert.match(err.message, new RegExp(`${pointer.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} changed on every read`));
    return true;
  });
  assert.equal(reads, 10);
});
