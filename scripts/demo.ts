/**
 * `npm run demo`: the main job end to end on real parts.
 *
 * stack up (unless CDCV_KAFKA_BROKERS and CDCV_CONNECT_URL point at one) →
 * sample database `cdcv_demo` → Debezium connector `cdcv-demo` (topics
 * `demo.public.*`, 3 partitions) → the mirror and the customer-cache topology
 * running as application `demo` while a workload changes the database →
 * caught up → every table's state and the cache view compared value by value
 * with PostgreSQL. Exits 1 on any mismatch.
 *
 * Everything is left in place afterwards for inspection, e.g.
 *   npx cdc-views dump --app demo --table public.customers
 * and removed by the next run.
 */
import { spawnSync } from 'node:child_process';
import { Command } from 'commander';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { loadEnv } from '../src/config.ts';
import { logger } from '../src/log.ts';
import { awaitWatermark, startSamplePipeline } from '../src/ops/sample-pipeline.ts';
import { Processor } from '../src/runtime/processor.ts';
import { runWorkload } from '../src/sample/workload.ts';
import { resolveView } from '../src/topology/topology.ts';
import { mismatches, verifyCacheView, verifyTable, type Comparison } from '../src/verify/compare.ts';
import customerCache from '../topologies/customer-cache.ts';

const opts = new Command('demo')
  .description('Run cdc-views end to end on the sample database and compare the derived state with PostgreSQL')
  .option('--rate <n>', 'workload row changes per second', (v) => Number(v), 1000)
  .option('--duration <s>', 'workload duration in seconds', (v) => Number(v), 15)
  .option('--app <id>', 'applicationId', 'demo')
  .parse()
  .opts<{ rate: number; duration: number; app: string }>();

const say = (line: string): void => void process.stdout.write(`${line}\n`);
const step = (line: string): void => say(`\n▶ ${line}`);

if (!process.env.CDCV_KAFKA_BROKERS || !process.env.CDCV_CONNECT_URL) {
  step('local stack (scripts/stack/up.sh)');
  const r = spawnSync('bash', ['scripts/stack/up.sh'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const cfg = loadEnv();
const app = opts.app;

step('sample database cdcv_demo and Debezium connector cdcv-demo');
const pipeline = await startSamplePipeline({ id: 'demo' });
say(`  topics ${pipeline.topicPrefix}.public.* (3 partitions each), snapshot done`);

// A fresh application: no state, no positions, no committed offsets.
const redis = new Redis(cfg.CDCV_REDIS_URL);
const kafka = new Kafka({ brokers: cfg.CDCV_KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
await admin.deleteGroups([app]).catch(() => undefined);
const views = customerCache.views.map((v) => resolveView(v, app));
for (const v of views) {
  const stale = await redis.keys(`${v.sink.prefix}*`);
  if (stale.length > 0) await redis.unlink(...stale);
}

const processor = new Processor({
  applicationId: app,
  brokers: cfg.CDCV_KAFKA_BROKERS.split(','),
  redis,
  topics: pipeline.topics,
  views: customerCache.views,
  // Progress is printed by the demo itself; the processor's own logs only from warn up unless asked for.
  logger: logger.child({ component: 'demo' }, { level: process.env.CDCV_LOG_LEVEL ?? 'warn' }),
});
await processor.store.destroy();
step(`application ${app}: mirror of ${pipeline.topics.source} + topology ${customerCache.name}`);
const started = Date.now();
await processor.start();

step(`workload: ${opts.rate} changes/s for ${opts.duration} s`);
let wl = { changes: 0 };
const progress = setInterval(() => {
  void processor.lag().then((l) => {
    const lag = l.reduce((a, p) => a + p.lag, 0n);
    const c = processor.counts;
    say(`  workload ${wl.changes} changes | consumed ${c.consumed}  applied ${c.applied}  stale ${c.stale}  dlq ${c.dlq} | lag ${lag}`);
  });
}, 2000);
const stats = await runWorkload({
  connectionString: pipeline.connectionString,
  ratePerSecond: opts.rate,
  durationSeconds: opts.duration,
  onProgress: (s) => (wl = s),
});
say(`  done: ${stats.changes} changes (${stats.inserts} inserts, ${stats.updates} updates incl. ${stats.keyUpdates} key changes, ${stats.deletes} deletes, ${stats.reinserts} re-inserts) in ${stats.transactions} transactions`);

step('waiting until caught up (watermark row, then lag 0)');
await awaitWatermark(pipeline, processor.store);
await processor.waitUntilCaughtUp();
clearInterval(progress);
const elapsed = (Date.now() - started) / 1000;

step('comparing with PostgreSQL, value by value');
const source = new pg.Client({ connectionString: pipeline.connectionString });
await source.connect();
const tableResults = new Map<string, Comparison>();
for (const table of pipeline.tables) tableResults.set(table, await verifyTable(source, processor.store, table));
const viewResults = new Map<string, Comparison>();
for (const view of views) viewResults.set(view.name, await verifyCacheView(source, redis, view));
await source.end();

const counters = await processor.store.stats();
const lag = (await processor.lag()).reduce((a, p) => a + p.lag, 0n);
const pad = (s: string | number, n: number): string => String(s).padStart(n);
say(`\n${'table'.padEnd(22)}${pad('rows in PG', 12)}${pad('in state', 10)}${pad('mismatch', 10)}${pad('applied', 10)}`);
let bad = 0;
for (const [table, c] of tableResults) {
  bad += mismatches(c);
  say(`${table.padEnd(22)}${pad(c.expected, 12)}${pad(c.actual, 10)}${pad(mismatches(c), 10)}${pad(counters[`applied:${table}`] ?? 0, 10)}`);
}
say(`\n${'view (cache)'.padEnd(22)}${pad('SQL rows', 12)}${pad('docs', 10)}${pad('mismatch', 10)}`);
for (const [name, c] of viewResults) {
  bad += mismatches(c);
  say(`${name.padEnd(22)}${pad(c.expected, 12)}${pad(c.actual, 10)}${pad(mismatches(c), 10)}`);
}
const c = processor.counts;
say(`\nevents consumed ${c.consumed} (${(c.consumed / elapsed).toFixed(0)} events/s over ${elapsed.toFixed(1)} s), applied ${c.applied}, stale skipped ${c.stale}, tombstones ${c.tombstones}, DLQ ${c.dlq}, lag ${lag}`);
for (const [name, r] of [...tableResults, ...viewResults]) {
  for (const k of [...r.missing.slice(0, 3)]) say(`  ${name}: missing ${k}`);
  for (const k of [...r.extra.slice(0, 3)]) say(`  ${name}: extra ${k}`);
  for (const k of [...r.different.slice(0, 3)]) say(`  ${name}: different ${k}`);
}
say(bad === 0 ? '\n✔ 0 mismatches' : `\n✘ ${bad} mismatches`);
say(`inspect: npx cdc-views dump --app ${app} --table public.customers | head`);

await processor.stop();
await admin.disconnect();
redis.disconnect();
process.exit(bad === 0 && lag === 0n ? 0 : 1);
