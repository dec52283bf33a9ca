/**
 * The lake worker: applies the next time slices of a table to its Delta
 * table in one commit, under the table's lease (./lease.ts).
 *
 * One pass: read the table's snapshot (./delta/snapshot.ts); per stream
 * partition, the slices that continue its progress (a slice whose first
 * offset is the partition's `txn` version, then the one after it, … up to
 * `maxSlicesPerPartition`); a partition whose next slice is missing (a gap:
 * later slices exist, the next does not) waits while the others proceed;
 * keep the latest change per key (./merge.ts); rewrite each data partition the
 * changes touch (copy-on-write: its files are read, merged and written as one
 * new file, the old ones removed); commit `add`/`remove`/`txn` actions as the
 * next version with put-if-absent. A worker killed anywhere leaves the table
 * at its last commit (files written without a commit are unreferenced, and
 * VACUUM deletes them); the next pass redoes the slices.
 *
 * The key → data-partition index (Redis, ./lease.ts `lakeKeys`) finds the
 * file of a delete that carries no partition column (REPLICA IDENTITY
 * DEFAULT) and remembers deletes (an older change of a deleted key is
 * stale). It records the table version it reflects and is rebuilt from the
 * table's files when that is not the snapshot's version.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { CdcViewsError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { AddAction, DeltaAction, RemoveAction } from './delta/actions.ts';
import { decodeDataPath, encodeDataPath, partitionDirectory } from './delta/actions.ts';
import { cleanupLog, vacuum, writeCheckpoint } from './delta/checkpoint.ts';
import { commitVersion } from './delta/log.ts';
import { readSnapshot, type DeltaSnapshot } from './delta/snapshot.ts';
import { lakeKeys, type LakeLease } from './lease.ts';
import { latestPerKey, mergePartition, partitionsOf, type IndexEntry, type KeyChange, type MergeCounts } from './merge.ts';
import { joinKey, type ObjectStore } from './object-store.ts';
import { readParquet, writeParquet } from './parquet.ts';
import { parseSliceKey, sliceInfoOf, type SliceInfo } from './slice-format.ts';
import { lakeTableColumns, partitionColumnOf, partitionValueOf, progressAppId, rowKey, specFromConfiguration, tableRoot, type LakeTableSpec } from './table-spec.ts';
import type { LakeRow } from './types.ts';

/** Options of {@link runWorkerPass}. */
export interface WorkerOptions {
  store: ObjectStore;
  redis: Redis;
  /** Source table, `<schema>.<table>`. */
  table: string;
  log: Logger;
  /** Slices of one stream partition applied in one commit, at most. @defaultValue 20 */
  maxSlicesPerPartition?: number;
  /** Data partitions rewritten at once. @defaultValue 2 */
  parallelism?: number;
  /** A checkpoint every this many versions (PROTOCOL.md, "Checkpoints"). @defaultValue 10 */
  checkpointInterval?: number;
  /** Log entries and unreferenced data files older than this are deleted after a checkpoint, ms. @defaultValue 7 days */
  retentionMs?: number;
  /** @defaultValue Date.now */
  now?: () => number;
}

/** A slice file the worker can apply next. */
export interface PendingSlice {
  key: string;
  partition: number;
  firstOffset: bigint;
  intervalStart: number;
}

/** The slices waiting per stream partition. */
export interface SliceBacklog {
  /** Per partition: the offset the table continues at (its txn version; null before its first slice). */
  progress: Map<number, bigint | null>;
  /** Per partition: stored slices at or after the progress, by first offset. */
  pending: Map<number, PendingSlice[]>;
  /** Partitions whose next slice is missing while later ones exist. */
  gaps: number[];
}

/** What a pass did. */
export interface PassResult extends MergeCounts {
  /** The version committed, null when there was nothing to apply. */
  version: number | null;
  slices: SliceInfo[];
  /** Data partitions rewritten. */
  partitions: number;
  /** Time from the start of the commit's writes to its log entry, ms. */
  commitMs: number;
  gaps: number[];
}

/** The lake worker's lease was lost before it could commit: another worker may be at work. */
export class LeaseLostError extends CdcViewsError {
  constructor(table: string) {
    super('LAKE_LEASE_LOST', `the lake worker of ${table} lost its lease before committing (it ran longer than the lease, or another worker took it): nothing was committed; the next pass redoes the slices`);
  }
}

/** Reads a table's snapshot and spec; throws naming `lake init` when there is none. */
export async function openLakeTable(store: ObjectStore, table: string): Promise<{ snapshot: DeltaSnapshot; spec: LakeTableSpec }> {
  const snapshot = await readSnapshot(store, tableRoot(table));
  if (!snapshot) throw new CdcViewsError('LAKE_NO_TABLE', `no lake table for ${table} at ${store.url}/${tableRoot(table)}: create it with cdc-views lake init --table ${table}`);
  return { snapshot, spec: specFromConfiguration(snapshot.metadata.configuration, snapshot.columns) };
}

