/**
 * What the application (src/runtime/application.ts) asks of Kafka and does
 * around its partitions, without a broker: the consumer's and producer's
 * settings (defaults and overrides), the DLQ topic's creation and the record
 * limit it reads from the topic's max.message.bytes, one task per partition,
 * group joins (partitions assigned per topic, revoked partitions' lag reset),
 * consumer crashes (transient, for good, during shutdown), view roots whose
 * render threw sent to the DLQ and counted, and shutdown.
 *
 * A stand-in Kafka client (like application.test.ts's, recording a little
 * more); state, views and cache sinks are the production ones on the file's
 * private Redis.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Kafka, KafkaMessage, Message } from 'kafkajs';
import { Registry } from 'prom-client';
import { jsonDecoder } from '../../../src/cdc/debezium-json.ts';
import { CdcViewsError } from '../../../src/errors.ts';
import { METRIC_NAMES, createMetrics } from '../../../src/metrics/catalogue.ts';
import { Application } from '../../../src/runtime/application.ts';
import type { ApplicationOptions } from '../../../src/runtime/application-options.ts';
import type { DeadLetterQueue } from '../../../src/runtime/dlq.ts';
import { CacheStore } from '../../../src/state/cache-store.ts';
import { StreamsBuilder } from '../../../src/topology/dsl.ts';
import { metricValue } from '../metrics/registry.ts';
import { fileRedis, key, uniqueId } from '../state/helpers.ts';
import { debeziumMessage, silentLog } from './helpers.ts';
import { FakeKafka } from './fake-kafka.ts';

const redis = await fileRedis();
const TOPIC = 'demo.public.customers';
const OTHER = 'demo.public.addresses';
const CUSTOMERS = 'public.customers';


/** customers → view `names` ({ name }) in a cache; a customer named "bad" makes the render throw. */
function customers() {
  const b = new StreamsBuilder('customers');
  b.table(CUSTOMERS)
    .mapValues((c) => {
      if (c.name === 'bad') throw new Error('cannot render a bad customer');
      return { name: c.name };
    })
    .as('names')
    .toCache();
  return b.build();
}

function application(t: TestContext, kafka: FakeKafka, options: Partial<ApplicationOptions> = {}): { app: Application; id: string; metrics: ReturnType<typeof createMetrics> } {
  const id = uniqueId('wiring');
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const app = new Application({ applicationId: id, brokers: [], kafka: kafka as unknown as Kafka, redis, topics: /^demo\.public\./, topology: customers(), logger: silentLog, decoder: jsonDecoder, metrics, ...options });
  t.after(async () => {
    await app.stop();
    await app.store.destroy();
    await new CacheStore(redis, `cache:${id}:names:`).destroy();
  });
  return { app, id, metrics };
}

const customer = (offset: number, id: number, name = `c${id}`): KafkaMessage => debeziumMessage(offset, CUSTOMERS, id, 'c', { id, name });

/** The DLQ's request split for records of `bytes` bytes each (by the DLQ's size rule: 128 + value). */
const dlqOf = (app: Application): DeadLetterQueue => (app as unknown as { dlq: DeadLetterQueue }).dlq;
const split = (app: Application, count: number, bytes: number): number[] =>
  dlqOf(app)
    .batches(Array.from({ length: count }, (): Message => ({ key: null, value: 'v'.repeat(bytes - 128) })))
    .map((b) => b.length);

test('start: consumer settings (defaults), an idempotent producer with one request in flight, the DLQ topic created with its leader awaited', async (t) => {
  const kafka = new FakeKafka([TOPIC]);
  const { app, id } = application(t, kafka);
  await app.start();
  const { retry, ...consumer } = kafka.consumerConfig as { retry: { retries: number; restartOnFailure: (e: Error) => Promise<boolean> } };
  assert.deepEqual(consumer, { groupId: id, maxBytesPerPartition: 1_048_576, maxBytes: 10_485_760, metadataMaxAge: 300_000, sessionTimeout: 30_000, heartbeatInterval: 3_000, maxWaitTimeInMs: 1000 });
  assert.equal(retry.retries, 10);
  assert.equal(await retry.restartOnFailure(Object.assign(new Error('x'), { name: 'KafkaJSConnectionError' })), true, 'a KafkaJS error restarts the consumer');
  assert.equal(await retry.restartOnFailure(new TypeError('a bug')), false, 'a bug does not');
  assert.equal(kafka.producerConfig?.idempotent, true);
  assert.equal(kafka.producerConfig?.maxInFlightRequests, 1);
  assert.equal(typeof kafka.producerConfig?.createPartitioner, 'function');
  assert.deepEqual(kafka.createRequests, [{ topics: [{ topic: `cdcv.${id}.dlq`, numPartitions: 1 }], waitForLeaders: true }]);
  assert.deepEqual(kafka.describeRequests, [{ includeSynonyms: false, resources: [{ type: 2, name: `cdcv.${id}.dlq`, configNames: ['max.message.bytes'] }] }]);
});

