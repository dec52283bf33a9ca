/**
 * Time-slice files: the change stream of one table, one Parquet file per
 * stream (Kafka) partition per slice interval, in object storage.
 *
 * Key: `slices/<schema.table>/partition=<p>/<interval start, UTC, yyyyMMddTHHmmssZ>-<first offset, 20 digits>.parquet`.
 * The name depends only on the partition and the first record of the slice
 * (its offset, and its timestamp's interval), so a writer that re-runs after a
 * crash writes the same key, and the put-if-absent that writes slices lets
 * exactly one of two racing writers own a key: never a second copy of a slice.
 *
 * Rows: every column of the table (all nullable: a delete of a REPLICA
 * IDENTITY DEFAULT table carries only its key) and {@link META_COLUMNS}: the
 * Debezium `op`, the change's source version (src/cdc/source-position.ts),
 * its Kafka offset and the source commit time. A delete is a row with
 * `_cdcv_op = 'd'` (a delete marker) holding the old row or its key.
 *
 * Footer key-value metadata `cdcv.slice`: {@link SliceInfo} as JSON.
 */
import { CdcViewsError } from '../errors.ts';
import type { LakeColumn } from './types.ts';

/** Columns every slice row carries besides the table's own. */
export const META_COLUMNS: readonly LakeColumn[] = [
  { name: '_cdcv_op', type: 'string', nullable: false },
  { name: '_cdcv_version', type: 'string', nullable: false },
  { name: '_cdcv_offset', type: 'long', nullable: false },
  { name: '_cdcv_ts_ms', type: 'long', nullable: false },
];

/** Name of the source-version column in slices and in the lake table. */
export const VERSION_COLUMN = '_cdcv_version';

/** The footer metadata key holding {@link SliceInfo}. */
export const SLICE_KV_KEY = 'cdcv.slice';

/** What a slice file covers (its footer's `cdcv.slice`). */
export interface SliceInfo {
  /** `<schema>.<table>`. */
  table: string;
  topic: string;
  partition: number;
  /** Start of the slice's interval, ms since the epoch (the first record's timestamp, floored to the interval). */
  intervalStart: number;
  /** Interval length, ms. */
  intervalMs: number;
  /** Offset of the first record (decimal string). */
  firstOffset: string;
  /** Offset after the last record: the next slice of the partition starts here (decimal string). */
  nextOffset: string;
  /** Records covered, including tombstones and records that are not row changes. */
  records: number;
  /** Rows in the file (changes and delete markers). */
  rows: number;
  deletes: number;
  /** Smallest and largest source version of the rows (null when the file has no rows). */
  versions: { min: string; max: string } | null;
  /** Source commit times of the rows, ms since the epoch (null without rows). */
  sourceTsMs: { min: number; max: number } | null;
  /** When the file was written, ms since the epoch. */
  writtenAt: number;
}

/**
 * The {@link SliceInfo} of a slice file from its footer's key-value metadata.
 * @param where the file, for the error
 * @throws {CdcViewsError} LAKE_BAD_SLICE when the footer has no `cdcv.slice`
 */
export function sliceInfoOf(kv: Readonly<Record<string, string>>, where: string): SliceInfo {
  const raw = kv[SLICE_KV_KEY];
  if (!raw) throw new CdcViewsError('LAKE_BAD_SLICE', `${where} has no ${SLICE_KV_KEY} footer metadata: it was not written by cdc-views lake slices`);
  return JSON.parse(raw) as SliceInfo;
}

/** The folder holding the slices of a table's partition. */
export const slicePartitionPrefix = (table: string, partition: number): string => `slices/${table}/partition=${partition}/`;

/** `yyyyMMddTHHmmssZ` of a time, ms. */
export function compactUtc(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

/** Start of the interval holding `timestampMs`. */
export const intervalStartOf = (timestampMs: number, intervalMs: number): number => Math.floor(timestampMs / intervalMs) * intervalMs;

/** The object key of a slice. */
export function sliceKey(table: string, partition: number, intervalStart: number, firstOffset: string | bigint): string {
  return `${slicePartitionPrefix(table, partition)}${compactUtc(intervalStart)}-${firstOffset.toString().padStart(20, '0')}.parquet`;
}

/** A slice key taken apart; null when the key is not a slice's. */
export interface SliceKeyParts {
  table: string;
  partition: number;
  /** Interval start, ms since the epoch. */
  intervalStart: number;
  firstOffset: bigint;
}

const KEY_RE = /^slices\/([^/]+)\/partition=(\d+)\/(\d{8})T(\d{6})Z-(\d{20})\.parquet$/;

/** Parses a key made by {@link sliceKey}. */
export function parseSliceKey(key: string): SliceKeyParts | null {
  const m = KEY_RE.exec(key);
  if (!m) return null;
  const [, table, partition, d, t, offset] = m as unknown as [string, string, string, string, string, string];
  const iso = `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${t.slice(0, 2)}:${t.slice(2, 4)}:${t.slice(4, 6)}Z`;
  return { table, partition: Number(partition), intervalStart: Date.parse(iso), firstOffset: BigInt(offset) };
}
