/**
 * What a partition task adds to the rows it applies (src/runtime/partition-task.ts):
 * unchanged TOASTed values completed from the stored row (the write then
 * conditional on that row, `basis`, and completed again when it changed:
 * flag `b`), rows listed as incomplete until a full image, and the snapshot
 * marks the housekeeping reconciles with.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KafkaMessage } from 'kafkajs';
import { UNAVAILABLE_VALUE } from '../../../src/cdc/debezium-json.ts';
import type { Row } from '../../../src/cdc/types.ts';
import { HousekeepingStore } from '../../../src/state/housekeeping-store.ts';
import { StateStore, type PartitionStateStore } from '../../../src/state/store.ts';
import { StreamsBuilder } from '../../../src/topology/dsl.ts';
import { fileRedis, key, partitionWriter, pg, stored, write } from '../state/helpers.ts';
import { debeziumMessage, pgSource } from './helpers.ts';
import { CUSTOMERS, TOPIC, taskHarness } from './task-harness.ts';

const redis = await fileRedis();
/** Another instance's connection. */
const rival = await fileRedis();
const beat = (): Promise<void> => Promise.resolve();
/** A change of customer `id` at `offset` whose source position is (100 + offset, 110 + offset). */
const change = (offset: number, id: number, op: 'c' | 'u' | 'd', row: Row | null): KafkaMessage => debeziumMessage(offset, CUSTOMERS, id, op, row, { source: pgSource.change(100 + offset, 110 + offset) });
const version = (offset: number): string => pg.change(100 + offset, 110 + offset);
/** An update that left the TOASTed column `bio` unchanged: Debezium sends its placeholder. */
const toastUpdate = (offset: number, id: number, name: string): KafkaMessage => change(offset, id, 'u', { id, name, bio: UNAVAILABLE_VALUE });

test('an unchanged TOASTed value is taken from the stored row, the older image of the key', async (t) => {
  const h = taskHarness(t, redis);
  const task = await h.task();
  await task.process([change(0, 1, 'c', { id: 1, name: 'a', bio: 'long text' })], beat);
  await task.process([toastUpdate(1, 1, 'b')], beat);
  assert.deepEqual(await h.app.state.get(TOPIC, key(1)), stored(1n, { id: 1, name: 'b', bio: 'long text' }, { version: version(1) }));
  assert.deepEqual(await h.app.state.incompleteRows(TOPIC), new Map());
  assert.equal(h.ctx.counts.applied, 2);
});

test('a value no older image holds is left out, and the row listed as incomplete until a full image or a delete', async (t) => {
  const h = taskHarness(t, redis);
  const task = await h.task();
  await task.process([change(0, 4, 'c', { id: 4, name: 'd', bio: 'x' })], beat);
  await task.process([change(1, 4, 'd', null)], beat);
  // 2: no stored row; 3: no stored row either; 4: the stored row is a delete marker.
  await task.process([toastUpdate(2, 2, 'x'), toastUpdate(3, 3, 'y'), toastUpdate(4, 4, 'z')], beat);
  assert.deepEqual(await h.app.state.rows(TOPIC, [key(2), key(3), key(4)]), [{ id: 2, name: 'x' }, { id: 3, name: 'y' }, { id: 4, name: 'z' }], 'never the placeholder');
  assert.deepEqual(await h.app.state.incompleteRows(TOPIC), new Map([[key(2), ['bio']], [key(3), ['bio']], [key(4), ['bio']]]));
  // Another update that leaves it unchanged: the stored row lacks it too, still incomplete.
  await task.process([toastUpdate(5, 2, 'x2')], beat);
  assert.deepEqual(await h.app.state.incompleteRows(TOPIC), new Map([[key(2), ['bio']], [key(3), ['bio']], [key(4), ['bio']]]));
  // A full image of 2, a delete of 3.
  await task.process([change(6, 2, 'u', { id: 2, name: 'x3', bio: 'now known' }), change(7, 3, 'd', null)], beat);
  assert.deepEqual(await h.app.state.incompleteRows(TOPIC), new Map([[key(4), ['bio']]]));
  assert.equal(await h.app.state.incompleteCount(TOPIC), 1);
  assert.deepEqual(await h.app.state.rows(TOPIC, [key(2)]), [{ id: 2, name: 'x3', bio: 'now known' }]);
});

