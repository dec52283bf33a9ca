/**
 * Lake columns and Parquet files (src/lake/columns.ts, src/lake/parquet.ts)
 * against a real PostgreSQL catalog and an independent Parquet reader:
 * a table with every mapped type gives the expected lake columns; rows with
 * edge values go through toLakeValue → writeParquet → readParquet unchanged;
 * DuckDB reads the same file to the same values and the expected SQL types;
 * zero-row files, footer key-value metadata, the Delta schema string and the
 * errors for values that do not fit. Every expected value is written by hand.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { assertDeltaColumnNames, lakeColumnsFromCatalog, LakeValueError, toLakeValue } from '../../../src/lake/columns.ts';
import { readParquet, readParquetKv, writeParquet } from '../../../src/lake/parquet.ts';
import type { LakeColumn, LakeRow, LakeType } from '../../../src/lake/types.ts';
import { ConfigError } from '../../../src/errors.ts';

const SCHEMA = `lake_parquet_test_${process.pid}`;
const TABLE = `${SCHEMA}.every_type`;

const DDL = `
  CREATE SCHEMA ${SCHEMA};
  CREATE TYPE ${SCHEMA}.mood AS ENUM ('sad', 'happy');
  CREATE DOMAIN ${SCHEMA}.price AS numeric(8,3) NOT NULL;
  CREATE TABLE ${TABLE} (
    id smallint NOT NULL, i integer, b bigint NOT NULL, r real, d double precision, flag boolean,
    n numeric(38,10), n2 numeric(10,2) NOT NULL, nn numeric, big numeric(50,2), neg numeric(5,-2),
    dt date, ts timestamptz, tsn timestamp, t time, txt text, vc varchar(10), ch char(3), u uuid,
    j json, jb jsonb, iv interval, arr integer[], dom ${SCHEMA}.price, mood ${SCHEMA}.mood
  );
  ALTER TABLE ${TABLE} DROP COLUMN flag; ALTER TABLE ${TABLE} ADD COLUMN flag boolean;`;

const c = (name: string, type: LakeType, nullable = true): LakeColumn => ({ name, type, nullable });
const COLUMNS: LakeColumn[] = [
  c('id', 'short', false), c('i', 'integer'), c('b', 'long', false), c('r', 'float'), c('d', 'double'),
  c('n', 'decimal(38,10)'), c('n2', 'decimal(10,2)', false), c('nn', 'string'), c('big', 'string'), c('neg', 'string'),
  c('dt', 'date'), c('ts', 'timestamp'), c('tsn', 'string'), c('t', 'string'), c('txt', 'string'), c('vc', 'string'), c('ch', 'string'), c('u', 'string'),
  c('j', 'string'), c('jb', 'string'), c('iv', 'string'), c('arr', 'string'), c('dom', 'decimal(8,3)', false), c('mood', 'string'), c('flag', 'boolean'),
];

/** Canonical values as they stand in ChangeEvent.after (src/cdc/types.ts), and the lake rows they must give. */
const CANONICAL: Record<string, unknown>[] = [
  {
    id: 32767, i: -2147483648, b: '9007199254740993', r: 3.14, d: 2.718281828459045, n: '-1234567890123456789012345678.0123456789', n2: '-0.05',
    nn: '123.456000', big: '123456789012345678901234567890123456789012345678.90', neg: '12300', dt: '1969-12-31', ts: '1969-12-31T23:59:59.999999Z',
    tsn: '2024-02-29T12:34:56.123456Z', t: '23:59:59.999999', txt: 'héllo wörld 🚀 日本', vc: '', ch: 'ab ', u: '123e4567-e89b-12d3-a456-426614174000',
    j: { a: [1, 2, { b: null }] }, jb: [1, 'x'], iv: 3600000000, arr: [1, null, 3], dom: '12345.678', mood: 'happy', flag: true,
  },
  { id: -32768, b: '-9223372036854775808', n2: '99999999.99', dt: '0001-01-01', ts: '0001-01-01T00:00:00.000000Z', dom: '-0.001', flag: false, i: null, r: null, d: null },
  { id: 0, b: 42, n: '9999999999999999999999999999.9999999999', n2: '0', dt: '9999-12-31', ts: '9999-12-31T23:59:59.999999Z', r: -0.5, d: -1e-7, dom: '0.5', txt: '' },
  { id: 1, b: '9223372036854775807', n2: '1.5', ts: '2024-02-29T12:34:56.123456Z', dom: '7' },
];

