/**
 * Row versions from the SOURCE database's log position that Debezium reports
 * in a change event's `source` block, instead of the Kafka offset (which
 * changes when partitions are added, a topic is re-created, or Kafka Connect
 * re-sends older row images at higher offsets after a crash).
 *
 * {@link sourceVersion} turns one event's `source` into a fixed-width string
 * of a kind letter and ASCII digits only, so that the state store's Lua
 * script can compare versions as strings (Lua numbers are doubles: 64-bit
 * positions must not be compared as numbers; digits sort the same under any
 * collation Redis' `setlocale` may pick). The state store's compare step
 * (`version_newer` in src/state/lua/include/stored-row.lua) orders them:
 * plain string order, except for the one PostgreSQL case where the positions
 * in the events cannot decide.
 *
 * ## PostgreSQL (pgoutput), Debezium 3.1
 *
 * What `source` carries (captured: test/fixtures/debezium/versions/*.json;
 * upstream: debezium-connector-postgres `SourceInfo.java`,
 * `PostgresSourceInfoStructMaker.java`, `PostgresOffsetContext.java`,
 * `PostgresStreamingChangeEventSource.java`, `PostgresSnapshotChangeEventSource.java`):
 * - streamed change (`snapshot: "false"`): `lsn` = the change's own WAL record
 *   (the LSN pgoutput sends with it); `sequence` = `["P","L"]` where L = lsn
 *   and P = the END LSN of the COMMIT record of the previous transaction
 *   Debezium streamed (`updateCommitPosition` on every COMMIT). P is null for
 *   the first transaction after a snapshot (the snapshot's offset has no
 *   commit LSN). After a Connect restart P is restored from the offset's
 *   `lsn_commit` (falling back to `lsn_proc` when absent) and updated by every
 *   COMMIT re-read while Debezium locates its resume position.
 * - initial/blocking snapshot read (`snapshot` true/first/last/…): every row
 *   carries the same `lsn` S (`sequence` `[null,"S"]` for the initial
 *   snapshot; blocking snapshots were not captured). S is the slot's
 *   consistent point when Debezium created the slot (creating it waits for
 *   open transactions: fixture first-after-snapshot), else
 *   `pg_current_wal_lsn()`, the WAL *write* position: a pre-created slot,
 *   `snapshot.mode` always/when_needed with an existing slot, blocking
 *   snapshots. Records inserted but not yet written lie above it, so S can
 *   even equal the LSN of a change that is not in the snapshot.
 * - incremental snapshot read (`snapshot: "incremental"`): no `lsn`, `txId`,
 *   `xmin` (nulled by the struct maker), but `sequence` is the stream
 *   position the chunk was emitted at: with the signal table, exactly the
 *   sequence of the close-window watermark insert (captured). Debezium emits
 *   the chunk just BEFORE the record at that position (core
 *   `EventDispatcher.dispatchDataChangeEvent` runs the signal and the
 *   incremental snapshot's `processMessage` before `changeRecord`); in the
 *   read-only variant that record is the first change past the high
 *   watermark, which can be a change of a key in the chunk (not captured).
 *
 * Ordering facts the rule rests on: Debezium streams transactions in commit
 * order, so P grows strictly from one transaction to the next and (P, L)
 * follows commit order, with L growing inside a transaction; a primary-key
 * update's `d` and `c` share one (P, L) but are different keys. A
 * transaction can write a row before the snapshot's S and commit after it
 * (fixture open-across-snapshot: row 1 updated below S, P null): it is
 * not in the snapshot and is streamed after it.
 *
 * Version: `P` + A (20 digits) + class (1 digit) + B (20 digits) + read (1 digit):
 *
 * | event                                   | class                | A  | B  | read |
 * | --------------------------------------- | -------------------- | -- | -- | ---- |
 * | snapshot read (initial, blocking)       | 0                    | S  | S  | 0    |
 * | change, sequence[0] null                | 1                    | L  | L  | 1    |
 * | change                                  | 2                    | P  | L  | 1    |
 * | incremental snapshot read               | as a change at (P,L) | …  | …  | 0    |
 *
 * String order is the source order for change vs change of one key (P
 * order is commit order; a class-1 change is the first transaction after a
 * snapshot, so its L is below the next transaction's P), for snapshot read vs
 * snapshot read, and for an incremental read vs anything emitted before or
 * after it in the stream (it sorts just below the change at the position it
 * was emitted at, just above everything before). It is NOT decisive for a
 * snapshot read S against a change whose P and L are both below S: the change may have committed before S (it
 * is in the snapshot: older) or after S (open across the snapshot's start, or
 * streamed from before S after a blocking snapshot: newer). Only its commit
 * LSN would tell, and an event does not carry it (the NEXT transaction's P
 * does). Every change that follows a snapshot in Kafka order committed after
 * it (Debezium streams from S, or re-streams what follows the paused position
 * after a blocking snapshot), and every change before it committed before
 * it, so the state store's compare step decides that case by Kafka order
 * within the same topic incarnation and partition (the stored row keeps its
 * origin), and lets the later incarnation, or the incoming record when the
 * key moved partitions, win. Max(P, L) ≥ S proves the change newer without
 * context.
 *
 * Known gap (from `PostgresOffsetContext.Loader`, not captured): when the last
 * flushed offset lies inside the first transaction after a snapshot (no
 * `lsn_commit` yet), Debezium restarts with P = `lsn_proc`, a change LSN, for
 * the re-sent rest of that transaction. Those events rank below their
 * originals (harmless: same images), but a later event of that transaction
 * whose original never reached Kafka loses against an earlier event of the
 * same key and transaction that did. Comparing by L alone when stored and
 * incoming carry the same `txId` would close it (the store would keep txId).
 *
 * ## MySQL / MariaDB (binlog)
 *
 * `source.file` (`<base>.<index>`), `source.pos` (position of the event in
 * that file), `source.row` (row within the rows event); binlog order is
 * commit order. Snapshot reads carry the binlog position read when the
 * snapshot started; incremental reads the streaming position they were
 * emitted at, just before the record at that position (as for PostgreSQL).
 * Version `M` + file index (10) + pos (20) + row (10) + read (0 for a
 * snapshot or incremental read: just below a change at the same position; 1
 * for a change). `gtid` is not used: a GTID set is not
 * totally ordered. Positions of two servers are not comparable: after a
 * failover to a server with its own binlog sequence the table state must be
 * rebuilt (replay) or versions reset. Upstream: debezium-connector-binlog
 * `BinlogSourceInfo.java`, `BinlogSourceInfoStructMaker.java`; docs
 * `shared-mariadb-mysql.adoc` ("binlog name where the event was recorded,
 * binlog position, row within the event").
 *
 * ## SQL Server
 *
 * `source.commit_lsn` (transaction's commit LSN), `source.change_lsn`
 * (change's LSN), `source.event_serial_no` (differentiates events with the
 * same commit and change LSN, e.g. the d and c of a primary-key update), LSNs
 * as `vlf:block:slot` hex (`00000027:00000758:0005`). Snapshot reads carry
 * the snapshot's max LSN in `commit_lsn` and no `change_lsn`; incremental
 * reads the streaming position they were emitted at. Version `S` + commit
 * (25) + change (25) + serial (20) + read (0 for a read, 1 for a change, as
 * for MySQL), the LSN parts as decimal 10 + 10 + 5 digits. Upstream:
 * debezium-connector-sqlserver `SqlServerSourceInfoStructMaker.java`; docs
 * `sqlserver.adoc` (change_lsn, commit_lsn, event_serial_no).
 *
 * ## Fallback
 *
 * Any other connector, or a `source` without a position (e.g. a Debezium
 * version without `sequence` on incremental reads), gets `K` + the Kafka
 * offset (20 digits) and kind `kafka-offset`: only valid while the key stays
 * in the same partition of the same topic. Versions of different kinds
 * compare by their letter (a source position replaces a Kafka offset).
 */
