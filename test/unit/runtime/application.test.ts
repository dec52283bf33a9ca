/**
 * The application (src/runtime/application.ts) without a broker: a stand-in
 * Kafka client (admin, producer, consumer) records what the application asks
 * of Kafka and hands its eachBatch handler fetched batches; state, views and
 * cache sinks are the production ones on the file's private Redis.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { Registry } from 'prom-client';
import { jsonDecoder } from '../../../src/cdc/debezium-json.ts';
import { CdcViewsError } from '../../../src/errors.ts';
import { METRIC_NAMES, createMetrics } from '../../../src/metrics/catalogue.ts';
import { Application } from '../../../src/runtime/application.ts';
import { RejoinGroupError } from '../../../src/runtime/kafka-client.ts';
import { CacheStore } from '../../../src/state/cache-store.ts';
import { Positions } from '../../../src/state/encoding.ts';
import { StateStore } from '../../../src/state/store.ts';
import { StreamsBuilder } from '../../../src/topology/dsl.ts';
import { metricValue } from '../metrics/registry.ts';
import { fileRedis, K, key, uniqueId } from '../state/helpers.ts';
import { debeziumMessage, silentLog, until } from './helpers.ts';
import { FakeKafka } from './fake-kafka.ts';

const redis = await fileRedis();
const TOPIC = 'demo.public.customers';
const CUSTOMERS = 'public.customers';


function customers() {
  const b = new StreamsBuilder('customers');
  b.table(CUSTOMERS).mapValues((c) => ({ name: c.name })).as('names').toCache();
  return b.build();
}

/** An application on a fresh applicationId over the stand-in Kafka; its keys and cache are removed after the test. */
function application(t: TestContext, kafka: FakeKafka, options: { maxChunkRecords?: number; partitionsConsumedConcurrently?: number } = {}): { app: Application; id: string; metrics: ReturnType<typeof createMetrics> } {
  const id = uniqueId('application');
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const app = new Application({ applicationId: id, brokers: [], kafka: kafka as unknown as Kafka, redis, topics: /^demo\.public\./, topology: customers(), logger: silentLog, decoder: jsonDecoder, metrics, ...options });
  t.after(async () => {
    await app.stop();
    await app.store.destroy();
    await new CacheStore(redis, `cache:${id}:`).destroy();
  });
  return { app, id, metrics };
}

const customer = (offset: number, id: number): KafkaMessage => debeziumMessage(offset, CUSTOMERS, id, 'c', { id, name: `c${id}` });

test('start refuses when no topic matches, and when a table of the topology has no topic', async (t) => {
  const none = application(t, new FakeKafka(['other.public.customers']));
  await assert.rejects(none.app.start(), (err: unknown) => err instanceof CdcViewsError && err.code === 'CONFIG_NO_TOPICS');
  const b = new StreamsBuilder('two');
  b.table('public.orders').view('o').toCache();
  const orphan = new Application({ applicationId: uniqueId('orphan'), brokers: [], kafka: new FakeKafka([TOPIC]) as unknown as Kafka, redis, topics: /^demo\./, topology: b.build(), logger: silentLog });
  await assert.rejects(orphan.start(), /unknown topic: none of the topics matching .* carries public\.orders/);
});

test('start: sorted topics, the DLQ topic created when missing, views left dirty rendered, the consumer subscribed and running', async (t) => {
  const kafka = new FakeKafka(['demo.public.customers', 'unrelated', 'demo.public.addresses']);
  const { app, id } = application(t, kafka, { partitionsConsumedConcurrently: 2 });
  // A crash of an earlier run (which recorded the state layout) left a table mark behind, under the topic's table.
  const earlier = new StateStore(redis, id);
  await earlier.checkFormat();
  const { epoch } = await earlier.acquire(TOPIC, 0);
  await earlier.applyChunk(TOPIC, 0, epoch, null, 1n, [{ table: TOPIC, keyString: key(1), version: K(0), origin: '0:0:0', row: { id: 1, name: 'left dirty' } }], new Set([TOPIC]));
  assert.equal(app.live(), false);
  await app.start();
  assert.deepEqual(app.topics, ['demo.public.addresses', 'demo.public.customers']);
  assert.deepEqual(kafka.created, [{ topic: `cdcv.${id}.dlq`, numPartitions: 1 }]);
  assert.deepEqual(kafka.described, [`cdcv.${id}.dlq max.message.bytes`], 'the DLQ keeps its records below the topic\'s limit');
  // The render punctuator drains what the earlier run left, in the background right after the start.
  const names = new CacheStore(redis, `cache:${id}:names:`);
  await until(async () => (await names.read(key(1))) !== null, 'the view left dirty rendered');
  assert.deepEqual(await names.read(key(1)), { name: 'left dirty' });
  assert.deepEqual(kafka.subscribed, { topics: ['demo.public.addresses', 'demo.public.customers'], fromBeginning: true });
  assert.equal(kafka.runConfig?.eachBatchAutoResolve, false);
  assert.equal(kafka.runConfig?.autoCommit, true);
  assert.equal(kafka.runConfig?.partitionsConsumedConcurrently, 2);
  assert.equal(app.live(), true);
  await app.stop();
  assert.equal(app.live(), false);
  assert.deepEqual(kafka.calls, ['admin.connect', 'producer.connect', 'consumer.connect', 'consumer.disconnect', 'producer.disconnect', 'admin.disconnect']);

  const again = new FakeKafka([TOPIC]);
  const second = application(t, again);
  again.topics.push(`cdcv.${second.id}.dlq`);
  await second.app.start();
  assert.deepEqual(again.created, [], 'an existing DLQ topic is kept');
});

