/**
 * The catalog reader (src/codegen/catalog.ts) on catalog rows written by hand:
 * domains resolve to their base type (a NOT NULL domain makes the column
 * non-null), arrays to their element, tables come sorted, and a table or
 * schema that is not there is an error naming it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readCatalog, type Queryable } from '../../../src/codegen/catalog.ts';
import { CdcViewsError } from '../../../src/errors.ts';

const TYPES = [
  { oid: 23, name: 'int4', kind: 'b', base: 0, typmod: -1, elem: 0, category: 'N', not_null: false },
  { oid: 1007, name: '_int4', kind: 'b', base: 0, typmod: -1, elem: 23, category: 'A', not_null: false },
  { oid: 1700, name: 'numeric', kind: 'b', base: 0, typmod: -1, elem: 0, category: 'N', not_null: false },
  { oid: 90001, name: 'price', kind: 'd', base: 1700, typmod: ((8 << 16) | 3) + 4, elem: 0, category: 'N', not_null: true },
  { oid: 90002, name: 'prices', kind: 'd', base: 90003, typmod: -1, elem: 0, category: 'A', not_null: false },
  { oid: 90003, name: '_price', kind: 'b', base: 0, typmod: -1, elem: 90001, category: 'A', not_null: false },
];

const col = (schema: string, table: string, column: string, type_oid: number, not_null = false, declared = 'x') => ({ schema, table, column, type_oid, typmod: -1, not_null, declared });

/** A Queryable answering the two catalog queries with fixed rows (filtering columns as the SQL does). */
function fakeDb(columns: ReturnType<typeof col>[]): Queryable & { params: unknown[][] } {
  const params: unknown[][] = [];
  return {
    params,
    query: <R extends object>(sql: string, p: unknown[] = []) => {
      params.push(p);
      if (sql.includes('FROM pg_type')) return Promise.resolve({ rows: TYPES as unknown as R[] });
      const [schemas, tables] = p as [string[], string[]];
      return Promise.resolve({ rows: columns.filter((c) => schemas.includes(c.schema) || tables.includes(`${c.schema}.${c.table}`)) as unknown as R[] });
    },
  };
}

const COLUMNS = [
  col('shop', 'b', 'id', 23, true),
  col('shop', 'b', 'total', 90001),
  col('shop', 'b', 'history', 90002),
  col('shop', 'b', 'ints', 1007),
  col('shop', 'b', 'mystery', 424242),
  col('public', 'a', 'id', 23, true),
  col('other', 'z', 'id', 23),
];

void test('domains, arrays of domains, unknown oids; tables sorted, columns in catalog order', async () => {
  const db = fakeDb(COLUMNS);
  const tables = await readCatalog(db, { schemas: ['shop'], tables: ['public.a'] });
  assert.deepEqual(db.params[0], [['shop'], ['public.a']]);
  assert.deepEqual(tables.map((t) => `${t.schema}.${t.table}`), ['public.a', 'shop.b']);
  assert.deepEqual(
    tables[1]!.columns.map((c) => [c.name, c.ts, c.optional ?? false]),
    [
      ['id', 'number', false],
      ['total', 'string', false], // NOT NULL domain over numeric(8,3)
      ['history', '(string | null)[] | null', false],
      ['ints', '(number | null)[] | null', false],
      ['mystery', 'unknown', true],
    ],
  );
  assert.match(tables[1]!.columns[1]!.doc, /^PostgreSQL `x`, NOT NULL: exact decimal string/);
  assert.equal(tables[1]!.origin, 'PostgreSQL table `shop.b`');
});

void test('a missing table or a schema without tables is an error naming each', async () => {
  await assert.rejects(readCatalog(fakeDb(COLUMNS), { schemas: ['nothing'], tables: ['public.a', 'public.nope'] }), (err: unknown) => {
    assert.ok(err instanceof CdcViewsError);
    assert.equal(err.code, 'CODEGEN_NOT_FOUND');
    assert.match(err.message, /^the database has no table public\.nope, no tables in schema nothing; check --table/);
    return true;
  });
});
