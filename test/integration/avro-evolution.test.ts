/**
 * Schema evolution while running, on real Debezium Avro output: during a
 * workload, ADD COLUMN with a default and without one, int → bigint,
 * varchar(n) → text and DROP COLUMN. Debezium writes each new shape with a new
 * schema id; the decoder fetches it once and the state keeps flowing with
 * nothing in the DLQ.
 *
 * The rule for rows the workload did not change after a DDL (PostgreSQL's
 * logical decoding carries no DDL and ADD/DROP COLUMN rewrite no row, so
 * Debezium emits nothing for them): **a row's state has the columns of the
 * table at the row's last change.** Until it changes again, a row keeps a
 * dropped column and lacks an added one. The test checks exactly that
 * (every other value equal to SELECT *), then touches the rows of the evolved
 * tables and requires full convergence to SELECT *.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import pg from 'pg';
import { autoDecoder } from '../../src/cdc/avro.ts';
import { awaitWatermark } from '../support/sample-pipeline.ts';
import { runWorkload } from '../support/sample/workload.ts';
import { readStateTable } from '../support/verify/compare.ts';
import { readSourceTable } from '../support/verify/source.ts';
import { cfg, describeMismatches, newRedis, pipeline, processor, sleep, uniqueId, verifyAll } from './helpers.ts';

const redis = newRedis();
let p: Awaited<ReturnType<typeof pipeline>>;

before(async () => {
  p = await pipeline('avevo', { format: 'avro' });
});
after(async () => {
  await p?.drop();
  redis.disconnect();
});

/** DDL (and a few DML statements that give the new columns values), at seconds since the workload started. */
const SCHEDULE: [atSeconds: number, sql: string][] = [
  [2, 'ALTER TABLE customers ADD COLUMN loyalty_points integer NOT NULL DEFAULT 0'],
  [4, 'ALTER TABLE products ADD COLUMN legacy_code varchar(12)'],
  [5, "UPDATE products SET legacy_code = left(sku, 12) WHERE sku IN (SELECT sku FROM products ORDER BY sku LIMIT 20)"],
  [7, 'ALTER TABLE order_lines ALTER COLUMN quantity TYPE bigint'],
  [8, 'UPDATE order_lines SET quantity = quantity + 3000000000 WHERE line_no = 1'],
  [9, 'ALTER TABLE products ALTER COLUMN legacy_code TYPE text'],
  [10, "UPDATE products SET legacy_code = legacy_code || '-a-longer-text-value' WHERE legacy_code IS NOT NULL"],
  [11, 'UPDATE customers SET loyalty_points = id % 50 WHERE id % 3 = 0'],
  [13, 'ALTER TABLE products DROP COLUMN legacy_code'],
];
const ADDED = new Set(['loyalty_points']);
const DROPPED = new Set(['legacy_code']);

test('ADD/DROP COLUMN and type widening during a workload: state keeps flowing, converges, nothing in the DLQ', async () => {
  const app = uniqueId('avevo');
  const proc = processor({ applicationId: app, topics: p.topics, redis, decoder: autoDecoder({ registryUrl: cfg.CDCV_SCHEMA_REGISTRY_URL }) });
  await proc.start();
  const source = new pg.Client({ connectionString: p.connectionString });
  await source.connect();
  try {
    const started = Date.now();
    const workload = runWorkload({ connectionString: p.connectionString, ratePerSecond: 400, durationSeconds: 18, seed: 5 });
    for (const [at, sql] of SCHEDULE) {
      await sleep(at * 1000 - (Date.now() - started));
      await source.query(sql);
    }
    const stats = await workload;
    assert.equal(stats.unexpectedRowCounts, 0);
    await awaitWatermark(p, proc.store);
    await proc.waitUntilCaughtUp();
    assert.equal(proc.counts.dlq, 0, 'nothing in the DLQ');

    // The rule: equal to SELECT * except added columns missing / dropped columns kept on rows unchanged since the DDL.
    const shapes: Record<string, { lacksAdded: number; keepsDropped: number }> = {};
    for (const table of p.tables) {
      const expected = await readSourceTable(source, table);
      const actual = await readStateTable(proc.store, table);
      assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), `${table}: same keys`);
      const shape = { lacksAdded: 0, keepsDropped: 0 };
      for (const [key, want] of expected) {
        const have = { ...actual.get(key)! };
        const lacks = Object.keys(want).filter((c) => !(c in have));
        const keeps = Object.keys(have).filter((c) => !(c in want));
        assert.ok(lacks.every((c) => ADDED.has(c)), `${table} ${key} lacks ${lacks.join(', ')}`);
        assert.ok(keeps.every((c) => DROPPED.has(c)), `${table} ${key} has unknown columns ${keeps.join(', ')}`);
        if (lacks.length > 0) shape.lacksAdded += 1;
        if (keeps.length > 0) shape.keepsDropped += 1;
        for (const c of keeps) delete have[c];
        const projected = Object.fromEntries(Object.entries(want).filter(([c]) => !lacks.includes(c)));
        assert.ok(isDeepStrictEqual(have, projected), `${table} ${key}: ${JSON.stringify(have)} ≠ ${JSON.stringify(projected)}`);
      }
      shapes[table] = shape;
    }
    // Rows changed after the DDL have the new shape (the workload changes customers and products all the time).
    const customers = await readStateTable(proc.store, 'public.customers');
    assert.ok([...customers.values()].some((r) => 'loyalty_points' in r), 'added column present in state');
    const lines = await readStateTable(proc.store, 'public.order_lines');
    assert.ok([...lines.values()].some((r) => typeof r.quantity === 'number' && r.quantity > 2 ** 31), 'bigint values after int → bigint');
    console.log(`rows still in an older shape before the touch: ${JSON.stringify(shapes)}`);

    // Touching the rows (a no-op UPDATE is still a change event) brings every row to the current shape.
    await source.query('UPDATE customers SET name = name');
    await source.query('UPDATE products SET name = name');
    await awaitWatermark(p, proc.store);
    await proc.waitUntilCaughtUp();
    const { total, detail } = describeMismatches(await verifyAll(p, proc.store));
    assert.equal(total, 0, detail);
    assert.equal(proc.counts.dlq, 0);
  } finally {
    await source.end();
    await proc.stop();
    await proc.store.destroy();
  }
});
