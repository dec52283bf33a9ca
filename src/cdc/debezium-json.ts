/**
 * Decoding of Debezium change events written by Kafka Connect's JsonConverter,
 * with `schemas.enable=true` (`{"schema":…,"payload":…}`) or `false` (bare
 * payload). Envelope and `source` fields follow the Debezium PostgreSQL
 * connector documentation ("Data change events").
 */
import { DecodeError, DecodeErrorCode } from '../errors.ts';
import { canonicalKeyString } from './keys.ts';
import { sourceVersion } from './source-position.ts';
import type { ChangeEvent, DecodedRecord, KafkaPosition, Op, Row, SourceInfo } from './types.ts';
import { convertValue, type ConnectSchema } from './values.ts';

/**
 * Turns raw Kafka records into decoded records. Implementations throw
 * DecodeError for a record that can never be decoded (it goes to the DLQ) and a
 * retriable CdcViewsError when a dependency is briefly unavailable (e.g. the
 * schema registry): the runtime then pauses the partition and retries.
 */
export interface RecordDecoder {
  decode(record: RawRecord): DecodedRecord | Promise<DecodedRecord>;
}

/** The JSON decoder (JsonConverter, with or without schemas). */
export const jsonDecoder: RecordDecoder = { decode: (record) => decodeDebeziumJson(record) };

/** The parts of a Kafka record the decoder needs. */
export interface RawRecord {
  topic: string;
  partition: number;
  offset: string;
  /** ms since the epoch, as a decimal string (KafkaJS) or number. */
  timestamp: string | number;
  key: Buffer | null;
  value: Buffer | null;
}

interface WithSchema {
  schema: ConnectSchema;
  payload: unknown;
}

