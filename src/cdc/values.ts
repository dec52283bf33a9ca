/**
 * Conversion of Kafka Connect / Debezium logical types to cdc-views' canonical
 * values (see the table in ./types.ts).
 *
 * Sources: Debezium PostgreSQL connector documentation, "Data type mappings"
 * (decimal.handling.mode=precise, time.precision.mode=adaptive), and Kafka
 * Connect's `org.apache.kafka.connect.data.Decimal` (unscaled big-endian two's
 * complement integer, scale in the schema parameters).
 */
import { DecodeError, DecodeErrorCode } from '../errors.ts';

/** A Kafka Connect schema as the JsonConverter writes it (`schemas.enable=true`). */
export interface ConnectSchema {
  type: string;
  optional?: boolean;
  name?: string;
  version?: number;
  field?: string;
  parameters?: Record<string, string>;
  fields?: ConnectSchema[];
  items?: ConnectSchema;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Big-endian two's-complement bytes → BigInt. */
export function bytesToBigInt(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  if ((bytes[0] ?? 0) & 0x80) n -= 1n << BigInt(bytes.length * 8);
  return n;
}

/** An unscaled integer and a scale → exact decimal string, e.g. (1250n, 2) → "12.50". */
export function formatDecimal(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  let digits = (negative ? -unscaled : unscaled).toString();
  if (scale > 0) {
    digits = digits.padStart(scale + 1, '0');
    digits = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  } else if (scale < 0) {
    digits += '0'.repeat(-scale);
  }
  return negative ? `-${digits}` : digits;
}

/** Connect Decimal (base64 of the unscaled value) with a scale → exact decimal string. */
export function decodeDecimalBase64(value: string, scale: number): string {
  return formatDecimal(bytesToBigInt(Buffer.from(value, 'base64')), scale);
}

const pad = (n: number | bigint, width: number): string => n.toString().padStart(width, '0');

/** Microseconds since the epoch → `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
export function formatEpochMicros(micros: number | bigint): string {
  const us = BigInt(micros);
  let seconds = us / 1_000_000n;
  let frac = us % 1_000_000n;
  if (frac < 0n) {
    frac += 1_000_000n;
    seconds -= 1n;
  }
  const iso = new Date(Number(seconds) * 1000).toISOString(); // YYYY-MM-DDTHH:MM:SS.000Z
  return `${iso.slice(0, 19)}.${pad(frac, 6)}Z`;
}

/** Days since the epoch → `YYYY-MM-DD`. */
export function formatEpochDays(days: number): string {
  return new Date(days * 86_400_000).toISOString().slice(0, 10);
}

/** Microseconds past midnight → `HH:MM:SS.ffffff`. */
export function formatTimeMicros(micros: number): string {
  const totalSeconds = Math.floor(micros / 1_000_000);
  const frac = micros - totalSeconds * 1_000_000;
  const h = Math.floor(totalSeconds / 3600);
  const m = Math.floor((totalSeconds % 3600) / 60);
  const s = totalSeconds % 60;
  return `${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}.${pad(frac, 6)}`;
}

const ZONED = /^(\d{4,}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})$/;

/**
 * Debezium ZonedTimestamp (an ISO-8601 string with offset, fraction digits
 * trimmed) → canonical UTC `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
 */
export function canonicalZonedTimestamp(value: string): string {
  const m = ZONED.exec(value);
  if (!m) return value; // 'infinity' and other specials pass through unchanged
  const [, date, time, fraction = '', zone] = m;
  const micros = fraction.padEnd(6, '0').slice(0, 6);
  if (zone === 'Z' || zone === '+00:00' || zone === '+0000') return `${date}T${time}.${micros}Z`;
  const ms = Date.parse(`${date}T${time}${zone}`);
  return `${new Date(ms).toISOString().slice(0, 19)}.${micros}Z`;
}

function asString(value: unknown): string {
  if (typeof value !== 'string') throw new Error(`expected a string, got ${typeof value}`);
  return value;
}

function int64(value: unknown): number | string {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' || typeof value === 'bigint') {
    const b = BigInt(value);
    return b > MAX_SAFE || b < -MAX_SAFE ? b.toString() : Number(b);
  }
  throw new Error(`expected an int64, got ${typeof value}`);
}

/**
 * Converts one field value according to its Connect schema.
 * @throws {DecodeError} DECODE_BAD_VALUE when the value does not fit its schema.
 */
export function convertValue(value: unknown, schema: ConnectSchema, path: string): unknown {
  if (value === null || value === undefined) return null;
  try {
    switch (schema.name) {
      case 'org.apache.kafka.connect.data.Decimal': {
        const scale = Number(schema.parameters?.scale ?? '0');
        return decodeDecimalBase64(asString(value), scale);
      }
      case 'io.debezium.data.VariableScaleDecimal': {
        const v = value as { scale: number; value: string };
        return decodeDecimalBase64(v.value, v.scale);
      }
      case 'io.debezium.time.ZonedTimestamp':
        return canonicalZonedTimestamp(asString(value));
      case 'io.debezium.time.MicroTimestamp':
        return formatEpochMicros(BigInt(value as number));
      case 'io.debezium.time.Timestamp':
      case 'org.apache.kafka.connect.data.Timestamp':
        return formatEpochMicros(BigInt(value as number) * 1000n);
      case 'io.debezium.time.NanoTimestamp':
        return formatEpochMicros(BigInt(value as number) / 1000n);
      case 'io.debezium.time.Date':
      case 'org.apache.kafka.connect.data.Date':
        return formatEpochDays(value as number);
      case 'io.debezium.time.Time':
      case 'org.apache.kafka.connect.data.Time':
        return formatTimeMicros((value as number) * 1000);
      case 'io.debezium.time.MicroTime':
        return formatTimeMicros(value as number);
      case 'io.debezium.time.NanoTime':
        return formatTimeMicros(Math.floor((value as number) / 1000));
      case 'io.debezium.data.Json':
        return JSON.parse(asString(value)) as unknown;
      default:
        break;
    }
    switch (schema.type) {
      case 'int64':
        return int64(value);
      case 'struct': {
        const out: Record<string, unknown> = {};
        const obj = value as Record<string, unknown>;
        for (const f of schema.fields ?? []) {
          out[f.field ?? ''] = convertValue(obj[f.field ?? ''], f, `${path}.${f.field}`);
        }
        return out;
      }
      case 'array':
        return (value as unknown[]).map((v, i) => (schema.items ? convertValue(v, schema.items, `${path}[${i}]`) : v));
      default:
        return value;
    }
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    throw new DecodeError(DecodeErrorCode.BadValue, `${path}: cannot decode ${schema.name ?? schema.type} value: ${(err as Error).message}`, { cause: err });
  }
}
