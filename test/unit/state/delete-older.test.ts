/**
 * delete-older.lua through the state store, on a real Redis: a truncate
 * (`deleteOlderThan`, mode `newer`: rows the truncate is newer than by the
 * apply step's compare) and a snapshot's reconciliation (`deleteSelected`,
 * mode `cas`: rows the caller picked, each only while its stored version is
 * still the one read), with their dirty marks and incomplete-row entries. A
 * truncate is fenced by the owner epoch of the partition that carries it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { FencedError } from '../../../src/errors.ts';
import { StateStore, type Fence } from '../../../src/state/store.ts';
import { assertMarker, fileRedis, key, newApp, partitionWriter, pg, snapshot, stored, withOverrides, write, type TestApp } from './helpers.ts';

const redis = await fileRedis();
/** Another instance's connection. */
const rival = await fileRedis();
const TOPIC = 'demo.public.orders';
const OTHER = 'demo.public.customers';
const S = 1000;

/**
 * The rows of the truncate tests, written through partitions 0 and 1:
 * 1 older change, 2 a newer change of partition 1, 3 an older delete marker,
 * 4 a snapshot read at S stored before the truncate in partition 0, 5 the
 * same read stored after it, 6 an older row stored as incomplete.
 * @returns the fence of partition 0, which carries the truncate
 */
async function truncateFixture(app: TestApp, dirty: boolean): Promise<Fence> {
  const dirtyTables = new Set(dirty ? [TOPIC] : []);
  const p0 = await partitionWriter(app.state, TOPIC, 0);
  const p1 = await partitionWriter(app.state, TOPIC, 1);
  await p0.apply(31n, [
    write(TOPIC, 1, 1n, { id: 1 }, { version: pg.change(100, 110) }),
    write(TOPIC, 3, 2n, null, { version: pg.change(120, 130) }),
    write(TOPIC, 4, 3n, { id: 4 }, { version: pg.read(S) }),
    write(TOPIC, 5, 30n, { id: 5 }, { version: pg.read(S) }),
    { ...write(TOPIC, 6, 4n, { id: 6 }, { version: pg.change(140, 150) }), incomplete: ['notes'] },
  ], dirtyTables);
  await p1.apply(6n, [write(TOPIC, 2, 5n, { id: 2 }, { partition: 1, version: pg.change(400, 410) })], dirtyTables);
  await p0.apply(32n, [write(OTHER, 1, 31n, { id: 1 }, { version: pg.change(100, 110) })], dirtyTables);
  await redis.del(app.keys.dirty(TOPIC));
  return { topic: TOPIC, partition: 0, epoch: p0.epoch };
}

/** The truncate at offset 20 of partition 0: a change at (300, 310), below S. */
const TRUNCATE = { version: pg.change(300, 310), origin: '0:0:20' };

test('deleteOlderThan: rows the truncate is newer than become its delete markers, by the apply step\'s compare; marked dirty', async (t) => {
  const app = newApp(t, redis);
  const fence = await truncateFixture(app, true);
  const pages: string[][] = [];
  const since = Date.now();
  const n = await app.state.deleteOlderThan(TOPIC, TRUNCATE.version, TRUNCATE.origin, true, fence, (keys) => (pages.push([...keys].sort()), Promise.resolve()));
  // 4 is a read at S above the truncate's positions: only Kafka order (it came before, in the same partition) makes it older.
  assert.equal(n, 3, 'rows 1, 4 and 6');
  assert.deepEqual(pages, [[key(1), key(4), key(6)]]);
  for (const id of [1, 4, 6]) assertMarker(await app.state.get(TOPIC, key(id)), 20n, since, { version: TRUNCATE.version }, `row ${id}`);
  assert.deepEqual(await app.state.get(TOPIC, key(2)), stored(5n, { id: 2 }, { partition: 1, version: pg.change(400, 410) }), 'a newer change of another partition stays');
  assert.deepEqual(await app.state.get(TOPIC, key(5)), stored(30n, { id: 5 }, { version: pg.read(S) }), 'the read after the truncate in the partition stays');
  const three = await app.state.get(TOPIC, key(3));
  assert.deepEqual([three?.version, three?.origin, three?.row], [pg.change(120, 130), '0:0:2', null], 'an older marker keeps its own version');
  assert.deepEqual(await redis.hgetall(app.keys.dirty(TOPIC)), { [key(1)]: TRUNCATE.version, [key(4)]: TRUNCATE.version, [key(6)]: TRUNCATE.version });
  assert.deepEqual(await app.state.incompleteRows(TOPIC), new Map(), 'a deleted row is no longer incomplete');
  assert.deepEqual(await app.state.rows(OTHER, [key(1)]), [{ id: 1 }], 'another table is untouched');
  // Again (a crash before the position moved past the truncate): nothing left to delete.
  assert.equal(await app.state.deleteOlderThan(TOPIC, TRUNCATE.version, TRUNCATE.origin, true, fence, () => assert.fail('no page')), 0);
});

