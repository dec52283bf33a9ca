/**
 * `cdc-views lake init`: the first version of a lake table, from the CDC
 * topic up to a cut-off time.
 *
 * Per stream partition the boundary is the first offset whose record time is
 * at or after the cut-off (Kafka's offsets-for-times; the end when none is).
 * Every record before it is read (the connector's snapshot `r` events, a
 * backfill's, and the changes after them), the latest change per key is kept
 * (highest source version), and the rows that are not deleted become the
 * table's first files, one per data partition. The commit records each
 * boundary as the partition's progress (`txn`), so the slice writer and the
 * worker continue exactly there: no record is loaded twice or skipped.
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Kafka } from 'kafkajs';
import type { Redis } from 'ioredis';
import type { RecordDecoder } from '../cdc/debezium-json.ts';
import type { Queryable } from '../codegen/catalog.ts';
import { CdcViewsError, ConfigError } from '../errors.ts';
import { offsetsForTime, watermarks } from '../ops/kafka.ts';
import type { AddAction, DeltaAction } from './delta/actions.ts';
import { encodeDataPath, partitionDirectory } from './delta/actions.ts';
import { commitVersion, createTable } from './delta/log.ts';
import { assertDeltaColumnNames } from './columns.ts';
import { latestPerKey, tableRow } from './merge.ts';
import { joinKey, type ObjectStore } from './object-store.ts';
import { writeParquet } from './parquet.ts';
import { sliceRow } from './slice-writer.ts';
import { lakeTableColumns, partitionColumnOf, progressAppId, specConfiguration, tableRoot, type LakeTableSpec } from './table-spec.ts';
import { lakeKeys } from './lease.ts';
import type { LakeRow } from './types.ts';

/** Options of {@link initLakeTable}. */
export interface InitOptions {
  store: ObjectStore;
  kafka: Kafka;
  admin: Admin;
  redis: Redis;
  spec: LakeTableSpec;
  /** Cut-off, ms since the epoch. */
  cutoffMs: number;
  decoder: RecordDecoder;
  /** Called as records are read: done and total records. */
  onProgress?: (done: number, total: number) => void;
  /** Longest wait for the records up to the boundary, ms. @defaultValue 600000 */
  timeoutMs?: number;
  /** @defaultValue Date.now */
  now?: () => number;
}

/** What {@link initLakeTable} built. */
export interface InitResult {
  version: number;
  records: number;
  rows: number;
  files: number;
  /** Per stream partition, where the slices continue. */
  boundaries: Map<number, bigint>;
}

/** Reads every record of `topic` in [from, to) per partition, calling `onRecord` in offset order per partition. */
async function readRange(kafka: Kafka, topic: string, ranges: Map<number, { from: bigint; to: bigint }>, onRecord: (partition: number, m: { offset: string; timestamp: string; key: Buffer | null; value: Buffer | null }) => Promise<void>, timeoutMs: number): Promise<void> {
  const open = new Set([...ranges].filter(([, r]) => r.to > r.from).map(([p]) => p));
  if (open.size === 0) return;
  const groupId = `cdcv-lake-init-${randomUUID().slice(0, 8)}`;
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 500 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new CdcViewsError('KAFKA_TIMEOUT', `lake init: ${topic} was not read up to the cut-off within ${timeoutMs} ms`)), timeoutMs);
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const range = ranges.get(batch.partition);
            if (!range || !open.has(batch.partition)) return;
            for (const m of batch.messages) {
              const offset = BigInt(m.offset);
              if (offset >= range.to) break;
              await onRecord(batch.partition, m);
              if (offset + 1n >= range.to) open.delete(batch.partition);
            }
            if (open.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
}

/**
 * Creates the lake table of `spec` and loads it up to the cut-off.
 * @throws {DeltaConflictError} when the table exists already
 * @throws {CdcViewsError} KAFKA_TIMEOUT when the topic is not read within the timeout
 */
