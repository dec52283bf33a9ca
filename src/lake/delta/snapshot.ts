/**
 * Reading a Delta table's latest snapshot: the newest classic checkpoint (if
 * any) and then every later JSON commit in version order, reconciled per
 * PROTOCOL.md "Action Reconciliation". See ./actions.ts for what of the
 * protocol is used and what is not.
 */
import { joinKey, type ObjectStore } from '../object-store.ts';
import type { LakeColumn } from '../types.ts';
import { DELTA_LOG_DIR, LAST_CHECKPOINT_FILE, checkpointFileName, commitFileName, parseCommit, parseLogFileName, parseSchemaString, type AddAction, type DeltaAction, type MetadataAction, type ProtocolAction, type RemoveAction } from './actions.ts';
import { readCheckpoint } from './checkpoint.ts';
import { DeltaLogError, DeltaUnsupportedError } from './errors.ts';
import { SUPPORTED_READER_VERSION } from './log.ts';

/** The latest version of an application's transaction (PROTOCOL.md, "Transaction Identifiers"). */
export interface TxnState {
  version: number;
  lastUpdated?: number;
}

/** A table's state at one version (PROTOCOL.md, "Delta Table Specification"). */
export interface DeltaSnapshot {
  /** The table version this state is of. */
  version: number;
  protocol: ProtocolAction;
  metadata: MetadataAction;
  /** The columns of `metadata.schemaString`. */
  columns: LakeColumn[];
  partitionColumns: string[];
  /** The table's files: action path → its latest add. */
  files: Map<string, AddAction>;
  /** Application id → its latest transaction. */
  txns: Map<string, TxnState>;
  /** Remove actions not yet expired (see {@link ReadSnapshotOptions.tombstoneRetentionMs}), by path. */
  tombstones: Map<string, RemoveAction>;
  /** The checkpoint the snapshot was read from, `undefined` when it was replayed from version 0. */
  checkpointVersion?: number;
}

/** Options of {@link readSnapshot}. */
export interface ReadSnapshotOptions {
  /**
   * How long a remove stays a tombstone after its deletionTimestamp
   * (PROTOCOL.md, "Add File and Remove File"). Defaults to the table's
   * `delta.deletedFileRetentionDuration`, else one week (the reference
   * implementation's default).
   */
  tombstoneRetentionMs?: number;
  /** "Current time" for tombstone expiry, ms since the epoch. @defaultValue Date.now() */
  now?: number;
}

const DAY_MS = 86_400_000;
/** The reference implementation's default `delta.deletedFileRetentionDuration`: one week. */
export const DEFAULT_TOMBSTONE_RETENTION_MS = 7 * DAY_MS;
/** The reference implementation's default `delta.logRetentionDuration`: 30 days. */
export const DEFAULT_LOG_RETENTION_MS = 30 * DAY_MS;

const UNIT_MS: Record<string, number> = { millisecond: 1, second: 1000, minute: 60_000, hour: 3_600_000, day: DAY_MS, week: 7 * DAY_MS };

/**
 * Parses a Delta table property interval such as `interval 1 week` or
 * `interval 36 hours` to ms; `undefined` when absent or unparseable.
 */
export function parseInterval(value: string | undefined): number | undefined {
  const m = /^\s*(?:interval\s+)?(\d+)\s+(millisecond|second|minute|hour|day|week)s?\s*$/i.exec(value ?? '');
  if (!m) return undefined;
  return Number(m[1]) * (UNIT_MS[(m[2] ?? '').toLowerCase()] ?? NaN);
}

/** Mutable state of a log replay (PROTOCOL.md, "Action Reconciliation"). */
export class Replay {
  protocol: ProtocolAction | undefined;
  metadata: MetadataAction | undefined;
  readonly files = new Map<string, AddAction>();
  readonly txns = new Map<string, TxnState>();
  readonly removes = new Map<string, RemoveAction>();

