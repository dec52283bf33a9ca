/**
 * Delta Lake log actions as cdc-views writes and reads them (delta-io/delta
 * PROTOCOL.md). Tables are created with protocol minReaderVersion 1 and
 * minWriterVersion 2 and no table features.
 *
 * Used from the protocol: Delta Log Entries (newline-delimited JSON commits,
 * 20-digit versions), the actions protocol, metaData, add, remove, txn and
 * commitInfo, Action Reconciliation, classic single-file V1 checkpoints with
 * `_last_checkpoint`, Metadata Cleanup, tombstone retention and VACUUM,
 * Partition Value Serialization, Schema Serialization of primitive types,
 * Per-file Statistics (carried as the JSON string `stats`).
 *
 * Not used (a table that needs them is refused, or the actions are ignored as
 * the protocol allows for actions it does not require): deletion vectors,
 * column mapping, change data files (`cdc`), table features (reader version 3,
 * writer version 7), domain metadata, v2/UUID-named and multi-part
 * checkpoints, sidecars, log compaction files, version checksum files,
 * catalog-managed tables and staged commits, row tracking, in-commit
 * timestamps, `stats_parsed`/`partitionValues_parsed`, nested column types,
 * CHECK constraints, generated/identity columns, absolute data file URIs.
 *
 * Longs (versions, sizes, times) are JS numbers: exact up to 2^53.
 */
import type { LakeColumn, LakeType, LakeValue } from '../types.ts';
import { DeltaLogError, DeltaUnsupportedError } from './errors.ts';

/** The `protocol` action (PROTOCOL.md, "Protocol Evolution"). */
export interface ProtocolAction {
  minReaderVersion: number;
  minWriterVersion: number;
}

/** The `format` of a `metaData` action (PROTOCOL.md, "Format Specification"). */
export interface FormatSpec {
  provider: string;
  options: Record<string, string>;
}

/** The `metaData` action (PROTOCOL.md, "Change Metadata"). */
export interface MetadataAction {
  /** Table GUID. */
  id: string;
  name?: string;
  description?: string;
  format: FormatSpec;
  /** The schema as Spark SQL JSON (PROTOCOL.md, "Schema Serialization Format"). */
  schemaString: string;
  partitionColumns: string[];
  configuration: Record<string, string>;
  /** ms since the epoch. */
  createdTime?: number;
}

/** The `add` action (PROTOCOL.md, "Add File and Remove File"). */
export interface AddAction {
  /** Relative URI of the data file from the table root (RFC 2396; see {@link encodeDataPath}). */
  path: string;
  /** Partition column → serialised value, `null` for a null value (PROTOCOL.md, "Partition Value Serialization"). */
  partitionValues: Record<string, string | null>;
  /** Bytes. */
  size: number;
  /** ms since the epoch. */
  modificationTime: number;
  dataChange: boolean;
  /** Statistics as a JSON string (PROTOCOL.md, "Per-file Statistics"). */
  stats?: string;
  tags?: Record<string, string>;
}

/** The `remove` action (PROTOCOL.md, "Add File and Remove File"). */
export interface RemoveAction {
  path: string;
  /** ms since the epoch; the start of the tombstone's retention. */
  deletionTimestamp?: number;
  dataChange: boolean;
  /** When true, `partitionValues` and `size` are present. */
  extendedFileMetadata?: boolean;
  partitionValues?: Record<string, string | null>;
  size?: number;
}

/** The `txn` action (PROTOCOL.md, "Transaction Identifiers"). */
export interface TxnAction {
  appId: string;
  version: number;
  /** ms since the epoch. */
  lastUpdated?: number;
}

/** The `commitInfo` action (PROTOCOL.md, "Commit Provenance Information"): any JSON object. */
export type CommitInfoAction = { timestamp?: number; operation?: string } & Record<string, unknown>;

/** One line of a commit file: a single action keyed by its name (PROTOCOL.md, "Actions"). */
export type DeltaAction =
  | { protocol: ProtocolAction }
  | { metaData: MetadataAction }
  | { add: AddAction }
  | { remove: RemoveAction }
  | { txn: TxnAction }
  | { commitInfo: CommitInfoAction };

/** Folder of the log under the table root (PROTOCOL.md, "Delta Log Entries"). */
export const DELTA_LOG_DIR = '_delta_log';
/** The last checkpoint pointer (PROTOCOL.md, "Last Checkpoint File"). */
export const LAST_CHECKPOINT_FILE = `${DELTA_LOG_DIR}/_last_checkpoint`;

function pad20(version: number): string {
  if (!Number.isSafeInteger(version) || version < 0) throw new RangeError(`Delta version must be a non-negative safe integer, got ${version}`);
  return String(version).padStart(20, '0');
}

