/**
 * Parquet files of the lake: lake rows (./types.ts) ↔ one Parquet file, with
 * the physical and logical types Delta Lake readers expect (Parquet format,
 * LogicalTypes.md; Delta PROTOCOL.md, "Primitive Types"):
 *
 * | lake type    | Parquet physical type            | annotation                                  |
 * | ------------ | -------------------------------- | ------------------------------------------- |
 * | boolean      | BOOLEAN                          |                                             |
 * | short        | INT32                            | INT_16 (≡ INT(16, signed), see schemaElement) |
 * | integer      | INT32                            |                                             |
 * | long         | INT64                            |                                             |
 * | float        | FLOAT                            |                                             |
 * | double       | DOUBLE                           |                                             |
 * | string       | BYTE_ARRAY                       | STRING / UTF8                               |
 * | date         | INT32 (days since 1970-01-01)    | DATE                                        |
 * | timestamp    | INT64 (µs since the epoch)       | TIMESTAMP(isAdjustedToUTC=true, MICROS)     |
 * | decimal(p,s) | INT64 when p ≤ 18, else FIXED_LEN_BYTE_ARRAY of the fewest bytes holding p digits | DECIMAL(p,s) |
 *
 * A nullable column is OPTIONAL, else REQUIRED. Pages are SNAPPY-compressed
 * (Delta's and Spark's default codec), written by hyparquet-writer as data
 * page v2 with dictionary encoding where it pays, with column statistics. All
 * rows go in one row group of up to 100 000 rows (more rows: more row groups).
 */
import { parquetMetadata, parquetReadObjects, type FileMetaData, type SchemaElement } from 'hyparquet';
import { parquetWriteBuffer } from 'hyparquet-writer';
import type { LakeColumn, LakeRow, LakeType, LakeValue } from './types.ts';
import { decimalParams, formatDateDays, formatDecimalUnscaled, formatTimestampMicros, parseDateDays, parseDecimalUnscaled, parseTimestampMicros, shortestFloat32 } from './values.ts';

/** Rows per row group of the files writeParquet writes. */
export const ROW_GROUP_ROWS = 100_000;

/** The `created_by` of the files writeParquet writes. */
export const CREATED_BY = 'cdc-views lake sink (hyparquet-writer 0.17)';

/** Bytes of the smallest two's-complement integer holding every `precision`-digit unscaled decimal. */
function decimalBytes(precision: number): number {
  const max = 10n ** BigInt(precision) - 1n;
  let bytes = 1;
  while (max > 2n ** BigInt(8 * bytes - 1) - 1n) bytes++;
  return bytes;
}

/**
 * A schema element as hyparquet-writer takes it (it depends on its own copy
 * of hyparquet, whose SchemaElement type differs from the reader's).
 */
type WriterSchemaElement = NonNullable<Parameters<typeof parquetWriteBuffer>[0]['schema']>[number];

/** The Parquet schema element of a lake column. */
function schemaElement(c: LakeColumn): WriterSchemaElement {
  const base = { name: c.name, repetition_type: c.nullable ? 'OPTIONAL' : 'REQUIRED' } as const;
  switch (c.type) {
    case 'boolean':
      return { ...base, type: 'BOOLEAN' };
    case 'short':
      // Only the converted type: hyparquet-writer 0.17 writes IntType.bitWidth as a thrift i32, not the i8 of
      // parquet.thrift, and strict readers (DuckDB) reject the footer. LogicalTypes.md makes INT_16 ≡ INT(16, true).
      return { ...base, type: 'INT32', converted_type: 'INT_16' };
    case 'integer':
      return { ...base, type: 'INT32' };
    case 'long':
      return { ...base, type: 'INT64' };
    case 'float':
      return { ...base, type: 'FLOAT' };
    case 'double':
      return { ...base, type: 'DOUBLE' };
    case 'string':
      return { ...base, type: 'BYTE_ARRAY', converted_type: 'UTF8', logical_type: { type: 'STRING' } };
    case 'date':
      return { ...base, type: 'INT32', converted_type: 'DATE', logical_type: { type: 'DATE' } };
    case 'timestamp':
      return { ...base, type: 'INT64', converted_type: 'TIMESTAMP_MICROS', logical_type: { type: 'TIMESTAMP', isAdjustedToUTC: true, unit: 'MICROS' } };
    default: {
      const d = decimalParams(c.type);
      if (!d || d.precision < 1 || d.precision > 38 || d.scale > d.precision) throw new Error(`column ${c.name}: ${c.type} is not a Delta type`);
      const annotation = { converted_type: 'DECIMAL', precision: d.precision, scale: d.scale, logical_type: { type: 'DECIMAL', precision: d.precision, scale: d.scale } } as const;
      return d.precision <= 18 ? { ...base, type: 'INT64', ...annotation } : { ...base, type: 'FIXED_LEN_BYTE_ARRAY', type_length: decimalBytes(d.precision), ...annotation };
    }
  }
}