test('a stored row that changed between its read and the apply step (flag b): the write is completed again from the new row', async (t) => {
  const b = new StreamsBuilder('bios');
  b.table(CUSTOMERS).mapValues((c) => ({ name: c.name, bio: c.bio })).as('bios').toCache();
  let raced = 0;
  let reads = 0;
  // Another writer (the key's records now in partition 1) applies a change between the basis (100, 110) and ours (101, 111) while the task reads the stored row.
  const h = taskHarness(t, redis, {
    plan: b.build(),
    store: (inner): PartitionStateStore => ({
      ...bind(inner),
      storedRows: async (table, keys) => {
        reads++;
        const rows = await inner.storedRows(table, keys);
        if (raced++ === 0) {
          const other = await partitionWriter(new StateStore(rival, h.app.id), TOPIC, 1);
          await other.apply(1n, [write(TOPIC, 1, 0n, { id: 1, name: 'theirs', bio: 'newer text' }, { partition: 1, version: pg.change(101, 105) })]);
        }
        return rows;
      },
    }),
  });
  const task = await h.task();
  await task.process([change(0, 1, 'c', { id: 1, name: 'a', bio: 'old text' })], beat);
  assert.deepEqual(await task.process([toastUpdate(1, 1, 'mine')], beat), { kind: 'done', lastOffset: '1' });
  assert.equal(reads, 2, 'read again after the basis changed');
  assert.deepEqual(await h.app.state.get(TOPIC, key(1)), stored(1n, { id: 1, name: 'mine', bio: 'newer text' }, { version: version(1) }));
  assert.deepEqual([h.ctx.counts.applied, h.ctx.counts.stale], [2, 0]);
  assert.deepEqual(await h.doc('bios', 1), { name: 'mine', bio: 'newer text' }, 'the retried write renders');
});

test('snapshot reads mark where the snapshot starts in the partition and, at its last read, that it ended; Kafka-offset versions mark nothing', async (t) => {
  const h = taskHarness(t, redis);
  const housekeeping = new HousekeepingStore(redis, h.app.id);
  const read = (offset: number, id: number, marker: 'first' | 'true' | 'last'): KafkaMessage => debeziumMessage(offset, CUSTOMERS, id, 'r', { id }, { source: pgSource.read(1000, marker) });
  h.low.offset = 3n;
  h.end.offset = 9n;
  const task = await h.task();
  await task.process([read(3, 1, 'first'), read(4, 2, 'true')], beat);
  assert.deepEqual(await housekeeping.snapshotStarts(TOPIC, pg.read(1000), [0]), new Map([[0, { incarnation: 0, offset: 3n }]]));
  assert.deepEqual(await housekeeping.snapshots(), new Map());
  await task.process([read(5, 3, 'true'), read(6, 4, 'last')], beat);
  const snapshots = await housekeeping.snapshots();
  assert.deepEqual([...snapshots.keys()], [TOPIC]);
  assert.deepEqual({ ...snapshots.get(TOPIC)!, raw: '' }, { version: pg.read(1000), incarnation: 0, ends: new Map([[0, 9n]]), raw: '' }, 'with every partition\'s end offset at that moment');
  assert.deepEqual(await housekeeping.snapshotStarts(TOPIC, pg.read(1000), [0]), new Map([[0, { incarnation: 0, offset: 3n }]]), 'still the first read');

  // Reads without a source position (versions are Kafka offsets): not comparable across partitions, nothing to reconcile.
  const k = taskHarness(t, redis);
  const kafkaOnly = (offset: number, id: number, marker: string): KafkaMessage => debeziumMessage(offset, CUSTOMERS, id, 'r', { id }, { source: { snapshot: marker } });
  await (await k.task()).process([kafkaOnly(0, 1, 'first'), kafkaOnly(1, 2, 'last')], beat);
  assert.equal(await k.app.state.size(TOPIC), 2);
  assert.equal(await redis.exists(k.app.keys.snapshots, k.app.keys.snapshotStarts), 0);
});

/** Every method of a store, bound to it (to override one or two). */
function bind(store: PartitionStateStore): PartitionStateStore {
  return {
    acquire: (...a) => store.acquire(...a),
    advanceIncarnation: (...a) => store.advanceIncarnation(...a),
    currentEpoch: (...a) => store.currentEpoch(...a),
    applyChunk: (...a) => store.applyChunk(...a),
    positionStamp: (...a) => store.positionStamp(...a),
    deleteOlderThan: (...a) => store.deleteOlderThan(...a),
    recordSnapshot: (...a) => store.recordSnapshot(...a),
    recordHistoryLost: (...a) => store.recordHistoryLost(...a),
    recordSnapshotStart: (...a) => store.recordSnapshotStart(...a),
    storedRows: (...a) => store.storedRows(...a),
    positions: () => store.positions(),
    recordLastEvent: (...a) => store.recordLastEvent(...a),
    incrementStat: (...a) => store.incrementStat(...a),
  };
}
