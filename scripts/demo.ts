/**
 * `npm run demo`: the main job end to end on real parts.
 *
 * stack up (unless CDCV_KAFKA_BROKERS and CDCV_CONNECT_URL point at one) →
 * sample database `cdcv_demo` → Debezium connector `cdcv-demo` (topics
 * `demo.public.*`, 3 partitions) → the mirror and the customer-cache topology
 * running as application `demo` while a workload changes the database →
 * caught up → every table's state and the cache view compared value by value
 * with PostgreSQL; meanwhile `public.orders` goes into a Delta Lake table in
 * s3proxy (scripts/demo-lake.ts), read back by Delta Kernel and DuckDB and
 * compared too. Exits 1 on any mismatch.
 *
 * `--format avro` captures with Apicurio's Kafka Connect AvroConverter (Confluent
 * wire format, the stack's schema registry) instead of JSON, and decodes through
 * the registry (src/cdc/avro.ts); the comparison is the same.
 *
 * Everything is left in place afterwards for inspection, e.g.
 *   npx cdc-views dump --app demo --table public.customers
 * and removed by the next run.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Command, Option } from 'commander';
import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { Registry } from 'prom-client';
import { loadEnv } from '../src/config.ts';
import { logger } from '../src/log.ts';
import { createMetrics } from '../src/metrics/catalogue.ts';
import { startHttpServer, type HttpServer, type HttpServerOptions } from '../src/metrics/server.ts';
import { Secret } from '../src/secrets.ts';
import { awaitWatermark, startSamplePipeline } from '../test/support/sample-pipeline.ts';
import { startDemoLake } from './demo-lake.ts';
import { Application } from '../src/runtime/application.ts';
import { runWorkload } from '../test/support/sample/workload.ts';
import { resolveSinkPlan } from '../src/sinks/index.ts';
import { tablesOf, topicsFor, type TopologyPlan } from '../src/topology/plan.ts';
import { mismatches, untilConverged, verifyCacheView, verifySearchView, verifyTable, type Comparison } from '../test/support/verify/compare.ts';
import customerCache from '../topologies/customer-cache.ts';
import orderSearch from '../topologies/order-search.ts';
import salesByProduct from '../topologies/sales-by-product.ts';

/** The example topologies the demo runs, each as its own application `<app>-<topology>`. */
const TOPOLOGIES: TopologyPlan[] = [customerCache, orderSearch, salesByProduct];

const opts = new Command('demo')
  .description('Run cdc-views end to end on the sample database and compare the derived state with PostgreSQL')
  .option('--rate <n>', 'workload row changes per second', (v) => Number(v), 1000)
  .option('--changes <n>', 'workload row changes to make', (v) => Number(v), 12_000)
  .option('--duration <s>', 'longest workload duration in seconds (stops earlier at --changes)', (v) => Number(v), 60)
  .option('--app <id>', 'applicationId', 'demo')
  .addOption(new Option('--format <format>', 'record encoding Debezium writes').choices(['json', 'avro']).default('json'))
  .parse()
  .opts<{ rate: number; changes: number; duration: number; app: string; format: 'json' | 'avro' }>();

const say = (line: string): void => void process.stdout.write(`${line}\n`);
const step = (line: string): void => say(`\n▶ ${line}`);