const nulls = Object.fromEntries(COLUMNS.map((col) => [col.name, null]));
const EXPECTED: LakeRow[] = [
  {
    id: 32767, i: -2147483648, b: 9007199254740993n, r: 3.14, d: 2.718281828459045, n: '-1234567890123456789012345678.0123456789', n2: '-0.05',
    nn: '123.456000', big: '123456789012345678901234567890123456789012345678.90', neg: '12300', dt: '1969-12-31', ts: '1969-12-31T23:59:59.999999Z',
    tsn: '2024-02-29T12:34:56.123456Z', t: '23:59:59.999999', txt: 'héllo wörld 🚀 日本', vc: '', ch: 'ab ', u: '123e4567-e89b-12d3-a456-426614174000',
    j: '{"a":[1,2,{"b":null}]}', jb: '[1,"x"]', iv: '3600000000', arr: '[1,null,3]', dom: '12345.678', mood: 'happy', flag: true,
  },
  { ...nulls, id: -32768, b: -9223372036854775808n, n2: '99999999.99', dt: '0001-01-01', ts: '0001-01-01T00:00:00.000000Z', dom: '-0.001', flag: false },
  { ...nulls, id: 0, b: 42n, n: '9999999999999999999999999999.9999999999', n2: '0.00', dt: '9999-12-31', ts: '9999-12-31T23:59:59.999999Z', r: -0.5, d: -1e-7, dom: '0.500', txt: '' },
  { ...nulls, id: 1, b: 9223372036854775807n, n2: '1.50', ts: '2024-02-29T12:34:56.123456Z', dom: '7.000' },
];

/** What DuckDB prints for EXPECTED (every column cast to VARCHAR; timestamps as epoch_us). */
const DUCKDB_TEXT: Record<string, string | null>[] = [
  {
    ...EXPECTED[0], id: '32767', i: '-2147483648', b: '9007199254740993', r: '3.14', d: '2.718281828459045', ts: '-1', flag: 'true',
  },
  { ...nulls, id: '-32768', b: '-9223372036854775808', n2: '99999999.99', dt: '0001-01-01', ts: '-62135596800000000', dom: '-0.001', flag: 'false' },
  { ...nulls, id: '0', b: '42', n: '9999999999999999999999999999.9999999999', n2: '0.00', dt: '9999-12-31', ts: '253402300799999999', r: '-0.5', d: '-1e-07', dom: '0.500', txt: '' },
  { ...nulls, id: '1', b: '9223372036854775807', n2: '1.50', ts: '1709210096123456', dom: '7.000' },
];

const DUCKDB_TYPES = [
  'SMALLINT', 'INTEGER', 'BIGINT', 'FLOAT', 'DOUBLE', 'DECIMAL(38,10)', 'DECIMAL(10,2)', 'VARCHAR', 'VARCHAR', 'VARCHAR', 'DATE', 'TIMESTAMP WITH TIME ZONE',
  'VARCHAR', 'VARCHAR', 'VARCHAR', 'VARCHAR', 'VARCHAR', 'VARCHAR', 'VARCHAR', 'VARCHAR', 'VARCHAR', 'VARCHAR', 'DECIMAL(8,3)', 'VARCHAR', 'BOOLEAN',
];

let db: pg.Client;
let duck: DuckDBConnection;
let dir: string;

before(async () => {
  db = new pg.Client({ host: process.env.PGHOST ?? '127.0.0.1', port: Number(process.env.PGPORT ?? 5432), user: 'postgres', database: 'postgres' });
  await db.connect();
  await db.query(DDL);
  duck = await (await DuckDBInstance.create(':memory:')).connect();
  dir = mkdtempSync(join(tmpdir(), 'lake-parquet-'));
});