/** `_delta_log/<version zero-padded to 20 digits>.json` (PROTOCOL.md, "Delta Log Entries"). */
export function commitFileName(version: number): string {
  return `${DELTA_LOG_DIR}/${pad20(version)}.json`;
}

/** `_delta_log/<version>.checkpoint.parquet`, a classic checkpoint (PROTOCOL.md, "Classic checkpoint"). */
export function checkpointFileName(version: number): string {
  return `${DELTA_LOG_DIR}/${pad20(version)}.checkpoint.parquet`;
}

/** A log file recognised by {@link parseLogFileName}. */
export interface LogFileName {
  version: number;
  kind: 'commit' | 'checkpoint';
}

/**
 * Recognises the base name of a commit (`<20 digits>.json`) or a classic
 * checkpoint (`<20 digits>.checkpoint.parquet`); anything else in
 * `_delta_log/` (multi-part and UUID checkpoints, compactions, checksums,
 * `_last_checkpoint`, temporary files) gives `undefined`.
 */
export function parseLogFileName(name: string): LogFileName | undefined {
  const m = /^(\d{20})\.(json|checkpoint\.parquet)$/.exec(name);
  if (!m) return undefined;
  return { version: Number(m[1]), kind: m[2] === 'json' ? 'commit' : 'checkpoint' };
}

/** A commit as newline-delimited JSON, one action per line (PROTOCOL.md, "Delta Log Entries"). */
export function serializeCommit(actions: readonly DeltaAction[]): string {
  return actions.map((a) => JSON.stringify(a)).join('\n') + '\n';
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Parses a commit file. Actions this implementation does not know (`cdc`,
 * `domainMetadata`, ...) are skipped, as "Protocol Evolution" allows for what
 * the table's protocol does not require; a malformed line throws
 * {@link DeltaLogError} naming `where` and the line.
 */
export function parseCommit(text: string, where: string): DeltaAction[] {
  const out: DeltaAction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (line === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (err) {
      throw new DeltaLogError(`${where} line ${i + 1} is not JSON: ${(err as Error).message}`, { cause: err });
    }
    if (!isObject(parsed)) throw new DeltaLogError(`${where} line ${i + 1} is not a JSON object`);
    const action = toAction(parsed, `${where} line ${i + 1}`);
    if (action) out.push(action);
  }
  return out;
}

function need(ok: boolean, where: string, what: string): void {
  if (!ok) throw new DeltaLogError(`${where}: ${what}`);
}

/** Validates one parsed action object; `undefined` for an action kind this implementation ignores. */
export function toAction(o: Record<string, unknown>, where: string): DeltaAction | undefined {
  if (isObject(o.add)) {
    const a = o.add;
    need(typeof a.path === 'string' && isObject(a.partitionValues) && typeof a.size === 'number' && typeof a.modificationTime === 'number', where, 'add needs path, partitionValues, size, modificationTime');
    if (a.deletionVector != null) throw new DeltaUnsupportedError(`${where}: add ${String(a.path)} has a deletion vector (not supported)`);
    return { add: a as unknown as AddAction };
  }
  if (isObject(o.remove)) {
    need(typeof o.remove.path === 'string', where, 'remove needs path');
    if (o.remove.deletionVector != null) throw new DeltaUnsupportedError(`${where}: remove ${String(o.remove.path)} has a deletion vector (not supported)`);
    return { remove: o.remove as unknown as RemoveAction };
  }
  if (isObject(o.txn)) {
    need(typeof o.txn.appId === 'string' && typeof o.txn.version === 'number', where, 'txn needs appId and version');
    return { txn: o.txn as unknown as TxnAction };
  }
  if (isObject(o.metaData)) {
    const m = o.metaData;
    need(typeof m.id === 'string' && typeof m.schemaString === 'string' && Array.isArray(m.partitionColumns), where, 'metaData needs id, schemaString, partitionColumns');
    return { metaData: { ...(m as unknown as MetadataAction), format: isObject(m.format) ? (m.format as unknown as FormatSpec) : { provider: 'parquet', options: {} }, configuration: isObject(m.configuration) ? (m.configuration as Record<string, string>) : {} } };
  }
  if (isObject(o.protocol)) {
    need(typeof o.protocol.minReaderVersion === 'number' && typeof o.protocol.minWriterVersion === 'number', where, 'protocol needs minReaderVersion and minWriterVersion');
    return { protocol: o.protocol as unknown as ProtocolAction };
  }
  if (isObject(o.commitInfo)) return { commitInfo: o.commitInfo };
  return undefined;
}

/** The Hive null partition directory name the reference implementation uses. */
export const NULL_PARTITION_DIR_VALUE = '__HIVE_DEFAULT_PARTITION__';

/**
 * A lake value as a partition value string (PROTOCOL.md, "Partition Value
 * Serialization"): numbers and booleans as text, dates `YYYY-MM-DD`,
 * timestamps as ISO 8601 UTC (the recommended form), decimals and strings as
 * is; `null` for null. The protocol reads an empty string as null, so an
 * empty string value becomes `null` too.
 */
export function serializePartitionValue(type: LakeType, value: LakeValue): string | null {
  if (value === null) return null;
  if (type === 'boolean') {
    if (typeof value !== 'boolean') throw new TypeError(`boolean partition value expected, got ${typeof value}`);
    return value ? 'true' : 'false';
  }
  const s = typeof value === 'string' ? value : String(value);
  return s === '' ? null : s;
}

/**
 * Escapes a partition value for a `<col>=<value>` directory the way Hive and
 * Spark do (`ExternalCatalogUtils.escapePathName`): control characters and
 * `"#%'*\/:=?\\{[]^` and DEL become `%XX` (upper-case hex). The directory is
 * a convention only; the log's partitionValues are authoritative
 * (PROTOCOL.md, "Data Files").
 */
export function escapePartitionPathValue(value: string): string {
  let out = '';
  for (const ch of value) {
    const c = ch.codePointAt(0) ?? 0;
    const escape = (c >= 0x01 && c <= 0x1f) || c === 0x7f || '"#%\'*/:=?\\{[]^'.includes(ch);
    out += escape ? `%${c.toString(16).toUpperCase().padStart(2, '0')}` : ch;
  }
  return out;
}

/**
 * The `<col>=<value>/...` directory (ending with `/`, empty for an
 * unpartitioned table) for a file's partition values, in the order of the
 * partition columns; null is `__HIVE_DEFAULT_PARTITION__`.
 */
export function partitionDirectory(partitionColumns: readonly string[], values: Readonly<Record<string, string | null>>): string {
  return partitionColumns.map((c) => `${escapePartitionPathValue(c)}=${values[c] == null ? NULL_PARTITION_DIR_VALUE : escapePartitionPathValue(values[c])}/`).join('');
}

/**
 * The `path` of an add/remove action for a data file key relative to the
 * table root: the protocol stores paths as RFC 2396 URIs, so each segment is
 * percent-encoded (a `%` from the partition escaping becomes `%25`, as the
 * reference implementation writes it).
 */
export function encodeDataPath(relativeKey: string): string {
  return relativeKey
    .split('/')
    .map((seg) => encodeURIComponent(seg).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replace(/%3D/g, '='))
    .join('/');
}

/**
 * The data file key relative to the table root for an action `path`, or
 * `undefined` for an absolute URI (`scheme:...` or `/...`), which this
 * implementation never writes and never deletes.
 */
export function decodeDataPath(path: string): string | undefined {
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(path) || path.startsWith('/')) return undefined;
  try {
    return path.split('/').map(decodeURIComponent).join('/');
  } catch {
    return undefined;
  }
}

