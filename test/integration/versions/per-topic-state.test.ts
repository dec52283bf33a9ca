/**
 * Two connectors on two databases with the same table names, and one topics
 * regex matching both prefixes. Table state is kept per topic: in mirror mode
 * (no topology) each topic's state equals its own database, never a mix of
 * the two; a topology reading a table that both carry is refused at start,
 * naming both topics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { runWorkload } from '../../support/sample/workload.ts';
import { tablesOf } from '../../../src/topology/plan.ts';
import { readSourceTable } from '../../support/verify/source.ts';
import { awaitWatermark } from '../../support/sample-pipeline.ts';
import { compareRows, mismatches } from '../../support/verify/compare.ts';
import { describeMismatches, newRedis, pipeline, processor, uniqueId, untilConverged, verifyAll, waitForLagZero } from '../helpers.ts';
import { dropApp, laps, reportDuration, shopViews } from './support.ts';

test('two connectors with the same table names: each topic keeps its own state; a topology over both is refused', async (t) => {
  const started = Date.now();
  const lap = laps(t, started);
  const redis = newRedis();
  const app = uniqueId('vtwo');
  const [a, b] = await Promise.all([pipeline('vtwoa', { seedCustomers: 80, seedOrders: 100 }), pipeline('vtwob', { seedCustomers: 60, seedOrders: 120 })]);
  lap('two pipelines snapshot done');
  const both = new RegExp(`^(${a.topicPrefix}|${b.topicPrefix})\\.public\\.`);
  const mirror = processor({ applicationId: app, redis, topics: both });
  const viewsApp = processor({ applicationId: `${app}-views`, redis, topics: both, topology: shopViews });
  try {
    await mirror.start();
    // Different histories on the two databases: the same keys end with different rows.
    const [sa, sb] = await Promise.all([
      runWorkload({ connectionString: a.connectionString, ratePerSecond: 300, durationSeconds: 5, seed: 71 }),
      runWorkload({ connectionString: b.connectionString, ratePerSecond: 300, durationSeconds: 5, seed: 72 }),
    ]);
    lap(`workloads done: ${sa.changes} + ${sb.changes} changes`);
    const deadline = Date.now() + 90_000;
    for (const p of [a, b]) await awaitWatermark(p, mirror.store);
    const result = await untilConverged(async () => {
      await waitForLagZero(mirror.store, both, deadline);
      const ra = describeMismatches(await verifyAll(a, mirror.store));
      const rb = describeMismatches(await verifyAll(b, mirror.store));
      return { total: ra.total + rb.total, detail: `${a.topicPrefix}: ${ra.detail}\n${b.topicPrefix}: ${rb.detail}` };
    }, deadline);
    lap('converged');
    assert.equal(result.total, 0, result.detail);

    // The two databases really differ on the same keys, so a shared state could not equal both.
    const ca = new pg.Client({ connectionString: a.connectionString });
    const cb = new pg.Client({ connectionString: b.connectionString });
    await ca.connect();
    await cb.connect();
    let differ = 0;
    try {
      for (const table of ['public.customers', 'public.orders', 'public.order_lines']) differ += mismatches(compareRows(await readSourceTable(ca, table), await readSourceTable(cb, table)));
    } finally {
      await ca.end();
      await cb.end();
    }
    assert.ok(differ > 100, `the databases differ in ${differ} rows`);
    const tables = await mirror.store.tables();
    for (const p of [a, b]) for (const table of p.tables) assert.ok(tables.includes(`${p.topicPrefix}.${table}`), `state of topic ${p.topicPrefix}.${table}`);

    await assert.rejects(viewsApp.start(), (err: Error) => {
      const named = tablesOf(shopViews).filter((table) => err.message.includes(`${a.topicPrefix}.${table}`) && err.message.includes(`${b.topicPrefix}.${table}`));
      assert.ok(named.length > 0, `the refusal names both topics of a table: ${err.message}`);
      return true;
    });
    t.diagnostic(`${differ} rows differ between the databases; each topic's state equals its own; topology refused`);
  } finally {
    await viewsApp.stop().catch(() => undefined);
    await mirror.stop();
    await dropApp(redis, app, undefined);
    await dropApp(redis, `${app}-views`);
    await Promise.all([a.drop(), b.drop()]);
    redis.disconnect();
    reportDuration(t, started);
  }
});