type Physical = boolean | number | bigint | string | null;

/** A lake value → the value hyparquet-writer stores for its column (decimals as unscaled bigints). */
function physical(c: LakeColumn, v: LakeValue | undefined): Physical {
  if (v === null || v === undefined) {
    if (!c.nullable) throw new TypeError(`column ${c.name} is not nullable, the row has no value for it`);
    return null;
  }
  const bad = (expected: string): TypeError => new TypeError(`column ${c.name} (${c.type}): expected ${expected}, got ${typeof v} ${String(v)}`);
  switch (c.type) {
    case 'boolean':
      if (typeof v !== 'boolean') throw bad('a boolean');
      return v;
    case 'short':
    case 'integer': {
      const limit = c.type === 'short' ? 32768 : 2147483648;
      if (typeof v !== 'number' || !Number.isInteger(v) || v < -limit || v >= limit) throw bad(`an integer number in [${-limit}, ${limit})`);
      return v;
    }
    case 'long':
      if (typeof v !== 'bigint') throw bad('a bigint');
      return v;
    case 'float':
    case 'double':
      if (typeof v !== 'number') throw bad('a number');
      return v;
    case 'string':
      if (typeof v !== 'string') throw bad('a string');
      return v;
    case 'date':
      if (typeof v !== 'string') throw bad('a YYYY-MM-DD string');
      return parseDateDays(v);
    case 'timestamp':
      if (typeof v !== 'string') throw bad('a YYYY-MM-DDTHH:MM:SS.ffffffZ string');
      return parseTimestampMicros(v);
    default: {
      const d = decimalParams(c.type);
      if (typeof v !== 'string' || !d) throw bad('a decimal string');
      return parseDecimalUnscaled(v, d.precision, d.scale);
    }
  }
}

/**
 * One Parquet file holding `rows` under the schema `columns` (types as in
 * this module's table; the file's columns in `columns` order). Each row maps
 * column names to lake values of the column's type; a missing name is null.
 * Zero rows give a valid file with the schema and no row group.
 * @param kv the footer's key-value metadata (FileMetaData.key_value_metadata), in key order given.
 * @returns the whole file.
 * @throws {TypeError} when a value is not of its column's LakeValue shape, or null in a non-nullable column.
 * @throws {RangeError} when a date, timestamp or decimal string does not parse or fit (./values.ts).
 */
export function writeParquet(columns: LakeColumn[], rows: LakeRow[], kv: Record<string, string> = {}): Buffer {
  const schema: WriterSchemaElement[] = [{ name: 'schema', num_children: columns.length }, ...columns.map(schemaElement)];
  const columnData = columns.map((c) => ({ name: c.name, data: rows.map((r) => physical(c, r[c.name])), nullable: c.nullable }));
  const file = parquetWriteBuffer({
    schema,
    columnData,
    codec: 'SNAPPY',
    rowGroupSize: ROW_GROUP_ROWS,
    createdBy: CREATED_BY,
    kvMetadata: Object.entries(kv).map(([key, value]) => ({ key, value })),
  });
  return Buffer.from(file);
}

/** The file's bytes as the ArrayBuffer hyparquet reads (a copy only when the Buffer is a view into a larger one). */
function arrayBufferOf(buf: Buffer): ArrayBuffer {
  if (buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength && buf.buffer instanceof ArrayBuffer) return buf.buffer;
  return new Uint8Array(buf).buffer;
}

function kvOf(metadata: FileMetaData): Record<string, string> {
  return Object.fromEntries((metadata.key_value_metadata ?? []).map((e) => [e.key, e.value ?? '']));
}

/**
 * The footer's key-value metadata of a Parquet file (a key without value → `""`).
 * @throws {Error} when the buffer is not a Parquet file.
 */
export function readParquetKv(buf: Buffer): Record<string, string> {
  return kvOf(parquetMetadata(arrayBufferOf(buf)));
}

