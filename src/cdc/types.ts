/**
 * The decoded form of CDC records (docs/architecture.md, "Vocabulary").
 *
 * Column values use cdc-views' canonical "natural JSON" mapping, which is the
 * same whichever encoding the record arrived in (JSON with schemas, Avro):
 *
 * | PostgreSQL type            | canonical value                                    |
 * | -------------------------- | -------------------------------------------------- |
 * | int2, int4                 | number                                             |
 * | int8                       | number (string when beyond ±(2^53 − 1))            |
 * | float4, float8             | number                                             |
 * | numeric(p,s), money        | exact decimal string keeping the scale: `"12.50"`  |
 * | numeric (no scale)         | exact decimal string as PostgreSQL prints it       |
 * | boolean                    | boolean                                            |
 * | text, varchar, char        | string                                             |
 * | date                       | `"YYYY-MM-DD"`                                     |
 * | timestamp, timestamptz     | `"YYYY-MM-DDTHH:MM:SS.ffffffZ"` (UTC, 6 digits)    |
 * | time                       | `"HH:MM:SS.ffffff"`                                |
 * | json, jsonb                | the parsed JSON value (object, array, …)           |
 * | uuid                       | string                                             |
 * | bytea                      | base64 string                                      |
 *
 * `timestamp` (without time zone) is rendered as its wall-clock value marked
 * UTC, as Debezium does (it encodes it as µs since the epoch "UTC-based").
 * Without a schema (`value.converter.schemas.enable=false`) the types are not
 * known, so values stay as Debezium wrote them (e.g. a NUMERIC is base64
 * bytes): use schemas or `decimal.handling.mode=string` to get exact decimals.
 */

/** One row: column name → canonical value. */
export type Row = Record<string, unknown>;

/** Debezium `op`: create, update, delete, snapshot read, truncate, logical message. */
export type Op = 'c' | 'u' | 'd' | 'r' | 't' | 'm';

/** Where a record sits in Kafka. `offset` is a decimal string (Kafka offsets are int64). */
export interface KafkaPosition {
  topic: string;
  partition: number;
  offset: string;
  /** Record timestamp, ms since the epoch. */
  timestamp: number;
}

/** Debezium `source` block, reduced to the fields cdc-views uses. */
export interface SourceInfo {
  connector: string;
  /** Debezium logical server name (`topic.prefix`). */
  name: string;
  /** Commit time in the database, ms since the epoch. */
  tsMs: number;
  /** `false`, or Debezium's snapshot marker (`true`, `first`, `last`, `incremental`, …). */
  snapshot: string | false;
  db: string;
  schema: string;
  table: string;
  /** PostgreSQL LSN of the change; absent for incremental-snapshot reads. */
  lsn?: number;
  txId?: number;
}

/** A decoded Debezium change event. */
export interface ChangeEvent {
  kind: 'change';
  /** `<schema>.<table>`, e.g. `public.customers`. */
  table: string;
  /** Primary-key columns in canonical form; null for truncate and keyless tables. */
  key: Row | null;
  /** Canonical key string: JSON of `key` with its fields sorted by name. */
  keyString: string | null;
  op: Op;
  before: Row | null;
  /** The row after the change, without the columns listed in `unavailable`. */
  after: Row | null;
  /**
   * Columns of `after` whose value Debezium could not send (a TOASTed value
   * an UPDATE left unchanged, on a table whose REPLICA IDENTITY does not log
   * it): absent from `after`, never a placeholder. Absent when none.
   */
  unavailable?: string[];
  source: SourceInfo;
  /**
   * The change's version from the source's log position (fixed-width, see
   * src/cdc/source-position.ts for the rule per connector): table state keeps
   * the newest version per key, whatever order Kafka delivers them in.
   */
  version: string;
  position: KafkaPosition;
}

/** The null-value record Debezium writes after a delete (for log compaction). */
export interface Tombstone {
  kind: 'tombstone';
  table: string;
  key: Row | null;
  keyString: string | null;
  position: KafkaPosition;
}

export type DecodedRecord = ChangeEvent | Tombstone;
