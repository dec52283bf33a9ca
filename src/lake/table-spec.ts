/**
 * What cdc-views records about a lake table in the Delta log's
 * `metaData.configuration` (keys `cdcv.*`), and the derived names: the table
 * root, the data-partition column, the stream-progress transaction ids.
 *
 * Data partitions: by the day (UTC) of an immutable column of the source
 * table (default `create_time`; `--partition-by` names another), stored in an
 * extra column `<column>_day` (`YYYY-MM-DD`, a Delta partition column). A row
 * never moves data partition when it is updated, so an update rewrites one
 * partition's files only.
 *
 * Progress: one Delta `txn` action per stream partition, appId
 * `cdcv-slices/<partition>`, version = the Kafka offset after the last record
 * applied (PROTOCOL.md, "Transaction Identifiers"): progress commits
 * atomically with the data it describes.
 */
import { ConfigError } from '../errors.ts';
import { VERSION_COLUMN } from './slice-format.ts';
import type { LakeColumn, LakeRow, LakeValue } from './types.ts';

/** The cdc-views description of one lake table. */
export interface LakeTableSpec {
  /** Source table, `<schema>.<table>`. */
  table: string;
  /** The CDC topic of the table. */
  topic: string;
  /** Primary-key columns, in key order. */
  keyColumns: string[];
  /** The immutable source column whose day partitions the data. */
  partitionSource: string;
  /** The table's own columns (without the cdc-views columns). */
  columns: LakeColumn[];
}

/** Folder of a table's lake table under the lake URL. */
export const tableRoot = (table: string): string => `tables/${table}`;

/** Name of the data-partition column of a spec. */
export const partitionColumnOf = (spec: Pick<LakeTableSpec, 'partitionSource'>): string => `${spec.partitionSource}_day`;

/** The Delta `txn` appId holding the progress of stream partition `p`. */
export const progressAppId = (partition: number): string => `cdcv-slices/${partition}`;

/** Every column of the lake table: the source's, the source version, the partition column. */
export function lakeTableColumns(spec: LakeTableSpec): LakeColumn[] {
  return [...spec.columns, { name: VERSION_COLUMN, type: 'string', nullable: false }, { name: partitionColumnOf(spec), type: 'string', nullable: true }];
}

/** `metaData.configuration` entries of a spec. */
export function specConfiguration(spec: LakeTableSpec): Record<string, string> {
  return { 'cdcv.table': spec.table, 'cdcv.topic': spec.topic, 'cdcv.keyColumns': spec.keyColumns.join(','), 'cdcv.partitionSource': spec.partitionSource };
}

/**
 * The spec back from a table's configuration and columns.
 * @throws {ConfigError} when the table was not made by `cdc-views lake init`
 */
export function specFromConfiguration(configuration: Record<string, string>, columns: readonly LakeColumn[]): LakeTableSpec {
  const { 'cdcv.table': table, 'cdcv.topic': topic, 'cdcv.keyColumns': keys, 'cdcv.partitionSource': partitionSource } = configuration;
  if (!table || !topic || !keys || !partitionSource) throw new ConfigError('--table', 'the lake table has no cdcv.* configuration: it was not made by `cdc-views lake init`');
  const own = columns.filter((c) => c.name !== VERSION_COLUMN && c.name !== `${partitionSource}_day`);
  return { table, topic, keyColumns: keys.split(','), partitionSource, columns: own };
}

/**
 * The data partition (`YYYY-MM-DD`, UTC) of a partition-source value: a
 * canonical timestamp (`YYYY-MM-DDTHH:MM:SS.ffffffZ`) or date; null for null.
 * @throws {Error} for a value that is neither
 */
export function partitionValueOf(value: LakeValue | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}/.test(value)) return value.slice(0, 10);
  throw new Error(`cannot partition by ${JSON.stringify(typeof value === 'bigint' ? value.toString() : value)}: not a date or timestamp`);
}

/** The identity of a row: JSON of its key columns' values in key order (bigints as strings). */
export function rowKey(row: LakeRow, keyColumns: readonly string[]): string {
  return JSON.stringify(keyColumns.map((k) => (typeof row[k] === 'bigint' ? row[k].toString() : (row[k] ?? null))));
}
