/**
 * Kafka Connect schema → the TypeScript type of the canonical value that
 * src/cdc/values.ts `convertValue` gives for it (the table in src/cdc/types.ts).
 * Both the PostgreSQL catalog path (./pg-types.ts builds the Connect schema
 * Debezium would write) and the schema-registry path (src/cdc/avro.ts
 * `avroToConnectSchema`) end here, so they cannot disagree.
 *
 * | Connect schema                                                  | TypeScript              |
 * | --------------------------------------------------------------- | ----------------------- |
 * | `Decimal`, `VariableScaleDecimal`                               | `string` (exact decimal)|
 * | Debezium/Connect `Date`, `Time`, `MicroTime`, `NanoTime`,       | `string`                |
 * | `Timestamp`, `MicroTimestamp`, `NanoTimestamp`, `ZonedTimestamp`|                         |
 * | `io.debezium.data.Json`                                         | `JsonValue`             |
 * | int8, int16, int32, float32 (`float`), float64 (`double`)       | `number`                |
 * | int64 (incl. `MicroDuration`)                                   | `number \| string`      |
 * | boolean                                                         | `boolean`               |
 * | string (incl. Uuid, Xml, Enum, ZonedTime, …)                    | `string`                |
 * | bytes (incl. `Bits`)                                            | `string` (base64)       |
 * | struct                                                          | `{ field: T; … }`       |
 * | array                                                           | `T[]` / `(T \| null)[]` |
 * | map, anything else                                              | `unknown`               |
 *
 * An optional schema adds `| null`.
 */
import type { ConnectSchema } from '../cdc/values.ts';

/** The name of the JSON value type the generated module declares when a column needs it. */
export const JSON_TYPE = 'JsonValue';

/** `type JsonValue = …`: what `JSON.parse` returns, emitted once per generated module. */
export const JSON_TYPE_DECLARATION = `export type ${JSON_TYPE} = null | boolean | number | string | ${JSON_TYPE}[] | { [key: string]: ${JSON_TYPE} };`;

const STRING_LOGICAL = new Set([
  'org.apache.kafka.connect.data.Decimal',
  'io.debezium.data.VariableScaleDecimal',
  'io.debezium.time.ZonedTimestamp',
  'io.debezium.time.MicroTimestamp',
  'io.debezium.time.Timestamp',
  'org.apache.kafka.connect.data.Timestamp',
  'io.debezium.time.NanoTimestamp',
  'io.debezium.time.Date',
  'org.apache.kafka.connect.data.Date',
  'io.debezium.time.Time',
  'org.apache.kafka.connect.data.Time',
  'io.debezium.time.MicroTime',
  'io.debezium.time.NanoTime',
]);

const BY_TYPE: Record<string, string> = {
  int8: 'number',
  int16: 'number',
  int32: 'number',
  float32: 'number',
  float64: 'number',
  float: 'number', // the JsonConverter's names of float32 and float64
  double: 'number',
  int64: 'number | string',
  boolean: 'boolean',
  string: 'string',
  bytes: 'string',
};

/** `T | null` when the schema is optional. */
export function nullable(ts: string, optional: boolean | undefined): string {
  return optional ? `${ts} | null` : ts;
}

const needsParens = (ts: string): boolean => ts.includes('|') && !ts.startsWith('{');

/** A property key as TypeScript accepts it: bare when an identifier, else quoted. */
export function propertyKey(name: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : JSON.stringify(name);
}

/**
 * The TypeScript type of the canonical value of a (non-null) value of this
 * Connect schema; the caller adds `| null` for an optional one ({@link nullable}).
 * Never throws: a schema outside the canonical mapping gives `unknown`.
 */
export function connectToTs(schema: ConnectSchema): string {
  if (schema.name !== undefined) {
    if (STRING_LOGICAL.has(schema.name)) return 'string';
    if (schema.name === 'io.debezium.data.Json') return JSON_TYPE;
  }
  switch (schema.type) {
    case 'struct': {
      const fields = (schema.fields ?? []).map((f) => `${propertyKey(f.field ?? '')}: ${nullable(connectToTs(f), f.optional)}`);
      return fields.length === 0 ? 'Record<string, never>' : `{ ${fields.join('; ')} }`;
    }
    case 'array': {
      if (!schema.items) return 'unknown[]';
      const item = nullable(connectToTs(schema.items), schema.items.optional);
      return needsParens(item) ? `(${item})[]` : `${item}[]`;
    }
    default:
      return BY_TYPE[schema.type] ?? 'unknown';
  }
}

const TIMESTAMP = '`YYYY-MM-DDTHH:MM:SS.ffffffZ` (UTC)';
const TIME = '`HH:MM:SS.ffffff`';
const NOTES: Record<string, string> = {
  'org.apache.kafka.connect.data.Decimal': 'exact decimal string keeping the scale, e.g. `"12.50"` (`NaN` arrives as null)',
  'io.debezium.data.VariableScaleDecimal': 'exact decimal string (`NaN` arrives as null)',
  'io.debezium.time.ZonedTimestamp': TIMESTAMP,
  'io.debezium.time.MicroTimestamp': `${TIMESTAMP}, the wall-clock value marked UTC`,
  'io.debezium.time.Timestamp': `${TIMESTAMP}, the wall-clock value marked UTC`,
  'org.apache.kafka.connect.data.Timestamp': TIMESTAMP,
  'io.debezium.time.NanoTimestamp': TIMESTAMP,
  'io.debezium.time.Date': '`YYYY-MM-DD`',
  'org.apache.kafka.connect.data.Date': '`YYYY-MM-DD`',
  'io.debezium.time.Time': TIME,
  'org.apache.kafka.connect.data.Time': TIME,
  'io.debezium.time.MicroTime': TIME,
  'io.debezium.time.NanoTime': TIME,
  'io.debezium.time.ZonedTime': 'as Debezium writes it, in UTC, e.g. `15:11:00.5Z`',
  'io.debezium.time.MicroDuration': 'microseconds (a string beyond ±(2^53 − 1))',
  'io.debezium.data.Json': 'the parsed JSON value',
  'io.debezium.data.Bits': 'base64 of the bits',
};

const FLOATS = new Set(['float', 'double', 'float32', 'float64']);

/** What the canonical value looks like, for a column's TSDoc; undefined when the type says it all. */
export function valueNote(schema: ConnectSchema): string | undefined {
  const note = schema.name === undefined ? undefined : NOTES[schema.name];
  if (note !== undefined) return note;
  if (schema.type === 'int64') return 'a string beyond ±(2^53 − 1)';
  if (FLOATS.has(schema.type)) return 'NaN and ±Infinity are not numbers in state: `"NaN"`, `"Infinity"`, `"-Infinity"` from JSON, null from Avro';
  if (schema.type === 'bytes') return 'base64';
  if (schema.type === 'array' && schema.items) {
    const item = valueNote(schema.items);
    return item === undefined ? undefined : `elements: ${item}`;
  }
  return undefined;
}
