/**
 * The table state store (src/state/store.ts) and its scripts apply-chunk.lua
 * and clone-state.lua, on a real Redis: the version guard, delete markers,
 * dirty marks, stats, positions and their check, fencing, incarnations, the
 * state layout, and the helpers of rewind, clone and drop. Versions here are
 * Kafka-offset versions (`K` + 20 digits) unless a test is about the
 * PostgreSQL compare (./compare.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CdcViewsError, ConfigError, FencedError, PositionMismatchError } from '../../../src/errors.ts';
import { Positions } from '../../../src/state/encoding.ts';
import { STATE_FORMAT, StateStore } from '../../../src/state/store.ts';
import { assertMarker, fileRedis, K, key, newApp, partitionWriter, snapshot, stored, uniqueId, withOverrides, write } from './helpers.ts';

const redis = await fileRedis();
const TOPIC = 'demo.public.orders';
const ORDERS = 'demo.public.orders';
const LINES = 'demo.public.order_lines';

test('apply-chunk: a newer version applies; an equal or older one is stale and leaves the row', async (t) => {
  const { state } = newApp(t, redis);
  const p = await partitionWriter(state, TOPIC, 0);
  assert.deepEqual(await p.apply(6n, [write(ORDERS, 1, 5n, { id: 1, s: 'five' })]), { applied: 1, stale: 0, unchanged: 0, flags: '1' });
  assert.deepEqual(await p.apply(7n, [write(ORDERS, 1, 6n, { id: 1, s: 'six' })]), { applied: 1, stale: 0, unchanged: 0, flags: '1' });
  assert.deepEqual(await p.apply(8n, [write(ORDERS, 1, 6n, { id: 1, s: 'six again' })]), { applied: 0, stale: 1, unchanged: 0, flags: '0' });
  assert.deepEqual(await p.apply(9n, [write(ORDERS, 1, 2n, { id: 1, s: 'two' })]), { applied: 0, stale: 1, unchanged: 0, flags: '0' });
  assert.deepEqual(await state.get(ORDERS, key(1)), stored(6n, { id: 1, s: 'six' }));
});

test('apply-chunk: fixed-width versions compare as strings the way their offsets compare as numbers (10 after 9)', async (t) => {
  const { state } = newApp(t, redis);
  const p = await partitionWriter(state, TOPIC, 0);
  await p.apply(10n, [write(ORDERS, 1, 9n, { v: 9 }), write(ORDERS, 2, 10n, { v: 10 })]);
  // Unpadded, "10" < "9" as strings: the width is what makes string order numeric order.
  assert.ok(K(10) > K(9) && '10' < '9');
  assert.deepEqual(await p.apply(11n, [write(ORDERS, 1, 10n, { v: 10 }), write(ORDERS, 2, 9n, { v: 9 })]), { applied: 1, stale: 1, unchanged: 0, flags: '10' });
  assert.deepEqual(await state.rows(ORDERS, [key(1), key(2)]), [{ v: 10 }, { v: 10 }]);
  await p.apply(12n, [write(ORDERS, 1, 100n, { v: 100 }), write(ORDERS, 2, 99n, { v: 99 })]);
  assert.deepEqual(await state.rows(ORDERS, [key(1), key(2)]), [{ v: 100 }, { v: 99 }]);
});

test('apply-chunk: a delete leaves a marker with its version and the time of the delete; an older write cannot resurrect the row', async (t) => {
  const { state } = newApp(t, redis);
  const p = await partitionWriter(state, TOPIC, 0);
  await p.apply(4n, [write(ORDERS, 1, 3n, { id: 1 })]);
  const since = Date.now();
  assert.deepEqual(await p.apply(8n, [write(ORDERS, 1, 7n, null)]), { applied: 1, stale: 0, unchanged: 0, flags: '1' });
  assertMarker(await state.get(ORDERS, key(1)), 7n, since);
  assert.deepEqual(await p.apply(9n, [write(ORDERS, 1, 5n, { id: 1, replayed: true })]), { applied: 0, stale: 1, unchanged: 0, flags: '0' });
  assert.deepEqual(await state.rows(ORDERS, [key(1)]), [null]);
  assert.equal(await state.size(ORDERS), 1, 'the marker is an entry');
  assert.deepEqual(await p.apply(10n, [write(ORDERS, 1, 9n, { id: 1, again: true })]), { applied: 1, stale: 0, unchanged: 0, flags: '1' });
  assert.deepEqual(await state.get(ORDERS, key(1)), stored(9n, { id: 1, again: true }));
});

test('apply-chunk: applied keys of dirty tables only are marked, with their version', async (t) => {
  const { keys, state } = newApp(t, redis);
  const p = await partitionWriter(state, TOPIC, 0);
  await p.apply(5n, [write(ORDERS, 1, 1n, { id: 1 }), write(LINES, 1, 2n, { id: 1 }), write(ORDERS, 2, 4n, null)], new Set([ORDERS]));
  assert.deepEqual(await redis.hgetall(keys.dirty(ORDERS)), { [key(1)]: K(1), [key(2)]: K(4) });
  assert.equal(await redis.exists(keys.dirty(LINES)), 0);
  // A stale write marks nothing: clear the marks, replay an older version.
  await redis.del(keys.dirty(ORDERS));
  await p.apply(6n, [write(ORDERS, 1, 1n, { id: 1 })], new Set([ORDERS]));
  assert.equal(await redis.exists(keys.dirty(ORDERS)), 0);
  await p.apply(7n, [write(ORDERS, 1, 6n, { id: 1, v: 6 })], new Set([ORDERS]));
  assert.deepEqual(await redis.hgetall(keys.dirty(ORDERS)), { [key(1)]: K(6) });
});

test('apply-chunk: a newer write whose row equals the stored row moves the version on, marks nothing and counts as unchanged', async (t) => {
  const { keys, state } = newApp(t, redis);
  const p = await partitionWriter(state, TOPIC, 0);
  await p.apply(3n, [write(ORDERS, 1, 2n, { id: 1, s: 'a' }), write(ORDERS, 2, 2n, null)], new Set([ORDERS]));
  await redis.del(keys.dirty(ORDERS));
  // An incremental-snapshot read of the same row, a read of a deleted key, a real change: only the last two are marked.
  const r = await p.apply(6n, [write(ORDERS, 1, 5n, { id: 1, s: 'a' }), write(ORDERS, 2, 5n, { id: 2 }), write(ORDERS, 3, 5n, { id: 3 })], new Set([ORDERS]));
  assert.deepEqual(r, { applied: 2, stale: 0, unchanged: 1, flags: '=11' });
  assert.deepEqual(await state.get(ORDERS, key(1)), stored(5n, { id: 1, s: 'a' }), 'the version moved on: an older image re-sent later stays stale');
  assert.deepEqual(await redis.hgetall(keys.dirty(ORDERS)), { [key(2)]: K(5), [key(3)]: K(5) });
  assert.deepEqual(await p.apply(7n, [write(ORDERS, 1, 4n, { id: 1, s: 'older' })]), { applied: 0, stale: 1, unchanged: 0, flags: '0' });
  // The same content older than the stored version is stale, not unchanged.
  assert.deepEqual(await p.apply(8n, [write(ORDERS, 1, 5n, { id: 1, s: 'a' })]), { applied: 0, stale: 1, unchanged: 0, flags: '0' });
  assert.equal((await state.stats())[`unchanged:${ORDERS}`], 1);
});

test('apply-chunk: extra stats counters are incremented with the chunk, once, and not when the chunk is refused', async (t) => {
  const { state } = newApp(t, redis);
  const p = await partitionWriter(state, TOPIC, 0);
  await state.applyChunk(TOPIC, 0, p.epoch, null, 5n, [write(ORDERS, 1, 4n, {})], new Set(), '', { [`backfill:${ORDERS}`]: 4, zero: 0 });
  await assert.rejects(state.applyChunk(TOPIC, 0, p.epoch, null, 9n, [], new Set(), '', { [`backfill:${ORDERS}`]: 4 }), PositionMismatchError);
  await state.applyChunk(TOPIC, 0, p.epoch, 5n, 9n, [], new Set(), '', { [`backfill:${ORDERS}`]: 3 });
  const stats = await state.stats();
  assert.equal(stats[`backfill:${ORDERS}`], 7);
  assert.equal(stats.zero, undefined, 'a zero count writes nothing');
});

test('apply-chunk: applied and stale counters per table, the tables set, the position per partition', async (t) => {
  const { state } = newApp(t, redis);
  const p0 = await partitionWriter(state, TOPIC, 0);
  const p1 = await partitionWriter(state, TOPIC, 1);
  await p0.apply(3n, [write(ORDERS, 1, 1n, {}), write(ORDERS, 2, 1n, {}), write(LINES, 1, 2n, {})]);
  await p1.apply(41n, [write(ORDERS, 1, 1n, {}, { partition: 1 }), write(ORDERS, 3, 40n, {}, { partition: 1 }), write(LINES, 1, 1n, {}, { partition: 1 })]);
  assert.deepEqual(await state.stats(), { [`applied:${ORDERS}`]: 3, [`applied:${LINES}`]: 1, [`stale:${ORDERS}`]: 1, [`stale:${LINES}`]: 1 });
  assert.deepEqual(await state.tables(), [ORDERS, LINES].sort());
  const positions = await state.positions();
  assert.equal(positions.get(TOPIC, 0), 3n);
  assert.equal(positions.get(TOPIC, 1), 41n);
  assert.equal(positions.size, 2);
  // A chunk without writes still stores its position.
  assert.deepEqual(await p0.apply(77n, []), { applied: 0, stale: 0, unchanged: 0, flags: '' });
  assert.equal((await state.positions()).get(TOPIC, 0), 77n);
});

test('apply-chunk keeps the timestamp of the record before the new position with it; none given removes it', async (t) => {
  const { keys, state } = newApp(t, redis);
  const p = await partitionWriter(state, TOPIC, 0);
  assert.equal(await state.positionStamp(TOPIC, 0), null);
  await state.applyChunk(TOPIC, 0, p.epoch, null, 5n, [write(ORDERS, 1, 4n, {})], new Set(), '1700000000004');
  assert.equal(await state.positionStamp(TOPIC, 0), '1700000000004');
  // A refused chunk changes neither.
  await assert.rejects(state.applyChunk(TOPIC, 0, p.epoch, 3n, 9n, [], new Set(), '1700000000008'), PositionMismatchError);
  assert.equal(await state.positionStamp(TOPIC, 0), '1700000000004');
  // A position stored without its record's timestamp (a segment ending in a truncate): an old one would mislead.
  await state.applyChunk(TOPIC, 0, p.epoch, 5n, 7n, []);
  assert.equal(await state.positionStamp(TOPIC, 0), null);
  assert.equal(await redis.exists(keys.positionStamps), 0);
  await state.applyChunk(TOPIC, 0, p.epoch, 7n, 9n, [], new Set(), '1700000000008');
  assert.equal(await state.positionStamp(TOPIC, 1), null, 'per partition');
  assert.deepEqual(await redis.hgetall(keys.positionStamps), { [`${TOPIC}:0`]: '1700000000008' });
});

test('apply-chunk is FENCED on a stale, a newer or a missing epoch, names the stored one, and writes nothing', async (t) => {
  const { keys, state } = newApp(t, redis);
  const old = await partitionWriter(state, TOPIC, 0);
  await old.apply(2n, [write(ORDERS, 1, 1n, { id: 1 })], new Set([ORDERS]));
  const current = await state.acquire(TOPIC, 0);
  assert.equal(current.epoch, old.epoch + 1);
  const before = await snapshot(redis, keys);
  for (const epoch of [old.epoch, current.epoch + 1]) {
    await assert.rejects(state.applyChunk(TOPIC, 0, epoch, 2n, 9n, [write(ORDERS, 1, 8n, { id: 1, zombie: true }), write(LINES, 5, 8n, {})], new Set([ORDERS])), (err: unknown) => {
      assert.ok(err instanceof FencedError);
      assert.equal(err.code, 'STATE_FENCED');
      assert.equal(err.epoch, epoch);
      assert.equal(err.storedEpoch, current.epoch);
      assert.match(err.message, new RegExp(`${TOPIC.replaceAll('.', '\\.')}\\[0\\]: our owner epoch ${epoch} is not the stored one \\(${current.epoch}\\)`));
      return true;
    });
  }
  // Partition 1 was never acquired: no stored epoch at all (the state was lost).
  await assert.rejects(state.applyChunk(TOPIC, 1, 1, null, 9n, [write(ORDERS, 9, 8n, {})]), (err: unknown) => err instanceof FencedError && err.storedEpoch === null && /\(none\)/.test(err.message));
  assert.deepEqual(await snapshot(redis, keys), before);
});

test('apply-chunk refuses a chunk that does not start at the stored position (POSITION), and writes nothing', async (t) => {
  const { keys, state } = newApp(t, redis);
  const p = await partitionWriter(state, TOPIC, 0);
  await p.apply(5n, [write(ORDERS, 1, 4n, { id: 1 })], new Set([ORDERS]));
  const before = await snapshot(redis, keys);
  // [start the chunk from, what Redis holds]: Redis went back (it holds less), another writer moved it on, none stored yet.
  const cases: [bigint | null, bigint | null][] = [[9n, 5n], [3n, 5n], [null, 5n]];
  for (const [from, found] of cases) {
    await assert.rejects(state.applyChunk(TOPIC, 0, p.epoch, from, 12n, [write(ORDERS, 1, 11n, { id: 1, lost: true })], new Set([ORDERS])), (err: unknown) => {
      assert.ok(err instanceof PositionMismatchError, String(from));
      assert.equal(err.code, 'STATE_POSITION_MISMATCH');
      assert.equal(err.expected, from);
      assert.equal(err.found, found);
      return true;
    });
  }
  assert.deepEqual(await snapshot(redis, keys), before);
  // Acquired, never stored: only a chunk from "none" applies.
  const fresh = await state.acquire(TOPIC, 1);
  await assert.rejects(state.applyChunk(TOPIC, 1, fresh.epoch, 0n, 1n, []), (err: unknown) => err instanceof PositionMismatchError && err.found === null && err.expected === 0n);
  assert.deepEqual(await state.applyChunk(TOPIC, 1, fresh.epoch, null, 1n, []), { applied: 0, stale: 0, unchanged: 0, flags: '' });
});

test('apply-chunk: an error other than FENCED or POSITION is rethrown as it is', async (t) => {
  const { keys, state } = newApp(t, redis);
  const { epoch } = await state.acquire(TOPIC, 0);
  await redis.set(keys.table(ORDERS), 'not a hash');
  await assert.rejects(state.applyChunk(TOPIC, 0, epoch, null, 2n, [write(ORDERS, 1, 1n, {})]), (err: unknown) => !(err instanceof FencedError) && !(err instanceof PositionMismatchError) && err instanceof Error && /WRONGTYPE/.test(err.message));
});

test('acquire increments the owner epoch and returns the stored position and the topic\'s incarnation; currentEpoch reads the epoch', async (t) => {
  const { keys, state } = newApp(t, redis);
  assert.equal(await state.currentEpoch(TOPIC, 0), null);
  assert.deepEqual(await state.acquire(TOPIC, 0), { epoch: 1, position: null, incarnation: 0 });
  assert.equal(await state.currentEpoch(TOPIC, 0), 1);
  await state.applyChunk(TOPIC, 0, 1, null, 12n, []);
  assert.deepEqual(await state.acquire(TOPIC, 0), { epoch: 2, position: 12n, incarnation: 0 });
  await redis.hset(keys.incarnations, TOPIC, '3');
  assert.deepEqual(await state.acquire(TOPIC, 3), { epoch: 1, position: null, incarnation: 3 }, 'epochs are per partition, incarnations per topic');
  assert.equal((await state.acquire('demo.public.other', 0)).incarnation, 0);
  assert.equal(await state.currentEpoch(TOPIC, 0), 2);
  assert.equal(await state.currentEpoch(TOPIC, 3), 1);
});

test('advanceIncarnation counts a re-created topic once, however many partitions find it', async (t) => {
  const { id, keys, state } = newApp(t, redis);
  assert.equal(await state.advanceIncarnation(TOPIC, 0), 1);
  assert.equal(await state.advanceIncarnation(TOPIC, 0), 1, 'a partition that knew incarnation 0 finds it counted already');
  assert.equal(await state.advanceIncarnation(TOPIC, 1), 2, 'found re-created again');
  assert.equal(await state.advanceIncarnation('demo.public.other', 0), 1, 'per topic');
  // Two instances race: between this one's read and its write, another (its own connection) counts the re-creation.
  const rival = await fileRedis();
  let raced = false;
  const racing = new StateStore(
    withOverrides(redis, {
      hget: async (hash: string, field: string) => {
        const value = await redis.hget(hash, field);
        if (hash === keys.incarnations && !raced) {
          raced = true;
          assert.equal(await new StateStore(rival, id).advanceIncarnation(TOPIC, 2), 3);
        }
        return value;
      },
    }),
    id,
  );
  assert.equal(await racing.advanceIncarnation(TOPIC, 2), 3);
  assert.ok(raced);
  assert.equal(await redis.hget(keys.incarnations, TOPIC), '3', 'counted once');
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

test('get, storedRows, rows, size, scan over several pages, tables', async (t) => {
  const { state } = newApp(t, redis);
  const p = await partitionWriter(state, TOPIC, 0);
  const writes = Array.from({ length: 35 }, (_, i) => write(ORDERS, i, BigInt(i + 1), i % 5 === 0 ? null : { id: i }));
  const since = Date.now();
  await p.apply(40n, [...writes, write(LINES, 1, 1n, { line: 1 })]);
  assert.equal(await state.get(ORDERS, key(99)), null);
  assert.deepEqual(await state.get(ORDERS, key(7)), stored(8n, { id: 7 }));
  const [seven, five, absent] = await state.storedRows(ORDERS, [key(7), key(5), key(99)]);
  assert.deepEqual(seven, stored(8n, { id: 7 }));
  assertMarker(five!, 6n, since);
  assert.equal(absent, null);
  assert.deepEqual(await state.storedRows(ORDERS, []), []);
  assert.deepEqual(await state.rows(ORDERS, [key(2), key(5), key(99)]), [{ id: 2 }, null, null]);
  assert.deepEqual(await state.rows(ORDERS, []), []);
  assert.equal(await state.size(ORDERS), 35);
  const scanned = new Map<string, unknown>();
  for await (const [k, entry] of state.scan(ORDERS, 5)) scanned.set(k, entry);
  assert.equal(scanned.size, 35);
  assertMarker(scanned.get(key(10)) as never, 11n, since);
  assert.deepEqual(scanned.get(key(34)), stored(35n, { id: 34 }));
  assert.deepEqual(await state.tables(), [ORDERS, LINES].sort());
});

test('stats: incrementStat, recordLastEvent under lastEventStat', async (t) => {
  const { state } = newApp(t, redis);
  await state.incrementStat('dlq');
  await state.incrementStat('dlq', 4);
  await state.recordLastEvent(TOPIC, 2, '1767225600000');
  assert.equal(StateStore.lastEventStat(TOPIC, 2), `lastEvent:${TOPIC}:2`);
  assert.deepEqual(await state.stats(), { dlq: 5, [`lastEvent:${TOPIC}:2`]: 1767225600000 });
});

test('markRowsChangedSince marks the rows whose record is at or after its partition\'s target, beyond one batch of 2000', async (t) => {
  const { keys, state } = newApp(t, redis);
  const p0 = await partitionWriter(state, TOPIC, 0);
  const p1 = await partitionWriter(state, TOPIC, 1);
  await p0.apply(20n, [write(ORDERS, 1, 5n, { id: 1 }), write(ORDERS, 2, 10n, { id: 2 }), write(ORDERS, 3, 15n, null)]);
  await p1.apply(20n, [write(ORDERS, 4, 12n, { id: 4 }, { partition: 1 })]);
  // A row without a Kafka origin (as a snapshot's reconciliation leaves): marked, to be safe.
  await redis.hset(keys.table(ORDERS), key(5), `${K(1)}\nsnapshot\n{"id":5}`);
  assert.equal(await state.markRowsChangedSince(ORDERS, new Map([[0, 10n]])), 3, 'offsets 10 and 15 of partition 0, and the row without origin; not partition 1 (no target)');
  assert.deepEqual(await redis.hgetall(keys.dirty(ORDERS)), { [key(2)]: K(10), [key(3)]: K(15), [key(5)]: K(1) });
  await redis.del(keys.dirty(ORDERS));
  assert.equal(await state.markRowsChangedSince(ORDERS, new Map([[0, 16n], [1, 12n]])), 2, 'offset 12 of partition 1 and the row without origin');
  assert.deepEqual(await redis.hgetall(keys.dirty(ORDERS)), { [key(4)]: K(12), [key(5)]: K(1) });
  assert.equal(await state.markAllRows(ORDERS), 5);
  assert.deepEqual(await redis.hgetall(keys.dirty(ORDERS)), { [key(1)]: K(5), [key(2)]: K(10), [key(3)]: K(15), [key(4)]: K(12), [key(5)]: K(1) });
  const many = Array.from({ length: 2600 }, (_, i) => write(LINES, i, BigInt(i + 1), { id: i }));
  await p0.apply(5000n, many);
  assert.equal(await state.markRowsChangedSince(LINES, new Map([[0, 501n]])), 2100);
  assert.equal(await redis.hlen(keys.dirty(LINES)), 2100);
  assert.equal(await redis.hget(keys.dirty(LINES), key(2599)), K(2600));
  assert.equal(await redis.hget(keys.dirty(LINES), key(499)), null);
});

test('resolveTable: a table id as it is, a schema.table to the one topic carrying it, ambiguity refused', async (t) => {
  const { state } = newApp(t, redis);
  const p = await partitionWriter(state, TOPIC, 0);
  await p.apply(3n, [write('shop.public.orders', 1, 1n, {}), write('shop.public.customers', 1, 1n, {}), write('billing.public.customers', 1, 2n, {})]);
  assert.equal(await state.resolveTable('shop.public.orders'), 'shop.public.orders');
  assert.equal(await state.resolveTable('public.orders'), 'shop.public.orders');
  assert.equal(await state.resolveTable('orders'), 'shop.public.orders');
  assert.equal(await state.resolveTable('public.unknown'), 'public.unknown', 'a name without state stays as given');
  assert.equal(await state.resolveTable('billing.public.customers'), 'billing.public.customers');
  await assert.rejects(state.resolveTable('public.customers'), (err: unknown) => err instanceof ConfigError && /public\.customers is ambiguous .*billing\.public\.customers, shop\.public\.customers; name the topic/.test(err.message));
});

test('checkFormat records the layout of a new application, accepts its own, and refuses layout-1 state naming the replay', async (t) => {
  const fresh = newApp(t, redis);
  await fresh.state.checkFormat();
  assert.equal(await redis.get(fresh.keys.format), STATE_FORMAT);
  assert.equal(STATE_FORMAT, '2');
  await fresh.state.checkFormat();
  const p = await partitionWriter(fresh.state, TOPIC, 0);
  await p.apply(2n, [write(ORDERS, 1, 1n, {})]);
  await fresh.state.checkFormat();

  // State written before the layout marker existed: versions were Kafka offsets.
  const old = newApp(t, redis);
  await redis.hset(old.keys.table(ORDERS), key(1), '7\n{"id":1}');
  await redis.hset(old.keys.positions, `${TOPIC}:0`, '8');
  const before = await snapshot(redis, old.keys);
  for (const state of [old.state, new StateStore(redis, old.id)]) {
    await assert.rejects(state.checkFormat(), (err: unknown) => {
      assert.ok(err instanceof CdcViewsError);
      assert.equal(err.code, 'STATE_FORMAT');
      assert.match(err.message, new RegExp(`state of ${old.id} has layout 1 \\(row versions were Kafka offsets\\)`));
      assert.match(err.message, /cdc-views replay <topology> --version <version> --from earliest/);
      return true;
    });
  }
  assert.deepEqual(await snapshot(redis, old.keys), before, 'nothing recorded on refused state');
  // A layout this code does not know (written by a newer cdc-views) is named as it is.
  const newer = newApp(t, redis);
  await redis.set(newer.keys.format, '3');
  await assert.rejects(newer.state.checkFormat(), /has layout 3, this cdc-views writes layout 2/);
});

test('rendersViews, exists; destroy removes every key of this application and no other', async (t) => {
  const base = uniqueId('iso');
  const a = newApp(t, redis, base);
  const b = newApp(t, redis, `${base}0`); // shares the prefix "cdcv:<base>" but not "cdcv:<base>:"
  assert.equal(await a.state.exists(), false);
  assert.equal(await a.state.rendersViews(), false);
  for (const { state } of [a, b]) {
    await state.checkFormat();
    const p = await partitionWriter(state, TOPIC, 0);
    await p.apply(2n, [write(ORDERS, 1, 1n, { id: 1 })], new Set([ORDERS]));
  }
  assert.equal(await a.state.exists(), true);
  assert.equal(await a.state.rendersViews(), false);
  await a.views.readForRender({ view: 'v', rootTable: ORDERS, hasRoot: true, joins: [], rollups: [] }, [{ root: key(1), expectedVersion: '*', joinKeys: [] }]);
  assert.equal(await a.state.rendersViews(), true);
  assert.equal(await b.state.rendersViews(), false);
  const bBefore = await snapshot(redis, b.keys);
  assert.equal(await a.state.destroy(), 8, 'format, table, tables, dirty, positions, epochs, stats, seq');
  assert.deepEqual(await redis.keys(a.keys.pattern), []);
  assert.equal(await a.state.exists(), false);
  assert.deepEqual(await snapshot(redis, b.keys), bBefore);
});

test('cloneInto copies tables, positions and the tables set in one step and records the layout; not epochs, marks or stats', async (t) => {
  const source = newApp(t, redis);
  const target = newApp(t, redis);
  await source.state.checkFormat();
  const p0 = await partitionWriter(source.state, TOPIC, 0);
  const p1 = await partitionWriter(source.state, TOPIC, 1);
  const since = Date.now();
  await p0.apply(3n, [write(ORDERS, 1, 1n, { id: 1 }), write(ORDERS, 2, 2n, null)], new Set([ORDERS]));
  await p1.apply(8n, [write(LINES, 1, 7n, { line: 1 }, { partition: 1 })]);
  const r = await source.state.cloneInto(target.state);
  assert.equal(r.tables, 2);
  assert.deepEqual(r.positions.toHash(), { [`${TOPIC}:0`]: '3', [`${TOPIC}:1`]: '8' });
  assert.deepEqual(await target.state.tables(), [ORDERS, LINES].sort());
  assert.deepEqual(await target.state.get(ORDERS, key(1)), stored(1n, { id: 1 }));
  assertMarker(await target.state.get(ORDERS, key(2)), 2n, since, {}, 'the marker is copied with the time of the delete');
  assert.deepEqual(await target.state.get(LINES, key(1)), stored(7n, { line: 1 }, { partition: 1 }));
  assert.equal(await redis.get(target.keys.format), STATE_FORMAT);
  assert.equal(await target.state.currentEpoch(TOPIC, 0), null);
  assert.deepEqual(await target.state.stats(), {});
  assert.equal(await redis.exists(target.keys.dirty(ORDERS)), 0);
  assert.equal(await source.state.size(ORDERS), 2, 'the source keeps its state');
});

test('cloneInto refuses a source of an older layout (STATE_FORMAT), and a target that has positions, a tables set or a table hash (OPS_VERSION_EXISTS)', async (t) => {
  const old = newApp(t, redis);
  await redis.hset(old.keys.table(ORDERS), key(1), '1\n{}');
  const empty = newApp(t, redis);
  await assert.rejects(old.state.cloneInto(empty.state), (err: unknown) => err instanceof CdcViewsError && err.code === 'STATE_FORMAT');
  assert.equal(await empty.state.exists(), false);

  const source = newApp(t, redis);
  await source.state.checkFormat();
  const p = await partitionWriter(source.state, TOPIC, 0);
  await p.apply(2n, [write(ORDERS, 1, 1n, { id: 1 })]);
  const prepare: ((k: ReturnType<typeof newApp>['keys']) => Promise<unknown>)[] = [
    (k) => redis.hset(k.positions, `${TOPIC}:0`, '1'),
    (k) => redis.sadd(k.tables, 'demo.public.other'),
    (k) => redis.hset(k.table(ORDERS), key(9), `${K(1)}\n0:0:1\n{}`),
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
  await source.state.checkFormat();
  const p = await partitionWriter(source.state, TOPIC, 0);
  await p.apply(2n, [write(ORDERS, 1, 1n, { id: 1 }), write(LINES, 1, 1n, { id: 1 })]);
  // The first read of the tables set misses a table, as if its first row arrived right after the read.
  let reads = 0;
  const staleOnce = new StateStore(withOverrides(redis, { smembers: (k: string) => (++reads === 1 ? Promise.resolve([ORDERS]) : redis.smembers(k)) }), id);
  const target = newApp(t, redis);
  const r = await staleOnce.cloneInto(target.state);
  assert.equal(reads, 2);
  assert.equal(r.tables, 2);
  assert.deepEqual(await target.state.tables(), [ORDERS, LINES].sort());

  let staleReads = 0;
  const alwaysStale = new StateStore(withOverrides(redis, { smembers: () => (staleReads++, Promise.resolve([ORDERS])) }), id);
  const other = newApp(t, redis);
  await assert.rejects(alwaysStale.cloneInto(other.state), /TABLES_CHANGED/);
  assert.equal(staleReads, 11);
  assert.equal(await other.state.exists(), false);
});