/** Per stream partition, the table's progress (the txn versions). */
export function tableProgress(snapshot: DeltaSnapshot): Map<number, bigint> {
  const out = new Map<number, bigint>();
  for (const [appId, txn] of snapshot.txns) {
    const m = /^cdcv-slices\/(\d+)$/.exec(appId);
    if (m) out.set(Number(m[1]), BigInt(txn.version));
  }
  return out;
}

/** The slices stored after each partition's progress, and the partitions with a gap. */
export async function sliceBacklog(store: ObjectStore, spec: LakeTableSpec, snapshot: DeltaSnapshot): Promise<SliceBacklog> {
  const progress = tableProgress(snapshot);
  const byPartition = new Map<number, PendingSlice[]>();
  for (const o of await store.list(`slices/${spec.table}/`)) {
    const parts = parseSliceKey(o.key);
    if (!parts) continue;
    const list = byPartition.get(parts.partition) ?? [];
    list.push({ key: o.key, partition: parts.partition, firstOffset: parts.firstOffset, intervalStart: parts.intervalStart });
    byPartition.set(parts.partition, list);
  }
  const backlog: SliceBacklog = { progress: new Map(), pending: new Map(), gaps: [] };
  for (const [partition, list] of byPartition) {
    list.sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
    const at = progress.get(partition) ?? null;
    const pending = at === null ? list : list.filter((s) => s.firstOffset >= at);
    backlog.progress.set(partition, at);
    backlog.pending.set(partition, pending);
    if (pending.length > 0 && at !== null && pending[0]!.firstOffset !== at) backlog.gaps.push(partition);
  }
  for (const [partition, at] of progress) if (!backlog.progress.has(partition)) backlog.progress.set(partition, at);
  return backlog;
}

/** Runs `fn` over `items`, at most `limit` at once. */
async function pool<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return out;
}

/** Reads the index of a table, rebuilding it from the table's files when it is not of the snapshot's version. */
export async function loadIndex(store: ObjectStore, redis: Redis, spec: LakeTableSpec, snapshot: DeltaSnapshot): Promise<Map<string, IndexEntry>> {
  const keys = lakeKeys(spec.table);
  const index = new Map<string, IndexEntry>();
  if ((await redis.get(keys.indexVersion)) === String(snapshot.version)) {
    for (const [k, v] of Object.entries(await redis.hgetall(keys.index))) {
      const [partition, version, deleted] = JSON.parse(v) as [string | null, string, number];
      index.set(k, { partition, version, deleted: deleted === 1 });
    }
    return index;
  }
  const partCol = partitionColumnOf(spec);
  for (const add of snapshot.files.values()) {
    for (const row of await readTableFile(store, spec, add.path)) {
      index.set(rowKey(row, spec.keyColumns), { partition: (row[partCol] as string | null) ?? null, version: row._cdcv_version as string, deleted: false });
    }
  }
  await writeIndex(redis, spec.table, index, snapshot.version, true);
  return index;
}

async function writeIndex(redis: Redis, table: string, entries: ReadonlyMap<string, IndexEntry>, version: number, replace: boolean): Promise<void> {
  const keys = lakeKeys(table);
  const tx = redis.multi();
  if (replace) tx.del(keys.index);
  const flat: string[] = [];
  for (const [k, e] of entries) flat.push(k, JSON.stringify([e.partition, e.version, e.deleted ? 1 : 0]));
  for (let i = 0; i < flat.length; i += 2000) tx.hset(keys.index, ...flat.slice(i, i + 2000));
  tx.set(keys.indexVersion, String(version));
  await tx.exec();
}

async function readTableFile(store: ObjectStore, spec: LakeTableSpec, path: string): Promise<LakeRow[]> {
  const rel = decodeDataPath(path);
  if (rel === undefined) throw new CdcViewsError('LAKE_FOREIGN_FILE', `the lake table of ${spec.table} references ${path}, which is not a file of its own folder`);
  const body = await store.get(joinKey(tableRoot(spec.table), rel));
  if (!body) throw new CdcViewsError('LAKE_MISSING_FILE', `${store.url}/${joinKey(tableRoot(spec.table), rel)} is referenced by the table but missing`, { retriable: true });
  return (await readParquet(body)).rows;
}

/**
 * One pass of the worker under a held lease: applies the next slices of
 * every stream partition in one commit.
 * @throws {LeaseLostError} when the lease was lost before the commit (nothing committed)
 * @throws {DeltaConflictError} when another commit took the version (nothing committed by this pass)
 */
