/**
 * Checkpoints, log cleanup and VACUUM of a Delta table. Checkpoints are
 * classic single-file V1 checkpoints (`<version>.checkpoint.parquet`,
 * PROTOCOL.md "Checkpoints", "Classic checkpoint", "V1 Spec") written with
 * hyparquet-writer: one row per action, the actions as nullable struct
 * columns txn, add, remove, metaData, protocol with maps as Parquet MAP
 * groups and lists as 3-level LIST groups ("Checkpoint Schema"); `stats` as
 * a JSON string (`delta.checkpoint.writeStatsAsJson`), no `stats_parsed` or
 * `partitionValues_parsed`. Not written: multi-part, UUID-named/V2
 * checkpoints, sidecars, checkpointMetadata, the `_last_checkpoint` checksum.
 */
import { parquetReadObjects } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { joinKey, type ObjectStore } from '../object-store.ts';
import { LAST_CHECKPOINT_FILE, checkpointFileName, decodeDataPath, type AddAction, type DeltaAction, type MetadataAction, type RemoveAction } from './actions.ts';
import { DeltaLogError } from './errors.ts';
import { listLog, readLastCheckpoint, type DeltaSnapshot, type LastCheckpoint } from './snapshot.ts';

/** hyparquet-writer's SchemaElement (it bundles its own hyparquet types). */
type SchemaElement = NonNullable<Parameters<typeof parquetWriteBuffer>[0]['schema']>[number];

