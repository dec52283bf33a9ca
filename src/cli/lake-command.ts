/**
 * `cdc-views lake init|slices|work|orchestrate|status`: the lake sink
 * (docs/lake.md). The lake modules (and the AWS SDK) are imported when a lake
 * command runs: every other command starts without them.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { autoDecoder } from '../cdc/avro.ts';
import { registryConnection } from '../cdc/registry-auth.ts';
import type { Config } from '../config.ts';
import { ConnectClient, connectTarget } from '../connect/client.ts';
import { CdcViewsError, ConfigError } from '../errors.ts';
import { logger } from '../log.ts';
import { durationMs, parseDatetime } from '../ops/parse.ts';
import { SCHEMA_TABLE } from '../ops/backfill-signal.ts';
import { COMMAND_TIMEOUT_MS } from './connections.ts';
import { printJson, withOps } from './ops-context.ts';
import { jsonOption, progressOption, settingOptions } from './options.ts';
import { ProgressReporter } from './progress.ts';
import { connectSource } from './source-db.ts';

const LAKE = ['lakeUrl', 'lakeS3Endpoint', 'lakeS3Region', 'lakeS3AccessKeyId', 'lakeS3SecretAccessKey', 'lakeS3SecretAccessKeyFile'] as const;

function tableArg(value: string, previous: string[] = []): string[] {
  if (!SCHEMA_TABLE.test(value)) throw new InvalidArgumentError(`${JSON.stringify(value)} is not schema.table, e.g. public.orders`);
  return [...previous, value];
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${JSON.stringify(value)} is not a positive whole number`);
  return n;
}

function oneTable(value: string): string {
  return tableArg(value)[0]!;
}

function cutoffArg(value: string): number {
  if (value === 'now') return Date.now();
  try {
    return parseDatetime(value, '--cutoff');
  } catch {
    throw new InvalidArgumentError(`${JSON.stringify(value)} is not now or an ISO-8601 datetime with a zone, e.g. 2026-12-01T00:00:00Z`);
  }
}

/** An ISO-8601 duration of at least 1 s, ms. */
function durationArg(value: string): number {
  let ms: number;
  try {
    ms = durationMs(value);
  } catch {
    ms = NaN;
  }
  if (!(ms >= 1000)) throw new InvalidArgumentError(`${JSON.stringify(value)} is not an ISO-8601 duration of at least 1 s, e.g. PT10S, PT1M, P7D`);
  return ms;
}

async function lakeStore(config: Config) {
  const { lakeStoreOf } = await import('../lake/from-config.ts');
  return lakeStoreOf(config);
}

/** Ends on SIGINT/SIGTERM, or when `abort` is called. */
function untilSignal(): { signal: AbortSignal; abort: () => void; dispose: () => void } {
  const c = new AbortController();
  const on = (): void => c.abort();
  process.once('SIGINT', on);
  process.once('SIGTERM', on);
  return { signal: c.signal, abort: on, dispose: () => (process.off('SIGINT', on), process.off('SIGTERM', on)) };
}

function registerInit(lake: Command): void {
  const cmd = lake
    .command('init')
    .description('Create the lake table of a source table and load it from the CDC topic up to a cut-off (snapshot r events and changes); slices continue from there')
    .requiredOption('--table <schema.table>', 'the source table, e.g. public.orders', oneTable)
    .requiredOption('--connector <name>', "the Debezium connector capturing it: its topic.prefix names the topic, its database.* settings the catalog to read columns and primary key from")
    .option('--partition-by <column>', 'the immutable date or timestamp column whose day partitions the data', 'create_time')
    .option('--cutoff <time>', 'load records before this time: now (default) or an ISO-8601 datetime with a zone', cutoffArg)
    .option('--topic <topic>', 'the CDC topic (default: <topic.prefix>.<schema.table>)')
    .option('--database-url <url>', "the source database (default: DATABASE_URL, else the connector's database.* settings)")
    .addOption(jsonOption())
    .addOption(progressOption());
  const read = settingOptions(cmd, [...LAKE]);
  cmd.action(async (o: { table: string; connector: string; partitionBy: string; cutoff?: number; topic?: string; databaseUrl?: string; json?: boolean; progress: boolean } & Record<string, unknown>) => {
    const { config } = read(o);
    const cutoffMs = o.cutoff ?? Date.now();
    const store = await lakeStore(config);
    const connect = new ConnectClient(connectTarget(config));
    const url = o.databaseUrl ?? (process.env.DATABASE_URL || undefined);
    const db = await connectSource(connect, o.connector, url === undefined ? {} : { url }, COMMAND_TIMEOUT_MS);
    const { lakeColumnsFromCatalog } = await import('../lake/columns.ts');
    const { primaryKeyOf, initLakeTable } = await import('../lake/init.ts');
    let spec;
    try {
      const columns = await lakeColumnsFromCatalog(db, o.table);
      const keyColumns = await primaryKeyOf(db, o.table);
      const partition = columns.find((c) => c.name === o.partitionBy);
      if (!partition || (partition.type !== 'date' && partition.type !== 'timestamp')) {
        throw new ConfigError('--partition-by', `${o.table} has no date or timestamptz column ${o.partitionBy}; name an immutable one (e.g. its creation time): ${columns.filter((c) => c.type === 'date' || c.type === 'timestamp').map((c) => c.name).join(', ') || 'none'}`);
      }
      const prefix = (await connect.config(o.connector))?.['topic.prefix'];
      const topic = o.topic ?? (prefix ? `${prefix}.${o.table}` : undefined);
      if (!topic) throw new ConfigError('--topic', `the connector ${o.connector} has no topic.prefix: give --topic`);
      spec = { table: o.table, topic, keyColumns, partitionSource: o.partitionBy, columns };
    } finally {
      await db.end();
    }
    const progress = new ProgressReporter({ label: `lake init ${o.table}`, unit: 'records', mode: o.progress ? undefined : 'off' });
    const result = await withOps(config, async (ctx) =>
      initLakeTable({ store, kafka: ctx.kafka, admin: ctx.admin, redis: ctx.redis, spec, cutoffMs, decoder: autoDecoder(registryConnection(config)), onProgress: (d, t) => progress.update(d, t) }),
    );
    progress.stop();
    const report = { table: o.table, topic: spec.topic, url: store.url, version: result.version, records: result.records, rows: result.rows, files: result.files, cutoff: new Date(cutoffMs).toISOString(), boundaries: Object.fromEntries(result.boundaries) };
    if (o.json) printJson(report);
    else process.stdout.write(`lake table ${o.table} created at ${store.url}/tables/${o.table}: version 1, ${result.rows} rows in ${result.files} file(s) from ${result.records} records before ${report.cutoff}\nnext: cdc-views lake slices --table ${o.table}, and cdc-views lake orchestrate --table ${o.table}\n`);
  });
}

