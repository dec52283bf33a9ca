/**
 * PostgreSQL column type → the Kafka Connect schema the Debezium PostgreSQL
 * connector writes for it, with the settings of schemas/connectors/*.json:
 * `decimal.handling.mode=precise`, `time.precision.mode=adaptive`,
 * `interval.handling.mode=numeric`, `hstore.handling.mode=json`,
 * `binary.handling.mode=bytes`, `include.unknown.datatypes=false`.
 *
 * Source: Debezium PostgreSQL connector documentation (3.1), "Data type
 * mappings" (basic, temporal, decimal, hstore, domain, network address,
 * geometric and array types),
 * https://debezium.io/documentation/reference/3.1/connectors/postgresql.html#postgresql-data-types;
 * checked column by column against what Debezium 3.1.3.Final really writes
 * (test/unit/codegen/fixtures/all-types.json). Types outside this mapping
 * (composite, tsvector, multiranges, geometric types other than point,
 * PostGIS, …) are reported as unsupported. The resulting schema goes through
 * ./connect-types.ts to its TypeScript type, exactly as a record's schema goes
 * through src/cdc/values.ts to its canonical value. `time.precision.mode`
 * `adaptive_time_microseconds` or `connect` and `decimal.handling.mode=string`
 * give the same TypeScript types; `decimal.handling.mode=double` and
 * `interval.handling.mode=string` do not (not supported here).
 */
import type { ConnectSchema } from '../cdc/values.ts';

/** A column's type after resolving domains and arrays, as read from `pg_type`. */
export interface PgType {
  /** `pg_type.typname` of the base type (after domains), e.g. `int4`, `numeric`, `mood`. */
  name: string;
  /** `pg_type.typtype` of the base type: `b` base, `e` enum, `c` composite, `r` range, `m` multirange, `p` pseudo. */
  kind: string;
  /** `atttypmod` (or the domain's `typtypmod`); −1 when none. */
  typmod: number;
  /** The element type when this is an array. */
  element?: PgType;
}

/** Connect schema of a type, or why the generator cannot tell what Debezium sends. */
export type PgMapping = { schema: ConnectSchema } | { unsupported: string };

const named = (type: string, name: string, parameters?: Record<string, string>): ConnectSchema => ({ type, name, ...(parameters ? { parameters } : {}) });

const DECIMAL = 'org.apache.kafka.connect.data.Decimal';

/** Types without a logical name: Connect type → PostgreSQL typnames (the JsonConverter's names of FLOAT32/FLOAT64). */
const PLAIN: Record<string, string[]> = {
  boolean: ['bool'],
  int16: ['int2'],
  int32: ['int4'],
  int64: ['int8', 'oid'],
  float: ['float4'],
  double: ['float8'],
  string: ['text', 'varchar', 'bpchar', 'name', 'citext', 'inet', 'cidr', 'macaddr', 'macaddr8', 'int4range', 'int8range', 'numrange', 'tsrange', 'tstzrange', 'daterange'],
  bytes: ['bytea'],
};

/** Types with a logical name: [PostgreSQL typnames, Connect type, Connect schema name]. */
const LOGICAL: [string[], string, string][] = [
  [['json', 'jsonb', 'hstore'], 'string', 'io.debezium.data.Json'], // hstore.handling.mode=json
  [['ltree'], 'string', 'io.debezium.data.Ltree'],
  [['xml'], 'string', 'io.debezium.data.Xml'],
  [['uuid'], 'string', 'io.debezium.data.Uuid'],
  [['varbit'], 'bytes', 'io.debezium.data.Bits'],
  [['date'], 'int32', 'io.debezium.time.Date'],
  [['timetz'], 'string', 'io.debezium.time.ZonedTime'],
  [['timestamptz'], 'string', 'io.debezium.time.ZonedTimestamp'],
  [['interval'], 'int64', 'io.debezium.time.MicroDuration'], // interval.handling.mode=numeric
];

/** typname → Connect schema, for the types whose schema does not depend on the typmod. */
const SIMPLE: Record<string, ConnectSchema> = {
  ...Object.fromEntries(Object.entries(PLAIN).flatMap(([type, names]) => names.map((n) => [n, { type }]))),
  ...Object.fromEntries(LOGICAL.flatMap(([names, type, name]) => names.map((n) => [n, named(type, name)]))),
  money: named('bytes', DECIMAL, { scale: '2' }), // money.fraction.digits=2
  point: {
    type: 'struct',
    name: 'io.debezium.data.geometry.Point',
    fields: [
      { type: 'double', field: 'x' },
      { type: 'double', field: 'y' },
      { type: 'bytes', optional: true, field: 'wkb' },
      { type: 'int32', optional: true, field: 'srid' },
    ],
  },
};

/** Fractional-second digits of a time/timestamp typmod (6 when unspecified). */
const precision = (typmod: number): number => (typmod < 0 ? 6 : typmod);

function scalar(t: PgType): PgMapping {
  const simple = SIMPLE[t.name];
  if (simple) return { schema: simple };
  if (t.kind === 'e') return { schema: named('string', 'io.debezium.data.Enum') };
  switch (t.name) {
    case 'numeric':
      return t.typmod < 0
        ? { schema: { type: 'struct', name: 'io.debezium.data.VariableScaleDecimal', fields: [{ type: 'int32', field: 'scale' }, { type: 'bytes', field: 'value' }] } }
        : { schema: named('bytes', DECIMAL, { scale: String((t.typmod - 4) & 0xffff) }) };
    case 'bit':
      return { schema: t.typmod === 1 ? { type: 'boolean' } : named('bytes', 'io.debezium.data.Bits') };
    case 'time':
      return { schema: precision(t.typmod) <= 3 ? named('int32', 'io.debezium.time.Time') : named('int64', 'io.debezium.time.MicroTime') };
    case 'timestamp':
      return { schema: precision(t.typmod) <= 3 ? named('int64', 'io.debezium.time.Timestamp') : named('int64', 'io.debezium.time.MicroTimestamp') };
    default:
      return { unsupported: `${t.kind === 'c' ? 'composite type' : 'type'} ${t.name} is not in the canonical mapping (Debezium leaves such a column out with include.unknown.datatypes=false)` };
  }
}

/**
 * The Connect schema Debezium writes for a column of this type (without
 * `optional`: the caller knows the column's nullability).
 */
export function pgToConnect(t: PgType): PgMapping {
  if (!t.element) return scalar(t);
  const item = pgToConnect(t.element);
  if ('unsupported' in item) return { unsupported: `array of ${item.unsupported}` };
  // Array elements can always be NULL in PostgreSQL.
  return { schema: { type: 'array', items: { ...item.schema, optional: true } } };
}
