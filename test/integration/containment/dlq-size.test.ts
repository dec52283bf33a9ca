/**
 * Containment of dead letters by size (README "DLQ", src/runtime/dlq.ts):
 * the DLQ topic keeps the broker's default `max.message.bytes` (~1 MB), and
 * what goes to it is far more than one produce request may carry.
 *
 * Injected, while a mirror application runs on a sample pipeline:
 *  - 5,000 records without a key (copies of a real Debezium change of
 *    `customers`, each with another name) produced to the customers topic in
 *    one gzip-compressed send, i.e. one record batch, so they are fetched
 *    together and land in one chunk (the application runs with
 *    `maxChunkRecords` 10,000): 5,000 dead letters (`DECODE_NO_KEY`, their
 *    original bytes, several MB in all) in one DLQ write;
 *  - one ~2 MB keyless record on a topic of the pipeline (`<prefix>.public.blobs`)
 *    created with `max.message.bytes` 3 MB: it cannot fit in the DLQ topic;
 *  - then valid changes after them: every customer renamed in PostgreSQL
 *    (every partition of the customers topic), and one keyed record on the
 *    blobs topic after the 2 MB one.
 *
 * Checked, by reading the DLQ with a plain kafkajs consumer: exactly one DLQ
 * record per injected record, matched by origin (topic, partition, offset
 * headers), no other and none twice; the 5,000 carry their original value;
 * the 2 MB one is a stub (header `cdcv.dlq.truncated: true`,
 * `cdcv.dlq.original.size`, JSON value with the sizes and the first 1 KiB of
 * the original, which is compared with what was produced); the DLQ topic's
 * limit is below the 2 MB and below the total written. The valid changes
 * after them were applied (every table equals `SELECT *`, the blobs row is in
 * state); the application was live at every sample, emitted no consumer
 * CRASH event, joined the group once; its DLQ counters say 5,001.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import kafkajs, { CompressionTypes, Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import pg from 'pg';
import { awaitWatermark } from '../../support/sample-pipeline.ts';
import { readStateTable } from '../../support/verify/compare.ts';
import { DEFAULT_MAX_MESSAGE_BYTES, DLQ_HEADERS, dlqTopic } from '../../../src/runtime/dlq.ts';
import { logger } from '../../../src/log.ts';
import { brokers, describeMismatches, header, newRedis, pipeline, processor, readWholeTopic, sleep, uniqueId, watchedKafka, verifyAll } from '../helpers.ts';

const KEYLESS = 5000;
const BIG_BYTES = 2 * 1024 * 1024;
const BLOBS_MAX_MESSAGE_BYTES = 3 * 1024 * 1024;

const redis = newRedis();
let p: Awaited<ReturnType<typeof pipeline>>;

before(async () => {
  p = await pipeline('dlqsz');
});
after(async () => {
  await p?.drop();
  redis.disconnect();
});

/** The first record of a topic (all partitions) that `match` accepts. */
async function findRecord(kafka: Kafka, topic: string, match: (m: KafkaMessage) => boolean, timeoutMs = 60_000): Promise<KafkaMessage> {
  const consumer = kafka.consumer({ groupId: `template-${randomUUID().slice(0, 8)}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let found: KafkaMessage | undefined;
    await consumer.run({
      eachMessage: ({ message }) => {
        if (!found && match(message)) found = message;
        return Promise.resolve();
      },
    });
    const deadline = Date.now() + timeoutMs;
    while (!found && Date.now() < deadline) await sleep(100);
    assert.ok(found, `a record of ${topic} to copy`);
    return found;
  } finally {
    await consumer.disconnect();
  }
}

interface Envelope {
  schema?: unknown;
  payload: { op: string; after: Record<string, unknown>; [k: string]: unknown };
}

test('5,000 keyless records in one chunk and one 2 MB record: all in the DLQ, the application goes on, no crash', async () => {
  const started = Date.now();
  const applicationId = uniqueId('dlqsz');
  const log = logger.child({ test: true }, { level: 'error' }); // every dead letter is a warn line: 5,001 of them
  const plain = new Kafka({ brokers, logLevel: logLevel.NOTHING });
  const customersTopic = `${p.topicPrefix}.public.customers`;
  const blobsTopic = `${p.topicPrefix}.public.blobs`;

  // A topic of the pipeline that accepts 3 MB records; the DLQ topic keeps the broker default.
  const admin = plain.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: blobsTopic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: String(BLOBS_MAX_MESSAGE_BYTES) }] }] });

  // The application's own Kafka client, watched: every consumer it creates reports its CRASH events.
  const { kafka, crashes } = watchedKafka(applicationId, log);
  const proc = processor({ applicationId, redis, topics: p.topics, kafka, logger: log, maxChunkRecords: 10_000 });

  let samples = 0;
  const notLive: number[] = [];
  let liveness: NodeJS.Timeout | undefined;
  const source = new pg.Client({ connectionString: p.connectionString });
  await source.connect();
  const producer = plain.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  await proc.start();
  try {
    assert.ok(proc.topics.includes(blobsTopic) && proc.topics.includes(customersTopic), `the application consumes ${blobsTopic}`);
    liveness = setInterval(() => {
      samples += 1;
      if (!proc.live()) notLive.push(Date.now() - started);
    }, 100);
    await awaitWatermark(p, proc.store);
    await proc.waitUntilCaughtUp({ signal: AbortSignal.timeout(120_000) });

    // A real change of customer 1 to copy.
    await source.query(`UPDATE public.customers SET name = name WHERE id = 1`);
    const template = await findRecord(plain, customersTopic, (m) => {
      const v = m.value ? (JSON.parse(m.value.toString()) as Envelope) : null;
      return v?.payload.op === 'u' && v.payload.after.id === 1;
    });
    const envelope = (patch: Record<string, unknown>): Buffer => {
      const v = JSON.parse(template.value!.toString()) as Envelope;
      Object.assign(v.payload.after, patch);
      return Buffer.from(JSON.stringify(v));
    };

    // 5,000 keyless records: one send, one compressed record batch (below the topic's 1 MB limit), one fetch.
    const keyless = Array.from({ length: KEYLESS }, (_, i) => envelope({ name: `keyless ${i}` }));
    const [sent] = await producer.send({ topic: customersTopic, acks: -1, compression: CompressionTypes.GZIP, messages: keyless.map((value) => ({ partition: 0, key: null, value })) });
    const keylessBase = BigInt(sent!.baseOffset!);
    // One keyless record of ~2 MB, then a valid keyed record after it on the same partition.
    const big = envelope({ name: 'x'.repeat(BIG_BYTES) });
    const [bigSent] = await producer.send({ topic: blobsTopic, acks: -1, messages: [{ partition: 0, key: null, value: big }] });
    const bigOffset = BigInt(bigSent!.baseOffset!);
    const key = JSON.parse(template.key!.toString()) as { payload?: Record<string, unknown> } & Record<string, unknown>;
    if (key.payload) key.payload.id = 900_001;
    else key.id = 900_001;
    await producer.send({ topic: blobsTopic, acks: -1, messages: [{ partition: 0, key: JSON.stringify(key), value: envelope({ id: 900_001, name: 'after the big one' }) }] });
    // Valid changes after them, on every partition of the customers topic.
    const renamed = (await source.query(`UPDATE public.customers SET name = name || ' ✓'`)).rowCount ?? 0;
    assert.ok(renamed > 0);

    await awaitWatermark(p, proc.store);
    await proc.waitUntilCaughtUp({ signal: AbortSignal.timeout(120_000) });

    // The changes after the bad records were applied.
    const tables = await verifyAll(p, proc.store);
    const { total, detail } = describeMismatches(tables);
    assert.equal(total, 0, `changes after the bad records were applied: ${detail}`);
    const blobs = await readStateTable(proc.store, blobsTopic);
    assert.deepEqual([...blobs.values()].map((r) => [r.id, r.name]), [[900_001, 'after the big one']], 'the record after the 2 MB one was applied');

    // The DLQ holds each bad record once, by origin.
    const letters = await readWholeTopic(dlqTopic(applicationId), plain);
    const injected = new Map<string, Buffer>();
    keyless.forEach((value, i) => injected.set(`${customersTopic}:0:${keylessBase + BigInt(i)}`, value));
    injected.set(`${blobsTopic}:0:${bigOffset}`, big);
    const byOrigin = new Map<string, KafkaMessage>();
    for (const m of letters) byOrigin.set(`${header(m, DLQ_HEADERS.topic)}:${header(m, DLQ_HEADERS.partition)}:${header(m, DLQ_HEADERS.offset)}`, m);
    assert.equal(byOrigin.size, letters.length, 'no origin twice in the DLQ');
    const missing = [...injected.keys()].filter((o) => !byOrigin.has(o));
    const extra = [...byOrigin.keys()].filter((o) => !injected.has(o));
    assert.deepEqual(missing.slice(0, 5), [], `${missing.length} bad records missing from the DLQ`);
    assert.deepEqual(extra.slice(0, 5), [], `${extra.length} unexpected DLQ records`);
    assert.equal(letters.length, KEYLESS + 1);

    let dlqBytes = 0;
    let intact = 0;
    for (const [origin, m] of byOrigin) {
      dlqBytes += (m.key?.length ?? 0) + (m.value?.length ?? 0);
      assert.equal(header(m, DLQ_HEADERS.code), 'DECODE_NO_KEY', origin);
      assert.equal(header(m, DLQ_HEADERS.applicationId), applicationId);
      if (origin.startsWith(`${customersTopic}:`)) {
        assert.equal(header(m, DLQ_HEADERS.truncated), '', `${origin} is not a stub`);
        assert.ok(m.value?.equals(injected.get(origin)!), `${origin}: the original bytes`);
        intact += 1;
      }
    }
    assert.equal(intact, KEYLESS);

    // The 2 MB record: a stub with its origin, size and first bytes.
    const stub = byOrigin.get(`${blobsTopic}:0:${bigOffset}`)!;
    assert.equal(header(stub, DLQ_HEADERS.truncated), 'true');
    assert.equal(header(stub, DLQ_HEADERS.size), String(big.length));
    const body = JSON.parse(stub.value!.toString()) as { truncated: boolean; keyBytes: number; valueBytes: number; keyHead: string; valueHead: string };
    assert.deepEqual(body, { truncated: true, keyBytes: 0, valueBytes: big.length, keyHead: '', valueHead: big.subarray(0, 1024).toString('base64') });
    assert.equal(stub.key, null, 'the original had no key, and neither has its stub (as the intact dead letters of keyless records)');
    assert.equal(byOrigin.get(`${customersTopic}:0:${keylessBase}`)!.key, null, 'an intact dead letter of a keyless record has no key');

    // The DLQ topic could not have taken them in one request, nor the 2 MB record at all.
    const { resources } = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: dlqTopic(applicationId), configNames: ['max.message.bytes'] }] });
    const dlqLimit = Number(resources[0]!.configEntries.find((e) => e.configName === 'max.message.bytes')!.configValue);
    assert.ok(dlqLimit <= DEFAULT_MAX_MESSAGE_BYTES && dlqLimit < big.length, `the DLQ topic keeps the default limit (${dlqLimit})`);
    assert.ok(dlqBytes > 2 * dlqLimit, `the dead letters (${dlqBytes} bytes) needed several produce requests`);

    // The 5,000 were one chunk (the chunk-size histogram saw a chunk of more than 2,500 records of the customers topic).
    const chunks = (await proc.metrics.registry.getSingleMetric('cdc_views_chunk_size_records')?.get())?.values ?? [];
    const bucket = (le: number | string): number => chunks.find((v) => v.labels.topic === customersTopic && String(v.labels.le) === String(le) && ((v as { metricName?: string }).metricName ?? '').endsWith('_bucket'))?.value ?? 0;
    assert.ok(bucket('+Inf') - bucket(2500) >= 1, 'a chunk of more than 2,500 records');

    // Counted, and never restarted.
    const metric = async (name: string, labels: Record<string, string>): Promise<number> =>
      ((await proc.metrics.registry.getSingleMetric(name)?.get())?.values ?? [])
        .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
        .reduce((n, v) => n + v.value, 0);
    assert.equal(await metric('cdc_views_dlq_records_total', { reason: 'DECODE_NO_KEY' }), KEYLESS + 1);
    assert.equal(proc.counts.dlq, KEYLESS + 1);
    assert.equal((await proc.store.stats()).dlq, KEYLESS + 1);
    assert.equal(proc.failure, undefined, 'no error stopped the consumer');
    assert.ok(samples > 50, `liveness sampled (${samples})`);
    assert.deepEqual(notLive, [], 'live at every sample');
    assert.deepEqual(crashes, [], 'no CRASH event');
    assert.equal(await metric('cdc_views_rebalances_total', {}), 1, 'one group join: the consumer never restarted');

    console.log(
      `dlq-size: injected: ${KEYLESS} keyless records (one batch) + 1 of ${big.length} bytes, then ${renamed} customer updates and 1 keyed record; ` +
        `seen in DLQ: ${letters.length} records (${intact} intact, 1 stub), ${dlqBytes} bytes under a limit of ${dlqLimit}; ` +
        `documents compared: ${[...tables.values()].reduce((n, c) => n + c.expected, 0)} rows + 1 blobs row; mismatches: ${total}; ` +
        `liveness samples ${samples}, not live ${notLive.length}, crashes ${crashes.length}; ${Date.now() - started} ms`,
    );
  } finally {
    clearInterval(liveness);
    await producer.disconnect();
    await source.end();
    await proc.stop();
    await proc.store.destroy();
    await admin.deleteTopics({ topics: [dlqTopic(applicationId)] }).catch(() => undefined);
    await admin.disconnect();
  }
});