import { DecodeError, DecodeErrorCode } from '../errors.ts';
import type { Op } from './types.ts';

/** Which position a version was built from. */
export type VersionKind = 'postgresql' | 'mysql' | 'sqlserver' | 'kafka-offset';

/** The class digit of a PostgreSQL version (see the module's table). */
export const PgClass = { SnapshotRead: '0', FirstChange: '1', Change: '2' } as const;

export interface SourceVersion {
  kind: VersionKind;
  /** Fixed width per kind: versions of one kind compare as strings. */
  version: string;
}

export interface VersionInput {
  /** `source.connector` (`postgresql`, `mysql`, `mariadb`, `sqlserver`, …). */
  connector: string;
  op: Op;
  /** The parsed `source` block of the envelope. */
  source: Record<string, unknown>;
  /** The record's Kafka offset (decimal string); used only when the source gives no position. */
  offset: string;
}

const U64_MAX = (1n << 64n) - 1n;

function bad(field: string, value: unknown, expected: string): DecodeError {
  return new DecodeError(DecodeErrorCode.BadEnvelope, `${field} is ${typeof value === 'bigint' ? value : JSON.stringify(value)}, expected ${expected}`);
}

/**
 * A non-negative integer up to `max` given as a decimal string, a JSON number
 * (exact only up to 2^53) or a bigint (the Avro decoder's int64 beyond 2^53).
 */
