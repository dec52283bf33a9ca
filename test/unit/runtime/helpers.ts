/**
 * Shared builders of the runtime unit tests: Kafka messages carrying Debezium
 * JSON, decoded change events, a recording stand-in for the KafkaJS producer,
 * a silent logger.
 */
import assert from 'node:assert/strict';
import type { KafkaMessage, Producer, ProducerRecord, RecordMetadata } from 'kafkajs';
import { pino } from 'pino';
import { kafkaOffsetVersion } from '../../../src/cdc/source-position.ts';
import type { ChangeEvent, Op, Row } from '../../../src/cdc/types.ts';
import type { Logger } from '../../../src/log.ts';

export const silentLog: Logger = pino({ level: 'silent' });

/** A fetched Kafka record (KafkaJS' RecordBatchEntry). */
export function kafkaMessage(offset: number, key: string | null, value: string | null, timestamp = String(1_700_000_000_000 + offset)): KafkaMessage {
  return { offset: String(offset), key: key === null ? null : Buffer.from(key), value: value === null ? null : Buffer.from(value), timestamp, attributes: 0, headers: {} };
}

/** What a Debezium record carries besides its row: more `source` fields (positions), the snapshot marker. */
export interface EnvelopeOptions {
  /** Commit time, ms. @defaultValue 1000 + offset */
  tsMs?: number;
  /** Fields added to `source`, e.g. `lsn` and `sequence` (PostgreSQL positions: the version then comes from them). */
  source?: Record<string, unknown>;
}

/**
 * A Debezium JSON record (JsonConverter without schemas) of `<schema>.<table>`
 * at `offset`: key `{"id":id}` (null: none). Without a position in `source`
 * its version is the Kafka offset (the decoder's fallback).
 */
export function debeziumMessage(offset: number, table: string, id: number | null, op: 'c' | 'u' | 'd' | 'r' | 't', after: Row | null, options: EnvelopeOptions = {}): KafkaMessage {
  const [schema, name] = table.split('.');
  const tsMs = options.tsMs ?? 1_000 + offset;
  const envelope = { before: null, after, op, ts_ms: tsMs + 5, source: { connector: 'postgresql', name: 'demo', ts_ms: tsMs, snapshot: op === 'r' ? 'true' : 'false', db: 'shop', schema, table: name, ...options.source } };
  return kafkaMessage(offset, id === null ? null : JSON.stringify({ id }), JSON.stringify(envelope));
}

/** PostgreSQL `source` positions: a change at (previous commit P, own LSN L), a snapshot read at S (`last`: its last read). */
export const pgSource = {
  change: (p: number, l: number): Record<string, unknown> => ({ lsn: l, sequence: JSON.stringify([String(p), String(l)]) }),
  read: (s: number, marker: 'first' | 'true' | 'last' = 'true'): Record<string, unknown> => ({ lsn: s, sequence: JSON.stringify([null, String(s)]), snapshot: marker }),
};

/** A decoded change event of `table` at `offset` (key null: a table without a primary key); its version is the offset unless given. */
export function changeEvent(table: string, key: Row | null, op: Op, after: Row | null, offset: number, tsMs = 5_000 + offset, version = kafkaOffsetVersion(BigInt(offset))): ChangeEvent {
  const [schema = '', name = ''] = table.split('.');
  return {
    kind: 'change',
    table,
    key,
    keyString: key === null ? null : JSON.stringify(key),
    op,
    before: null,
    after,
    source: { connector: 'postgresql', name: 'demo', tsMs, snapshot: op === 'r' ? 'true' : false, db: 'shop', schema, table: name },
    version,
    position: { topic: `demo.${table}`, partition: 0, offset: String(offset), timestamp: 0 },
  };
}

/** Stands in for the KafkaJS producer's `send`: records every request, or fails with `failure` when set. */
export class RecordingProducer {
  readonly sent: ProducerRecord[] = [];
  failure: Error | undefined;

  send(record: ProducerRecord): Promise<RecordMetadata[]> {
    if (this.failure) return Promise.reject(this.failure);
    this.sent.push(record);
    return Promise.resolve([]);
  }

  /** This recorder where a Producer is expected (only `send` is used by the DLQ). */
  get producer(): Producer {
    return this as unknown as Producer;
  }
}

/** Resolves once `condition` holds, checked every 5 ms; fails the test after 5 s. */
export async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (const started = Date.now(); !(await condition()); await new Promise((r) => setTimeout(r, 5))) {
    if (Date.now() - started > 5000) assert.fail(`waited 5 s for ${what}`);
  }
}