test('start: consumer settings given in the options are used', async (t) => {
  const kafka = new FakeKafka([TOPIC]);
  const { app } = application(t, kafka, { maxBytesPerPartition: 1000, maxBytes: 5000, metadataMaxAgeMs: 7000 });
  await app.start();
  assert.equal(kafka.consumerConfig?.maxBytesPerPartition, 1000);
  assert.equal(kafka.consumerConfig?.maxBytes, 5000);
  assert.equal(kafka.consumerConfig?.metadataMaxAge, 7000);
});

test('start: the DLQ splits its requests at 90 % of the topic\'s max.message.bytes; an unusable or missing value means the broker default 1048588', async (t) => {
  const set = new FakeKafka([TOPIC]);
  set.maxMessageBytes = '2000';
  const a = application(t, set);
  await a.app.start();
  // Limit floor(2000 × 0.9) = 1800 bytes: two records of 900 share a request, a third does not fit.
  assert.deepEqual(split(a.app, 3, 900), [2, 1]);
  for (const answer of [undefined, '0', '-5', 'lots']) {
    const kafka = new FakeKafka([TOPIC]);
    kafka.maxMessageBytes = answer;
    const b = application(t, kafka);
    await b.app.start();
    // Default limit floor(1048588 × 0.9) = 943729: three records of 900 fit in one request.
    assert.deepEqual(split(b.app, 3, 900), [3], `max.message.bytes ${answer}`);
    // 1048 records of 900 bytes = 943200 ≤ 943729; one more is over.
    assert.deepEqual(split(b.app, 1049, 900), [1048, 1], `max.message.bytes ${answer}`);
  }
});

test('each partition has its own task: batches of two partitions store both positions', async (t) => {
  const kafka = new FakeKafka([TOPIC]);
  const { app } = application(t, kafka);
  await app.start();
  assert.deepEqual(await kafka.batch(0, [customer(0, 1), customer(1, 2)]), ['resolve 1', 'heartbeat', 'commit']);
  assert.deepEqual(await kafka.batch(1, [customer(0, 3)]), ['resolve 0', 'heartbeat', 'commit']);
  const positions = await app.store.positions();
  assert.equal(positions.get(TOPIC, 0), 2n);
  assert.equal(positions.get(TOPIC, 1), 1n);
  assert.equal(await app.store.currentEpoch(TOPIC, 1), 1, 'partition 1 acquired by its own task');
});