const PRIMITIVES = new Set(['boolean', 'short', 'integer', 'long', 'float', 'double', 'string', 'date', 'timestamp']);

/** The table schema as a `schemaString` (PROTOCOL.md, "Schema Serialization Format": a struct of primitive fields). */
export function toSchemaString(columns: readonly LakeColumn[]): string {
  return JSON.stringify({ type: 'struct', fields: columns.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable, metadata: {} })) });
}

/**
 * The columns of a `schemaString`. Only primitive types that {@link LakeType}
 * names are accepted; struct, array, map, binary, byte, timestamp_ntz and
 * variant columns throw {@link DeltaUnsupportedError}.
 */
export function parseSchemaString(schemaString: string): LakeColumn[] {
  let schema: unknown;
  try {
    schema = JSON.parse(schemaString);
  } catch (err) {
    throw new DeltaLogError(`metaData.schemaString is not JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isObject(schema) || schema.type !== 'struct' || !Array.isArray(schema.fields)) throw new DeltaLogError('metaData.schemaString is not a struct schema');
  return schema.fields.map((f: unknown): LakeColumn => {
    if (!isObject(f) || typeof f.name !== 'string') throw new DeltaLogError('metaData.schemaString has a field without a name');
    const t = f.type;
    if (typeof t !== 'string' || !(PRIMITIVES.has(t) || /^decimal\(\d+,\s*\d+\)$/.test(t))) {
      throw new DeltaUnsupportedError(`column ${f.name} has type ${JSON.stringify(t)}: only Delta primitive types of LakeType are supported`);
    }
    return { name: f.name, type: t.replace(/\s+/g, '') as LakeType, nullable: f.nullable !== false };
  });
}
