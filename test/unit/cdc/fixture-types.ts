/**
 * Shapes of the Debezium fixtures captured by scripts/capture-fixtures.ts
 * (test/fixtures/debezium/*.json) from the real connector.
 */
import type { Row } from '../../../src/cdc/types.ts';

/** One Kafka record as consumed, key/value/headers as UTF-8 text. */
export interface FixtureRecord {
  topic: string;
  partition: number;
  offset: string;
  /** Record timestamp, ms since the epoch. */
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: Record<string, string>;
}

/** Fixture encodings: JsonConverter with schemas.enable=true / false. */
export type Encoding = 'json-schema' | 'json-plain';

/** table (`public.customers`) → canonical key string → canonical row (null: no such row). */
export type TableRows = Record<string, Record<string, Row | null>>;

export interface ExpectedStatement {
  label: string;
  sql: string;
  /** PostgreSQL transaction id (32-bit, as Debezium's source.txId) per encoding's database. */
  txId: Record<Encoding, number>;
  /** Tables this statement truncated. */
  truncates: string[];
  /** Every row the statement touched, as PostgreSQL renders it after the commit (null: gone). */
  rows: TableRows;
}

export interface ExpectedFixtures {
  /** Connector overrides used for each encoding. */
  connectors: Record<Encoding, Record<string, string>>;
  /** Rows that were in the database before the statements, for the keys whose snapshot reads the fixtures keep. */
  snapshot: TableRows;
  statements: ExpectedStatement[];
  /** State of every touched key after the last statement. */
  final: TableRows;
}
