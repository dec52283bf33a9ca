/**
 * A consumed Kafka record as the Debezium fixtures store it
 * (test/fixtures/debezium/): key, value and headers as UTF-8 text. Shared by
 * the capture scripts (capture-fixtures.ts, capture-version-fixtures.ts).
 */
import type { IHeaders, KafkaMessage } from 'kafkajs';
import type { FixtureRecord } from '../test/unit/cdc/fixture-types.ts';

function headersToText(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(headers ?? {})) {
    if (v === undefined) continue;
    const one = Array.isArray(v) ? v[v.length - 1] : v;
    out[name] = one === undefined ? '' : Buffer.isBuffer(one) ? one.toString('utf8') : String(one);
  }
  return out;
}

export function toFixtureRecord(topic: string, partition: number, message: KafkaMessage): FixtureRecord {
  return {
    topic,
    partition,
    offset: message.offset,
    timestamp: Number(message.timestamp),
    key: message.key === null ? null : message.key.toString('utf8'),
    value: message.value === null ? null : message.value.toString('utf8'),
    headers: headersToText(message.headers),
  };
}