test('group join: partitions assigned per topic (0 for a topic without any); revoked partitions report lag 0, kept ones keep theirs', async (t) => {
  const kafka = new FakeKafka([TOPIC, OTHER], { [TOPIC]: { 0: [0, 5], 1: [0, 7] }, [OTHER]: { 0: [0, 3] } });
  const { app, id, metrics } = application(t, kafka);
  await app.start();
  const gauge = (name: string, labels: Record<string, string>): Promise<number> => metricValue(metrics.registry, name, { application_id: id, ...labels });
  kafka.emit('consumer.group_join', { memberAssignment: { [TOPIC]: [1, 0], [OTHER]: [0] }, memberId: 'm', groupId: 'g' });
  assert.equal(await gauge(METRIC_NAMES.partitionsAssigned, { topic: TOPIC }), 2);
  assert.equal(await gauge(METRIC_NAMES.partitionsAssigned, { topic: OTHER }), 1);
  assert.deepEqual(await app.readiness(), { assigned: 3, lag: 15, joined: true });
  assert.equal(await gauge(METRIC_NAMES.lag, { topic: TOPIC, partition: '1' }), 7);
  assert.equal(await gauge(METRIC_NAMES.lag, { topic: OTHER, partition: '0' }), 3);
  kafka.emit('consumer.group_join', { memberAssignment: { [TOPIC]: [1] }, memberId: 'm', groupId: 'g' });
  assert.equal(await gauge(METRIC_NAMES.partitionsAssigned, { topic: TOPIC }), 1);
  assert.equal(await gauge(METRIC_NAMES.partitionsAssigned, { topic: OTHER }), 0);
  assert.equal(await gauge(METRIC_NAMES.lag, { topic: TOPIC, partition: '0' }), 0, 'revoked');
  assert.equal(await gauge(METRIC_NAMES.lag, { topic: OTHER, partition: '0' }), 0, 'its whole topic revoked');
  assert.equal(await gauge(METRIC_NAMES.lag, { topic: TOPIC, partition: '1' }), 7, 'kept');
  assert.deepEqual(await app.readiness(), { assigned: 1, lag: 7, joined: true });
});

test('readiness: not joined before the first group join; a join that assigns no partitions (more members than partitions) is joined with 0 assigned', async (t) => {
  const kafka = new FakeKafka([TOPIC], { [TOPIC]: { 0: [0, 5] } });
  const { app } = application(t, kafka);
  await app.start();
  assert.deepEqual(await app.readiness(), { assigned: 0, lag: 0, joined: false });
  kafka.emit('consumer.group_join', { memberAssignment: {}, memberId: 'm', groupId: 'g' });
  assert.deepEqual(await app.readiness(), { assigned: 0, lag: 0, joined: true });
});

test('crash: a transient failure (restart) is no failure; one for good is, and the application is no longer live', async (t) => {
  const kafka = new FakeKafka([TOPIC]);
  const { app } = application(t, kafka);
  await app.start();
  kafka.emit('consumer.crash', { error: new Error('transient'), restart: true });
  assert.equal(app.failure, undefined);
  assert.equal(app.live(), true);
  const fatal = new Error('for good');
  kafka.emit('consumer.crash', { error: fatal, restart: false });
  assert.equal(app.failure, fatal);
  assert.equal(app.live(), false);
});

test('crash during shutdown (a partition stopped waiting): no failure', async (t) => {
  const kafka = new FakeKafka([TOPIC]);
  const { app } = application(t, kafka);
  await app.start();
  await app.stop();
  kafka.emit('consumer.crash', { error: new CdcViewsError('SHUTDOWN', 'shutting down'), restart: false });
  assert.equal(app.failure, undefined);
  assert.deepEqual(kafka.calls, ['admin.connect', 'producer.connect', 'consumer.connect', 'consumer.disconnect', 'producer.disconnect', 'admin.disconnect']);
});

test('a view root whose render throws goes to the DLQ as RENDER_FAILED and is counted (counts, metric, stat); the others render', async (t) => {
  const kafka = new FakeKafka([TOPIC]);
  const { app, id, metrics } = application(t, kafka);
  await app.start();
  await kafka.batch(0, [customer(0, 1), customer(1, 2, 'bad')]);
  const sent = kafka.dlq.sent.flatMap((r) => r.messages);
  assert.equal(sent.length, 1);
  assert.equal(sent[0]!.key, key(2));
  assert.equal(sent[0]!.headers?.['cdcv.error.code'], 'RENDER_FAILED');
  assert.equal(sent[0]!.headers?.['cdcv.origin.view'], 'names');
  assert.equal(app.counts.dlq, 1);
  assert.equal(app.counts.renderFailures, 1);
  assert.equal(await metricValue(metrics.registry, METRIC_NAMES.dlqRecords, { application_id: id, topic: 'view:names', reason: 'RENDER_FAILED' }), 1);
  assert.equal((await app.store.stats()).dlq, 1);
  assert.deepEqual(await new CacheStore(redis, `cache:${id}:names:`).read(key(1)), { name: 'c1' });
});

test('renderCounts before start: nothing rendered', (t) => {
  const { app } = application(t, new FakeKafka([TOPIC]));
  assert.deepEqual(app.renderCounts, { rendered: 0, written: 0, skipped: 0 });
});