const str = (name: string): SchemaElement => ({ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' });
const i64 = (name: string): SchemaElement => ({ name, type: 'INT64', repetition_type: 'OPTIONAL' });
const i32 = (name: string): SchemaElement => ({ name, type: 'INT32', repetition_type: 'OPTIONAL' });
const bool = (name: string): SchemaElement => ({ name, type: 'BOOLEAN', repetition_type: 'OPTIONAL' });
const group = (name: string, children: SchemaElement[][]): SchemaElement[] => [{ name, repetition_type: 'OPTIONAL', num_children: children.length }, ...children.flat()];
/** map<string,string>: the standard 3-level MAP group (key required, value nullable). */
const mapStr = (name: string): SchemaElement[] => [
  { name, repetition_type: 'OPTIONAL', converted_type: 'MAP', num_children: 1 },
  { name: 'key_value', repetition_type: 'REPEATED', converted_type: 'MAP_KEY_VALUE', num_children: 2 },
  { name: 'key', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  str('value'),
];
/** array<string>: the standard 3-level LIST group. */
const listStr = (name: string): SchemaElement[] => [
  { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  str('element'),
];

/** The Parquet schema of checkpoints (PROTOCOL.md, "Checkpoint Schema", without the V2 and `_parsed` columns). */
export const CHECKPOINT_SCHEMA: SchemaElement[] = [
  { name: 'spark_schema', num_children: 5 },
  ...group('txn', [[str('appId')], [i64('version')], [i64('lastUpdated')]]),
  ...group('add', [[str('path')], mapStr('partitionValues'), [i64('size')], [i64('modificationTime')], [bool('dataChange')], [str('stats')], mapStr('tags')]),
  ...group('remove', [[str('path')], [i64('deletionTimestamp')], [bool('dataChange')], [bool('extendedFileMetadata')], mapStr('partitionValues'), [i64('size')]]),
  ...group('metaData', [
    [str('id')],
    [str('name')],
    [str('description')],
    group('format', [[str('provider')], mapStr('options')]),
    [str('schemaString')],
    listStr('partitionColumns'),
    mapStr('configuration'),
    [i64('createdTime')],
  ]),
  ...group('protocol', [[i32('minReaderVersion')], [i32('minWriterVersion')]]),
];

const big = (n: number | undefined): bigint | null => (n === undefined ? null : BigInt(n));

/** The actions of a checkpoint of `snapshot` (PROTOCOL.md, "Checkpoints": protocol, metaData, txns, live adds, unexpired removes; no commitInfo). */
export function checkpointActions(snapshot: DeltaSnapshot): DeltaAction[] {
  return [
    { protocol: snapshot.protocol },
    { metaData: snapshot.metadata },
    ...[...snapshot.txns].map(([appId, t]): DeltaAction => ({ txn: { appId, ...t } })),
    ...[...snapshot.files.values()].map((add): DeltaAction => ({ add })),
    ...[...snapshot.tombstones.values()].map((remove): DeltaAction => ({ remove })),
  ];
}

/** Encodes checkpoint actions as Parquet (one row per action). */
export function encodeCheckpoint(actions: readonly DeltaAction[]): Buffer {
  const cols: Record<'txn' | 'add' | 'remove' | 'metaData' | 'protocol', unknown[]> = { txn: [], add: [], remove: [], metaData: [], protocol: [] };
  for (const a of actions) {
    const row = { txn: null as unknown, add: null as unknown, remove: null as unknown, metaData: null as unknown, protocol: null as unknown };
    if ('txn' in a) row.txn = { appId: a.txn.appId, version: BigInt(a.txn.version), lastUpdated: big(a.txn.lastUpdated) };
    else if ('add' in a) {
      const x = a.add;
      row.add = { path: x.path, partitionValues: x.partitionValues, size: BigInt(x.size), modificationTime: BigInt(x.modificationTime), dataChange: x.dataChange, stats: x.stats ?? null, tags: x.tags ?? null };
    } else if ('remove' in a) {
      const x = a.remove;
      row.remove = { path: x.path, deletionTimestamp: big(x.deletionTimestamp), dataChange: x.dataChange, extendedFileMetadata: x.extendedFileMetadata ?? null, partitionValues: x.partitionValues ?? null, size: big(x.size) };
    } else if ('metaData' in a) {
      const m = a.metaData;
      row.metaData = { id: m.id, name: m.name ?? null, description: m.description ?? null, format: m.format, schemaString: m.schemaString, partitionColumns: m.partitionColumns, configuration: m.configuration, createdTime: big(m.createdTime) };
    } else if ('protocol' in a) row.protocol = a.protocol;
    else continue; // commitInfo is never checkpointed
    for (const k of Object.keys(cols) as (keyof typeof cols)[]) cols[k].push(row[k]);
  }
  const buf = parquetWriteBuffer({
    schema: CHECKPOINT_SCHEMA,
    columnData: Object.entries(cols).map(([name, data]) => ({ name, data })),
    createdBy: 'cdc-views (hyparquet-writer)',
  });
  return Buffer.from(buf);
}

type Row = Record<string, unknown>;
const num = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v));
const opt = <K extends string, V>(k: K, v: V | null | undefined): Partial<Record<K, V>> => (v === null || v === undefined ? {} : ({ [k]: v } as Record<K, V>));
const obj = (v: unknown): Record<string, string | null> => (v && typeof v === 'object' ? (v as Record<string, string | null>) : {});

/** Decodes one checkpoint row to its action; `undefined` for a row of an action kind not read (e.g. checkpointMetadata). */
function rowToAction(r: Row): DeltaAction | undefined {
  const s = (v: unknown): Row => v as Row;
  if (r.add) {
    const x = s(r.add);
    const add: AddAction = { path: String(x.path), partitionValues: obj(x.partitionValues), size: num(x.size) ?? 0, modificationTime: num(x.modificationTime) ?? 0, dataChange: x.dataChange === true, ...opt('stats', x.stats as string | null), ...opt('tags', x.tags as Record<string, string> | null) };
    return { add };
  }
  if (r.remove) {
    const x = s(r.remove);
    const remove: RemoveAction = { path: String(x.path), ...opt('deletionTimestamp', num(x.deletionTimestamp)), dataChange: x.dataChange === true, ...opt('extendedFileMetadata', x.extendedFileMetadata as boolean | null), ...opt('partitionValues', x.partitionValues as Record<string, string | null> | null), ...opt('size', num(x.size)) };
    return { remove };
  }
  if (r.txn) {
    const x = s(r.txn);
    return { txn: { appId: String(x.appId), version: num(x.version) ?? 0, ...opt('lastUpdated', num(x.lastUpdated)) } };
  }
  if (r.metaData) {
    const x = s(r.metaData);
    const f = s(x.format ?? {});
    const metaData: MetadataAction = {
      id: String(x.id),
      ...opt('name', x.name as string | null),
      ...opt('description', x.description as string | null),
      format: { provider: typeof f.provider === 'string' ? f.provider : 'parquet', options: obj(f.options) as Record<string, string> },
      schemaString: String(x.schemaString),
      partitionColumns: Array.isArray(x.partitionColumns) ? x.partitionColumns.map(String) : [],
      configuration: obj(x.configuration) as Record<string, string>,
      ...opt('createdTime', num(x.createdTime)),
    };
    return { metaData };
  }
  if (r.protocol) {
    const x = s(r.protocol);
    return { protocol: { minReaderVersion: num(x.minReaderVersion) ?? 1, minWriterVersion: num(x.minWriterVersion) ?? 2 } };
  }
  return undefined;
}

/**
 * Reads the actions of a classic checkpoint (PROTOCOL.md, "Checkpoints":
 * each row one action, each action a struct column; a missing column is null).
 * @throws {DeltaLogError} when the file is missing or not a readable checkpoint
 */
export async function readCheckpoint(store: ObjectStore, key: string): Promise<DeltaAction[]> {
  const body = await store.get(key);
  if (!body) throw new DeltaLogError(`checkpoint ${store.url}/${key} is listed but cannot be read (deleted concurrently?)`);
  let rows: Row[];
  try {
    const file = body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer;
    rows = (await parquetReadObjects({ file })) as Row[];
  } catch (err) {
    throw new DeltaLogError(`checkpoint ${store.url}/${key} is not a readable Parquet checkpoint: ${(err as Error).message}`, { cause: err });
  }
  return rows.map(rowToAction).filter((a): a is DeltaAction => a !== undefined);
}

/**
 * Writes the checkpoint of `snapshot` as `_delta_log/<version>.checkpoint.parquet`
 * (a plain put: two writers of the same classic checkpoint write the same
 * content, "Classic checkpoint") and then `_delta_log/_last_checkpoint`
 * ("Last Checkpoint File Schema": version, size, sizeInBytes, numOfAddFiles)
 * unless that already names a newer checkpoint. The commit of
 * `snapshot.version` must exist ("Checkpoints for a given version must only be
 * created after the associated delta file has been successfully written").
 */
export async function writeCheckpoint(store: ObjectStore, tableRoot: string, snapshot: DeltaSnapshot): Promise<LastCheckpoint> {
  const actions = checkpointActions(snapshot);
  const body = encodeCheckpoint(actions);
  await store.put(joinKey(tableRoot, checkpointFileName(snapshot.version)), body);
  const last: LastCheckpoint = { version: snapshot.version, size: actions.length, sizeInBytes: body.length, numOfAddFiles: snapshot.files.size };
  const prev = await readLastCheckpoint(store, tableRoot);
  if (!prev || prev.version <= snapshot.version) await store.put(joinKey(tableRoot, LAST_CHECKPOINT_FILE), JSON.stringify(last));
  return last;
}

/**
 * Metadata Cleanup (PROTOCOL.md, "Metadata Cleanup"): the cutoff commit is the
 * newest commit last modified at or before `now - retentionMs` (exact time,
 * not rounded to midnight UTC); the cutoff checkpoint is the newest classic
 * checkpoint at or before it. Every commit and classic checkpoint of a
 * version below the cutoff checkpoint is deleted; the checkpoint, its own
 * commit and everything after are kept. No cutoff checkpoint: nothing is
 * deleted. The snapshot bounds the cutoff: nothing newer than
 * `snapshot.version` is considered.
 * @returns the deleted keys
 */
export async function cleanupLog(store: ObjectStore, tableRoot: string, snapshot: DeltaSnapshot, retentionMs: number, now: number = Date.now()): Promise<string[]> {
  const listing = await listLog(store, tableRoot);
  const cutoffTime = now - retentionMs;
  let cutoffCommit = -1;
  for (const o of listing.objects) if (o.kind === 'commit' && o.version !== undefined && o.version <= snapshot.version && o.lastModified <= cutoffTime) cutoffCommit = Math.max(cutoffCommit, o.version);
  const cutoffCheckpoint = [...listing.checkpoints].reverse().find((v) => v <= cutoffCommit);
  if (cutoffCheckpoint === undefined) return [];
  const doomed = listing.objects.filter((o) => o.kind !== undefined && o.version !== undefined && o.version < cutoffCheckpoint).map((o) => o.key);
  await store.delete(doomed);
  return doomed;
}

/** PROTOCOL.md "Data Files": a name starting with `_` (unless a `col=value` partition directory) or `.` is hidden, not data. */
const isHidden = (segment: string): boolean => segment.startsWith('.') || (segment.startsWith('_') && !segment.includes('='));

/** What {@link vacuum} did. */
export interface VacuumResult {
  /** Deleted keys (relative to the store root). */
  deleted: string[];
  /** Unreferenced files kept because they are younger than the retention. */
  keptRecent: number;
}

/**
 * VACUUM: deletes data files under the table root that are not referenced by
 * an add of `snapshot` (the latest one), nor by a tombstone deleted less than
 * `retentionMs` ago (PROTOCOL.md, "Add File and Remove File": a remove stays a
 * tombstone so that readers of older snapshots keep their files), and whose
 * last modification is older than `retentionMs` (files of writes not yet
 * committed are young). Never touches `_delta_log/` or other hidden paths.
 */
export async function vacuum(store: ObjectStore, tableRoot: string, snapshot: DeltaSnapshot, retentionMs: number, now: number = Date.now()): Promise<VacuumResult> {
  const root = joinKey(tableRoot);
  const prefix = root === '' ? '' : `${root}/`;
  const keep = new Set<string>();
  for (const path of snapshot.files.keys()) keep.add(decodeDataPath(path) ?? '');
  for (const [path, r] of snapshot.tombstones) if ((r.deletionTimestamp ?? 0) + retentionMs > now) keep.add(decodeDataPath(path) ?? '');
  const deleted: string[] = [];
  let keptRecent = 0;
  for (const o of await store.list(prefix)) {
    const rel = o.key.slice(prefix.length);
    if (rel.split('/').some(isHidden) || keep.has(rel)) continue;
    if (o.lastModified > now - retentionMs) {
      keptRecent++;
      continue;
    }
    deleted.push(o.key);
  }
  await store.delete(deleted);
  return { deleted, keptRecent };
}
