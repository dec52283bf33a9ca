/**
 * Bad Avro input (invariant 5) on a topic written by Debezium's Avro converter:
 * a record naming a schema id the registry does not have, and a record whose
 * bytes do not match its (existing) schema, go to the DLQ with the reason;
 * the real changes around them are applied.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel, Partitioners, type KafkaMessage } from 'kafkajs';
import pg from 'pg';
import { AvroErrorCode, autoDecoder } from '../../src/cdc/avro.ts';
import { awaitWatermark } from '../support/sample-pipeline.ts';
import { DLQ_HEADERS } from '../../src/runtime/dlq.ts';
import { brokers, cfg, describeMismatches, header, newRedis, pipeline, processor, readDeadLetters, sleep, uniqueId, verifyAll } from './helpers.ts';

const redis = newRedis();
let p: Awaited<ReturnType<typeof pipeline>>;

before(async () => {
  p = await pipeline('avdlq', { format: 'avro' });
});
after(async () => {
  await p?.drop();
  redis.disconnect();
});

/** The first record of a topic (a real Debezium Avro record). */
async function firstRecord(kafka: Kafka, topic: string): Promise<KafkaMessage> {
  const consumer = kafka.consumer({ groupId: uniqueId('avdlq-peek') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let first: KafkaMessage | undefined;
  await consumer.run({
    eachMessage: ({ message }) => {
      first ??= message;
      return Promise.resolve();
    },
  });
  for (let i = 0; i < 200 && !first; i++) await sleep(100);
  await consumer.disconnect();
  assert.ok(first?.key && first.value, `a record in ${topic}`);
  return first;
}

test('an unknown schema id and bytes that do not match their schema go to the DLQ with the reason', async () => {
  const app = uniqueId('avdlq');
  const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
  const topic = `${p.topicPrefix}.public.customers`;
  const real = await firstRecord(kafka, topic);
  const unknownId = Buffer.concat([Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0]), real.value!.subarray(5)]);
  const truncated = real.value!.subarray(0, real.value!.length - 7);

  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const [sent] = await producer.send({
    topic,
    acks: -1,
    messages: [
      { partition: 0, key: real.key, value: unknownId },
      { partition: 0, key: real.key, value: truncated },
    ],
  });
  await producer.disconnect();
  const firstOffset = BigInt(sent!.baseOffset!);

  const source = new pg.Client({ connectionString: p.connectionString });
  await source.connect();
  await source.query(`UPDATE customers SET name = name || ' ✓'`);
  await source.end();

  const proc = processor({ applicationId: app, topics: p.topics, redis, decoder: autoDecoder({ registryUrl: cfg.CDCV_SCHEMA_REGISTRY_URL }) });
  await proc.start();
  try {
    await awaitWatermark(p, proc.store);
    await proc.waitUntilCaughtUp();
    const { total, detail } = describeMismatches(await verifyAll(p, proc.store));
    assert.equal(total, 0, `changes around the bad records were applied: ${detail}`);
    assert.equal(proc.counts.dlq, 2);

    const letters = await readDeadLetters(app, 2);

    assert.equal(letters.length, 2);
    const h = header;
    const [a, b] = letters as [KafkaMessage, KafkaMessage];
    assert.equal(h(a, DLQ_HEADERS.offset), firstOffset.toString());
    assert.equal(h(a, DLQ_HEADERS.code), AvroErrorCode.UnknownSchemaId);
    assert.match(h(a, DLQ_HEADERS.message), /schema id 2147483632 does not exist/);
    assert.deepEqual(a.value, unknownId, 'raw bytes preserved');
    assert.equal(h(b, DLQ_HEADERS.offset), (firstOffset + 1n).toString());
    assert.equal(h(b, DLQ_HEADERS.code), AvroErrorCode.BadAvro);
    assert.match(h(b, DLQ_HEADERS.message), /bytes do not match Avro schema id \d+/);
    assert.deepEqual(b.value, truncated);
  } finally {
    await proc.stop();
    await proc.store.destroy();
  }
});
