/**
 * `npm run measure-rss`: memory while catching up a backlog.
 *
 * Produces N Debezium-shaped JSON change events (schemas off, like
 * `value.converter.schemas.enable=false`; ≈300–500 bytes each, K distinct
 * keys, 3 partitions, keyed so one key lives in one partition) straight into a
 * fresh topic `rss_<id>.public.items` with kafkajs, then runs
 * `cdc-views run --until-caught-up` on it as a child process and samples its
 * resident set size (VmRSS from /proc/<pid>/status) every second. Prints the
 * peak and mean RSS and the records/s, then removes the topic, the state and
 * the consumer group (unless --keep).
 *
 *   npm run measure-rss -- [--records 1000000] [--keys 100000] [--partitions 3]
 *
 * The in-flight budget is the processor's configuration (CDCV_MAX_BYTES,
 * CDCV_MAX_BYTES_PER_PARTITION, CDCV_PARTITIONS_CONCURRENTLY,
 * CDCV_MAX_CHUNK_RECORDS), passed through the environment to the child.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { Redis } from 'ioredis';
import { CompressionTypes, Kafka, Partitioners, logLevel } from 'kafkajs';
import { loadEnv } from '../src/config.ts';
import { StateStore } from '../src/state/store.ts';

const opts = new Command('measure-rss')
  .description('Measure the RSS of `cdc-views run --until-caught-up` catching up a backlog of Debezium JSON records')
  .option('--records <n>', 'records to produce', (v) => Number(v), 1_000_000)
  .option('--keys <n>', 'distinct primary keys', (v) => Number(v), 100_000)
  .option('--partitions <n>', 'partitions of the topic', (v) => Number(v), 3)
  .option('--keep', 'keep the topic, state and group afterwards')
  .parse()
  .opts<{ records: number; keys: number; partitions: number; keep?: boolean }>();

const say = (line: string): void => void process.stdout.write(`${line}\n`);
const cfg = loadEnv();
const id = `rss_${randomUUID().slice(0, 8)}`;
const topic = `${id}.public.items`;
const app = id;
const kafka = new Kafka({ clientId: 'measure-rss', brokers: cfg.CDCV_KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic, numPartitions: opts.partitions }], waitForLeaders: true });

// ---------------------------------------------------------------- produce
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
await producer.connect();
const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliett'];
const started = Date.now();
let bytes = 0;
const record = (n: number): { key: string; value: string } => {
  const key = n % opts.keys;
  const ts = started + n;
  const after = {
    id: key,
    sku: `SKU-${key.toString(36).toUpperCase()}`,
    name: `${words[key % 10]} ${words[(key >> 3) % 10]} item ${key}`,
    price: ((n % 100_000) / 100).toFixed(2),
    stock: n % 997,
    active: n % 7 !== 0,
    note: words.slice(0, 1 + (n % 6)).join(' '),
    updated_at: new Date(ts).toISOString(),
  };
  const value = {
    before: null,
    after,
    source: { version: '3.1.3.Final', connector: 'postgresql', name: id, ts_ms: ts, snapshot: 'false', db: 'rss', sequence: `[null,"${n}"]`, schema: 'public', table: 'items', txId: 1000 + n, lsn: 10_000_000 + n * 100, xmin: null },
    transaction: null,
    op: n < opts.keys ? 'c' : 'u',
    ts_ms: ts,
  };
  return { key: JSON.stringify({ id: key }), value: JSON.stringify(value) };
};
const BATCH = 5000;
for (let n = 0; n < opts.records; n += BATCH) {
  const messages = [];
  for (let i = n; i < Math.min(n + BATCH, opts.records); i++) {
    const m = record(i);
    bytes += m.key.length + m.value.length;
    messages.push(m);
  }
  await producer.send({ topic, acks: 1, compression: CompressionTypes.None, messages });
  if ((n / BATCH) % 40 === 0) process.stdout.write(`\r  produced ${n + messages.length} / ${opts.records}`);
}
await producer.disconnect();
const produceSecs = (Date.now() - started) / 1000;
say(`\rproduced ${opts.records} records (${opts.keys} keys, ${opts.partitions} partitions, mean ${(bytes / opts.records).toFixed(0)} bytes) to ${topic} in ${produceSecs.toFixed(1)} s`);

// ---------------------------------------------------------------- consume and sample RSS
const args = ['--import', 'tsx', 'src/cli/main.ts', 'run', '--app', app, '--topics', `^${id.replace(/[.]/g, '\\.')}\\.public\\.`, '--until-caught-up', '--http-port', '0'];
say(`running: cdc-views ${args.slice(3).join(' ')}`);
const t0 = Date.now();
const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, CDCV_LOG_LEVEL: 'warn' } });
const samples: number[] = [];
const rssKb = (pid: number): number | null => {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
};
const sampler = setInterval(() => {
  const kb = child.pid === undefined ? null : rssKb(child.pid);
  if (kb !== null) samples.push(kb);
}, 1000);
const code = await new Promise<number | null>((res) => child.once('exit', (c) => res(c)));
clearInterval(sampler);
const secs = (Date.now() - t0) / 1000;

const mib = (kb: number): string => (kb / 1024).toFixed(0);
const peak = Math.max(...samples);
const mean = samples.reduce((a, b) => a + b, 0) / Math.max(samples.length, 1);
const tail = samples.slice(Math.floor(samples.length / 2));
say(`\nexit code ${code}; ${opts.records} records caught up in ${secs.toFixed(1)} s (start-up included) = ${(opts.records / secs).toFixed(0)} records/s`);
say(`RSS (VmRSS, sampled every 1 s, ${samples.length} samples): peak ${mib(peak)} MiB, mean ${mib(mean)} MiB, mean of the second half ${mib(tail.reduce((a, b) => a + b, 0) / Math.max(tail.length, 1))} MiB`);
say(`RSS over time (MiB, every ${Math.max(1, Math.ceil(samples.length / 20))} s): ${samples.filter((_, i) => i % Math.max(1, Math.ceil(samples.length / 20)) === 0).map(mib).join(' ')}`);
say(`budget: CDCV_MAX_BYTES=${cfg.CDCV_MAX_BYTES} CDCV_MAX_BYTES_PER_PARTITION=${cfg.CDCV_MAX_BYTES_PER_PARTITION} CDCV_PARTITIONS_CONCURRENTLY=${cfg.CDCV_PARTITIONS_CONCURRENTLY} CDCV_MAX_CHUNK_RECORDS=${cfg.CDCV_MAX_CHUNK_RECORDS}`);

const redis = new Redis(cfg.CDCV_REDIS_URL);
const store = new StateStore(redis, app);
const stats = await store.stats();
const items = await store.resolveTable('public.items');
say(`state: applied ${stats[`applied:${items}`] ?? 0}, stale ${stats[`stale:${items}`] ?? 0}, rows ${await store.size(items)}`);
if (!opts.keep) {
  await store.destroy();
  await admin.deleteGroups([app]).catch(() => undefined);
  await admin.deleteTopics({ topics: [topic, `cdcv.${app}.dlq`] }).catch(() => undefined);
}
redis.disconnect();
await admin.disconnect();
process.exit(code === 0 ? 0 : 1);
