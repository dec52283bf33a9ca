/**
 * The lake sink's independent readers (test/support/lake-readers.ts) on a
 * Delta table NOT written by cdc-views: Parquet files written by DuckDB and a
 * `_delta_log` written by hand here, per the Delta protocol (PROTOCOL.md):
 *
 *   v0: protocol (reader 1, writer 2), metaData (partitioned by `day`),
 *       add day=2026-11-30/a.parquet, add day=2026-12-01/b.parquet
 *   v1: remove a.parquet, add day=__HIVE_DEFAULT_PARTITION__/c.parquet
 *       (partition value null)
 *
 * Delta Kernel (lake-check) must give exactly the hand-written rows at v1 and
 * v0, and DuckDB reading the active files must give the same values.
 * Needs a JDK 17+ and Maven (the first run builds lake-check, ~20 s).
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { LakeCheckError, readDeltaWithKernel, readParquetFilesWithDuckDb } from '../../support/lake-readers.ts';

type Row = Record<string, unknown>;

// The data columns, in table order; `day` (date) is the partition column.
const DATA_COLUMNS = ['id', 'qty', 'price', 'born', 'ts', 'name', 'flag'];
const SCHEMA = {
  type: 'struct',
  fields: [
    { name: 'id', type: 'long', nullable: false, metadata: {} },
    { name: 'qty', type: 'integer', nullable: true, metadata: {} },
    { name: 'price', type: 'decimal(12,2)', nullable: true, metadata: {} },
    { name: 'born', type: 'date', nullable: true, metadata: {} },
    { name: 'ts', type: 'timestamp', nullable: true, metadata: {} },
    { name: 'name', type: 'string', nullable: true, metadata: {} },
    { name: 'flag', type: 'boolean', nullable: true, metadata: {} },
    { name: 'day', type: 'date', nullable: true, metadata: {} },
  ],
};

// Each file's rows as SQL for DuckDB's COPY, and as the readers must give them back.
const SELECT_COLUMNS = `id::BIGINT AS id, qty::INTEGER AS qty, price::DECIMAL(12,2) AS price, born::DATE AS born,
  ts::TIMESTAMPTZ AS ts, name::VARCHAR AS name, flag::BOOLEAN AS flag`;
const FILES = {
  a: {
    dir: 'day=2026-11-30',
    partition: '2026-11-30',
    sql: `SELECT ${SELECT_COLUMNS} FROM (VALUES
      (1, 10, '12.50', '1990-05-17', '2026-11-30 08:00:00.123456+00', 'alpha', true),
      (2, -3, '-0.05', '1969-12-31', '2026-11-30 23:59:59.999999+00', 'beta', false)
    ) t(id, qty, price, born, ts, name, flag)`,
  },
  b: {
    dir: 'day=2026-12-01',
    partition: '2026-12-01',
    sql: `SELECT ${SELECT_COLUMNS} FROM (VALUES
      (3, 2147483647, '9999999999.99', '2026-12-01', '2026-12-01 00:00:00+00', 'gamma "quoted" é', true),
      (9007199254740993, NULL, NULL, NULL, NULL, NULL, NULL)
    ) t(id, qty, price, born, ts, name, flag)`,
  },
  c: {
    dir: 'day=__HIVE_DEFAULT_PARTITION__',
    partition: null,
    sql: `SELECT ${SELECT_COLUMNS} FROM (VALUES
      (-9223372036854775808, -2147483648, '0.00', '0001-01-01', '1969-12-31 23:59:59.999999+00', '', false),
      (5, 0, '-9999999999.99', '9999-12-31', '1970-01-01 00:00:00.000001+00', 'line1\nline2', true)
    ) t(id, qty, price, born, ts, name, flag)`,
  },
} as const;
type FileKey = keyof typeof FILES;

// What Delta Kernel must print (rows keyed by table column, `day` included).
const KERNEL_ROWS: Record<FileKey, Row[]> = {
  a: [
    { id: 1, qty: 10, price: '12.50', born: '1990-05-17', ts: '2026-11-30T08:00:00.123456Z', name: 'alpha', flag: true, day: '2026-11-30' },
    { id: 2, qty: -3, price: '-0.05', born: '1969-12-31', ts: '2026-11-30T23:59:59.999999Z', name: 'beta', flag: false, day: '2026-11-30' },
  ],
  b: [
    { id: 3, qty: 2147483647, price: '9999999999.99', born: '2026-12-01', ts: '2026-12-01T00:00:00.000000Z', name: 'gamma "quoted" é', flag: true, day: '2026-12-01' },
    // Beyond 2^53: lake-check writes the long as a string to stay exact.
    { id: '9007199254740993', qty: null, price: null, born: null, ts: null, name: null, flag: null, day: '2026-12-01' },
  ],
  c: [
    { id: '-9223372036854775808', qty: -2147483648, price: '0.00', born: '0001-01-01', ts: '1969-12-31T23:59:59.999999Z', name: '', flag: false, day: null },
    { id: 5, qty: 0, price: '-9999999999.99', born: '9999-12-31', ts: '1970-01-01T00:00:00.000001Z', name: 'line1\nline2', flag: true, day: null },
  ],
};

let root: string;
let table: string;
const paths: Partial<Record<FileKey, string>> = {};

const addAction = async (key: FileKey): Promise<string> => {
  const f = FILES[key];
  const rel = `${f.dir}/${key}.parquet`;
  const st = await stat(join(table, rel));
  return JSON.stringify({
    add: {
      // A URI path (RFC 2396), relative to the table root.
      path: rel,
      partitionValues: { day: f.partition },
      size: st.size,
      modificationTime: Math.trunc(st.mtimeMs),
      dataChange: true,
    },
  });
};

const sortById = (rows: Row[]): Row[] => [...rows].sort((x, y) => (BigInt(String(x.id)) < BigInt(String(y.id)) ? -1 : 1));

// The Kernel's values as DuckDB's text: numbers as decimal text, booleans as true/false.
const scalarText = (v: unknown): string | null => {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new Error(`unexpected value ${JSON.stringify(v)}`);
};
const asText = (rows: Row[]): Record<string, string | null>[] => rows.map((r) => Object.fromEntries(DATA_COLUMNS.map((c) => [c, scalarText(r[c])])));

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'cdcv-lake-readers-'));
  table = join(root, 'orders');
  await mkdir(join(table, '_delta_log'), { recursive: true });
  const duck = await DuckDBInstance.create(':memory:');
  const conn = await duck.connect();
  try {
    await conn.run(`SET TimeZone = 'UTC'`);
    for (const key of Object.keys(FILES) as FileKey[]) {
      const f = FILES[key];
      await mkdir(join(table, f.dir), { recursive: true });
      const file = join(table, f.dir, `${key}.parquet`);
      await conn.run(`COPY (${f.sql}) TO '${file}' (FORMAT parquet)`);
      paths[key] = file;
    }
  } finally {
    conn.closeSync();
    duck.closeSync();
  }
  const v0 = [
    JSON.stringify({ protocol: { minReaderVersion: 1, minWriterVersion: 2 } }),
    JSON.stringify({
      metaData: {
        id: '5d7f3c1e-2b4a-4f6e-9c1d-0a1b2c3d4e5f',
        format: { provider: 'parquet', options: {} },
        schemaString: JSON.stringify(SCHEMA),
        partitionColumns: ['day'],
        configuration: {},
        createdTime: Date.UTC(2026, 10, 30),
      },
    }),
    await addAction('a'),
    await addAction('b'),
  ];
  const v1 = [
    JSON.stringify({ remove: { path: `${FILES.a.dir}/a.parquet`, deletionTimestamp: Date.UTC(2026, 11, 1), dataChange: true } }),
    await addAction('c'),
  ];
  await writeFile(join(table, '_delta_log', '00000000000000000000.json'), v0.join('\n') + '\n');
  await writeFile(join(table, '_delta_log', '00000000000000000001.json'), v1.join('\n') + '\n');
});

after(async () => {
  if (root !== undefined) await rm(root, { recursive: true, force: true });
});

test('Delta Kernel reads the hand-written table at its latest version (1)', async () => {
  const { meta, rows } = await readDeltaWithKernel(table);
  assert.equal(meta.version, 1);
  assert.equal(meta.files, 2);
  assert.equal(meta.rows, 4);
  assert.deepEqual(meta.partitionColumns, ['day']);
  assert.deepEqual(
    meta.schema.map((c) => [c.name, c.type]),
    SCHEMA.fields.map((f) => [f.name, f.type]),
  );
  assert.deepEqual(sortById(rows), sortById([...KERNEL_ROWS.b, ...KERNEL_ROWS.c]));
  for (const row of rows) assert.deepEqual(Object.keys(row), SCHEMA.fields.map((f) => f.name));
});

test('Delta Kernel time-travels to version 0', async () => {
  const { meta, rows } = await readDeltaWithKernel(table, 0);
  assert.equal(meta.version, 0);
  assert.equal(meta.files, 2);
  assert.deepEqual(sortById(rows), sortById([...KERNEL_ROWS.a, ...KERNEL_ROWS.b]));
});

test('DuckDB reads the active files to the same values as the Kernel', async () => {
  const kernel = (await readDeltaWithKernel(table)).rows;
  const duck = await readParquetFilesWithDuckDb([paths.b!, paths.c!]);
  // Partition columns are not in the files; DuckDB gives exactly the data columns.
  assert.deepEqual(Object.keys(duck[0] ?? {}), DATA_COLUMNS);
  assert.deepEqual(sortById(duck), sortById(asText(kernel)));
  assert.deepEqual(duck, asText([...KERNEL_ROWS.b, ...KERNEL_ROWS.c]));
});

test('DuckDB returns the asked columns only, in the asked order', async () => {
  const duck = await readParquetFilesWithDuckDb([paths.a!], ['ts', 'id']);
  assert.deepEqual(duck, [
    { ts: '2026-11-30T08:00:00.123456Z', id: '1' },
    { ts: '2026-11-30T23:59:59.999999Z', id: '2' },
  ]);
  await assert.rejects(readParquetFilesWithDuckDb([paths.a!], ['nope']), /column nope is in none/);
});

// Kernel 4.0.0 quirks a writer must respect (probed by hand): a timestamp partition
// value in ISO-8601 form ('…T10:00:00.123456Z') is cut to milliseconds, while the
// protocol's other form 'YYYY-MM-DD HH:MM:SS.ffffff' keeps microseconds (read as UTC);
// an empty string as a timestamp partition value is an error (not null), and as a
// string partition value it stays '' (not null): write JSON null for null.
test('Delta Kernel keeps microseconds of a timestamp partition value written as "YYYY-MM-DD HH:MM:SS.ffffff", and reads null', async () => {
  const events = join(root, 'events');
  await mkdir(join(events, '_delta_log'), { recursive: true });
  const schema = {
    type: 'struct',
    fields: [
      { name: 'id', type: 'long', nullable: false, metadata: {} },
      { name: 'at', type: 'timestamp', nullable: true, metadata: {} },
    ],
  };
  const log = [
    JSON.stringify({ protocol: { minReaderVersion: 1, minWriterVersion: 2 } }),
    JSON.stringify({ metaData: { id: 'e3b0c442-98fc-4c14-9afb-f4c8996fb924', format: { provider: 'parquet', options: {} }, schemaString: JSON.stringify(schema), partitionColumns: ['at'], configuration: {} } }),
  ];
  for (const [n, at] of [['1', '2026-12-01 10:00:00.123456'], ['2', null]] as const) {
    const rel = `at=${n}/part.parquet`;
    await mkdir(join(events, `at=${n}`));
    await copyFile(paths.a!, join(events, rel));
    const st = await stat(join(events, rel));
    log.push(JSON.stringify({ add: { path: rel, partitionValues: { at }, size: st.size, modificationTime: Math.trunc(st.mtimeMs), dataChange: true } }));
  }
  await writeFile(join(events, '_delta_log', '00000000000000000000.json'), log.join('\n') + '\n');
  const { rows } = await readDeltaWithKernel(events);
  assert.deepEqual(
    rows.map((r) => `${scalarText(r.id)} ${scalarText(r.at)}`).sort(),
    ['1 2026-12-01T10:00:00.123456Z', '1 null', '2 2026-12-01T10:00:00.123456Z', '2 null'],
  );
});

test('lake-check says "not a Delta table" (exit 2) for a folder without _delta_log', async () => {
  await assert.rejects(readDeltaWithKernel(root), (e: unknown) => e instanceof LakeCheckError && e.exitCode === 2 && /not a Delta table/.test(e.message));
});
