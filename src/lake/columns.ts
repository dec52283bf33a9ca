/**
 * The columns of a lake table: PostgreSQL column types → Delta Lake types,
 * cdc-views canonical values (src/cdc/types.ts) → lake values, and the Delta
 * schema string of a table.
 *
 * Sources: Delta PROTOCOL.md, "Primitive Types" and "Schema Serialization
 * Format"; the PostgreSQL catalog as src/codegen/catalog.ts reads it.
 */
import type { Queryable } from '../codegen/catalog.ts';
import { readCatalogColumns } from '../codegen/catalog.ts';
import type { PgType } from '../codegen/pg-types.ts';
import { CdcViewsError, ConfigError } from '../errors.ts';
import type { LakeColumn, LakeType, LakeValue } from './types.ts';
import { decimalParams, formatDateDays, formatDecimalUnscaled, formatTimestampMicros, parseDateDays, parseDecimalUnscaled, parseTimestampMicros } from './values.ts';

/** Largest decimal precision Delta Lake allows (PROTOCOL.md, "Primitive Types": `decimal` up to 38 digits). */
export const MAX_DECIMAL_PRECISION = 38;

/** PostgreSQL `typname` → lake type, for the types whose lake type does not depend on the typmod. */
const BY_NAME: Record<string, LakeType> = {
  int2: 'short',
  int4: 'integer',
  int8: 'long',
  float4: 'float',
  float8: 'double',
  bool: 'boolean',
  date: 'date',
  timestamptz: 'timestamp',
};

/**
 * The lake type of a PostgreSQL column type (as src/codegen/catalog.ts
 * resolves it: domains to their base type, arrays to their element):
 *
 * - `smallint` → `short`, `integer` → `integer`, `bigint` → `long`,
 *   `real` → `float`, `double precision` → `double`, `boolean` → `boolean`,
 *   `date` → `date`, `timestamptz` → `timestamp` (µs, UTC).
 * - `numeric(p,s)` → `decimal(p,s)` when Delta can hold it (1 ≤ p ≤ 38,
 *   0 ≤ s ≤ p); else, and for `numeric` without precision (any scale per
 *   value), → `string` holding the exact decimal.
 * - Everything else → `string`: text, varchar, char, uuid, enums (their
 *   text); json and jsonb (JSON text); arrays (JSON text of the array); time,
 *   timetz, interval, bytea (base64), money, network and range types (their
 *   canonical text); and `timestamp` without time zone, kept as its canonical
 *   wall-clock string, because Delta's `timestamp_ntz` needs the
 *   `timestampNtz` writer table feature, which the lake sink does not enable
 *   (storing it as `timestamp` would claim a UTC instant it is not).
 */
export function lakeTypeOf(pgType: PgType): LakeType {
  if (pgType.element) return 'string';
  const simple = BY_NAME[pgType.name];
  if (simple) return simple;
  if (pgType.name === 'numeric' && pgType.typmod >= 0) {
    // PostgreSQL's numeric typmod: ((precision << 16) | scale) + 4, the scale an 11-bit signed field (PG 15+).
    const precision = ((pgType.typmod - 4) >> 16) & 0xffff;
    const scale = (((pgType.typmod - 4) & 0x7ff) ^ 1024) - 1024;
    if (precision >= 1 && precision <= MAX_DECIMAL_PRECISION && scale >= 0 && scale <= precision) return `decimal(${precision},${scale})`;
  }
  return 'string';
}

/**
 * The lake columns of one PostgreSQL table, in column order, read from the
 * catalog (src/codegen/catalog.ts): each column's lake type (lakeTypeOf) and
 * `nullable` false only for NOT NULL columns (or NOT NULL domains).
 * @param db a `pg` Client or Pool (anything with `query`).
 * @param table `schema.table`, case-sensitive, unquoted.
 * @throws {ConfigError} when the database has no such table (or it has no columns).
 */
export async function lakeColumnsFromCatalog(db: Queryable, table: string): Promise<LakeColumn[]> {
  const columns = await readCatalogColumns(db, { schemas: [], tables: [table] });
  if (columns.length === 0) {
    throw new ConfigError(`table ${table}`, 'the database has no such table with columns (give schema.table, case-sensitive; partitions are not tables, their root is)');
  }
  return columns.map((c) => ({ name: c.name, type: lakeTypeOf(c.type), nullable: !c.notNull }));
}

/** A value that cannot be stored in a lake column of its type. Not retriable: the value will never fit. */
export class LakeValueError extends CdcViewsError {
  constructor(
    readonly type: LakeType,
    readonly value: unknown,
    reason: string,
  ) {
    super('LAKE_BAD_VALUE', `cannot store ${describe(value)} in a ${type} column: ${reason}`);
  }
}

function describe(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object';
  if (typeof value === 'symbol') return value.toString();
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined) return String(value);
  return `a ${typeof value}`;
}

const INT_RANGES = { short: [-32768, 32767], integer: [-2147483648, 2147483647] } as const;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const FLOAT32_MAX = 3.4028234663852886e38;
const SPECIAL_FLOATS: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

function integerOf(value: unknown, type: LakeType): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new LakeValueError(type, value, 'not an integer exactly representable in a JS number');
    return BigInt(value);
  }
  if (typeof value === 'string' && /^[+-]?\d+$/.test(value)) return BigInt(value);
  throw new LakeValueError(type, value, 'not an integer');
}

