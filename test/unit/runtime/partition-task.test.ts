/**
 * One partition's task (src/runtime/partition-task.ts) with the production
 * collaborators on the file's private Redis (./task-harness.ts): the stored
 * position against the fetched records, counts and metrics, the DLQ, fencing
 * by another owner, lost state, and views with a truncate. The position
 * check and resync, re-created topics, TOAST completion and snapshots have
 * files of their own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KafkaMessage } from 'kafkajs';
import { jsonDecoder, type RecordDecoder } from '../../../src/cdc/debezium-json.ts';
import { CdcViewsError, FencedError } from '../../../src/errors.ts';
import { METRIC_NAMES } from '../../../src/metrics/catalogue.ts';
import { DLQ_HEADERS } from '../../../src/runtime/dlq.ts';
import { RejoinGroupError } from '../../../src/runtime/kafka-client.ts';
import { Positions } from '../../../src/state/encoding.ts';
import { StreamsBuilder } from '../../../src/topology/dsl.ts';
import type { TopologyPlan } from '../../../src/topology/plan.ts';
import { metricValue } from '../metrics/registry.ts';
import { assertMarker, fileRedis, key, stored } from '../state/helpers.ts';
import { debeziumMessage, kafkaMessage } from './helpers.ts';
import { CUSTOMERS, TOPIC, taskHarness, type Harness } from './task-harness.ts';

const redis = await fileRedis();
const harness = (t: Parameters<typeof taskHarness>[0], options: Parameters<typeof taskHarness>[2] = {}): Harness => taskHarness(t, redis, options);

const customer = (offset: number, id: number, name = `c${id}`, op: 'c' | 'u' | 'r' = 'c'): KafkaMessage => debeziumMessage(offset, CUSTOMERS, id, op, { id, name });
const beat = (): Promise<void> => Promise.resolve();
const position = (h: Harness): Promise<bigint | null> => h.position();

test('an empty chunk is nothing to do', async (t) => {
  const h = harness(t);
  assert.deepEqual(await (await h.task()).process([], beat), { kind: 'empty' });
});

test('no position stored and the first record is past the low watermark: seek to the low watermark first', async (t) => {
  const h = harness(t);
  h.low.offset = 3n;
  const task = await h.task();
  assert.equal(task.hasStoredPosition, false);
  assert.deepEqual(await task.process([customer(10, 1), customer(11, 2)], beat), { kind: 'seek' });
  assert.deepEqual(h.seeks, [[TOPIC, 0, 3n]]);
  assert.deepEqual(await h.app.state.historyLost(), new Map([[`${TOPIC}:0`, 3n]]), 'built without the records retention deleted: recorded');
  assert.equal(h.ctx.counts.consumed, 0);
  assert.equal(await h.app.state.size(TOPIC), 0);
  // The records from the low watermark on are then processed, and later ones are not sought again.
  assert.deepEqual(await task.process([customer(3, 1), customer(4, 2)], beat), { kind: 'done', lastOffset: '4' });
  assert.deepEqual(await task.process([customer(5, 3)], beat), { kind: 'done', lastOffset: '5' });
  assert.equal(h.seeks.length, 1);
  assert.equal(await position(h), 6n);
  assert.equal(task.hasStoredPosition, true);
});

test('no position stored and the first record at the low watermark: processed from there; the position is the last offset + 1', async (t) => {
  const h = harness(t);
  h.low.offset = 7n;
  const task = await h.task();
  assert.deepEqual(await task.process([customer(7, 1), customer(8, 2), customer(9, 1, 'renamed', 'u')], beat), { kind: 'done', lastOffset: '9' });
  assert.deepEqual(h.seeks, []);
  assert.equal(await position(h), 10n);
  assert.deepEqual(await h.app.state.get(TOPIC, key(1)), stored(9n, { id: 1, name: 'renamed' }));
  assert.deepEqual(await h.app.state.get(TOPIC, key(2)), stored(8n, { id: 2, name: 'c2' }));
  assert.equal((await h.app.state.acquire(TOPIC, 0)).position, 10n, 'the next owner starts there');
  assert.deepEqual(await h.app.state.historyLost(), new Map([[`${TOPIC}:0`, 7n]]));
  const complete = harness(t);
  await (await complete.task()).process([customer(0, 1)], beat);
  assert.deepEqual(await complete.app.state.historyLost(), new Map(), 'a log that starts at 0 lost nothing');
});

test('a stored position behind the fetched records: seek back to it; records before it are skipped', async (t) => {
  const h = harness(t);
  await (await h.task()).process([customer(0, 1), customer(1, 2), customer(2, 3), customer(3, 4), customer(4, 5)], beat);
  assert.equal(await position(h), 5n);
  const task = await h.task();
  assert.equal(task.hasStoredPosition, true);
  // Kafka's committed offset is ahead of the state (e.g. the state was restored), even by one record: the state wins.
  assert.deepEqual(await task.process([customer(6, 9)], beat), { kind: 'seek' });
  assert.deepEqual(h.seeks, [[TOPIC, 0, 5n]]);
  const consumed = h.ctx.counts.consumed;
  // Kafka's committed offset is behind: the records before the position are not processed again.
  assert.deepEqual(await task.process([customer(3, 4, 'again', 'u'), customer(4, 5, 'again', 'u'), customer(5, 6), customer(6, 7)], beat), { kind: 'done', lastOffset: '6' });
  assert.equal(h.ctx.counts.consumed - consumed, 2);
  assert.equal(h.ctx.counts.stale, 0);
  assert.deepEqual(await h.app.state.get(TOPIC, key(4)), stored(3n, { id: 4, name: 'c4' }));
  assert.equal(await position(h), 7n);
  assert.equal(await redis.hget(h.app.keys.incarnations, TOPIC), null, 'a position within the log is no re-created topic');
  // A chunk wholly before the position is done without a write.
  const stats = await h.app.state.stats();
  assert.deepEqual(await task.process([customer(5, 6, 'x', 'u'), customer(6, 7, 'x', 'u')], beat), { kind: 'done', lastOffset: '6' });
  assert.equal(h.ctx.counts.consumed - consumed, 2);
  assert.deepEqual(await h.app.state.stats(), stats);
  assert.equal(await position(h), 7n);
});

test('counts and metrics: consumed, applied, stale, tombstones, chunks, chunk size, latency; the last event time', async (t) => {
  const h = harness(t);
  const tombstone = kafkaMessage(3, JSON.stringify({ id: 1 }), null);
  const chunk = [customer(0, 1), customer(1, 2, 'snap', 'r'), customer(2, 1, 'c1-renamed', 'u'), tombstone, customer(4, 3)];
  await (await h.task()).process(chunk, beat);
  assert.deepEqual(h.ctx.counts, { consumed: 5, applied: 3, stale: 0, tombstones: 1, dlq: 0, chunks: 1, renderFailures: 0 });
  assert.equal(await h.metric(METRIC_NAMES.recordsConsumed), 5);
  assert.equal(await h.metric(METRIC_NAMES.recordsApplied), 3);
  assert.equal(await h.metric(METRIC_NAMES.recordsStale), 0);
  assert.equal(await h.metric(METRIC_NAMES.tombstones), 1);
  assert.equal(await metricValue(h.metrics.registry, `${METRIC_NAMES.chunkSize}_count`, { application_id: h.app.id, topic: TOPIC }), 1);
  assert.equal(await metricValue(h.metrics.registry, `${METRIC_NAMES.chunkSize}_sum`, { application_id: h.app.id, topic: TOPIC }), 5);
  assert.equal(await metricValue(h.metrics.registry, `${METRIC_NAMES.endToEndLatency}_count`, { application_id: h.app.id, sink: 'state' }), 2, 'the two compacted writes with a commit time (not the snapshot read)');
  assert.equal((await h.app.state.stats())[`lastEvent:${TOPIC}:0`], 1_700_000_000_004, 'the timestamp of the chunk\'s last record');

  // Rewound to 0: the same chunk again is stale, and no latency is observed for it.
  await h.app.state.setPositions(Positions.of([{ topic: TOPIC, partition: 0, offset: 0n }]));
  await (await h.task()).process(chunk, beat);
  assert.deepEqual(h.ctx.counts, { consumed: 10, applied: 3, stale: 3, tombstones: 2, dlq: 0, chunks: 2, renderFailures: 0 });
  assert.equal(await h.metric(METRIC_NAMES.recordsStale), 3);
  assert.equal(await h.metric(METRIC_NAMES.recordsConsumed), 10);
  assert.equal(await metricValue(h.metrics.registry, `${METRIC_NAMES.endToEndLatency}_count`, { application_id: h.app.id, sink: 'state' }), 2);
});

test('undecodable records and keyless events go to the DLQ with their code and origin; the rest is applied', async (t) => {
  const h = harness(t);
  const notJson = kafkaMessage(1, JSON.stringify({ id: 2 }), '{"op":"c","after":');
  const keyless = debeziumMessage(2, 'public.audit', null, 'c', { what: 'login' });
  await (await h.task()).process([customer(0, 1), notJson, keyless, customer(3, 4)], beat);
  assert.equal(h.producer.sent.length, 1, 'one DLQ request per chunk');
  const [request] = h.producer.sent;
  assert.equal(request!.topic, `cdcv.${h.app.id}.dlq`);
  assert.deepEqual(
    request!.messages.map((m) => [m.headers?.[DLQ_HEADERS.code], m.headers?.[DLQ_HEADERS.topic], m.headers?.[DLQ_HEADERS.partition], m.headers?.[DLQ_HEADERS.offset]]),
    [
      ['DECODE_NOT_JSON', TOPIC, '0', '1'],
      ['DECODE_NO_KEY', TOPIC, '0', '2'],
    ],
  );
  assert.equal(request!.messages[0]!.value, notJson.value);
  assert.equal(h.ctx.counts.dlq, 2);
  assert.equal(await metricValue(h.metrics.registry, METRIC_NAMES.dlqRecords, { application_id: h.app.id, topic: TOPIC, reason: 'DECODE_NOT_JSON' }), 1);
  assert.equal(await metricValue(h.metrics.registry, METRIC_NAMES.dlqRecords, { application_id: h.app.id, topic: TOPIC, reason: 'DECODE_NO_KEY' }), 1);
  assert.equal((await h.app.state.stats()).dlq, 2);
  assert.deepEqual(await h.app.state.rows(TOPIC, [key(1), key(2), key(4)]), [{ id: 1, name: 'c1' }, null, { id: 4, name: 'c4' }]);
  assert.equal(await position(h), 4n);
});

test('a decoder error that is not a CdcViewsError is dead-lettered as DECODE_BAD_ENVELOPE; a DLQ that does not answer pauses the partition, nothing stored meanwhile', async (t) => {
  const broken: RecordDecoder = { decode: (r) => (r.offset === '1' ? Promise.reject(new TypeError('cannot read properties of undefined')) : jsonDecoder.decode(r)) };
  const h = harness(t, { decoder: broken });
  const task = await h.task();
  h.producer.failure = new Error('broker unavailable');
  const whilePaused: [bigint | null, number][] = [];
  // Each retry heartbeats; the second time round the broker answers again.
  const heartbeat = async (): Promise<void> => {
    whilePaused.push([await position(h), await h.app.state.size(TOPIC)]);
    if (whilePaused.length === 2) h.producer.failure = undefined;
  };
  assert.deepEqual(await task.process([customer(0, 1), customer(1, 2)], heartbeat), { kind: 'done', lastOffset: '1' });
  assert.deepEqual(whilePaused, [[null, 0], [null, 0]], 'no position moves past a record that is not kept somewhere');
  assert.equal(await metricValue(h.metrics.registry, METRIC_NAMES.retries, { application_id: h.app.id, operation: 'dlq', code: 'DLQ_UNAVAILABLE' }), 2);
  assert.deepEqual(h.producer.sent.flatMap((r) => r.messages.map((m) => [m.headers?.[DLQ_HEADERS.code], m.headers?.[DLQ_HEADERS.message]])), [['DECODE_BAD_ENVELOPE', 'TypeError: cannot read properties of undefined']]);
  assert.equal(await h.app.state.size(TOPIC), 1);
  assert.equal(await position(h), 2n);
});

test('a retriable decode error is retried while the partition waits, heartbeating; nothing is dead-lettered', async (t) => {
  let failures = 1;
  const flaky: RecordDecoder = {
    decode: (r) => (r.offset === '1' && failures-- > 0 ? Promise.reject(new CdcViewsError('REGISTRY_UNAVAILABLE', 'schema registry down', { retriable: true })) : jsonDecoder.decode(r)),
  };
  const h = harness(t, { decoder: flaky });
  let beats = 0;
  await (await h.task()).process([customer(0, 1), customer(1, 2)], () => Promise.resolve(void beats++));
  assert.equal(beats, 1);
  assert.deepEqual(h.producer.sent, []);
  assert.equal(h.ctx.counts.dlq, 0);
  assert.equal(await metricValue(h.metrics.registry, METRIC_NAMES.retries, { application_id: h.app.id, operation: 'decode', code: 'REGISTRY_UNAVAILABLE' }), 1);
  assert.deepEqual(await h.app.state.rows(TOPIC, [key(1), key(2)]), [{ id: 1, name: 'c1' }, { id: 2, name: 'c2' }]);
});

test('fenced by another owner: RejoinGroupError after a heartbeat, nothing written, the task retired', async (t) => {
  const h = harness(t);
  const zombie = await h.task();
  const owner = await h.task();
  assert.equal(owner.epoch, zombie.epoch + 1);
  let beats = 0;
  await assert.rejects(zombie.process([customer(0, 1)], () => Promise.resolve(void beats++)), (err: unknown) => {
    assert.ok(err instanceof RejoinGroupError);
    assert.ok(err.cause instanceof FencedError);
    assert.equal(err.cause.storedEpoch, owner.epoch);
    return true;
  });
  assert.equal(beats, 1);
  assert.equal(zombie.retired, true);
  assert.equal(owner.retired, false);
  assert.equal(await h.metric(METRIC_NAMES.stateRollbacks), 0, 'another owner is no rollback');
  assert.equal(await position(h), null);
  assert.equal(await h.app.state.size(TOPIC), 0);
  assert.deepEqual(h.seeks, []);
  assert.deepEqual(await owner.process([customer(0, 1)], beat), { kind: 'done', lastOffset: '0' });
});

test('the owner epoch gone from Redis (state lost): nothing written, a rollback to the low watermark, the task retired', async (t) => {
  const h = harness(t);
  const task = await h.task();
  await task.process([customer(0, 1), customer(1, 2)], beat);
  await h.app.state.destroy();
  h.low.offset = 0n;
  let beats = 0;
  assert.deepEqual(await task.process([customer(2, 3)], () => Promise.resolve(void beats++)), { kind: 'seek' });
  assert.deepEqual(h.seeks, [[TOPIC, 0, 0n]]);
  assert.equal(task.retired, true);
  assert.equal(beats, 0, 'no rejoin: no other instance owns the partition');
  assert.equal(await h.metric(METRIC_NAMES.stateRollbacks), 1);
  assert.equal(await h.app.state.exists(), false, 'nothing written with the stale epoch');
});

const customerView = (): TopologyPlan => {
  const b = new StreamsBuilder('customers');
  b.table(CUSTOMERS).mapValues((c) => ({ name: c.name })).as('names').toCache();
  b.stream(CUSTOMERS).mapValues((e) => ({ op: e.op, at: e.tsMs })).as('changes').toCache();
  return b.build();
};

test('views: applied keys render before a truncate, which then deletes the older rows and renders them; stream documents are the last event per key', async (t) => {
  const h = harness(t, { plan: customerView() });
  h.low.offset = 10n;
  const truncate = debeziumMessage(13, CUSTOMERS, null, 't', null);
  const since = Date.now();
  await (await h.task()).process([customer(10, 1), customer(11, 2), debeziumMessage(12, CUSTOMERS, 2, 'd', null), truncate, customer(14, 3, 'after')], beat);
  // The truncate (version: offset 13) is newer than row 1 (offset 10): a delete marker of the truncate, its document deleted.
  assert.equal(await h.doc('names', 1), null, 'deleted by the truncate, and rendered');
  assertMarker(await h.app.state.get(TOPIC, key(1)), 13n, since);
  assert.equal(await h.doc('names', 2), null, 'deleted');
  assertMarker(await h.app.state.get(TOPIC, key(2)), 12n, since, {}, 'the delete keeps its own marker');
  assert.deepEqual(await h.doc('names', 3), { name: 'after' });
  assert.deepEqual(await h.app.state.rows(TOPIC, [key(1), key(3)]), [null, { id: 3, name: 'after' }]);
  assert.equal(await h.app.state.size(TOPIC), 3, 'two delete markers and a row');
  assert.equal(await position(h), 15n);
  // Stream documents are rows of the view's own table, untouched by the truncate of the customers table.
  assert.deepEqual(await h.doc('changes', 1), { op: 'c', at: 1010 });
  assert.deepEqual(await h.doc('changes', 2), { op: 'd', at: 1012 }, 'the last event of the key');
  assert.deepEqual(await h.doc('changes', 3), { op: 'c', at: 1014 });
  assert.deepEqual(await h.app.state.get('view:changes', key(2)), stored(12n, { op: 'd', at: 1012 }));
  assert.equal(await h.app.views.pendingMarks(), 0, 'every mark rendered and cleared');
  assert.equal(await metricValue(h.metrics.registry, `${METRIC_NAMES.endToEndLatency}_count`, { application_id: h.app.id, sink: `cache:cache:${h.app.id}:names:` }), 3, 'the chunk\'s applied writes (the truncate\'s renders are not a commit latency)');
  assert.equal(await metricValue(h.metrics.registry, `${METRIC_NAMES.endToEndLatency}_count`, { application_id: h.app.id, sink: `cache:cache:${h.app.id}:changes:` }), 3);
});

test('a stream document of the record at offset 0 reaches the cache (render sequences are not offsets)', async (t) => {
  const h = harness(t, { plan: customerView() });
  await (await h.task()).process([customer(0, 1)], beat);
  assert.deepEqual(await h.doc('changes', 1), { op: 'c', at: 1000 });
  assert.deepEqual(await h.doc('names', 1), { name: 'c1' });
  assert.deepEqual(await h.app.state.get('view:changes', key(1)), stored(0n, { op: 'c', at: 1000 }));
  // Replayed (rewound to 0): the same event is stale, and its document stays.
  await h.app.state.setPositions(Positions.of([{ topic: TOPIC, partition: 0, offset: 0n }]));
  await (await h.task()).process([customer(0, 1)], beat);
  assert.equal(h.ctx.counts.stale, 2, 'the row and the stream document');
  assert.deepEqual(await h.doc('changes', 1), { op: 'c', at: 1000 });
});