function registerSlices(lake: Command): void {
  const cmd = lake
    .command('slices')
    .description('Write the CDC topic of a lake table as time-slice Parquet files (one per stream partition per interval) until stopped')
    .requiredOption('--table <schema.table>', 'a table made by `lake init`', oneTable)
    .option('--group <id>', 'consumer group (default: cdcv-lake-<schema.table>)');
  const read = settingOptions(cmd, [...LAKE, 'lakeSliceIntervalMs']);
  cmd.action(async (o: { table: string; group?: string } & Record<string, unknown>) => {
    const { config } = read(o);
    const store = await lakeStore(config);
    const { openLakeTable, tableProgress } = await import('../lake/worker.ts');
    const { SliceWriter } = await import('../lake/slice-writer.ts');
    const { snapshot, spec } = await openLakeTable(store, o.table);
    const stop = untilSignal();
    let fatal: Error | undefined;
    const groupId = o.group ?? `cdcv-lake-${o.table}`;
    await withOps(config, async (ctx) => {
      // Records that cannot become rows go to the DLQ cdcv.<group>.dlq with their origin and reason.
      const { DeadLetterQueue, dlqTopic } = await import('../runtime/dlq.ts');
      if (!(await ctx.admin.listTopics()).includes(dlqTopic(groupId))) await ctx.admin.createTopics({ topics: [{ topic: dlqTopic(groupId), numPartitions: 1 }], waitForLeaders: true });
      const producer = ctx.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      const writer = new SliceWriter({
        store, kafka: ctx.kafka, admin: ctx.admin, spec, progress: tableProgress(snapshot), intervalMs: config.lakeSliceIntervalMs,
        groupId, decoder: autoDecoder(registryConnection(config)), log: logger, dlq: new DeadLetterQueue(producer, groupId),
        onSlice: (info, key) => logger.info({ key, rows: info.rows, deletes: info.deletes, next: info.nextOffset }, `lake slices: wrote ${key}`),
        // The consumer stopped for good (e.g. the object store refused every retry): exit, so a supervisor restarts it.
        onFatal: (error) => {
          fatal = error;
          stop.abort();
        },
      });
      await writer.start();
      process.stderr.write(`lake slices: writing ${spec.topic} to ${store.url}/slices/${o.table}/ every ${config.lakeSliceIntervalMs} ms; stop with SIGTERM\n`);
      await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
      if (fatal) {
        await producer.disconnect();
        throw new CdcViewsError('LAKE_SLICES_CRASHED', `lake slices stopped: ${fatal.message}; it resumes after its last stored slice when started again`, { cause: fatal });
      }
      await writer.stop();
      await producer.disconnect();
      process.stderr.write(`lake slices: stopped after ${writer.slicesWritten} slice(s)${writer.deadLettered ? `, ${writer.deadLettered} record(s) sent to ${dlqTopic(groupId)}` : ''}\n`);
    });
    stop.dispose();
  });
}

function workerOptions(cmd: Command): Command {
  return cmd
    .option('--max-slices <n>', 'slices of one stream partition applied per commit', positiveInt, 20)
    .option('--lease <duration>', "the table lease of a worker run (ISO-8601, default PT60S): renewed before a pass's writes and before its commit; a worker that dies holds the table this long", durationArg, 60_000)
    .option('--checkpoint-every <versions>', 'write a checkpoint (then clean the log and VACUUM) every this many versions', positiveInt, 10)
    .option('--retention <duration>', 'log entries and unreferenced files older than this (ISO-8601, default P7D) are deleted after each checkpoint', durationArg, 7 * 86_400_000);
}

