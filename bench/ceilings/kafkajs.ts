/**
 * The client ceiling with KafkaJS: consume a topic from the earliest offset
 * with the same consumer settings as cdc-views (eachBatch,
 * partitionsConsumedConcurrently, maxBytes, maxBytesPerPartition), JSON.parse
 * every key and value and nothing else; stop when every partition reached the
 * end offset it had at start; print one JSON line.
 *
 *   node --import tsx bench/ceilings/kafkajs.ts <brokers> <topic> <groupId> <concurrency>
 */
import { Kafka, logLevel } from 'kafkajs';
import { loadEnv } from '../../src/config.ts';

const [brokers, topic, groupId, concurrency] = process.argv.slice(2) as [string, string, string, string];
const cfg = loadEnv();
const kafka = new Kafka({ clientId: 'bench-ceiling', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.high)]));
await admin.disconnect();
const next = new Map<number, bigint>();
let records = 0;
let sink = 0;
const consumer = kafka.consumer({ groupId, maxBytesPerPartition: cfg.CDCV_MAX_BYTES_PER_PARTITION, maxBytes: cfg.CDCV_MAX_BYTES });
await consumer.connect();
await consumer.subscribe({ topics: [topic], fromBeginning: true });
let resolveDone!: () => void;
const done = new Promise<void>((r) => (resolveDone = r));
const check = (): void => {
  for (const [p, end] of ends) if (end > 0n && (next.get(p) ?? 0n) < end) return;
  resolveDone();
};
await consumer.run({
  partitionsConsumedConcurrently: Number(concurrency),
  eachBatch: ({ batch }) => {
    for (const m of batch.messages) {
      if (m.key) sink += (JSON.parse(m.key.toString('utf8')) as object) ? 1 : 0;
      if (m.value) sink += (JSON.parse(m.value.toString('utf8')) as object) ? 1 : 0;
    }
    records += batch.messages.length;
    next.set(batch.partition, BigInt(batch.lastOffset()) + 1n);
    check();
    return Promise.resolve();
  },
});
check();
await done;
const seconds = performance.now() / 1000;
process.stdout.write(`${JSON.stringify({ done: true, records, parsed: sink, secondsSinceStart: seconds })}\n`);
await consumer.disconnect();
process.exit(0);