/** The lake type of a flat Parquet column, from its physical type and annotation (the inverse of schemaElement). */
function lakeTypeOfElement(e: SchemaElement): LakeType {
  const logical = e.logical_type;
  if (e.converted_type === 'DECIMAL' || logical?.type === 'DECIMAL') {
    if ((e.type === 'INT32' || e.type === 'INT64' || e.type === 'FIXED_LEN_BYTE_ARRAY' || e.type === 'BYTE_ARRAY') && e.precision !== undefined) return `decimal(${e.precision},${e.scale ?? 0})`;
  } else if (e.type === 'BOOLEAN' || e.type === 'FLOAT' || e.type === 'DOUBLE') {
    return e.type === 'BOOLEAN' ? 'boolean' : e.type === 'FLOAT' ? 'float' : 'double';
  } else if (e.type === 'INT32') {
    if (e.converted_type === 'DATE' || logical?.type === 'DATE') return 'date';
    if (e.converted_type === 'INT_16' || (logical?.type === 'INTEGER' && logical.bitWidth === 16 && logical.isSigned)) return 'short';
    if (!e.converted_type || e.converted_type === 'INT_32') return 'integer';
  } else if (e.type === 'INT64') {
    if (e.converted_type === 'TIMESTAMP_MICROS' || (logical?.type === 'TIMESTAMP' && logical.unit === 'MICROS' && logical.isAdjustedToUTC)) return 'timestamp';
    if (!e.converted_type || e.converted_type === 'INT_64') return 'long';
  } else if (e.type === 'BYTE_ARRAY' && (e.converted_type === 'UTF8' || logical?.type === 'STRING')) {
    return 'string';
  }
  throw new Error(`parquet column ${e.name}: ${e.type}${e.converted_type ? ` ${e.converted_type}` : ''} is not a lake column type`);
}

/** A big-endian two's-complement byte string → bigint (Parquet's FIXED_LEN_BYTE_ARRAY / BYTE_ARRAY decimal). */
function signedBigEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return bytes.length > 0 && (bytes[0]! & 0x80) !== 0 ? n - (1n << BigInt(bytes.length * 8)) : n;
}

/** A physical value as hyparquet reads it without annotations → the lake value of `type`. */
function lakeValueOf(type: LakeType, raw: unknown): LakeValue {
  if (raw === null || raw === undefined) return null;
  switch (type) {
    case 'boolean':
    case 'short':
    case 'integer':
    case 'double':
    case 'string':
      return raw as LakeValue;
    case 'float':
      return shortestFloat32(raw as number);
    case 'long':
      return BigInt(raw as bigint);
    case 'date':
      return formatDateDays(raw as number);
    case 'timestamp':
      return formatTimestampMicros(BigInt(raw as bigint));
    default: {
      const unscaled = raw instanceof Uint8Array ? signedBigEndian(raw) : BigInt(raw as number | bigint);
      return formatDecimalUnscaled(unscaled, decimalParams(type)!.scale);
    }
  }
}

/**
 * Reads a Parquet file of flat lake columns (as writeParquet writes them)
 * back to lake values of the same shapes: long as bigint, date and timestamp
 * as their canonical strings (exact µs), decimals as exact strings with the
 * column's scale, float as the shortest decimal of its float32.
 *
 * hyparquet's own conversions are bypassed (it reads decimals as JS numbers
 * and timestamps as `Date`s, both lossy): the columns are read with their
 * annotations stripped, as physical values, and converted here.
 * @returns `rows` in file order, `kv` the footer's key-value metadata,
 *   `numRows` the footer's row count, `columns` the lake columns of the file's schema.
 * @throws {Error} when the buffer is not Parquet, or a column is nested or of a type no lake column has.
 */
export async function readParquet(buf: Buffer): Promise<{ rows: LakeRow[]; kv: Record<string, string>; numRows: number; columns: LakeColumn[] }> {
  const file = arrayBufferOf(buf);
  const metadata = parquetMetadata(file);
  const [root, ...elements] = metadata.schema;
  if (elements.length !== (root?.num_children ?? 0) || elements.some((e) => e.num_children !== undefined && e.num_children > 0)) {
    throw new Error('parquet file has nested columns: not a lake file');
  }
  const columns = elements.map((e) => ({ name: e.name, type: lakeTypeOfElement(e), nullable: e.repetition_type !== 'REQUIRED' }));
  const bare: FileMetaData = { ...metadata, schema: [root!, ...elements.map((e) => ({ ...e, converted_type: undefined, logical_type: undefined }))] };
  const raw = metadata.row_groups.length === 0 ? [] : await parquetReadObjects({ file, metadata: bare, utf8: true });
  const rows = raw.map((r) => Object.fromEntries(columns.map((c) => [c.name, lakeValueOf(c.type, r[c.name])])));
  return { rows, kv: kvOf(metadata), numRows: Number(metadata.num_rows), columns };
}
