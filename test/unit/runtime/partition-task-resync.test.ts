/**
 * A partition task when Redis is not where the task left it
 * (src/runtime/partition-task.ts, docs/architecture.md "Versions from the
 * source, positions that are checked"): a chunk refused because the stored
 * position moved (POSITION) or the owner epoch went back (FENCED, older), the
 * resync that follows (seek to Redis' position or the log start, the rollback
 * counted, the task retired), the idle check of the state watch, and a topic
 * found re-created (the stored position beyond the log end, or the record
 * before it not the one processed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KafkaMessage } from 'kafkajs';
import { METRIC_NAMES } from '../../../src/metrics/catalogue.ts';
import { partitionField } from '../../../src/state/encoding.ts';
import { fileRedis, key, pg, snapshot, stored } from '../state/helpers.ts';
import { debeziumMessage, pgSource } from './helpers.ts';
import { CUSTOMERS, TOPIC, taskHarness, type Harness } from './task-harness.ts';

const redis = await fileRedis();
const FIELD = partitionField(TOPIC, 0);
const customer = (offset: number, id: number): KafkaMessage => debeziumMessage(offset, CUSTOMERS, id, 'c', { id, name: `c${id}` });
const beat = (): Promise<void> => Promise.resolve();
const rollbacks = (h: Harness): Promise<number> => h.metric(METRIC_NAMES.stateRollbacks);

test('Redis holds an older position than the task stored: the chunk is refused with nothing written, and the partition resumes from Redis\' position', async (t) => {
  const h = taskHarness(t, redis);
  const task = await h.task();
  await task.process([customer(0, 1), customer(1, 2), customer(2, 3)], beat);
  assert.equal(await h.position(), 3n);
  // A failover to a replica that had not received the last chunk's position.
  await redis.hset(h.app.keys.positions, FIELD, '1');
  const before = await snapshot(redis, h.app.keys);
  assert.deepEqual(await task.process([customer(3, 4)], beat), { kind: 'seek' });
  assert.deepEqual(await snapshot(redis, h.app.keys), before, 'nothing written');
  assert.deepEqual(h.seeks, [[TOPIC, 0, 1n]]);
  assert.equal(task.retired, true);
  assert.equal(await rollbacks(h), 1);
  // The application drops the retired task; the next chunk acquires the partition anew, from Redis' position.
  const next = await h.task();
  assert.equal(next.epoch, task.epoch + 1);
  assert.deepEqual(await next.process([customer(1, 2), customer(2, 3), customer(3, 4)], beat), { kind: 'done', lastOffset: '3' });
  assert.equal(await h.position(), 4n);
  assert.deepEqual(await h.app.state.rows(TOPIC, [key(4)]), [{ id: 4, name: 'c4' }], 'nothing lost');
});

test('Redis lost the position but kept the epoch: the partition resumes from the log start', async (t) => {
  const h = taskHarness(t, redis);
  h.low.offset = 0n;
  const task = await h.task();
  await task.process([customer(0, 1), customer(1, 2)], beat);
  await redis.hdel(h.app.keys.positions, FIELD);
  assert.deepEqual(await task.process([customer(2, 3)], beat), { kind: 'seek' });
  assert.deepEqual(h.seeks, [[TOPIC, 0, 0n]]);
  assert.equal(task.retired, true);
  assert.equal(await rollbacks(h), 1);
  assert.equal(await h.app.state.size(TOPIC), 2);
});

test('FENCED by an older owner epoch (Redis went back to before this owner): a rollback to Redis\' position, no rejoin', async (t) => {
  const h = taskHarness(t, redis);
  const first = await h.task();
  await first.process([customer(0, 1), customer(1, 2)], beat);
  const task = await h.task();
  await task.process([customer(2, 3), customer(3, 4)], beat);
  // Redis restored from a file written before this task acquired the partition.
  await redis.hset(h.app.keys.epochs, FIELD, String(first.epoch));
  await redis.hset(h.app.keys.positions, FIELD, '2');
  let beats = 0;
  assert.deepEqual(await task.process([customer(4, 5)], () => Promise.resolve(void beats++)), { kind: 'seek' });
  assert.equal(beats, 0, 'no heartbeat: nothing to rejoin for');
  assert.deepEqual(h.seeks, [[TOPIC, 0, 2n]]);
  assert.equal(task.retired, true);
  assert.equal(await rollbacks(h), 1);
  assert.equal(await h.app.state.size(TOPIC), 4, 'nothing of the refused chunk');
});

test('checkPosition (the state watch on an idle task): in step, or retired and moved to Redis\' position', async (t) => {
  const h = taskHarness(t, redis);
  h.low.offset = 0n;
  const task = await h.task();
  assert.equal(await task.checkPosition(), true, 'nothing stored yet: nothing to compare');
  await task.process([customer(0, 1), customer(1, 2), customer(2, 3)], beat);
  assert.equal(await task.checkPosition(), true);
  assert.deepEqual(h.seeks, []);
  assert.equal(task.retired, false);
  await redis.hset(h.app.keys.positions, FIELD, '1');
  assert.equal(await task.checkPosition(), false);
  assert.deepEqual(h.seeks, [[TOPIC, 0, 1n]]);
  assert.equal(task.retired, true);
  assert.equal(await rollbacks(h), 1);
  assert.equal(await task.checkPosition(), true, 'a retired task is not checked again');
  assert.equal(h.seeks.length, 1);
  assert.equal(await rollbacks(h), 1);

  // Redis restarted empty: back to the log start.
  const again = await h.task();
  await again.process([customer(1, 2), customer(2, 3)], beat);
  await h.app.state.destroy();
  assert.equal(await again.checkPosition(), false);
  assert.deepEqual(h.seeks, [[TOPIC, 0, 1n], [TOPIC, 0, 0n]]);
  assert.equal(await rollbacks(h), 2);
});

test('a stored position beyond the log end: the topic was re-created, counted once, and consumed again from its start under the next incarnation', async (t) => {
  const h = taskHarness(t, redis);
  const change = (offset: number, id: number): KafkaMessage => debeziumMessage(offset, CUSTOMERS, id, 'u', { id, name: `old${id}` }, { source: pgSource.change(100 + offset, 110 + offset) });
  const read = (offset: number, id: number): KafkaMessage => debeziumMessage(offset, CUSTOMERS, id, 'r', { id, name: `new${id}` }, { source: pgSource.read(5000) });
  await (await h.task()).process([change(0, 1), change(1, 2), change(2, 3), change(3, 4), change(4, 5)], beat);
  assert.equal(await h.position(), 5n);

  // The topic is deleted and created again; the connector snapshots into it: two records so far.
  h.end.offset = 2n;
  h.low.offset = 0n;
  const task = await h.task();
  assert.deepEqual(await task.process([read(0, 1), read(1, 2)], beat), { kind: 'done', lastOffset: '1' });
  assert.equal(await redis.hget(h.app.keys.incarnations, TOPIC), '1');
  assert.equal(await h.position(), 2n);
  assert.deepEqual(await h.app.state.get(TOPIC, key(1)), stored(0n, { id: 1, name: 'new1' }, { incarnation: 1, version: pg.read(5000) }));
  assert.deepEqual(await h.app.state.get(TOPIC, key(2)), stored(1n, { id: 2, name: 'new2' }, { incarnation: 1, version: pg.read(5000) }));
  assert.deepEqual(await h.app.state.rows(TOPIC, [key(3)]), [{ id: 3, name: 'old3' }], 'not re-read yet');
  assert.equal(await rollbacks(h), 0, 'a re-created topic is not a rollback');
  assert.deepEqual(h.seeks, []);

  // The next chunks, and the next owner, go on in incarnation 1 without finding it re-created again.
  h.end.offset = 4n;
  assert.deepEqual(await task.process([read(2, 3)], beat), { kind: 'done', lastOffset: '2' });
  const next = await h.task();
  assert.deepEqual(await next.process([read(3, 4)], beat), { kind: 'done', lastOffset: '3' });
  assert.equal(await redis.hget(h.app.keys.incarnations, TOPIC), '1');
  assert.equal((await h.app.state.get(TOPIC, key(4)))?.origin, '1:0:3');
});

test('a re-created topic whose new log already reaches past the stored position: the record before it carries another timestamp', async (t) => {
  const h = taskHarness(t, redis);
  await (await h.task()).process([customer(0, 1), customer(1, 2), customer(2, 3), customer(3, 4), customer(4, 5)], beat);
  assert.equal(await h.app.state.positionStamp(TOPIC, 0), '1700000000004', 'the timestamp of offset 4, stored with position 5');
  // The topic is re-created and written again, past offset 5 already, by other records (other timestamps).
  const again = (offset: number, id: number): KafkaMessage => ({ ...customer(offset, id), timestamp: String(1_800_000_000_000 + offset) });
  h.end.offset = 10n;
  const task = await h.task();
  // This chunk does not reach offset 4 yet: nothing to compare, nothing processed (all before the position).
  assert.deepEqual(await task.process([again(0, 11), again(1, 12)], beat), { kind: 'done', lastOffset: '1' });
  assert.equal(await redis.hget(h.app.keys.incarnations, TOPIC), null);
  // This one does: offset 4 is another record. The position goes back to the log start, and the consumer there.
  assert.deepEqual(await task.process([again(2, 13), again(3, 14), again(4, 15), again(5, 16)], beat), { kind: 'seek' });
  assert.deepEqual(h.seeks, [[TOPIC, 0, 0n]]);
  assert.equal(await redis.hget(h.app.keys.incarnations, TOPIC), '1');
  assert.equal(await h.position(), 0n);
  assert.equal(task.retired, false, 'not a rollback: the task goes on');
  assert.deepEqual(await task.process([again(0, 11), again(1, 12)], beat), { kind: 'done', lastOffset: '1' });
  assert.equal((await h.app.state.get(TOPIC, key(11)))?.origin, '1:0:0');
  assert.equal(await rollbacks(h), 0);
});

test('records before a stored position within the log, the same records as processed, are a rewind of Kafka\'s offsets, not a re-created topic', async (t) => {
  const h = taskHarness(t, redis);
  await (await h.task()).process([customer(0, 1), customer(1, 2), customer(2, 3)], beat);
  h.end.offset = 3n;
  const task = await h.task();
  assert.deepEqual(await task.process([customer(1, 2), customer(2, 3), customer(3, 4)], beat), { kind: 'done', lastOffset: '3' });
  assert.equal(await redis.hget(h.app.keys.incarnations, TOPIC), null);
  assert.equal(h.ctx.counts.consumed, 3 + 1, 'only offset 3 is new');
  assert.equal((await h.app.state.get(TOPIC, key(4)))?.origin, '0:0:3');
});
