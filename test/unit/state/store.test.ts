/**
 * The table state store (src/state/store.ts) and its scripts apply-chunk.lua
 * and clone-state.lua, on a real Redis: the version guard, delete markers,
 * dirty marks, stats, positions, fencing, and the helpers of rewind, clone and drop.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CdcViewsError, FencedError } from '../../../src/errors.ts';
import { Positions } from '../../../src/state/encoding.ts';
import { StateStore } from '../../../src/state/store.ts';
import { fileRedis, key, newApp, snapshot, uniqueId, withOverrides, write } from './helpers.ts';

const redis = await fileRedis();
const TOPIC = 'demo.public.orders';
const ORDERS = 'public.orders';
const LINES = 'public.order_lines';

test('apply-chunk: a newer version applies; an equal or older one is stale and leaves the row', async (t) => {
  const { state } = newApp(t, redis);
  const { epoch } = await state.acquire(TOPIC, 0);
  assert.deepEqual(await state.applyChunk(TOPIC, 0, epoch, 6n, [write(ORDERS, 1, 5n, { id: 1, s: 'five' })]), { applied: 1, stale: 0 });
  assert.deepEqual(await state.applyChunk(TOPIC, 0, epoch, 7n, [write(ORDERS, 1, 6n, { id: 1, s: 'six' })]), { applied: 1, stale: 0 });
  assert.deepEqual(await state.applyChunk(TOPIC, 0, epoch, 8n, [write(ORDERS, 1, 6n, { id: 1, s: 'six again' })]), { applied: 0, stale: 1 });
  assert.deepEqual(await state.applyChunk(TOPIC, 0, epoch, 9n, [write(ORDERS, 1, 2n, { id: 1, s: 'two' })]), { applied: 0, stale: 1 });
  assert.deepEqual(await state.get(ORDERS, key(1)), { version: 6n, row: { id: 1, s: 'six' } });
});

test('apply-chunk: versions compare as numbers (10 is newer than 9, 9 is older than 10)', async (t) => {
  const { state } = newApp(t, redis);
  const { epoch } = await state.acquire(TOPIC, 0);
  await state.applyChunk(TOPIC, 0, epoch, 10n, [write(ORDERS, 1, 9n, { v: 9 }), write(ORDERS, 2, 10n, { v: 10 })]);
  assert.deepEqual(await state.applyChunk(TOPIC, 0, epoch, 11n, [write(ORDERS, 1, 10n, { v: 10 }), write(ORDERS, 2, 9n, { v: 9 })]), { applied: 1, stale: 1 });
  assert.deepEqual(await state.rows(ORDERS, [key(1), key(2)]), [{ v: 10 }, { v: 10 }]);
  await state.applyChunk(TOPIC, 0, epoch, 12n, [write(ORDERS, 1, 100n, { v: 100 }), write(ORDERS, 2, 99n, { v: 99 })]);
  assert.deepEqual(await state.rows(ORDERS, [key(1), key(2)]), [{ v: 100 }, { v: 99 }]);
});

test('apply-chunk: a delete leaves a marker with its version; an older write cannot resurrect the row', async (t) => {
  const { state } = newApp(t, redis);
  const { epoch } = await state.acquire(TOPIC, 0);
  await state.applyChunk(TOPIC, 0, epoch, 4n, [write(ORDERS, 1, 3n, { id: 1 })]);
  assert.deepEqual(await state.applyChunk(TOPIC, 0, epoch, 8n, [write(ORDERS, 1, 7n, null)]), { applied: 1, stale: 0 });
  assert.deepEqual(await state.get(ORDERS, key(1)), { version: 7n, row: null });
  assert.deepEqual(await state.applyChunk(TOPIC, 0, epoch, 9n, [write(ORDERS, 1, 5n, { id: 1, replayed: true })]), { applied: 0, stale: 1 });
  assert.deepEqual(await state.rows(ORDERS, [key(1)]), [null]);
  assert.equal(await state.size(ORDERS), 1, 'the marker is an entry');
  assert.deepEqual(await state.applyChunk(TOPIC, 0, epoch, 10n, [write(ORDERS, 1, 9n, { id: 1, again: true })]), { applied: 1, stale: 0 });
  assert.deepEqual(await state.get(ORDERS, key(1)), { version: 9n, row: { id: 1, again: true } });
});

test('apply-chunk: applied keys of dirty tables only are marked, with their version', async (t) => {
  const { keys, state } = newApp(t, redis);
  const { epoch } = await state.acquire(TOPIC, 0);
  await state.applyChunk(TOPIC, 0, epoch, 5n, [write(ORDERS, 1, 1n, { id: 1 }), write(LINES, 1, 2n, { id: 1 }), write(ORDERS, 2, 4n, null)], new Set([ORDERS]));
  assert.deepEqual(await redis.hgetall(keys.dirty(ORDERS)), { [key(1)]: '1', [key(2)]: '4' });
  assert.equal(await redis.exists(keys.dirty(LINES)), 0);
  // A stale write marks nothing: clear the marks, replay an older version.
  await redis.del(keys.dirty(ORDERS));
  await state.applyChunk(TOPIC, 0, epoch, 6n, [write(ORDERS, 1, 1n, { id: 1 })], new Set([ORDERS]));
  assert.equal(await redis.exists(keys.dirty(ORDERS)), 0);
  await state.applyChunk(TOPIC, 0, epoch, 7n, [write(ORDERS, 1, 6n, { id: 1 })], new Set([ORDERS]));
  assert.deepEqual(await redis.hgetall(keys.dirty(ORDERS)), { [key(1)]: '6' });
});

test('apply-chunk: applied and stale counters per table, the tables set, the position per partition', async (t) => {
  const { state } = newApp(t, redis);
  const e0 = (await state.acquire(TOPIC, 0)).epoch;
  const e1 = (await state.acquire(TOPIC, 1)).epoch;
  await state.applyChunk(TOPIC, 0, e0, 3n, [write(ORDERS, 1, 1n, {}), write(ORDERS, 2, 1n, {}), write(LINES, 1, 2n, {})]);
  await state.applyChunk(TOPIC, 1, e1, 41n, [write(ORDERS, 1, 1n, {}), write(ORDERS, 3, 40n, {}), write(LINES, 1, 1n, {})]);
  assert.deepEqual(await state.stats(), { [`applied:${ORDERS}`]: 3, [`applied:${LINES}`]: 1, [`stale:${ORDERS}`]: 1, [`stale:${LINES}`]: 1 });
  assert.deepEqual(await state.tables(), [LINES, ORDERS]);
  const positions = await state.positions();
  assert.equal(positions.get(TOPIC, 0), 3n);
  assert.equal(positions.get(TOPIC, 1), 41n);
  assert.equal(positions.size, 2);
  // A chunk without writes still stores its position.
  await state.applyChunk(TOPIC, 0, e0, 77n, []);
  assert.equal((await state.positions()).get(TOPIC, 0), 77n);
});

test('apply-chunk is FENCED on a stale, a newer or a missing epoch, and writes nothing', async (t) => {
  const { keys, state } = newApp(t, redis);
  const old = await state.acquire(TOPIC, 0);
  await state.applyChunk(TOPIC, 0, old.epoch, 2n, [write(ORDERS, 1, 1n, { id: 1 })], new Set([ORDERS]));
  const current = await state.acquire(TOPIC, 0);
  assert.equal(current.epoch, old.epoch + 1);
  const before = await snapshot(redis, keys);
  for (const epoch of [old.epoch, current.epoch + 1]) {
    await assert.rejects(state.applyChunk(TOPIC, 0, epoch, 9n, [write(ORDERS, 1, 8n, { id: 1, zombie: true }), write(LINES, 5, 8n, {})], new Set([ORDERS])), (err: unknown) => {
      assert.ok(err instanceof FencedError);
      assert.equal(err.code, 'STATE_FENCED');
      assert.match(err.message, new RegExp(`${TOPIC.replaceAll('.', '\\.')}\\[0\\].*our epoch ${epoch}`));
      return true;
    });
  }
  // Partition 1 was never acquired: no stored epoch at all.
  await assert.rejects(state.applyChunk(TOPIC, 1, 1, 9n, [write(ORDERS, 9, 8n, {})]), FencedError);
  assert.deepEqual(await snapshot(redis, keys), before);
});

test('apply-chunk: an error other than FENCED is rethrown as it is', async (t) => {
  const { keys, state } = newApp(t, redis);
  const { epoch } = await state.acquire(TOPIC, 0);
  await redis.set(keys.table(ORDERS), 'not a hash');
  await assert.rejects(state.applyChunk(TOPIC, 0, epoch, 2n, [write(ORDERS, 1, 1n, {})]), (err: unknown) => !(err instanceof FencedError) && err instanceof Error && /WRONGTYPE/.test(err.message));
});

test('acquire increments the owner epoch and returns the stored position; currentEpoch reads it', async (t) => {
  const { state } = newApp(t, redis);
  assert.equal(await state.currentEpoch(TOPIC, 0), null);
  assert.deepEqual(await state.acquire(TOPIC, 0), { epoch: 1, position: null });
  assert.equal(await state.currentEpoch(TOPIC, 0), 1);
  await state.applyChunk(TOPIC, 0, 1, 12n, []);
  assert.deepEqual(await state.acquire(TOPIC, 0), { epoch: 2, position: 12n });
  assert.deepEqual(await state.acquire(TOPIC, 3), { epoch: 1, position: null }, 'epochs are per partition');
  assert.equal(await state.currentEpoch(TOPIC, 0), 2);
  assert.equal(await state.currentEpoch(TOPIC, 3), 1);
});

test('setPositions and positions round-trip through Positions; nothing is written for none; epochs are untouched', async (t) => {
  const { keys, state } = newApp(t, redis);
  await state.setPositions(Positions.of([]));
  assert.equal(await state.exists(), false);
  await state.acquire(TOPIC, 0);
  await state.setPositions(Positions.of([{ topic: TOPIC, partition: 0, offset: 5n }, { topic: 'demo.public.order-lines', partition: 2, offset: 9007199254740993n }]));
  const p = await state.positions();
  assert.deepEqual(p.toHash(), { [`${TOPIC}:0`]: '5', 'demo.public.order-lines:2': '9007199254740993' });
  assert.deepEqual(await redis.hgetall(keys.epochs), { [`${TOPIC}:0`]: '1' });
  await state.setPositions(Positions.of([{ topic: TOPIC, partition: 0, offset: 1n }]));
  assert.equal((await state.positions()).get(TOPIC, 0), 1n);
  assert.equal((await state.positions()).get('demo.public.order-lines', 2), 9007199254740993n, 'other partitions kept');
});

test('get, rows, size, scan over several pages, tables; truncate empties one table', async (t) => {
  const { state } = newApp(t, redis);
  const { epoch } = await state.acquire(TOPIC, 0);
  const writes = Array.from({ length: 35 }, (_, i) => write(ORDERS, i, BigInt(i + 1), i % 5 === 0 ? null : { id: i }));
  await state.applyChunk(TOPIC, 0, epoch, 40n, [...writes, write(LINES, 1, 1n, { line: 1 })]);
  assert.equal(await state.get(ORDERS, key(99)), null);
  assert.deepEqual(await state.get(ORDERS, key(7)), { version: 8n, row: { id: 7 } });
  assert.deepEqual(await state.rows(ORDERS, [key(2), key(5), key(99)]), [{ id: 2 }, null, null]);
  assert.deepEqual(await state.rows(ORDERS, []), []);
  assert.equal(await state.size(ORDERS), 35);
  const scanned = new Map<string, { version: bigint; row: unknown }>();
  for await (const [k, stored] of state.scan(ORDERS, 5)) scanned.set(k, stored);
  assert.equal(scanned.size, 35);
  assert.deepEqual(scanned.get(key(10)), { version: 11n, row: null });
  assert.deepEqual(scanned.get(key(34)), { version: 35n, row: { id: 34 } });
  assert.deepEqual(await state.tables(), [LINES, ORDERS]);
  await state.truncate(ORDERS);
  assert.equal(await state.size(ORDERS), 0);
  assert.equal(await state.size(LINES), 1);
});

test('stats: incrementStat, recordLastEvent under lastEventStat', async (t) => {
  const { state } = newApp(t, redis);
  await state.incrementStat('dlq');
  await state.incrementStat('dlq', 4);
  await state.recordLastEvent(TOPIC, 2, '1767225600000');
  assert.equal(StateStore.lastEventStat(TOPIC, 2), `lastEvent:${TOPIC}:2`);
  assert.deepEqual(await state.stats(), { dlq: 5, [`lastEvent:${TOPIC}:2`]: 1767225600000 });
});

test('markRowsSince marks the rows at or after a version (0 marks all), beyond one batch of 2000', async (t) => {
  const { keys, state } = newApp(t, redis);
  const { epoch } = await state.acquire(TOPIC, 0);
  await state.applyChunk(TOPIC, 0, epoch, 20n, [write(ORDERS, 1, 5n, { id: 1 }), write(ORDERS, 2, 10n, { id: 2 }), write(ORDERS, 3, 15n, null)]);
  assert.equal(await state.markRowsSince(ORDERS, 10n), 2);
  assert.deepEqual(await redis.hgetall(keys.dirty(ORDERS)), { [key(2)]: '10', [key(3)]: '15' });
  assert.equal(await state.markRowsSince(ORDERS, 16n), 0);
  assert.equal(await state.markRowsSince(ORDERS, 0n), 3);
  assert.deepEqual(await redis.hgetall(keys.dirty(ORDERS)), { [key(1)]: '5', [key(2)]: '10', [key(3)]: '15' });
  const many = Array.from({ length: 4500 }, (_, i) => write(LINES, i, BigInt(i + 1), { id: i }));
  await state.applyChunk(TOPIC, 0, epoch, 5000n, many);
  assert.equal(await state.markRowsSince(LINES, 501n), 4000);
  assert.equal(await redis.hlen(keys.dirty(LINES)), 4000);
  assert.equal(await redis.hget(keys.dirty(LINES), key(4499)), '4500');
  assert.equal(await redis.hget(keys.dirty(LINES), key(499)), null);
});

test('rendersViews, exists; destroy removes every key of this application and no other', async (t) => {
  const base = uniqueId('iso');
  const a = newApp(t, redis, base);
  const b = newApp(t, redis, `${base}0`); // shares the prefix "cdcv:<base>" but not "cdcv:<base>:"
  assert.equal(await a.state.exists(), false);
  assert.equal(await a.state.rendersViews(), false);
  for (const { state } of [a, b]) {
    const { epoch } = await state.acquire(TOPIC, 0);
    await state.applyChunk(TOPIC, 0, epoch, 2n, [write(ORDERS, 1, 1n, { id: 1 })], new Set([ORDERS]));
  }
  assert.equal(await a.state.exists(), true);
  assert.equal(await a.state.rendersViews(), false);
  await a.views.readForRender({ view: 'v', rootTable: ORDERS, hasRoot: true, joins: [], rollups: [] }, [{ root: key(1), expectedVersion: '*', joinKeys: [] }]);
  assert.equal(await a.state.rendersViews(), true);
  assert.equal(await b.state.rendersViews(), false);
  const bBefore = await snapshot(redis, b.keys);
  assert.equal(await a.state.destroy(), 7, 'table, tables, dirty, positions, epochs, stats, seq');
  assert.deepEqual(await redis.keys(a.keys.pattern), []);
  assert.equal(await a.state.exists(), false);
  assert.deepEqual(await snapshot(redis, b.keys), bBefore);
});

test('cloneInto copies tables, positions and the tables set in one step; not epochs, marks or stats', async (t) => {
  const source = newApp(t, redis);
  const target = newApp(t, redis);
  const e0 = (await source.state.acquire(TOPIC, 0)).epoch;
  const e1 = (await source.state.acquire(TOPIC, 1)).epoch;
  await source.state.applyChunk(TOPIC, 0, e0, 3n, [write(ORDERS, 1, 1n, { id: 1 }), write(ORDERS, 2, 2n, null)], new Set([ORDERS]));
  await source.state.applyChunk(TOPIC, 1, e1, 8n, [write(LINES, 1, 7n, { line: 1 })]);
  const r = await source.state.cloneInto(target.state);
  assert.equal(r.tables, 2);
  assert.deepEqual(r.positions.toHash(), { [`${TOPIC}:0`]: '3', [`${TOPIC}:1`]: '8' });
  assert.deepEqual(await target.state.tables(), [LINES, ORDERS]);
  assert.deepEqual(await target.state.get(ORDERS, key(1)), { version: 1n, row: { id: 1 } });
  assert.deepEqual(await target.state.get(ORDERS, key(2)), { version: 2n, row: null });
  assert.deepEqual(await target.state.get(LINES, key(1)), { version: 7n, row: { line: 1 } });
  assert.equal(await target.state.currentEpoch(TOPIC, 0), null);
  assert.deepEqual(await target.state.stats(), {});
  assert.equal(await redis.exists(target.keys.dirty(ORDERS)), 0);
  assert.equal(await source.state.size(ORDERS), 2, 'the source keeps its state');
});

test('cloneInto refuses a target that has positions, a tables set or a table hash (OPS_VERSION_EXISTS)', async (t) => {
  const source = newApp(t, redis);
  const { epoch } = await source.state.acquire(TOPIC, 0);
  await source.state.applyChunk(TOPIC, 0, epoch, 2n, [write(ORDERS, 1, 1n, { id: 1 })]);
  const prepare: ((k: ReturnType<typeof newApp>['keys']) => Promise<unknown>)[] = [
    (k) => redis.hset(k.positions, `${TOPIC}:0`, '1'),
    (k) => redis.sadd(k.tables, 'public.other'),
    (k) => redis.hset(k.table(ORDERS), key(9), '1\n{}'),
  ];
  for (const [i, setUp] of prepare.entries()) {
    const target = newApp(t, redis);
    await setUp(target.keys);
    const before = await snapshot(redis, target.keys);
    await assert.rejects(source.state.cloneInto(target.state), (err: unknown) => {
      assert.ok(err instanceof CdcViewsError, `case ${i}`);
      assert.equal(err.code, 'OPS_VERSION_EXISTS');
      assert.match(err.message, new RegExp(target.id));
      return true;
    });
    assert.deepEqual(await snapshot(redis, target.keys), before, `case ${i}: target untouched`);
  }
});

test('cloneInto reads the tables again when one appeared meanwhile (TABLES_CHANGED), and gives up after 11 attempts', async (t) => {
  const id = uniqueId('clone-src');
  const source = newApp(t, redis, id);
  const { epoch } = await source.state.acquire(TOPIC, 0);
  await source.state.applyChunk(TOPIC, 0, epoch, 2n, [write(ORDERS, 1, 1n, { id: 1 }), write(LINES, 1, 1n, { id: 1 })]);
  // The first read of the tables set misses a table, as if its first row arrived right after the read.
  let reads = 0;
  const staleOnce = new StateStore(withOverrides(redis, { smembers: (k: string) => (++reads === 1 ? Promise.resolve([ORDERS]) : redis.smembers(k)) }), id);
  const target = newApp(t, redis);
  const r = await staleOnce.cloneInto(target.state);
  assert.equal(reads, 2);
  assert.equal(r.tables, 2);
  assert.deepEqual(await target.state.tables(), [LINES, ORDERS]);

  let staleReads = 0;
  const alwaysStale = new StateStore(withOverrides(redis, { smembers: () => (staleReads++, Promise.resolve([ORDERS])) }), id);
  const other = newApp(t, redis);
  await assert.rejects(alwaysStale.cloneInto(other.state), /TABLES_CHANGED/);
  assert.equal(staleReads, 11);
  assert.equal(await other.state.exists(), false);
});