/**
 * A canonical value (a column of `ChangeEvent.after`, see src/cdc/types.ts) →
 * the lake value of its column type (./types.ts `LakeValue`). `null` and
 * `undefined` → `null`.
 *
 * - short, integer: a number (or integer string) in range → number.
 * - long: a number, a decimal string (canonical int8 beyond ±(2^53 − 1)) or a bigint → bigint.
 * - float, double: a number (or `"NaN"`, `"Infinity"`, `"-Infinity"`) → number; a float beyond float32's range is an error.
 * - boolean: a boolean.
 * - decimal(p,s): an exact decimal string (or a number/bigint, read via its
 *   decimal text) → the decimal string with exactly s fraction digits; never rounded.
 * - date: `YYYY-MM-DD` → the same string, validated.
 * - timestamp: `YYYY-MM-DDTHH:MM:SS[.ffffff]Z` → the canonical string with 6 fraction digits, validated.
 * - string: a string as is; an object or array (json, jsonb, PostgreSQL arrays) → its JSON text; a number, bigint or boolean → its text.
 * @throws {LakeValueError} LAKE_BAD_VALUE when the value does not fit the type (e.g. `'abc'` for integer).
 */
export function toLakeValue(canonical: unknown, type: LakeType): LakeValue {
  if (canonical === null || canonical === undefined) return null;
  const value = canonical;
  switch (type) {
    case 'short':
    case 'integer': {
      const n = integerOf(value, type);
      const [min, max] = INT_RANGES[type];
      if (n < BigInt(min) || n > BigInt(max)) throw new LakeValueError(type, value, `out of range ${min}..${max}`);
      return Number(n);
    }
    case 'long': {
      const n = integerOf(value, type);
      if (n < INT64_MIN || n > INT64_MAX) throw new LakeValueError(type, value, 'out of the int64 range');
      return n;
    }
    case 'float':
    case 'double': {
      const n = typeof value === 'number' ? value : typeof value === 'string' ? SPECIAL_FLOATS[value] : undefined;
      if (n === undefined) throw new LakeValueError(type, value, 'not a number');
      if (type === 'float' && Number.isFinite(n) && Math.abs(n) > FLOAT32_MAX) throw new LakeValueError(type, value, 'beyond the float32 range');
      return n;
    }
    case 'boolean':
      if (typeof value !== 'boolean') throw new LakeValueError(type, value, 'not a boolean');
      return value;
    case 'string':
      if (typeof value === 'string') return value;
      if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'boolean') return String(value);
      if (typeof value === 'object') return JSON.stringify(value);
      throw new LakeValueError(type, value, `a ${typeof value} has no text form`);
    case 'date':
      if (typeof value !== 'string') throw new LakeValueError(type, value, 'not a YYYY-MM-DD string');
      return formatDateDays(convert(type, value, parseDateDays));
    case 'timestamp':
      if (typeof value !== 'string') throw new LakeValueError(type, value, 'not a YYYY-MM-DDTHH:MM:SS.ffffffZ string');
      return formatTimestampMicros(convert(type, value, parseTimestampMicros));
    default: {
      const decimal = decimalParams(type);
      if (!decimal) throw new LakeValueError(type, value, 'unknown lake type');
      const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'bigint' ? String(value) : undefined;
      if (text === undefined) throw new LakeValueError(type, value, 'not a decimal string');
      const unscaled = convert(type, text, (t) => parseDecimalUnscaled(t, decimal.precision, decimal.scale));
      return formatDecimalUnscaled(unscaled, decimal.scale);
    }
  }
}

/** Runs a parser, turning its RangeError into a LakeValueError. */
function convert<T>(type: LakeType, value: string, parse: (text: string) => T): T {
  try {
    return parse(value);
  } catch (err) {
    if (err instanceof RangeError) throw new LakeValueError(type, value, err.message);
    throw err;
  }
}

/** Characters Delta (Spark) refuses in a column name unless column mapping is on (PROTOCOL.md, "Column Mapping"). */
const INVALID_NAME = /[ ,;{}()\n\t=]/;

/**
 * Checks that Delta can take the column names without column mapping
 * (PROTOCOL.md, "Column Mapping"; the schema itself is serialised by
 * ./delta/actions.ts `toSchemaString`).
 * @throws {ConfigError} when a column name is empty, has a character Delta
 *   needs column mapping for (space , ; { } ( ) newline tab =), or equals
 *   another's ignoring case (Delta column names are case-insensitive).
 */
export function assertDeltaColumnNames(columns: readonly LakeColumn[]): void {
  const seen = new Map<string, string>();
  for (const c of columns) {
    if (c.name === '' || INVALID_NAME.test(c.name)) {
      throw new ConfigError(`column ${JSON.stringify(c.name)}`, 'a Delta column name cannot be empty nor contain space , ; { } ( ) newline tab = (the lake sink does not enable column mapping)');
    }
    const other = seen.get(c.name.toLowerCase());
    if (other !== undefined) throw new ConfigError(`column ${JSON.stringify(c.name)}`, `Delta column names are case-insensitive: it clashes with ${JSON.stringify(other)}`);
    seen.set(c.name.toLowerCase(), c.name);
  }
}