  /**
   * Applies the actions of one version (or of a checkpoint): the latest
   * protocol and metaData win, the latest txn per appId wins, and for each
   * path the latest add or remove wins, so that a path is never both a file
   * and a tombstone. commitInfo does not enter the state.
   */
  apply(actions: readonly DeltaAction[]): void {
    for (const a of actions) {
      if ('add' in a) {
        this.files.set(a.add.path, a.add);
        this.removes.delete(a.add.path);
      } else if ('remove' in a) {
        this.files.delete(a.remove.path);
        this.removes.set(a.remove.path, a.remove);
      } else if ('txn' in a) {
        this.txns.set(a.txn.appId, a.txn.lastUpdated === undefined ? { version: a.txn.version } : { version: a.txn.version, lastUpdated: a.txn.lastUpdated });
      } else if ('metaData' in a) {
        this.metadata = a.metaData;
      } else if ('protocol' in a) {
        this.protocol = a.protocol;
      }
    }
  }

  /** The snapshot at `version`, dropping tombstones expired at `now`. */
  finish(version: number, options: ReadSnapshotOptions, checkpointVersion: number | undefined, where: string): DeltaSnapshot {
    if (!this.protocol) throw new DeltaLogError(`${where}: no protocol action up to version ${version}`);
    if (!this.metadata) throw new DeltaLogError(`${where}: no metaData action up to version ${version}`);
    if (this.protocol.minReaderVersion > SUPPORTED_READER_VERSION) {
      throw new DeltaUnsupportedError(`${where}: table needs reader version ${this.protocol.minReaderVersion} (column mapping, deletion vectors or table features); this reader supports ${SUPPORTED_READER_VERSION}`);
    }
    const retention = options.tombstoneRetentionMs ?? parseInterval(this.metadata.configuration['delta.deletedFileRetentionDuration']) ?? DEFAULT_TOMBSTONE_RETENTION_MS;
    const now = options.now ?? Date.now();
    const tombstones = new Map<string, RemoveAction>();
    for (const [path, r] of this.removes) if ((r.deletionTimestamp ?? 0) + retention >= now) tombstones.set(path, r);
    return {
      version,
      protocol: this.protocol,
      metadata: this.metadata,
      columns: parseSchemaString(this.metadata.schemaString),
      partitionColumns: [...this.metadata.partitionColumns],
      files: new Map(this.files),
      txns: new Map(this.txns),
      tombstones,
      ...(checkpointVersion === undefined ? {} : { checkpointVersion }),
    };
  }
}

/** The listing of a table's `_delta_log/`. */
export interface LogListing {
  /** Commit version → key. */
  commits: Map<number, string>;
  /** Versions with a classic checkpoint, ascending. */
  checkpoints: number[];
  /** Every object under `_delta_log/` with its modification time. */
  objects: { key: string; version: number | undefined; kind: 'commit' | 'checkpoint' | undefined; lastModified: number }[];
}

/** Lists `_delta_log/` of the table at `tableRoot` (PROTOCOL.md, "Delta Log Entries", "Checkpoints"). */
export async function listLog(store: ObjectStore, tableRoot: string): Promise<LogListing> {
  const prefix = `${joinKey(tableRoot, DELTA_LOG_DIR)}/`;
  const commits = new Map<number, string>();
  const checkpoints: number[] = [];
  const objects: LogListing['objects'] = [];
  for (const o of await store.list(prefix)) {
    const rest = o.key.slice(prefix.length);
    const parsed = rest.includes('/') ? undefined : parseLogFileName(rest);
    objects.push({ key: o.key, version: parsed?.version, kind: parsed?.kind, lastModified: o.lastModified });
    if (parsed?.kind === 'commit') commits.set(parsed.version, o.key);
    else if (parsed?.kind === 'checkpoint') checkpoints.push(parsed.version);
  }
  checkpoints.sort((a, b) => a - b);
  return { commits, checkpoints, objects };
}

/** `_last_checkpoint` (PROTOCOL.md, "Last Checkpoint File Schema"). */
export interface LastCheckpoint {
  version: number;
  /** Number of actions in the checkpoint. */
  size: number;
  parts?: number;
  sizeInBytes?: number;
  numOfAddFiles?: number;
}