if (!process.env.CDCV_KAFKA_BROKERS || !process.env.CDCV_CONNECT_URL) {
  step('local stack (scripts/stack/up.sh)');
  const r = spawnSync('bash', ['scripts/stack/up.sh'], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const cfg = loadEnv();
const app = opts.app;

step(`sample database cdcv_demo and Debezium connector cdcv-demo (${opts.format === 'avro' ? `Avro, schema registry ${cfg.CDCV_SCHEMA_REGISTRY_URL}` : 'JSON with schemas'})`);
const pipeline = await startSamplePipeline({ id: 'demo', format: opts.format });
say(`  topics ${pipeline.topicPrefix}.public.* (3 partitions each), snapshot done`);
// One decoder (and schema cache) for all applications; it detects the encoding per record.
// Processors detect the encoding per record (Avro through the registry, else JSON).
const decoding = { registryUrl: cfg.CDCV_SCHEMA_REGISTRY_URL };

// Fresh applications: no state, no positions, no committed offsets, no documents.
const redis = new Redis(cfg.CDCV_REDIS_URL);
const kafka = new Kafka({ brokers: cfg.CDCV_KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
// Progress is printed by the demo itself; the processors' own logs only from warn up unless asked for.
const log = logger.child({ component: 'demo' }, { level: process.env.CDCV_LOG_LEVEL ?? 'warn' });
const brokers = cfg.CDCV_KAFKA_BROKERS.split(',');
// One registry for every application of the demo (the metrics carry application_id), served on /metrics.
const registry = new Registry();
const metrics = createMetrics(registry);
const mirror = new Application({ applicationId: app, brokers, redis, topics: pipeline.topics, logger: log, metrics, ...decoding });
const apps = TOPOLOGIES.map((topology) => ({
  topology,
  applicationId: `${app}-${topology.name}`,
  processor: new Application({
    applicationId: `${app}-${topology.name}`,
    brokers,
    redis,
    topics: topicsFor(pipeline.topicPrefix, tablesOf(topology)),
    topology,
    searchUrl: cfg.CDCV_OPENSEARCH_URL,
    logger: log,
    metrics,
    ...decoding,
  }),
}));
const processors = [mirror, ...apps.map((a) => a.processor)];
for (const p of processors) {
  await admin.deleteGroups([p.store.applicationId]).catch(() => undefined);
  await p.store.destroy();
}
for (const { topology, applicationId } of apps) {
  for (const view of topology.views) {
    for (const sink of view.sinks) {
      const resolved = resolveSinkPlan(sink, applicationId);
      if (resolved.kind === 'search') {
        await fetch(`${cfg.CDCV_OPENSEARCH_URL}/${encodeURIComponent(resolved.index)}`, { method: 'DELETE' });
        continue;
      }
      const stale = await redis.keys(`${resolved.prefix}*`);
      if (stale.length > 0) await redis.unlink(...stale);
    }
  }
}

step(`application ${app}: mirror of ${pipeline.topics.source}; ${apps.map((a) => `application ${a.applicationId}: topology ${a.topology.name}`).join('; ')}`);
const started = Date.now();
for (const p of processors) await p.start();
// The operations HTTP server of the mirror application (health and /stores of its state), on this machine only,
// /stores with a token made for this run (docs/security.md); a taken port falls back to a free one.
const storesToken = randomBytes(24).toString('hex');
const httpOptions: Omit<HttpServerOptions, 'port'> = { registry, health: mirror, stores: { rows: mirror.store, token: Secret.of('storesToken', storesToken, undefined)! }, host: '127.0.0.1', readyMaxLag: cfg.CDCV_READY_MAX_LAG, logger: log };
const http: HttpServer = await startHttpServer({ ...httpOptions, port: cfg.CDCV_HTTP_PORT }).catch(() => startHttpServer({ ...httpOptions, port: 0 }));
say(`  metrics: ${http.url}/metrics   (also ${http.url}/readyz)`);
say(`  a row:   curl -H 'Authorization: Bearer ${storesToken}' ${http.url}/stores/public.customers/${encodeURIComponent('{"id":1}')}`);

step(`lake: public.orders into a Delta Lake table in s3proxy (lake init from the snapshot, then 5 s slices; docs/lake.md)`);
const lake = await startDemoLake(pipeline, kafka, admin, redis, log);

step(`workload: ${opts.changes} changes at ${opts.rate} changes/s (at most ${opts.duration} s)`);
let wl = { changes: 0 };
const progress = setInterval(() => {
  void mirror.lag().then((l) => {
    const lag = l.reduce((a, p) => a + p.lag, 0n);
    const c = mirror.counts;
    const rendered = apps.reduce((n, a) => n + a.processor.renderCounts.rendered, 0);
    say(`  workload ${wl.changes} changes | mirror consumed ${c.consumed}  applied ${c.applied}  stale ${c.stale}  dlq ${c.dlq} | lag ${lag} | view documents rendered ${rendered}`);
  });
}, 2000);
const enough = new AbortController();
const stats = await runWorkload({
  connectionString: pipeline.connectionString,
  ratePerSecond: opts.rate,
  durationSeconds: opts.duration,
  signal: enough.signal,
  progressIntervalMs: 100,
  onProgress: (s) => {
    wl = s;
    if (s.changes >= opts.changes) enough.abort();
  },
});
say(`  done: ${stats.changes} changes (${stats.inserts} inserts, ${stats.updates} updates incl. ${stats.keyUpdates} key changes, ${stats.deletes} deletes, ${stats.reinserts} re-inserts) in ${stats.transactions} transactions`);

step('waiting until caught up (watermark row, then lag 0)');
await awaitWatermark(pipeline, mirror.store);
for (const p of processors) await p.waitUntilCaughtUp();
clearInterval(progress);
const elapsed = (Date.now() - started) / 1000;

step('comparing with PostgreSQL, value by value');
const source = new pg.Client({ connectionString: pipeline.connectionString });
await source.connect();
const compareAll = async (): Promise<{ total: number; tables: Map<string, Comparison>; views: Map<string, Comparison> }> => {
  const tables = new Map<string, Comparison>();
  for (const table of pipeline.tables) tables.set(table, await verifyTable(source, mirror.store, table));
  const views = new Map<string, Comparison>();
  for (const { topology, applicationId } of apps) {
    for (const view of topology.views) {
      for (const sink of view.sinks) {
        const resolved = resolveSinkPlan(sink, applicationId);
        if (resolved.kind === 'cache') views.set(`${view.name} (cache)`, await verifyCacheView(source, redis, view, resolved.prefix));
        else views.set(`${view.name} (search)`, await verifySearchView(source, cfg.CDCV_OPENSEARCH_URL, view, resolved.index));
      }
    }
  }
  return { total: [...tables.values(), ...views.values()].reduce((n, c) => n + mismatches(c), 0), tables, views };
};
// Convergence is eventual (a change can reach Kafka after the watermark when a broker hiccups): re-check for up to 30 s.
const { tables: tableResults, views: viewResults } = await untilConverged(async () => {
  for (const p of processors) await p.waitUntilCaughtUp();
  return compareAll();
}, Date.now() + 30_000);
await source.end();

const counters = await mirror.store.stats();
let lag = 0n;
for (const p of processors) lag += (await p.lag()).reduce((a, l) => a + l.lag, 0n);
const pad = (s: string | number, n: number): string => String(s).padStart(n);
say(`\n${'table'.padEnd(22)}${pad('rows in PG', 12)}${pad('in state', 10)}${pad('mismatch', 10)}${pad('applied', 10)}`);
let bad = 0;
for (const [table, c] of tableResults) {
  bad += mismatches(c);
  // State is kept per topic: the counters are named after it.
  say(`${table.padEnd(22)}${pad(c.expected, 12)}${pad(c.actual, 10)}${pad(mismatches(c), 10)}${pad(counters[`applied:${await mirror.store.resolveTable(table)}`] ?? 0, 10)}`);
}
say(`\n${'view (sink)'.padEnd(30)}${pad('SQL rows', 10)}${pad('docs', 10)}${pad('mismatch', 10)}`);
for (const [name, c] of viewResults) {
  bad += mismatches(c);
  say(`${name.padEnd(30)}${pad(c.expected, 10)}${pad(c.actual, 10)}${pad(mismatches(c), 10)}`);
}
const c = mirror.counts;
say(`\nmirror: events consumed ${c.consumed} (${(c.consumed / elapsed).toFixed(0)} events/s over ${elapsed.toFixed(1)} s), applied ${c.applied}, stale skipped ${c.stale}, tombstones ${c.tombstones}, DLQ ${c.dlq}; all applications' lag ${lag}`);
for (const a of apps) {
  const r = a.processor.renderCounts;
  say(`${a.applicationId}: events consumed ${a.processor.counts.consumed}, view roots rendered ${r.rendered}, documents written ${r.written}, skipped as older ${r.skipped}`);
}
for (const [name, r] of [...tableResults, ...viewResults]) {
  for (const k of [...r.missing.slice(0, 3)]) say(`  ${name}: missing ${k}`);
  for (const k of [...r.extra.slice(0, 3)]) say(`  ${name}: extra ${k}`);
  for (const k of [...r.different.slice(0, 3)]) say(`  ${name}: different ${k}`);
}
step('lake: merging the remaining slices, then reading the table with Delta Kernel and DuckDB');
const lakeResult = await lake.finish();
say(lakeResult.line);
bad += lakeResult.mismatches;
say(bad === 0 ? '\n✔ 0 mismatches' : `\n✘ ${bad} mismatches`);
say(`inspect: npx cdc-views dump --app ${app} --table public.customers | head`);

for (const p of processors) await p.stop();
await http.close();
await admin.disconnect();
redis.disconnect();
process.exit(bad === 0 && lag === 0n ? 0 : 1);
