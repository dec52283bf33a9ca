/**
 * The demo's lake step (docs/lake.md): `public.orders` of the demo pipeline
 * into a Delta Lake table in the stack's s3proxy (bucket CDCV_S3_BUCKET,
 * prefix `demo`), 5 s slices while the workload runs, merged by the worker,
 * then read back by Delta Kernel (scripts/lake-check) and DuckDB and
 * compared with `SELECT * FROM public.orders` value by value.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import type { Admin, Kafka } from 'kafkajs';
import pg from 'pg';
import { jsonDecoder } from '../src/cdc/debezium-json.ts';
import type { Logger } from '../src/log.ts';
import { lakeColumnsFromCatalog } from '../src/lake/columns.ts';
import { lakeStoreOf } from '../src/lake/from-config.ts';
import { initLakeTable, primaryKeyOf } from '../src/lake/init.ts';
import type { ObjectStore } from '../src/lake/object-store.ts';
import { lakeStatus, workTable } from '../src/lake/orchestrator.ts';
import { SliceWriter } from '../src/lake/slice-writer.ts';
import { tableRoot, type LakeTableSpec } from '../src/lake/table-spec.ts';
import { tableProgress, openLakeTable } from '../src/lake/worker.ts';
import { readDeltaWithKernel, readParquetFilesWithDuckDb } from '../test/support/lake-readers.ts';
import type { SamplePipeline } from '../test/support/sample-pipeline.ts';
import { asText, differences, ordersInPostgres } from '../test/integration/lake/support.ts';

const TABLE = 'public.orders';
const COLUMNS = ['id', 'customer_id', 'status', 'total', 'currency', 'placed_at', 'placed_local', 'ship_by', 'note', 'updated_at', 'rev'];
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const STACK_DIR = process.env.CDCV_STACK_DIR ?? join(ROOT, '.stack');
const BUCKET = process.env.CDCV_S3_BUCKET ?? 'cdcv-lake';
const PREFIX = 'demo';

/** The demo's lake: started before the workload, finished after it. */
export interface DemoLake {
  /** Applies the remaining slices, reads the table back with the independent readers, returns the summary line and the mismatches. */
  finish(): Promise<{ line: string; mismatches: number }>;
}

/** Removes the previous demo lake, creates the table from the snapshot and starts writing slices. */
export async function startDemoLake(pipeline: SamplePipeline, kafka: Kafka, admin: Admin, redis: Redis, log: Logger): Promise<DemoLake> {
  const store: ObjectStore = lakeStoreOf({
    lakeUrl: `s3://${BUCKET}/${PREFIX}`,
    lakeS3Endpoint: process.env.CDCV_S3_ENDPOINT ?? `http://127.0.0.1:${process.env.CDCV_S3_PORT ?? '9000'}`,
    lakeS3Region: 'us-east-1',
    lakeS3AccessKeyId: process.env.CDCV_S3_ACCESS_KEY ?? 'cdcv',
    lakeS3SecretAccessKey: process.env.CDCV_S3_SECRET_KEY ?? 'cdcv-secret',
    lakeS3SecretAccessKeyFile: undefined,
  });
  await store.delete((await store.list('')).map((o) => o.key));
  await admin.deleteGroups(['cdcv-lake-demo']).catch(() => undefined);
  const db = new pg.Client({ connectionString: pipeline.connectionString });
  await db.connect();
  const spec: LakeTableSpec = { table: TABLE, topic: `${pipeline.topicPrefix}.${TABLE}`, keyColumns: await primaryKeyOf(db, TABLE), partitionSource: 'placed_at', columns: await lakeColumnsFromCatalog(db, TABLE) };
  await db.end();
  const init = await initLakeTable({ store, kafka, admin, redis, spec, cutoffMs: Date.now(), decoder: jsonDecoder });
  const { snapshot } = await openLakeTable(store, TABLE);
  const writer = new SliceWriter({ store, kafka, admin, spec, progress: tableProgress(snapshot), intervalMs: 5000, groupId: 'cdcv-lake-demo', decoder: jsonDecoder, log });
  await writer.start();
  const initRows = init.rows;
  return {
    async finish() {
      const started = Date.now();
      const ends = new Map((await admin.fetchTopicOffsets(spec.topic)).map((o) => [String(o.partition), o.high]));
      let upserted = 0;
      let commits = 0;
      for (let i = 0; i < 60; i++) {
        const work = await workTable({ store, redis, log }, TABLE);
        commits += work.passes.length;
        upserted += work.passes.reduce((n, p) => n + p.upserted + p.deleted, 0);
        const s = await lakeStatus(store, TABLE);
        if ([...ends].every(([p, end]) => s.progress[p] === end)) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
      await writer.stop();
      const status = await lakeStatus(store, TABLE);
      const expected = await ordersInPostgres(pipeline.connectionString);
      const kernel = await readDeltaWithKernel(join(STACK_DIR, 's3proxy', 'data', BUCKET, PREFIX, tableRoot(TABLE)));
      const viaKernel = differences(expected, new Map(kernel.rows.map((r) => [String(r.id), asText(r, COLUMNS)])));
      const files = kernel.meta.paths.map((f) => fileURLToPath(f.replace(/^file:(?!\/\/)/, 'file://')));
      const viaDuck = differences(expected, new Map((await readParquetFilesWithDuckDb(files, COLUMNS)).map((r) => [String(r.id), asText(r, COLUMNS)])));
      const mismatches = viaKernel.length + viaDuck.length;
      const line =
        `lake ${TABLE}: ${initRows} rows loaded by lake init, then ${writer.slicesWritten} slices (5 s) and ${commits} commits (${upserted} rows upserted or deleted; merge ${((Date.now() - started) / 1000).toFixed(1)} s); ` +
        `table version ${status.version}, ${kernel.rows.length} rows in ${kernel.meta.files} files over ${Object.keys(status.files).length} day partitions; ` +
        `vs SELECT *: ${viaKernel.length} mismatches (Delta Kernel), ${viaDuck.length} (DuckDB)${mismatches > 0 ? `: ${[...viaKernel, ...viaDuck].slice(0, 3).join('; ')}` : ''}`;
      return { line, mismatches };
    },
  };
}