function unsigned(value: unknown, field: string, max = U64_MAX): bigint {
  if (typeof value === 'bigint' && value >= 0n && value <= max) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && BigInt(value) <= max) return BigInt(value);
  if (typeof value === 'string' && /^\d{1,20}$/.test(value) && BigInt(value) <= max) return BigInt(value);
  throw bad(field, value, `an unsigned integer up to ${max} (a JSON number only up to 2^53)`);
}

const pad = (n: bigint, width: number): string => n.toString().padStart(width, '0');

type Marker = 'none' | 'snapshot' | 'incremental';

/** Debezium's `source.snapshot`: a string since 1.x, a boolean before. An `r` without it is a snapshot read. */
function snapshotMarker(source: Record<string, unknown>, op: Op): Marker {
  const s = source.snapshot;
  if (s === 'incremental') return 'incremental';
  if (s === undefined || s === null || s === false || s === 'false') return op === 'r' ? 'snapshot' : 'none';
  return 'snapshot';
}

function present(v: unknown): boolean {
  return v !== undefined && v !== null;
}

/** `source.sequence` of PostgreSQL: a JSON string `["P" | null, "L" | null]`. */
function pgSequence(source: Record<string, unknown>): [bigint | null, bigint | null] | null {
  const raw = source.sequence;
  if (!present(raw)) return null;
  let parsed: unknown;
  try {
    parsed = typeof raw === 'string' ? JSON.parse(raw) : raw;
  } catch {
    throw bad('source.sequence', raw, 'a JSON array ["lastCommitLsn","lsn"]');
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw bad('source.sequence', raw, 'a JSON array ["lastCommitLsn","lsn"]');
  const [p, l] = parsed as unknown[];
  return [present(p) ? unsigned(p, 'source.sequence[0]') : null, present(l) ? unsigned(l, 'source.sequence[1]') : null];
}

function postgresVersion(source: Record<string, unknown>, marker: Marker): string | null {
  const sequence = pgSequence(source);
  // sequence[1] is a decimal string (exact); lsn a JSON number (exact up to 2^53).
  const lsn = sequence?.[1] ?? (present(source.lsn) ? unsigned(source.lsn, 'source.lsn') : null);
  if (lsn === null) return null;
  const previousCommit = sequence?.[0] ?? null;
  if (marker === 'snapshot') return `P${pad(lsn, 20)}${PgClass.SnapshotRead}${pad(lsn, 20)}0`;
  const [cls, a] = previousCommit === null ? [PgClass.FirstChange, lsn] : [PgClass.Change, previousCommit];
  // An incremental read is emitted just before the record at its position: it ranks just below that change.
  return `P${pad(a, 20)}${cls}${pad(lsn, 20)}${marker === 'incremental' ? '0' : '1'}`;
}

/** The index of a binlog file name `<base>.<digits>`. */
function binlogIndex(file: unknown): bigint {
  const m = typeof file === 'string' ? /\.(\d{1,10})$/.exec(file) : null;
  if (!m) throw bad('source.file', file, 'a binlog file name <base>.<index>');
  return BigInt(m[1]!);
}

function mysqlVersion(source: Record<string, unknown>, marker: Marker): string | null {
  if (!present(source.file) || !present(source.pos)) return null;
  const read = marker === 'none' ? '1' : '0';
  const row = present(source.row) ? unsigned(source.row, 'source.row', 9_999_999_999n) : 0n;
  return `M${pad(binlogIndex(source.file), 10)}${pad(unsigned(source.pos, 'source.pos'), 20)}${pad(row, 10)}${read}`;
}

/** A SQL Server LSN `vvvvvvvv:bbbbbbbb:ssss` (hex) as 25 decimal digits; zeros when absent. */
function sqlServerLsn(value: unknown, field: string): string {
  if (!present(value)) return '0'.repeat(25);
  const m = typeof value === 'string' ? /^([0-9a-f]{8}):([0-9a-f]{8}):([0-9a-f]{4})$/i.exec(value) : null;
  if (!m) throw bad(field, value, 'an LSN like 00000027:00000758:0005');
  return `${pad(BigInt(`0x${m[1]}`), 10)}${pad(BigInt(`0x${m[2]}`), 10)}${pad(BigInt(`0x${m[3]}`), 5)}`;
}

function sqlServerVersion(source: Record<string, unknown>, marker: Marker): string | null {
  if (!present(source.commit_lsn)) return null;
  const read = marker === 'none' ? '1' : '0';
  const serial = present(source.event_serial_no) ? unsigned(source.event_serial_no, 'source.event_serial_no') : 0n;
  return `S${sqlServerLsn(source.commit_lsn, 'source.commit_lsn')}${sqlServerLsn(source.change_lsn, 'source.change_lsn')}${pad(serial, 20)}${read}`;
}

/** `source.connector` → the kind of position and how to read it. */
const RULES: Record<string, [VersionKind, (source: Record<string, unknown>, marker: Marker) => string | null]> = {
  postgresql: ['postgresql', postgresVersion],
  mysql: ['mysql', mysqlVersion],
  mariadb: ['mysql', mysqlVersion],
  sqlserver: ['sqlserver', sqlServerVersion],
};

/**
 * The version of one change event, from its `source` block (rules: module
 * documentation). Tombstones have no `source`: they take the version of the
 * `d` before them.
 *
 * @returns the kind of position used and the fixed-width version.
 * @throws {DecodeError} DECODE_BAD_ENVELOPE when a position field is present
 *   but malformed (a `sequence` that is not `["…","…"]`, an LSN that is not
 *   an unsigned 64-bit integer or is a JSON number above 2^53, a binlog file
 *   name without an index, a SQL Server LSN not in `x:x:x` hex form): the
 *   record goes to the DLQ instead of being ordered by a guess.
 */
export function sourceVersion(input: VersionInput): SourceVersion {
  const rule = RULES[input.connector];
  const version = rule ? rule[1](input.source, snapshotMarker(input.source, input.op)) : null;
  if (rule && version !== null) return { kind: rule[0], version };
  return { kind: 'kafka-offset', version: kafkaOffsetVersion(unsigned(input.offset, 'the Kafka offset')) };
}

/** The kind of position a version was built from, by its first letter; null for an unknown letter. */
export function versionKind(version: string): VersionKind | null {
  return ({ P: 'postgresql', M: 'mysql', S: 'sqlserver', K: 'kafka-offset' } as const)[version[0] as 'P' | 'M' | 'S' | 'K'] ?? null;
}

/**
 * The version of a change that has no source position: `K` and the Kafka
 * offset in 20 digits. Valid only while a key stays in one partition of one
 * topic.
 */
export function kafkaOffsetVersion(offset: string | bigint): string {
  return `K${offset.toString().padStart(20, '0')}`;
}