after(async () => {
  await db.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await db.end();
  duck.closeSync();
  rmSync(dir, { recursive: true, force: true });
});

/** Writes the buffer to a file DuckDB can read and returns its SQL literal. */
function fileFor(name: string, buf: Buffer): string {
  const file = join(dir, name);
  writeFileSync(file, buf);
  return `'${file}'`;
}

void test('lakeColumnsFromCatalog: every mapped type, in column order, dropped columns left out', async () => {
  assert.deepEqual(await lakeColumnsFromCatalog(db, TABLE), COLUMNS);
});

void test('lakeColumnsFromCatalog: a table that is not there is a ConfigError naming it', async () => {
  await assert.rejects(lakeColumnsFromCatalog(db, `${SCHEMA}.nope`), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.match(err.message, new RegExp(`^table ${SCHEMA}\\.nope: the database has no such table`));
    return true;
  });
});

void test('edge values round-trip through writeParquet/readParquet, and DuckDB reads the same values and types', async () => {
  const rows = CANONICAL.map((r) => Object.fromEntries(COLUMNS.map((col) => [col.name, toLakeValue(r[col.name], col.type)])));
  assert.deepEqual(rows, EXPECTED);
  const buf = writeParquet(COLUMNS, rows);
  const back = await readParquet(buf);
  assert.equal(back.numRows, 4);
  assert.deepEqual(back.rows, EXPECTED);
  assert.deepEqual(back.columns, COLUMNS);

  const file = fileFor('edge.parquet', buf);
  const select = COLUMNS.map((col) => (col.type === 'timestamp' ? `epoch_us("${col.name}")::VARCHAR AS "${col.name}"` : `"${col.name}"::VARCHAR AS "${col.name}"`));
  const read = await duck.runAndReadAll(`SELECT ${select.join(', ')} FROM read_parquet(${file})`);
  assert.deepEqual(read.getRowObjects(), DUCKDB_TEXT);
  const described = await duck.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${file})`);
  assert.deepEqual(described.getRows().map((r) => r[1]), DUCKDB_TYPES);
});

void test('REQUIRED and OPTIONAL columns as declared', async () => {
  const file = fileFor('schema.parquet', writeParquet(COLUMNS, EXPECTED));
  const schema = await duck.runAndReadAll(`SELECT name, repetition_type FROM parquet_schema(${file}) WHERE name IN ('id', 'n2', 'i', 'ts')`);
  assert.deepEqual(schema.getRows(), [['id', 'REQUIRED'], ['i', 'OPTIONAL'], ['n2', 'REQUIRED'], ['ts', 'OPTIONAL']]);
});

void test('a zero-row file is valid and carries the schema', async () => {
  const buf = writeParquet(COLUMNS, [], { 'cdc-views.empty': 'yes' });
  assert.deepEqual(await readParquet(buf), { rows: [], kv: { 'cdc-views.empty': 'yes' }, numRows: 0, columns: COLUMNS });
  const file = fileFor('empty.parquet', buf);
  assert.deepEqual((await duck.runAndReadAll(`SELECT count(*)::INTEGER FROM read_parquet(${file})`)).getRows(), [[0]]);
  const described = await duck.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet(${file})`);
  assert.deepEqual(described.getRows().map((r) => r[1]), DUCKDB_TYPES);
});

void test('footer key-value metadata round-trips (readParquet, readParquetKv, DuckDB)', async () => {
  const kv = { 'cdc-views.slice': '{"topic":"demo.public.t","from":"0"}', 'ünïcødé': '日本', empty: '' };
  const buf = writeParquet([c('x', 'integer')], [{ x: 1 }], kv);
  assert.deepEqual(readParquetKv(buf), kv);
  assert.deepEqual((await readParquet(buf)).kv, kv);
  const read = await duck.runAndReadAll(`SELECT decode(key), decode(value) FROM parquet_kv_metadata(${fileFor('kv.parquet', buf)}) ORDER BY key`);
  assert.deepEqual(read.getRows(), [['cdc-views.slice', '{"topic":"demo.public.t","from":"0"}'], ['empty', ''], ['ünïcødé', '日本']]);
});