export async function initLakeTable(o: InitOptions): Promise<InitResult> {
  const now = o.now ?? Date.now;
  const root = tableRoot(o.spec.table);
  assertDeltaColumnNames(lakeTableColumns(o.spec));
  const marks = await watermarks(o.admin, o.spec.topic);
  const atCutoff = await offsetsForTime(o.admin, o.spec.topic, o.cutoffMs);
  const ranges = new Map(marks.map((m) => [m.partition, { from: m.low, to: atCutoff.get(m.partition) ?? m.high }]));
  const total = [...ranges.values()].reduce((n, r) => n + Number(r.to - r.from), 0);
  await createTable(o.store, root, {
    columns: lakeTableColumns(o.spec),
    partitionColumns: [partitionColumnOf(o.spec)],
    name: o.spec.table,
    configuration: { ...specConfiguration(o.spec), 'cdcv.cutoff': new Date(o.cutoffMs).toISOString() },
    now: now(),
    commitInfo: { operation: 'CREATE TABLE', engineInfo: 'cdc-views lake init' },
  });

  const slices: LakeRow[] = [];
  let done = 0;
  await readRange(
    o.kafka,
    o.spec.topic,
    ranges,
    async (partition, m) => {
      done += 1;
      if (done % 1000 === 0 || done === total) o.onProgress?.(done, total);
      const decoded = await o.decoder.decode({ topic: o.spec.topic, partition, offset: m.offset, timestamp: m.timestamp, key: m.key, value: m.value });
      if (decoded.kind !== 'change') return;
      const row = sliceRow(o.spec, decoded);
      if (row) slices.push(row);
    },
    o.timeoutMs ?? 600_000,
  );
  o.onProgress?.(total, total);

  const partCol = partitionColumnOf(o.spec);
  const byPartition = new Map<string | null, LakeRow[]>();
  for (const change of latestPerKey(slices, o.spec.keyColumns).values()) {
    if (change.deleted) continue;
    const row = tableRow(o.spec, change, undefined);
    const p = row[partCol] as string | null;
    byPartition.set(p, [...(byPartition.get(p) ?? []), row]);
  }
  const actions: DeltaAction[] = [];
  const columns = lakeTableColumns(o.spec);
  for (const [partition, rows] of byPartition) {
    const values = { [partCol]: partition };
    const rel = `${partitionDirectory([partCol], values)}part-00000001-${randomUUID()}.parquet`;
    const body = writeParquet(columns, rows);
    await o.store.put(joinKey(root, rel), body);
    const add: AddAction = { path: encodeDataPath(rel), partitionValues: values, size: body.length, modificationTime: now(), dataChange: true, stats: JSON.stringify({ numRecords: rows.length }) };
    actions.push({ add });
  }
  const boundaries = new Map([...ranges].map(([p, r]) => [p, r.to]));
  for (const [p, to] of boundaries) actions.push({ txn: { appId: progressAppId(p), version: Number(to), lastUpdated: now() } });
  const rows = [...byPartition.values()].reduce((n, r) => n + r.length, 0);
  actions.push({ commitInfo: { timestamp: now(), operation: 'WRITE', engineInfo: 'cdc-views lake init', operationParameters: { cutoff: new Date(o.cutoffMs).toISOString() }, operationMetrics: { records: total, rows } } });
  await commitVersion(o.store, root, 1, actions);
  await o.redis.del(lakeKeys(o.spec.table).index, lakeKeys(o.spec.table).indexVersion);
  return { version: 1, records: total, rows, files: byPartition.size, boundaries };
}

/**
 * The primary-key columns of a table, in key order (pg_index).
 * @throws {ConfigError} when the table has no primary key (the lake merges by key)
 */
export async function primaryKeyOf(db: Queryable, table: string): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT a.attname AS name FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
      WHERE i.indrelid = to_regclass($1) AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)`,
    [table],
  );
  if (rows.length === 0) throw new ConfigError('--table', `${table} has no primary key: the lake table merges changes by key; add one (or a REPLICA IDENTITY key) first`);
  return rows.map((r) => r.name);
}