export async function runWorkerPass(o: WorkerOptions, lease: LakeLease): Promise<PassResult> {
  const now = o.now ?? Date.now;
  const { snapshot, spec } = await openLakeTable(o.store, o.table);
  const backlog = await sliceBacklog(o.store, spec, snapshot);
  const empty: PassResult = { version: null, slices: [], partitions: 0, commitMs: 0, upserted: 0, deleted: 0, stale: 0, gaps: backlog.gaps };

  // The slices to apply: per partition, the chain that continues its progress.
  const slices: { info: SliceInfo; rows: LakeRow[] }[] = [];
  const advanced = new Map<number, bigint>();
  for (const [partition, pending] of backlog.pending) {
    let at = backlog.progress.get(partition) ?? pending[0]?.firstOffset ?? null;
    for (const s of pending) {
      if (at === null || s.firstOffset !== at || slices.filter((x) => x.info.partition === partition).length >= (o.maxSlicesPerPartition ?? 20)) break;
      const body = await o.store.get(s.key);
      if (!body) break;
      const parsed = await readParquet(body);
      const info = sliceInfoOf(parsed.kv, `${o.store.url}/${s.key}`);
      slices.push({ info, rows: parsed.rows });
      at = BigInt(info.nextOffset);
      advanced.set(partition, at);
    }
  }
  if (slices.length === 0) return empty;
  if (!(await lease.renew())) throw new LeaseLostError(o.table);

  const started = now();
  const changes = latestPerKey(
    slices.flatMap((s) => s.rows),
    spec.keyColumns,
  );
  const index = await loadIndex(o.store, o.redis, spec, snapshot);
  const byPartition = new Map<string | null, KeyChange[]>();
  for (const change of changes.values()) {
    for (const p of partitionsOf(spec, change, index.get(change.key))) byPartition.set(p, [...(byPartition.get(p) ?? []), change]);
  }
  const partCol = partitionColumnOf(spec);
  const columns = lakeTableColumns(spec);
  const version = snapshot.version + 1;
  const counts: MergeCounts = { upserted: 0, deleted: 0, stale: 0 };
  const results = await pool([...byPartition], o.parallelism ?? 2, async ([partition, list]) => {
    const files = [...snapshot.files.values()].filter((f) => (f.partitionValues[partCol] ?? null) === partition);
    const rows = (await Promise.all(files.map((f) => readTableFile(o.store, spec, f.path)))).flat();
    const merged = mergePartition(spec, partition, rows, list, index);
    if (merged.counts.upserted + merged.counts.deleted === 0 && rows.length === merged.rows.length) return { counts: merged.counts, actions: [] as DeltaAction[] };
    const actions: DeltaAction[] = files.map((f) => ({ remove: { path: f.path, deletionTimestamp: now(), dataChange: true, extendedFileMetadata: true, partitionValues: f.partitionValues, size: f.size } satisfies RemoveAction }));
    if (merged.rows.length > 0) {
      const values = { [partCol]: partition };
      const rel = `${partitionDirectory([partCol], values)}part-${String(version).padStart(8, '0')}-${randomUUID()}.parquet`;
      const body = writeParquet(columns, merged.rows);
      await o.store.put(joinKey(tableRoot(spec.table), rel), body);
      const add: AddAction = { path: encodeDataPath(rel), partitionValues: values, size: body.length, modificationTime: now(), dataChange: true, stats: JSON.stringify({ numRecords: merged.rows.length }) };
      actions.push({ add });
    }
    return { counts: merged.counts, actions };
  });
  const actions: DeltaAction[] = results.flatMap((r) => r.actions);
  for (const r of results) {
    counts.upserted += r.counts.upserted;
    counts.deleted += r.counts.deleted;
    counts.stale += r.counts.stale;
  }
  for (const [partition, next] of advanced) actions.push({ txn: { appId: progressAppId(partition), version: Number(next), lastUpdated: now() } });
  actions.push({ commitInfo: { timestamp: now(), operation: 'MERGE', engineInfo: 'cdc-views lake worker', operationParameters: { slices: slices.map((s) => `${s.info.partition}@${s.info.firstOffset}`).join(' ') }, operationMetrics: { ...counts } } });
  if (!(await lease.renew())) throw new LeaseLostError(o.table);
  await commitVersion(o.store, tableRoot(spec.table), version, actions);
  const commitMs = now() - started;

  // The index follows the commit; a crash before this line is repaired by a rebuild (its version is behind).
  const touched = new Map<string, IndexEntry>();
  for (const change of changes.values()) {
    const held = index.get(change.key);
    if (held && held.version >= change.version) continue;
    touched.set(change.key, { partition: change.deleted ? (held?.partition ?? null) : partitionValueOf(change.row[spec.partitionSource]), version: change.version, deleted: change.deleted });
  }
  await writeIndex(o.redis, spec.table, touched, version, false);
  await maintain(o, version);
  o.log.info({ table: spec.table, version, slices: slices.length, ...counts, partitions: byPartition.size, commitMs }, 'lake worker: committed');
  return { version, slices: slices.map((s) => s.info), partitions: byPartition.size, commitMs, gaps: backlog.gaps, ...counts };
}

/** After every `checkpointInterval`-th version: a checkpoint, then log cleanup and VACUUM past the retention. */
async function maintain(o: WorkerOptions, version: number): Promise<void> {
  const every = o.checkpointInterval ?? 10;
  if (version % every !== 0) return;
  const root = tableRoot(o.table);
  const snapshot = await readSnapshot(o.store, root);
  if (!snapshot) return;
  await writeCheckpoint(o.store, root, snapshot);
  const retention = o.retentionMs ?? 7 * 86_400_000;
  const now = (o.now ?? Date.now)();
  await cleanupLog(o.store, root, snapshot, retention, now);
  await vacuum(o.store, root, snapshot, retention, now);
}