void test('toLakeValue normalizes canonical forms', () => {
  assert.equal(toLakeValue('12.5', 'decimal(10,2)'), '12.50');
  assert.equal(toLakeValue('12.5000', 'decimal(10,2)'), '12.50');
  assert.equal(toLakeValue(-3, 'decimal(4,1)'), '-3.0');
  assert.equal(toLakeValue('2024-01-01T00:00:00Z', 'timestamp'), '2024-01-01T00:00:00.000000Z');
  assert.equal(toLakeValue('2024-01-01T00:00:00.5Z', 'timestamp'), '2024-01-01T00:00:00.500000Z');
  assert.equal(toLakeValue(12, 'long'), 12n);
  assert.equal(toLakeValue('NaN', 'double'), NaN);
  assert.equal(toLakeValue(undefined, 'integer'), null);
  assert.equal(toLakeValue(true, 'string'), 'true');
});

void test('toLakeValue: a value that does not fit is a LakeValueError', () => {
  const cases: [unknown, LakeType, RegExp][] = [
    ['abc', 'integer', /^cannot store "abc" in a integer column: not an integer$/],
    [1.5, 'integer', /not an integer exactly representable/],
    [40000, 'short', /out of range -32768\.\.32767/],
    [2 ** 53, 'long', /not an integer exactly representable/],
    ['9223372036854775808', 'long', /out of the int64 range/],
    ['12.345', 'decimal(10,2)', /has more than 2 fraction digits/],
    ['123456789.00', 'decimal(10,2)', /has more than 8 integer digits/],
    ['NaN', 'decimal(10,2)', /is not a decimal number/],
    ['1e5', 'decimal(10,2)', /is not a decimal number/],
    ['2024-02-30', 'date', /is not a date YYYY-MM-DD/],
    ['2023-02-29', 'date', /is not a date/],
    ['2024-01-01 00:00:00', 'timestamp', /is not a UTC timestamp/],
    ['2024-01-01T24:00:00.000000Z', 'timestamp', /is not a UTC timestamp/],
    ['2024-01-01T00:00:00.0000001Z', 'timestamp', /is not a UTC timestamp/],
    ['infinity', 'timestamp', /is not a UTC timestamp/],
    [1e39, 'float', /beyond the float32 range/],
    ['1.5', 'double', /not a number/],
    ['true', 'boolean', /not a boolean/],
    [Symbol('s'), 'string', /has no text form/],
  ];
  for (const [value, type, message] of cases) {
    assert.throws(() => toLakeValue(value, type), (err: unknown) => {
      assert.ok(err instanceof LakeValueError, `${String(value)} as ${type}`);
      assert.equal(err.code, 'LAKE_BAD_VALUE');
      assert.match(err.message, message);
      return true;
    });
  }
});

void test('writeParquet refuses a null in a non-nullable column and a value of the wrong shape', () => {
  assert.throws(() => writeParquet([c('id', 'long', false)], [{ id: null }]), /column id is not nullable/);
  assert.throws(() => writeParquet([c('id', 'long')], [{ id: 1 }]), /column id \(long\): expected a bigint, got number 1/);
  assert.throws(() => writeParquet([c('n', 'decimal(4,2)')], [{ n: '123.4' }]), /more than 2 integer digits/);
});

void test('assertDeltaColumnNames refuses names Delta needs column mapping for, and names equal ignoring case', () => {
  assert.doesNotThrow(() => assertDeltaColumnNames([c('id', 'long', false), c('price', 'decimal(10,2)'), c('at', 'timestamp')]));
  assert.throws(() => assertDeltaColumnNames([c('a b', 'long')]), ConfigError);
  assert.throws(() => assertDeltaColumnNames([c('x=1', 'long')]), ConfigError);
  assert.throws(() => assertDeltaColumnNames([c('Id', 'long'), c('id', 'long')]), /clashes with "Id"/);
});
