/**
 * Loads the Debezium fixtures captured from the real connector by
 * scripts/capture-fixtures.ts (test/fixtures/debezium/).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RawRecord } from '../../../src/cdc/debezium-json.ts';
import type { Encoding, ExpectedFixtures, FixtureRecord } from './fixture-types.ts';

const DIR = fileURLToPath(new URL('../../fixtures/debezium/', import.meta.url));

export const ENCODINGS: readonly Encoding[] = ['json-schema', 'json-plain'];

export function loadRecords(encoding: Encoding): FixtureRecord[] {
  return JSON.parse(readFileSync(`${DIR}${encoding}.json`, 'utf8')) as FixtureRecord[];
}

export function loadExpected(): ExpectedFixtures {
  return JSON.parse(readFileSync(`${DIR}expected.json`, 'utf8')) as ExpectedFixtures;
}

/** A fixture record as KafkaJS would hand it to the decoder (bytes, string timestamp). */
export function toRaw(r: FixtureRecord): RawRecord {
  return {
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    timestamp: String(r.timestamp),
    key: r.key === null ? null : Buffer.from(r.key, 'utf8'),
    value: r.value === null ? null : Buffer.from(r.value, 'utf8'),
  };
}

/** The raw Debezium envelope of a record (the payload, with or without the schema wrapper). */
export interface RawEnvelope {
  op: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  source: { snapshot: string; txId: number | null; lsn: number | null; schema: string; table: string };
}

export function rawEnvelope(r: FixtureRecord, encoding: Encoding): RawEnvelope | null {
  if (r.value === null) return null;
  const doc = JSON.parse(r.value) as { payload: RawEnvelope } & RawEnvelope;
  return encoding === 'json-schema' ? doc.payload : doc;
}

/** The Connect schema of a column of the `after` struct (schema encoding only). */
export function columnSchema(r: FixtureRecord, column: string): { type: string; name?: string; parameters?: Record<string, string> } | undefined {
  if (r.value === null) return undefined;
  type S = { type: string; name?: string; field?: string; parameters?: Record<string, string>; fields?: S[] };
  const doc = JSON.parse(r.value) as { schema?: S };
  return doc.schema?.fields?.find((f) => f.field === 'after')?.fields?.find((f) => f.field === column);
}