test('deleteOlderThan without views marks nothing; a table without rows deletes nothing', async (t) => {
  const app = newApp(t, redis);
  const fence = await truncateFixture(app, false);
  assert.equal(await app.state.deleteOlderThan(TOPIC, TRUNCATE.version, TRUNCATE.origin, false, fence), 3);
  assert.equal(await redis.exists(app.keys.dirty(TOPIC)), 0);
  assert.deepEqual(await app.state.rows(TOPIC, [key(1), key(2), key(4), key(5), key(6)]), [null, { id: 2 }, null, { id: 5 }, null]);
  assert.equal(await app.state.deleteOlderThan('demo.public.empty', TRUNCATE.version, TRUNCATE.origin, true, fence), 0);
  assert.equal(await redis.exists(app.keys.table('demo.public.empty')), 0);
});

test('deleteOlderThan is fenced like any write of its partition: a stale or missing owner epoch deletes nothing', async (t) => {
  const app = newApp(t, redis);
  const fence = await truncateFixture(app, true);
  const owner = await app.state.acquire(TOPIC, 0); // another instance took partition 0
  const before = await snapshot(redis, app.keys);
  const cases: [Fence, number | null][] = [[fence, owner.epoch], [{ topic: TOPIC, partition: 7, epoch: 1 }, null]];
  for (const [stale, storedEpoch] of cases) {
    await assert.rejects(app.state.deleteOlderThan(TOPIC, TRUNCATE.version, TRUNCATE.origin, true, stale, () => assert.fail('no page')), (err: unknown) => {
      assert.ok(err instanceof FencedError);
      assert.deepEqual([err.epoch, err.storedEpoch], [stale.epoch, storedEpoch]);
      assert.match(err.message, new RegExp(`${TOPIC.replaceAll('.', '\\.')}\\[${stale.partition}\\]`));
      return true;
    });
  }
  assert.deepEqual(await snapshot(redis, app.keys), before);
  assert.equal(await app.state.deleteOlderThan(TOPIC, TRUNCATE.version, TRUNCATE.origin, true, { ...fence, epoch: owner.epoch }), 3, 'the owner\'s truncate deletes');
});

test('deleteOlderThan pages through a large table and reports every page', async (t) => {
  const app = newApp(t, redis);
  const p = await partitionWriter(app.state, TOPIC, 0);
  await p.apply(1300n, Array.from({ length: 1200 }, (_, i) => write(TOPIC, i, BigInt(i), { i }, { version: pg.change(100 + i, 100 + i) })));
  const pages: string[][] = [];
  // A truncate at row 600's version: rows 0..599 are older, row 600 is the same version (not older).
  const n = await app.state.deleteOlderThan(TOPIC, pg.change(700, 700), '0:0:1250', true, { topic: TOPIC, partition: 0, epoch: p.epoch }, (keys) => (pages.push(keys), Promise.resolve()));
  assert.equal(n, 600);
  assert.ok(pages.length >= 2 && pages.every((page) => page.length > 0), `pages of at most 500 entries read: ${pages.map((page) => page.length).join(', ')}`);
  assert.deepEqual(new Set(pages.flat()), new Set(Array.from({ length: 600 }, (_, i) => key(i))));
  assert.equal(await redis.hlen(app.keys.dirty(TOPIC)), 600);
});

/** A client that runs `before` once just ahead of the first delete-older call (between the page read and the script). */
function racing(before: () => Promise<void>): Redis {
  let done = false;
  return withOverrides(redis, {
    cdcvDeleteOlder: async (...args: unknown[]) => {
      if (!done) {
        done = true;
        await before();
      }
      return (redis as unknown as { cdcvDeleteOlder: (...a: unknown[]) => Promise<unknown> }).cdcvDeleteOlder(...args);
    },
  });
}