test('start checks the state layout: recorded for a new application, layout-1 state refused before anything is consumed', async (t) => {
  const kafka = new FakeKafka([TOPIC]);
  const { app } = application(t, kafka);
  await app.start();
  assert.equal(await redis.get(app.store.keys.format), '2');
  await app.stop();

  const old = new FakeKafka([TOPIC]);
  const second = application(t, old);
  // State an older cdc-views wrote: a row versioned by its Kafka offset, and a position.
  await redis.hset(second.app.store.keys.table('public.customers'), key(1), '7\n{"id":1}');
  await redis.hset(second.app.store.keys.positions, `${TOPIC}:0`, '8');
  await assert.rejects(second.app.start(), (err: unknown) => err instanceof CdcViewsError && err.code === 'STATE_FORMAT' && /replay/.test(err.message));
  assert.deepEqual(old.calls, ['admin.connect'], 'no producer, no consumer');
  assert.equal(old.subscribed, undefined);
});

test('a batch is processed in chunks of maxChunkRecords: each offset resolved, a heartbeat after each chunk, one commit', async (t) => {
  const kafka = new FakeKafka([TOPIC]);
  const { app } = application(t, kafka, { maxChunkRecords: 2 });
  await app.start();
  const log = await kafka.batch(0, [customer(0, 1), customer(1, 2), customer(2, 3), customer(3, 4), customer(4, 5)]);
  assert.deepEqual(log, ['resolve 1', 'heartbeat', 'resolve 3', 'heartbeat', 'resolve 4', 'heartbeat', 'commit']);
  assert.equal((await app.store.positions()).get(TOPIC, 0), 5n);
  assert.equal(app.counts.consumed, 5);
  assert.equal(app.counts.chunks, 3);
  assert.equal(app.renderCounts.rendered, 5);
  assert.deepEqual(await new CacheStore(redis, `cache:${app.store.applicationId}:names:`).read(key(5)), { name: 'c5' });
});

test('a batch that needs a seek stops there (nothing resolved or committed); a stopped or stale batch does nothing', async (t) => {
  const kafka = new FakeKafka([TOPIC], { [TOPIC]: { 0: [0, 9] } });
  const { app } = application(t, kafka);
  await app.start();
  assert.deepEqual(await kafka.batch(0, [customer(3, 1)]), []);
  assert.deepEqual(kafka.seeks, [{ topic: TOPIC, partition: 0, offset: '0' }]);
  assert.deepEqual(await kafka.batch(0, [customer(0, 1)], { running: false }), []);
  assert.deepEqual(await kafka.batch(0, [customer(0, 1)], { stale: true }), []);
  assert.equal(app.counts.consumed, 0);
});

test('a group join starts every partition afresh (a new owner epoch) and updates the group metrics', async (t) => {
  const kafka = new FakeKafka([TOPIC], { [TOPIC]: { 0: [0, 5], 1: [0, 5], 2: [0, 5] } });
  const { app, metrics } = application(t, kafka);
  await app.start();
  const gauge = (name: string, labels: Record<string, string>): Promise<number> => metricValue(metrics.registry, name, { application_id: app.store.applicationId, ...labels });
  kafka.emit('consumer.group_join', { memberAssignment: { [TOPIC]: [2, 0] }, memberId: 'm', groupId: 'g' });
  assert.equal(await gauge(METRIC_NAMES.partitionsAssigned, { topic: TOPIC }), 2);
  assert.equal(await gauge(METRIC_NAMES.rebalances, {}), 1);
  await app.lag();
  assert.equal(await gauge(METRIC_NAMES.lag, { topic: TOPIC, partition: '2' }), 5);
  await kafka.batch(0, [customer(0, 1)]);
  await kafka.batch(0, [customer(1, 2)]);
  assert.equal(await app.store.currentEpoch(TOPIC, 0), 1, 'one task per partition between joins');
  kafka.emit('consumer.group_join', { memberAssignment: { [TOPIC]: [0] }, memberId: 'm', groupId: 'g' });
  assert.equal(await gauge(METRIC_NAMES.partitionsAssigned, { topic: TOPIC }), 1);
  assert.equal(await gauge(METRIC_NAMES.rebalances, {}), 2);
  assert.equal(await gauge(METRIC_NAMES.lag, { topic: TOPIC, partition: '2' }), 0, 'a revoked partition reports no lag');
  await kafka.batch(0, [customer(2, 3)]);
  assert.equal(await app.store.currentEpoch(TOPIC, 0), 2);
});