const OPS: ReadonlySet<string> = new Set(['c', 'u', 'd', 'r', 't', 'm']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True when a parsed JSON document is a JsonConverter `{schema, payload}` wrapper. */
function hasSchema(doc: unknown): doc is WithSchema {
  return isObject(doc) && 'payload' in doc && isObject(doc.schema) && typeof doc.schema.type === 'string' && Object.keys(doc).length === 2;
}

function parseJson(bytes: Buffer, what: 'key' | 'value'): unknown {
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (err) {
    throw new DecodeError(DecodeErrorCode.NotJson, `record ${what} is not JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** Topic → table name; a process reads few topics, and this runs once per record. */
const tableOfTopic = new Map<string, string>();

/** `<prefix>.<schema>.<table>` → `<schema>.<table>` (the prefix itself may contain dots). */
export function tableFromTopic(topic: string): string {
  let table = tableOfTopic.get(topic);
  if (table === undefined) {
    const parts = topic.split('.');
    table = parts.length >= 3 ? parts.slice(-2).join('.') : topic;
    tableOfTopic.set(topic, table);
  }
  return table;
}

function fieldSchema(schema: ConnectSchema | undefined, name: string): ConnectSchema | undefined {
  return schema?.fields?.find((f) => f.field === name);
}

/**
 * What Debezium writes for a TOASTed column an UPDATE left unchanged when the
 * table's REPLICA IDENTITY does not log it (PostgreSQL connector option
 * `unavailable.value.placeholder`, default): the string for text and json
 * types, its bytes (base64 in JSON) for bytea.
 */
export const UNAVAILABLE_VALUE = '__debezium_unavailable_value';
const UNAVAILABLE_BYTES_BASE64 = Buffer.from(UNAVAILABLE_VALUE).toString('base64');

/** Columns of a row image holding the unavailable-value placeholder. */
function unavailableColumns(payload: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [column, value] of Object.entries(payload)) {
    if (value === UNAVAILABLE_VALUE || value === UNAVAILABLE_BYTES_BASE64) out.push(column);
  }
  return out;
}

/**
 * A row image in the canonical value mapping, without the columns holding the
 * unavailable-value placeholder (listed in `unavailable`): a placeholder is
 * never a value.
 */
function decodeRow(payload: unknown, schema: ConnectSchema | undefined, path: string): { row: Row | null; unavailable: string[] } {
  if (payload === null || payload === undefined) return { row: null, unavailable: [] };
  if (!isObject(payload)) throw new DecodeError(DecodeErrorCode.BadEnvelope, `${path} is not an object`);
  const unavailable = unavailableColumns(payload);
  let image = payload;
  if (unavailable.length > 0) {
    image = { ...payload };
    for (const c of unavailable) delete image[c];
  }
  if (!schema) return { row: image, unavailable };
  const fields = unavailable.length === 0 ? schema : { ...schema, fields: schema.fields?.filter((f) => !unavailable.includes(f.field ?? '')) };
  return { row: convertValue(image, fields, path) as Row, unavailable };
}

function decodeKey(bytes: Buffer | null): Row | null {
  if (bytes === null || bytes.length === 0) return null;
  const doc = parseJson(bytes, 'key');
  const payload = hasSchema(doc) ? doc.payload : doc;
  if (payload === null) return null;
  if (!isObject(payload)) throw new DecodeError(DecodeErrorCode.BadKey, 'record key is not a struct of primary-key columns');
  return hasSchema(doc) ? (convertValue(payload, doc.schema, 'key') as Row) : payload;
}

/** A string field of the source block; other JSON values are rendered as JSON. */
function str(v: unknown): string {
  if (typeof v === 'string') return v;
  return v === undefined || v === null ? '' : JSON.stringify(v);
}

function optionalNumber(v: unknown): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

function decodeSource(raw: unknown, topic: string): SourceInfo {
  if (!isObject(raw)) throw new DecodeError(DecodeErrorCode.BadEnvelope, 'envelope has no source block');
  const snapshot = raw.snapshot;
  const lsn = optionalNumber(raw.lsn);
  const txId = optionalNumber(raw.txId);
  const fromTopic = (i: 0 | 1): string => tableFromTopic(topic).split('.')[i] ?? '';
  const source: SourceInfo = {
    connector: str(raw.connector),
    name: str(raw.name),
    tsMs: typeof raw.ts_ms === 'number' ? raw.ts_ms : 0,
    snapshot: snapshot === undefined || snapshot === null || snapshot === 'false' || snapshot === false ? false : str(snapshot),
    db: str(raw.db),
    schema: typeof raw.schema === 'string' ? raw.schema : fromTopic(0),
    table: typeof raw.table === 'string' ? raw.table : fromTopic(1),
  };
  // Set only when present (no spread of a temporary object per record).
  if (lsn !== undefined) source.lsn = lsn;
  if (txId !== undefined) source.txId = txId;
  return source;
}

/**
 * Decodes one Kafka record from a Debezium topic.
 *
 * @returns a {@link ChangeEvent}, or a {@link Tombstone} for a null value.
 * @throws {DecodeError} with a code naming the reason (not JSON, bad envelope,
 *   bad key, bad value); the caller sends the record to the DLQ.
 */
export function decodeDebeziumJson(record: RawRecord): DecodedRecord {
  const position: KafkaPosition = {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestamp: Number(record.timestamp),
  };
  const key = decodeKey(record.key);
  const keyString = key === null ? null : canonicalKeyString(key);

  if (record.value === null || record.value.length === 0) {
    return { kind: 'tombstone', table: tableFromTopic(record.topic), key, keyString, position };
  }

  const doc = parseJson(record.value, 'value');
  return decodeEnvelope(hasSchema(doc) ? doc.payload : doc, hasSchema(doc) ? doc.schema : undefined, key, position);
}

/**
 * Decodes a Debezium envelope already parsed by a converter (JsonConverter
 * payload, or the equivalent the Avro decoder builds), with its Connect schema
 * when known, into a {@link ChangeEvent}. Shared by every encoding so that the
 * value mapping is identical whatever the record's format.
 * @throws {DecodeError} DECODE_BAD_ENVELOPE / DECODE_BAD_VALUE.
 */
export function decodeEnvelope(env: unknown, schema: ConnectSchema | undefined, key: Row | null, position: KafkaPosition): ChangeEvent {
  const keyString = key === null ? null : canonicalKeyString(key);
  if (!isObject(env)) throw new DecodeError(DecodeErrorCode.BadEnvelope, 'record value is not a Debezium envelope object');
  const op = env.op;
  if (typeof op !== 'string' || !OPS.has(op)) {
    throw new DecodeError(DecodeErrorCode.BadEnvelope, `envelope op is ${JSON.stringify(op)}, expected one of c, u, d, r, t, m`);
  }
  const source = decodeSource(env.source, position.topic);
  const { version } = sourceVersion({ connector: source.connector, op: op as Op, source: env.source as Record<string, unknown>, offset: position.offset });
  const before = decodeRow(env.before, fieldSchema(schema, 'before'), 'before').row;
  const { row: after, unavailable } = decodeRow(env.after, fieldSchema(schema, 'after'), 'after');
  if ((op === 'c' || op === 'r' || op === 'u') && after === null) {
    throw new DecodeError(DecodeErrorCode.BadEnvelope, `op '${op}' without an after image`);
  }
  const event: ChangeEvent = {
    kind: 'change',
    table: `${source.schema}.${source.table}`,
    key,
    keyString,
    op: op as Op,
    before,
    after,
    source,
    version,
    position,
  };
  if (unavailable.length > 0) event.unavailable = unavailable;
  return event;
}