function registerWork(lake: Command): void {
  const cmd = workerOptions(lake.command('work').description('Apply the due slices of each table to its lake table (one commit per pass) under the table lease, then exit'))
    .requiredOption('--table <schema.table>', 'a table made by `lake init` (repeatable)', tableArg)
    .addOption(jsonOption());
  const read = settingOptions(cmd, [...LAKE]);
  cmd.action(async (o: { table: string[]; maxSlices: number; lease: number; checkpointEvery: number; retention: number; json?: boolean } & Record<string, unknown>) => {
    const { config } = read(o);
    const store = await lakeStore(config);
    const { workTable } = await import('../lake/orchestrator.ts');
    await withOps(
      config,
      async (ctx) => {
        const results = [];
        for (const table of o.table) results.push(await workTable({ store, redis: ctx.redis, log: logger, maxSlicesPerPartition: o.maxSlices, checkpointInterval: o.checkpointEvery, retentionMs: o.retention }, table, 100, o.lease));
        if (o.json) printJson(results);
        for (const r of results) {
          if (!r.leased) process.stderr.write(`lake work: ${r.table}: another worker holds the lease; nothing done\n`);
          else if (!o.json) process.stdout.write(`lake work: ${r.table}: ${r.passes.length} commit(s), ${r.passes.reduce((n, p) => n + p.slices.length, 0)} slice(s), ${r.passes.reduce((n, p) => n + p.upserted, 0)} rows upserted, ${r.passes.reduce((n, p) => n + p.deleted, 0)} deleted${r.passes.at(-1) ? `; table version ${r.passes.at(-1)!.version}` : ''}\n`);
        }
        if (results.some((r) => !r.leased)) process.exitCode = 1;
      },
      { writes: true },
    );
  });
}

function registerOrchestrate(lake: Command): void {
  const cmd = workerOptions(lake.command('orchestrate').description('Every --every, check each table for due slices and run the worker for it; serves /metrics; until SIGTERM'))
    .requiredOption('--table <schema.table>', 'a table made by `lake init` (repeatable)', tableArg)
    .option('--every <duration>', 'time between checks (ISO-8601, default PT10S)', durationArg, 10_000);
  const read = settingOptions(cmd, [...LAKE, 'httpPort', 'httpHost']);
  cmd.action(async (o: { table: string[]; every: number; maxSlices: number; lease: number; checkpointEvery: number; retention: number } & Record<string, unknown>) => {
    const { config } = read(o);
    const store = await lakeStore(config);
    const { orchestrate } = await import('../lake/orchestrator.ts');
    const { serveLakeMetrics } = await import('../lake/metrics.ts');
    const stop = untilSignal();
    await withOps(
      config,
      async (ctx) => {
        const metrics = await serveLakeMetrics(config, logger);
        try {
          await orchestrate({
            store, redis: ctx.redis, log: logger, maxSlicesPerPartition: o.maxSlices, checkpointInterval: o.checkpointEvery, retentionMs: o.retention, leaseTtlMs: o.lease, tables: o.table, everyMs: o.every, signal: stop.signal,
            onCheck: (status, work) => metrics.record(status, work),
          });
        } finally {
          await metrics.close();
        }
      },
      { writes: true },
    );
    stop.dispose();
  });
}

function registerStatus(lake: Command): void {
  const cmd = lake
    .command('status')
    .description('Where a lake table stands: version, progress per stream partition, slices pending, slice-to-table lag, files per data partition')
    .requiredOption('--table <schema.table>', 'a table made by `lake init`', oneTable)
    .addOption(jsonOption());
  const read = settingOptions(cmd, [...LAKE]);
  cmd.action(async (o: { table: string; json?: boolean } & Record<string, unknown>) => {
    const { config } = read(o);
    const store = await lakeStore(config);
    const { lakeStatus } = await import('../lake/orchestrator.ts');
    const s = await lakeStatus(store, o.table);
    if (o.json) return printJson(s);
    const files = Object.entries(s.files).map(([p, n]) => `${p}: ${n}`).join(', ');
    process.stdout.write(`${s.table} (topic ${s.topic}) version ${s.version}; ${s.rows ?? '?'} rows; ${s.pending} slice(s) pending${s.gaps.length ? `, waiting on missing slices of partition(s) ${s.gaps.join(', ')}` : ''}; lag ${Math.round(s.lagMs / 1000)} s\nprogress (next offset per partition): ${Object.entries(s.progress).map(([p, x]) => `${p}=${x ?? '-'}`).join(' ')}\nfiles per data partition: ${files || 'none'}\n`);
  });
}

/** Registers `cdc-views lake …`. */
export function registerLakeCommands(program: Command): void {
  const lake = program.command('lake').description('The lake sink: time-slice files of a table\'s changes and a Delta Lake table merged from them (docs/lake.md)');
  registerInit(lake);
  registerSlices(lake);
  registerWork(lake);
  registerOrchestrate(lake);
  registerStatus(lake);
}