test('a task fenced out by another instance is dropped: the batch fails with a rejoin, the next one takes the partition again', async (t) => {
  const kafka = new FakeKafka([TOPIC]);
  const { app, id } = application(t, kafka);
  await app.start();
  await kafka.batch(0, [customer(0, 1)]);
  await new StateStore(redis, id).acquire(TOPIC, 0); // another instance took the partition
  await assert.rejects(kafka.batch(0, [customer(1, 2)]), RejoinGroupError);
  assert.equal((await app.store.positions()).get(TOPIC, 0), 1n);
  assert.deepEqual(await kafka.batch(0, [customer(1, 2)]), ['resolve 1', 'heartbeat', 'commit']);
  assert.equal(await app.store.currentEpoch(TOPIC, 0), 3);
  assert.equal((await app.store.positions()).get(TOPIC, 0), 2n);
});

test('lag: end offset − stored position (from the low watermark when none or older); readiness sums the assigned partitions', async (t) => {
  const kafka = new FakeKafka([TOPIC], { [TOPIC]: { 0: [2, 10], 1: [2, 10], 2: [4, 4], 3: [5, 12] } });
  const { app, metrics } = application(t, kafka);
  await app.start();
  await app.store.setPositions(Positions.of([{ topic: TOPIC, partition: 0, offset: 7n }, { topic: TOPIC, partition: 3, offset: 1n }]));
  kafka.emit('consumer.group_join', { memberAssignment: { [TOPIC]: [0, 2, 3] }, memberId: 'm', groupId: 'g' });
  const lags = await app.lag();
  assert.deepEqual(
    lags.map((l) => [l.partition, l.position, l.end, l.lag]),
    [
      [0, 7n, 10n, 3n],
      [1, null, 10n, 8n],
      [2, null, 4n, 0n],
      [3, 1n, 12n, 7n],
    ],
  );
  assert.deepEqual(await app.readiness(), { assigned: 3, lag: 3 + 0 + 7, joined: true });
  const lag = (partition: string): Promise<number> => metricValue(metrics.registry, METRIC_NAMES.lag, { application_id: app.store.applicationId, topic: TOPIC, partition });
  assert.equal(await lag('0'), 3);
  assert.equal(await lag('3'), 7);
  assert.equal(await lag('1'), 0, 'not set for a partition of another instance');
});

test('waitUntilCaughtUp resolves once the stored positions reach the end offsets; a crash or an abort ends it', async (t) => {
  const kafka = new FakeKafka([TOPIC], { [TOPIC]: { 0: [0, 2], 1: [3, 3] } });
  const { app } = application(t, kafka);
  await app.start();
  const progress: bigint[] = [];
  const waiting = app.waitUntilCaughtUp({ pollMs: 5, onProgress: (lag) => progress.push(lag) });
  await until(() => progress.includes(2n), 'a poll with 2 records to go');
  await kafka.batch(0, [customer(0, 1)]);
  // Once that chunk is done, it still polls with one record to go.
  const seen = progress.length;
  await until(() => progress.length >= seen + 3, 'three more polls');
  assert.ok(progress.slice(seen).every((lag) => lag === 1n), `one record to go in every poll: ${progress.slice(seen).join(', ')}`);
  await kafka.batch(0, [customer(1, 2)]);
  await waiting;
  assert.equal(progress.at(-1), 0n);

  const aborted = new AbortController();
  kafka.offsets[TOPIC]![0] = [0, 5];
  const stuck = app.waitUntilCaughtUp({ pollMs: 5, signal: aborted.signal });
  aborted.abort(new Error('gave up'));
  await assert.rejects(stuck, /gave up/);

  kafka.emit('consumer.crash', { error: new Error('transient'), groupId: 'g', restart: true });
  assert.equal(app.failure, undefined);
  assert.equal(app.live(), true);
  const crash = new Error('bug in a view');
  kafka.emit('consumer.crash', { error: crash, groupId: 'g', restart: false });
  assert.equal(app.failure, crash);
  assert.equal(app.live(), false);
  await assert.rejects(app.waitUntilCaughtUp({ pollMs: 5 }), (err) => err === crash);
});