/** Reads `_delta_log/_last_checkpoint`; `undefined` when absent or unreadable (it is only a hint). */
export async function readLastCheckpoint(store: ObjectStore, tableRoot: string): Promise<LastCheckpoint | undefined> {
  const body = await store.get(joinKey(tableRoot, LAST_CHECKPOINT_FILE));
  if (!body) return undefined;
  try {
    const v = JSON.parse(body.toString('utf8')) as Partial<LastCheckpoint>;
    return typeof v.version === 'number' && typeof v.size === 'number' ? (v as LastCheckpoint) : undefined;
  } catch {
    return undefined;
  }
}

async function readCommitActions(store: ObjectStore, key: string, version: number): Promise<DeltaAction[]> {
  const body = await store.get(key);
  if (!body) throw new DeltaLogError(`commit ${version} (${store.url}/${key}) vanished while reading the log (concurrent log cleanup?)`);
  return parseCommit(body.toString('utf8'), `${store.url}/${key}`);
}

/**
 * Reads the latest snapshot of the table at `tableRoot`: `_last_checkpoint`,
 * the newest classic checkpoint (PROTOCOL.md, "Checkpoints": readers should
 * prefer the newest complete one), then each later commit in order
 * ("Action Reconciliation"). With no checkpoint the replay starts at 0.
 *
 * @returns `null` when the table has no `_delta_log` entries
 * @throws {DeltaLogError} when a commit after the checkpoint is missing (a
 *   gap), the log starts after 0 without a checkpoint, a file does not parse,
 *   or the checkpoint holds fewer actions than `_last_checkpoint` says
 * @throws {DeltaUnsupportedError} for reader version > 1 or unsupported types
 */
export async function readSnapshot(store: ObjectStore, tableRoot: string, options: ReadSnapshotOptions = {}): Promise<DeltaSnapshot | null> {
  const [listing, last] = await Promise.all([listLog(store, tableRoot), readLastCheckpoint(store, tableRoot)]);
  const where = `${store.url}/${joinKey(tableRoot, DELTA_LOG_DIR)}`;
  if (listing.commits.size === 0 && listing.checkpoints.length === 0) return null;
  const maxCommit = Math.max(-1, ...listing.commits.keys());
  // The newest classic checkpoint; _last_checkpoint is only a hint, the listing is authoritative.
  const cp = listing.checkpoints.at(-1);
  const replay = new Replay();
  if (cp !== undefined) {
    const key = joinKey(tableRoot, checkpointFileName(cp));
    const actions = await readCheckpoint(store, key);
    if (last && last.version === cp && last.parts === undefined && actions.length !== last.size) {
      throw new DeltaLogError(`${store.url}/${key} holds ${actions.length} actions, _last_checkpoint says ${last.size}: the checkpoint is incomplete`);
    }
    replay.apply(actions);
  }
  const start = cp === undefined ? 0 : cp + 1;
  const version = Math.max(maxCommit, cp ?? -1);
  for (let v = start; v <= version; v++) {
    if (!listing.commits.has(v)) {
      const have = [...listing.commits.keys()].sort((a, b) => a - b);
      const range = have.length ? `${have[0]}..${have[have.length - 1]}` : 'none';
      throw new DeltaLogError(
        `${where}: commit version ${v} (${commitFileName(v)}) is missing` +
          `${cp === undefined ? ' and there is no checkpoint' : ` after checkpoint ${cp}`}; commits present: ${range}. The log has a gap and cannot be replayed`,
      );
    }
  }
  // Fetch in parallel (bounded), apply strictly in version order.
  const versions = Array.from({ length: version - start + 1 }, (_, i) => start + i);
  for (let i = 0; i < versions.length; i += 16) {
    const batch = versions.slice(i, i + 16);
    const read = await Promise.all(batch.map((v) => readCommitActions(store, listing.commits.get(v) ?? '', v)));
    for (const actions of read) replay.apply(actions);
  }
  return replay.finish(version, options, cp, where);
}