test('deleteSelected deletes the live rows it picks, each only while its stored version is the one read', async (t) => {
  const app = newApp(t, redis);
  const p = await partitionWriter(app.state, TOPIC, 0);
  await p.apply(10n, [
    write(TOPIC, 1, 1n, { id: 1, keep: false }, { version: pg.change(100, 110) }),
    write(TOPIC, 2, 2n, { id: 2, keep: true }, { version: pg.change(100, 120) }),
    write(TOPIC, 3, 3n, { id: 3, keep: false }, { version: pg.change(100, 130) }),
    write(TOPIC, 4, 4n, null, { version: pg.change(100, 140) }),
  ]);
  // Row 3 is changed by a live write between the read of the page and the delete: it stays.
  const other = await partitionWriter(new StateStore(rival, app.id), TOPIC, 1);
  const store = new StateStore(racing(() => other.apply(1n, [write(TOPIC, 3, 0n, { id: 3, live: true }, { partition: 1, version: pg.change(900, 910) })]).then(() => undefined)), app.id);
  const seen: string[] = [];
  const since = Date.now();
  const n = await store.deleteSelected(TOPIC, pg.read(S), 'snapshot', true, (k, entry) => (seen.push(k), entry.row?.keep === false));
  assert.equal(n, 1);
  assert.deepEqual(seen.sort(), [key(1), key(2), key(3)], 'only live rows are offered');
  assertMarker(await app.state.get(TOPIC, key(1)), 0n, since, { version: pg.read(S), origin: 'snapshot' }, 'a marker of the snapshot');
  assert.deepEqual(await app.state.rows(TOPIC, [key(2), key(3)]), [{ id: 2, keep: true }, { id: 3, live: true }]);
  assert.deepEqual(await redis.hgetall(app.keys.dirty(TOPIC)), { [key(1)]: pg.read(S) });
  // Without views: deleted, nothing marked.
  const quiet = newApp(t, redis);
  const q = await partitionWriter(quiet.state, TOPIC, 0);
  await q.apply(1n, [write(TOPIC, 1, 0n, { id: 1 }, { version: pg.change(1, 2) })]);
  assert.equal(await quiet.state.deleteSelected(TOPIC, pg.read(S), 'snapshot', false, () => true), 1);
  assert.deepEqual(await quiet.state.rows(TOPIC, [key(1)]), [null]);
  assert.equal(await redis.exists(quiet.keys.dirty(TOPIC)), 0);
});

test('a truncate racing live writes leaves a newer row and a delete marker written meanwhile alone', async (t) => {
  const app = newApp(t, redis);
  const p = await partitionWriter(app.state, TOPIC, 0);
  await p.apply(4n, [
    write(TOPIC, 1, 1n, { id: 1 }, { version: pg.change(100, 110) }),
    write(TOPIC, 2, 2n, { id: 2 }, { version: pg.change(100, 120) }),
    write(TOPIC, 3, 3n, { id: 3 }, { version: pg.change(100, 130) }),
  ]);
  // Between the page read and the script: key 2 gets a newer change, key 3 is deleted (older than the truncate).
  const other = await partitionWriter(new StateStore(rival, app.id), TOPIC, 1);
  const since = Date.now();
  const live = [write(TOPIC, 2, 0n, { id: 2, live: true }, { partition: 1, version: pg.change(900, 910) }), write(TOPIC, 3, 1n, null, { partition: 1, version: pg.change(200, 210) })];
  const store = new StateStore(racing(() => other.apply(2n, live).then(() => undefined)), app.id);
  assert.equal(await store.deleteOlderThan(TOPIC, TRUNCATE.version, TRUNCATE.origin, false, { topic: TOPIC, partition: 0, epoch: p.epoch }), 1);
  assert.deepEqual(await app.state.rows(TOPIC, [key(1), key(2)]), [null, { id: 2, live: true }]);
  assertMarker(await app.state.get(TOPIC, key(3)), 1n, since, { partition: 1, version: pg.change(200, 210) }, 'the delete keeps its own marker');
});
