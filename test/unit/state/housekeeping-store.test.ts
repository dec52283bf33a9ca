/**
 * The Redis side of the housekeeping punctuator (src/state/housekeeping-store.ts)
 * on a real Redis: the delete-marker sweep (sweep-markers.lua), the snapshots
 * the state store records for reconciliation and where their reads started,
 * and the lock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeStored } from '../../../src/state/encoding.ts';
import { HousekeepingStore } from '../../../src/state/housekeeping-store.ts';
import { Scripts } from '../../../src/state/scripts.ts';
import { snapshotStartField } from '../../../src/state/store.ts';
import { fileRedis, K, key, newApp, pg, withOverrides } from './helpers.ts';

const redis = await fileRedis();
const TOPIC = 'demo.public.orders';
const CUTOFF = 1_767_225_600_000;

test('sweepDeleteMarkers removes the markers of rows deleted before the cut-off, page by page; never live rows or later markers', async (t) => {
  const { id, keys } = newApp(t, redis);
  const fields: string[] = [];
  for (let i = 0; i < 1200; i++) {
    // Every third entry is a live row; the others markers; deletes 500 ms apart, the 600th at the cut-off.
    const deletedAt = CUTOFF - 300_000 + i * 500;
    fields.push(key(i), encodeStored(K(i), `0:0:${i}`, i % 3 === 0 ? { i } : null, deletedAt));
  }
  await redis.hset(keys.table(TOPIC), ...fields);
  const housekeeping = new HousekeepingStore(redis, id);
  // Markers with deletedAt < CUTOFF: i < 600, less the live rows among them (i % 3 === 0: 200).
  assert.equal(await housekeeping.sweepDeleteMarkers(TOPIC, CUTOFF), 400);
  assert.equal(await redis.hlen(keys.table(TOPIC)), 800);
  assert.equal(await redis.hexists(keys.table(TOPIC), key(599)), 0, 'deleted 500 ms before the cut-off');
  assert.equal(await redis.hexists(keys.table(TOPIC), key(601)), 1, 'deleted at the cut-off + 500 ms: kept');
  assert.equal(await redis.hexists(keys.table(TOPIC), key(0)), 1, 'a live row is never swept');
  assert.equal(await housekeeping.sweepDeleteMarkers(TOPIC, CUTOFF), 0, 'nothing left before the cut-off');
  assert.equal(await housekeeping.sweepDeleteMarkers('demo.public.none', CUTOFF), 0);
});

test('sweep-markers removes a marker only while it is still the marker of the version read, deleted before the cut-off', async (t) => {
  const { id, keys } = newApp(t, redis);
  const table = keys.table(TOPIC);
  const old = CUTOFF - 1000;
  await redis.hset(table, key(1), encodeStored(pg.change(1, 2), '0:0:1', null, old), key(2), encodeStored(pg.change(1, 3), '0:0:2', null, old), key(3), encodeStored(pg.change(1, 4), '0:0:3', null, CUTOFF));
  const scripts = new Scripts(redis);
  // Read versions: key 2's marker was replaced since (another version), key 3 is not old enough, key 4 is gone.
  assert.equal(await scripts.sweepMarkers(table, CUTOFF, [[key(1), pg.change(1, 2)], [key(2), pg.change(1, 2)], [key(3), pg.change(1, 4)], [key(4), pg.change(1, 5)]]), 1);
  assert.deepEqual((await redis.hkeys(table)).sort(), [key(2), key(3)]);

  // Through the store: a row written again (a newer delete, or re-inserted) between the page read and the script stays.
  await redis.hset(table, key(5), encodeStored(pg.change(1, 6), '0:0:5', null, old), key(6), encodeStored(pg.change(1, 7), '0:0:6', null, old));
  let raced = false;
  const racing = withOverrides(redis, {
    cdcvSweepMarkers: async (...args: unknown[]) => {
      if (!raced) {
        raced = true;
        await redis.hset(table, key(5), encodeStored(pg.change(9, 9), '0:1:9', null, old), key(6), encodeStored(pg.change(9, 10), '0:1:10', { id: 6 }));
      }
      return (redis as unknown as { cdcvSweepMarkers: (...a: unknown[]) => Promise<number> }).cdcvSweepMarkers(...args);
    },
  });
  assert.equal(await new HousekeepingStore(racing, id).sweepDeleteMarkers(TOPIC, CUTOFF), 1, 'only key 2');
  assert.deepEqual((await redis.hkeys(table)).sort(), [key(3), key(5), key(6)]);
});

test('recorded snapshots and where their reads started: read back, the first start wins, forgotten only as they were read', async (t) => {
  const { id, keys, state } = newApp(t, redis);
  const housekeeping = new HousekeepingStore(redis, id);
  assert.deepEqual(await housekeeping.snapshots(), new Map());
  await state.recordSnapshot(TOPIC, pg.read(1000), 2, new Map([[0, 120n], [1, 0n], [2, 9007199254740993n]]));
  const recorded = await housekeeping.snapshots();
  assert.deepEqual([...recorded.keys()], [TOPIC]);
  const snap = recorded.get(TOPIC)!;
  assert.deepEqual({ ...snap, raw: undefined }, { version: pg.read(1000), incarnation: 2, ends: new Map([[0, 120n], [1, 0n], [2, 9007199254740993n]]), raw: undefined });

  await state.recordSnapshotStart(TOPIC, 0, 2, pg.read(1000), 40n);
  await state.recordSnapshotStart(TOPIC, 0, 2, pg.read(1000), 55n);
  await state.recordSnapshotStart(TOPIC, 2, 2, pg.read(1000), 7n);
  await state.recordSnapshotStart(TOPIC, 0, 2, pg.read(2000), 90n);
  assert.equal(await redis.hget(keys.snapshotStarts, snapshotStartField(TOPIC, pg.read(1000), 0)), '2:40', 'the first read of a partition wins');
  assert.deepEqual(await housekeeping.snapshotStarts(TOPIC, pg.read(1000), [0, 1, 2]), new Map([[0, { incarnation: 2, offset: 40n }], [2, { incarnation: 2, offset: 7n }]]));
  assert.deepEqual(await housekeeping.snapshotStarts(TOPIC, pg.read(1000), []), new Map());

  // A newer snapshot recorded after the read: forgetting the one read leaves it.
  await state.recordSnapshot(TOPIC, pg.read(2000), 2, new Map([[0, 200n]]));
  await housekeeping.forgetSnapshot(TOPIC, snap.raw);
  assert.equal((await housekeeping.snapshots()).get(TOPIC)?.version, pg.read(2000));
  const newer = (await housekeeping.snapshots()).get(TOPIC)!;
  await housekeeping.forgetSnapshot(TOPIC, newer.raw);
  assert.equal(await redis.exists(keys.snapshots), 0);

  await housekeeping.forgetSnapshotStarts(TOPIC, pg.read(1000), [0, 1, 2]);
  await housekeeping.forgetSnapshotStarts(TOPIC, pg.read(1000), []);
  assert.deepEqual(await redis.hkeys(keys.snapshotStarts), [snapshotStartField(TOPIC, pg.read(2000), 0)], 'the other snapshot\'s start stays');
});

test('tryLock: one holder until the lock expires', async (t) => {
  const { id, keys } = newApp(t, redis);
  const a = new HousekeepingStore(redis, id);
  const b = new HousekeepingStore(await fileRedis(), id);
  assert.equal(await a.tryLock(keys.housekeepingLock, 10_000), true);
  assert.equal(await b.tryLock(keys.housekeepingLock, 10_000), false);
  assert.equal(await a.tryLock(keys.housekeepingLock, 10_000), false, 'not re-entrant');
  const ttl = await redis.pttl(keys.housekeepingLock);
  assert.ok(ttl > 0 && ttl <= 10_000, `it expires by itself (${ttl} ms left)`);
  // Its time is up (shortened rather than waited for).
  await redis.pexpire(keys.housekeepingLock, 1);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(await b.tryLock(keys.housekeepingLock, 10_000), true);
});
