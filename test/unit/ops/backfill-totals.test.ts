/**
 * The row totals of `cdc-views backfill` (src/ops/backfill-signal.ts
 * tableTotals) on the machine's real PostgreSQL, in a schema of the test's
 * own: the catalog estimate once a table is analyzed, an exact count before
 * that and with `--where`, and the refusals of a missing table or a bad
 * condition.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { loadEnv, pgConnectionString } from '../../../src/config.ts';
import { ConfigError } from '../../../src/errors.ts';
import { tableTotals } from '../../../src/ops/backfill-signal.ts';

const schema = `bf_${randomUUID().replaceAll('-', '').slice(0, 8)}`;
const db = new pg.Client({ connectionString: pgConnectionString(loadEnv(), 'postgres') });

before(async () => {
  await db.connect();
  await db.query(`CREATE SCHEMA ${schema}`);
  await db.query(`CREATE TABLE ${schema}.analyzed (id int PRIMARY KEY, tenant int NOT NULL)`);
  await db.query(`INSERT INTO ${schema}.analyzed SELECT i, i % 10 FROM generate_series(1, 2000) i`);
  await db.query(`ANALYZE ${schema}.analyzed`);
  await db.query(`INSERT INTO ${schema}.analyzed SELECT i, 3 FROM generate_series(2001, 2100) i`); // after ANALYZE: not in the estimate
  await db.query(`CREATE TABLE ${schema}."Never Analyzed" (id int PRIMARY KEY)`);
  await db.query(`INSERT INTO ${schema}."Never Analyzed" SELECT generate_series(1, 7)`);
});

after(async () => {
  await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await db.end();
});

test('the catalog estimate once analyzed, an exact count before; with --where an exact count', async () => {
  const [analyzed, never] = await tableTotals(db, [`${schema}.analyzed`, `${schema}.Never Analyzed`]);
  assert.deepEqual(analyzed, { table: `${schema}.analyzed`, rows: 2000, kind: 'estimate' }, 'reltuples as of the last ANALYZE');
  assert.equal(never!.kind, 'count');
  assert.equal(never!.rows, 7);
  assert.deepEqual(await tableTotals(db, [`${schema}.analyzed`], 'tenant = 3'), [{ table: `${schema}.analyzed`, rows: 300, kind: 'count' }]);
});

test('a missing table or a failing condition is a ConfigError naming the option', async () => {
  await assert.rejects(tableTotals(db, [`${schema}.missing`]), (err: unknown) => err instanceof ConfigError && /--table: no table/.test(err.message));
  await assert.rejects(tableTotals(db, [`${schema}.analyzed`], 'no_such_column = 1'), (err: unknown) => err instanceof ConfigError && /--where: the condition fails on/.test(err.message));
});
