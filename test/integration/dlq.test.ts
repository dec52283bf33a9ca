/**
 * Bad input (invariant 5): a garbage record and a record with a broken
 * envelope in a CDC topic go to the DLQ with their origin and reason; the
 * changes around them are still applied; the DLQ is counted.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel, Partitioners, type KafkaMessage } from 'kafkajs';
import pg from 'pg';
import { awaitWatermark } from '../support/sample-pipeline.ts';
import { DLQ_HEADERS } from '../../src/runtime/dlq.ts';
import { brokers, describeMismatches, header, newRedis, pipeline, processor, readDeadLetters, uniqueId, verifyAll } from './helpers.ts';

const redis = newRedis();
let p: Awaited<ReturnType<typeof pipeline>>;

before(async () => {
  p = await pipeline('dlq');
});
after(async () => {
  await p?.drop();
  redis.disconnect();
});

test('undecodable records go to the DLQ with origin and reason, processing continues', async () => {
  const app = uniqueId('dlq');
  const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const topic = `${p.topicPrefix}.public.customers`;
  const garbage = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00]);
  const broken = JSON.stringify({ schema: { type: 'struct', fields: [] }, payload: { before: null, after: { id: 1 }, source: {}, op: 'x' } });
  const [sent] = await producer.send({
    topic,
    acks: -1,
    messages: [
      { partition: 0, key: '{"id":999999}', value: garbage },
      { partition: 0, key: '{"id":999998}', value: broken },
    ],
  });
  await producer.disconnect();
  const firstOffset = BigInt(sent!.baseOffset!);

  // A real change after the bad records, on every partition (the customers table's rows spread over all three).
  const source = new pg.Client({ connectionString: p.connectionString });
  await source.connect();
  await source.query(`UPDATE customers SET name = name || ' ✓'`);
  await source.end();

  const proc = processor({ applicationId: app, topics: p.topics, redis });
  await proc.start();
  try {
    await awaitWatermark(p, proc.store);
    await proc.waitUntilCaughtUp();
    const { total, detail } = describeMismatches(await verifyAll(p, proc.store));
    assert.equal(total, 0, `changes after the bad records were applied: ${detail}`);
    assert.equal(proc.counts.dlq, 2);
    assert.equal((await proc.store.stats()).dlq, 2);

    const letters = await readDeadLetters(app, 2);

    assert.equal(letters.length, 2);
    const h = header;
    const [a, b] = letters as [KafkaMessage, KafkaMessage];
    for (const [m, offset] of [[a, firstOffset], [b, firstOffset + 1n]] as const) {
      assert.equal(h(m, DLQ_HEADERS.topic), topic);
      assert.equal(h(m, DLQ_HEADERS.partition), '0');
      assert.equal(h(m, DLQ_HEADERS.offset), offset.toString());
    }
    assert.equal(h(a, DLQ_HEADERS.code), 'DECODE_NOT_JSON');
    assert.deepEqual(a.value, garbage, 'raw bytes preserved');
    assert.equal(h(b, DLQ_HEADERS.code), 'DECODE_BAD_ENVELOPE');
    assert.match(h(b, DLQ_HEADERS.message) ?? '', /op is "x"/);
    assert.equal(b.value?.toString(), broken);
  } finally {
    await proc.stop();
    await proc.store.destroy();
  }
});
