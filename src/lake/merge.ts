/**
 * The merge of slice rows into the rows of a lake table: per key, the change
 * with the highest source version wins (never by `update_time`, which can tie
 * or go back); a delete marker removes the row; an older change than the row
 * the table holds, or than a delete it saw, changes nothing. Pure functions:
 * the worker (./worker.ts) reads and writes the files around them.
 */
import { VERSION_COLUMN } from './slice-format.ts';
import { UNAVAILABLE_COLUMN } from './slice-writer.ts';
import { partitionColumnOf, partitionValueOf, rowKey, type LakeTableSpec } from './table-spec.ts';
import type { LakeRow } from './types.ts';

/** Where a key is, as the index knows it: its data partition and version, or its delete. */
export interface IndexEntry {
  /** Data partition (`YYYY-MM-DD`), null for rows whose partition column is null. */
  partition: string | null;
  version: string;
  deleted: boolean;
}

/** A change to apply: the winning slice row of a key. */
export interface KeyChange {
  key: string;
  row: LakeRow;
  version: string;
  deleted: boolean;
}

/**
 * The latest change per key among slice rows (highest `_cdcv_version`; equal
 * versions: the later row in the input, i.e. the higher offset).
 */
export function latestPerKey(rows: readonly LakeRow[], keyColumns: readonly string[]): Map<string, KeyChange> {
  const out = new Map<string, KeyChange>();
  for (const row of rows) {
    const key = rowKey(row, keyColumns);
    const version = row[VERSION_COLUMN] as string;
    const seen = out.get(key);
    if (seen && seen.version > version) continue;
    out.set(key, { key, row, version, deleted: row._cdcv_op === 'd' });
  }
  return out;
}

/** Which data partitions a change touches: where the row goes, and where the index says it is now. */
export function partitionsOf(spec: LakeTableSpec, change: KeyChange, indexed: IndexEntry | undefined): (string | null)[] {
  const target = change.deleted ? undefined : partitionValueOf(change.row[spec.partitionSource]);
  const fromRow = change.deleted && change.row[spec.partitionSource] != null ? partitionValueOf(change.row[spec.partitionSource]) : undefined;
  const out = new Set<string | null>();
  if (target !== undefined) out.add(target);
  if (fromRow !== undefined) out.add(fromRow);
  if (indexed && !indexed.deleted) out.add(indexed.partition);
  return [...out];
}

/** What a merge did. */
export interface MergeCounts {
  /** Rows written new or replaced. */
  upserted: number;
  deleted: number;
  /** Changes older than what the table (or the index) holds. */
  stale: number;
}

/** A lake-table row from a winning slice row: the table's columns, the version, the partition column; columns Debezium could not send keep `previous`'s values. */
export function tableRow(spec: LakeTableSpec, change: KeyChange, previous: LakeRow | undefined): LakeRow {
  const unavailable = new Set(((change.row[UNAVAILABLE_COLUMN] as string | null) ?? '').split(',').filter((c) => c !== ''));
  const row: LakeRow = {};
  for (const c of spec.columns) row[c.name] = unavailable.has(c.name) ? (previous?.[c.name] ?? null) : (change.row[c.name] ?? null);
  row[VERSION_COLUMN] = change.version;
  row[partitionColumnOf(spec)] = partitionValueOf(row[spec.partitionSource]);
  return row;
}

/**
 * Applies the changes to the rows of one data partition.
 * @param rows the partition's current rows
 * @param changes the winning changes of keys that are or may be in this partition
 * @param index where each key is now (tombstones included): an older change than a delete it holds is stale
 * @returns the partition's new rows (input order, new rows last) and the counts
 */
export function mergePartition(spec: LakeTableSpec, partition: string | null, rows: readonly LakeRow[], changes: readonly KeyChange[], index: ReadonlyMap<string, IndexEntry>): { rows: LakeRow[]; counts: MergeCounts } {
  const byKey = new Map<string, LakeRow>();
  for (const r of rows) byKey.set(rowKey(r, spec.keyColumns), r);
  const counts: MergeCounts = { upserted: 0, deleted: 0, stale: 0 };
  for (const change of changes) {
    const current = byKey.get(change.key);
    const indexed = index.get(change.key);
    const held = (current?.[VERSION_COLUMN] as string | undefined) ?? (indexed?.deleted ? indexed.version : undefined);
    if (held !== undefined && held >= change.version) {
      counts.stale += 1;
      continue;
    }
    const target = change.deleted ? undefined : partitionValueOf(change.row[spec.partitionSource]);
    if (change.deleted || target !== partition) {
      if (current) {
        byKey.delete(change.key);
        if (change.deleted) counts.deleted += 1;
      }
      continue;
    }
    byKey.set(change.key, tableRow(spec, change, current));
    counts.upserted += 1;
  }
  return { rows: [...byKey.values()], counts };
}
