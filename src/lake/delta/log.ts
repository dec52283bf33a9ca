/**
 * Writing the Delta log: one commit file per version, created with the
 * store's put-if-absent so that of two writers racing for a version exactly
 * one wins and the other gets {@link DeltaConflictError} (PROTOCOL.md,
 * "Delta Log Entries" and "Creation of New Log Entries": writers must never
 * overwrite an existing log entry). Tables are created at protocol
 * (1, 2) without table features; see ./actions.ts for what of the protocol is
 * used and what is not.
 */
import { randomUUID } from 'node:crypto';
import { ObjectExistsError, joinKey, type ObjectStore } from '../object-store.ts';
import type { LakeColumn } from '../types.ts';
import { commitFileName, serializeCommit, toSchemaString, type CommitInfoAction, type DeltaAction, type MetadataAction, type ProtocolAction } from './actions.ts';
import { DeltaConflictError, DeltaUnsupportedError } from './errors.ts';

/** The protocol of tables cdc-views creates: reader 1, writer 2, no table features (PROTOCOL.md, "Protocol Evolution"). */
export const TABLE_PROTOCOL: ProtocolAction = { minReaderVersion: 1, minWriterVersion: 2 };

/** Highest protocol versions this implementation reads and writes. */
export const SUPPORTED_READER_VERSION = 1;
/** Writer version 2 means: respect `delta.appendOnly` and column invariants (PROTOCOL.md, "Writer Version Requirements"); cdc-views sets neither. */
export const SUPPORTED_WRITER_VERSION = 2;

/**
 * Commits `actions` as version `version` of the table at `tableRoot` (a key
 * prefix in `store`, `''` for the store's root): writes
 * `_delta_log/<version>.json` with put-if-absent (PROTOCOL.md, "Delta Log
 * Entries"). The caller chooses `version` = snapshot version + 1 and must
 * have checked its actions against that snapshot.
 *
 * @throws {DeltaConflictError} (code `LAKE_COMMIT_CONFLICT`) when the version
 *   exists; the existing commit is left as it was
 * @throws {ObjectStoreError} when the store fails
 */
export async function commitVersion(store: ObjectStore, tableRoot: string, version: number, actions: readonly DeltaAction[]): Promise<void> {
  if (actions.length === 0) throw new RangeError(`commit of version ${version} has no actions`);
  checkOneOfEach(actions, version);
  const key = joinKey(tableRoot, commitFileName(version));
  try {
    await store.put(key, serializeCommit(actions), { ifAbsent: true });
  } catch (err) {
    if (err instanceof ObjectExistsError) throw new DeltaConflictError(version, key, { cause: err });
    throw err;
  }
}

/**
 * PROTOCOL.md "Delta Log Entries" (writer requirements): a commit holds at
 * most one metaData, one protocol, one txn per appId and one add and one
 * remove per path.
 */
function checkOneOfEach(actions: readonly DeltaAction[], version: number): void {
  const seen = new Set<string>();
  for (const a of actions) {
    const k =
      'metaData' in a ? 'metaData' : 'protocol' in a ? 'protocol' : 'commitInfo' in a ? 'commitInfo' : 'txn' in a ? `txn:${a.txn.appId}` : 'add' in a ? `add:${a.add.path}` : `remove:${a.remove.path}`;
    if (seen.has(k)) throw new RangeError(`commit of version ${version} has more than one ${k} action (PROTOCOL.md, "Delta Log Entries")`);
    seen.add(k);
  }
}

/** Options of {@link createTable}. */
export interface CreateTableOptions {
  columns: readonly LakeColumn[];
  /** Names of columns (in `columns`) by which files are partitioned, in directory order. */
  partitionColumns?: readonly string[];
  /** The table GUID; a random UUID when absent. */
  tableId?: string;
  name?: string;
  /** `metaData.configuration` (e.g. `delta.deletedFileRetentionDuration`, `delta.logRetentionDuration`). */
  configuration?: Record<string, string>;
  /** Creation time, ms since the epoch; `Date.now()` when absent. */
  now?: number;
  /** Extra `commitInfo` fields (engine info, operation parameters). */
  commitInfo?: Record<string, unknown>;
}

/**
 * Creates the table: version 0 holding `protocol` (1, 2), `metaData` (the
 * first version must have one, PROTOCOL.md "Change Metadata") and
 * `commitInfo` ("Commit Provenance Information"), written with put-if-absent.
 *
 * @returns the metaData written
 * @throws {DeltaConflictError} when version 0 exists (the table exists)
 */
export async function createTable(store: ObjectStore, tableRoot: string, options: CreateTableOptions): Promise<MetadataAction> {
  const partitionColumns = [...(options.partitionColumns ?? [])];
  const names = new Set<string>();
  for (const c of options.columns) {
    const lower = c.name.toLowerCase();
    // "Schema Serialization Format": column names are unique regardless of case.
    if (names.has(lower)) throw new RangeError(`column ${c.name} appears twice (names are case-insensitive in Delta)`);
    names.add(lower);
  }
  for (const p of partitionColumns) if (!options.columns.some((c) => c.name === p)) throw new RangeError(`partition column ${p} is not a column of the table`);
  const now = options.now ?? Date.now();
  const metaData: MetadataAction = {
    id: options.tableId ?? randomUUID(),
    ...(options.name === undefined ? {} : { name: options.name }),
    format: { provider: 'parquet', options: {} },
    schemaString: toSchemaString(options.columns),
    partitionColumns,
    configuration: { ...(options.configuration ?? {}) },
    createdTime: now,
  };
  const commitInfo: CommitInfoAction = {
    timestamp: now,
    operation: 'CREATE TABLE',
    operationParameters: { partitionBy: JSON.stringify(partitionColumns) },
    engineInfo: 'cdc-views',
    ...options.commitInfo,
  };
  await commitVersion(store, tableRoot, 0, [{ commitInfo }, { protocol: TABLE_PROTOCOL }, { metaData }]);
  return metaData;
}

/**
 * Throws {@link DeltaUnsupportedError} unless this implementation may write
 * a table with `protocol` (PROTOCOL.md, "Protocol Evolution": a client must
 * not write a table whose protocol it does not implement).
 */
export function assertWritable(protocol: ProtocolAction): void {
  if (protocol.minReaderVersion > SUPPORTED_READER_VERSION || protocol.minWriterVersion > SUPPORTED_WRITER_VERSION) {
    throw new DeltaUnsupportedError(
      `table protocol (reader ${protocol.minReaderVersion}, writer ${protocol.minWriterVersion}) needs features this writer lacks (supports reader ${SUPPORTED_READER_VERSION}, writer ${SUPPORTED_WRITER_VERSION})`,
    );
  }
}
