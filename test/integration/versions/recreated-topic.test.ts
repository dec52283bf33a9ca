/**
 * A CDC topic deleted and re-created: the connector and its topics are
 * deleted, rows are deleted (and others changed) in PostgreSQL meanwhile, and
 * the connector is registered again with a new replication slot, so it takes a
 * new snapshot into new topics (offsets start at 0 again). Nobody ever sees a
 * delete event for the rows deleted in the gap: the new snapshot must remove
 * them from table state and from every view.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { canonicalKeyString } from '../../../src/cdc/keys.ts';
import { connectSamplePipeline, deletePipelineTopics, removeConnector } from '../../support/sample-pipeline.ts';
import { runWorkload } from '../../support/sample/workload.ts';
import { readCacheDocs, readSearchDocs, readStateTable } from '../../support/verify/compare.ts';
import { cfg } from '../helpers.ts';
import { assertConvergence, scenario, sinksOf, waitConverged } from './support.ts';

test('topics deleted and re-created with a new snapshot: rows deleted in the gap leave state and views', (t) =>
  scenario(t, { name: 'vrecreate' }, async ({ p, app, redis, store, lap, startApp, stopApp }) => {
    await runWorkload({ connectionString: p.connectionString, ratePerSecond: 300, durationSeconds: 4, seed: 81 });
    assertConvergence(await waitConverged(p, store, redis, app));
    lap('converged before the gap');
    await stopApp();

    await removeConnector(p);
    const deletedTopics = await deletePipelineTopics(p);
    lap(`connector and ${deletedTopics.length} topics deleted`);
    // The gap: rows deleted (and others changed) while nothing captures them.
    const c = new pg.Client({ connectionString: p.connectionString });
    await c.connect();
    let gone: { customers: string[]; orders: string[] };
    try {
      const customers = await c.query<{ id: number }>('DELETE FROM public.customers WHERE id % 7 = 3 RETURNING id');
      await c.query('DELETE FROM public.addresses a WHERE NOT EXISTS (SELECT 1 FROM public.customers c WHERE c.id = a.customer_id)');
      const orders = await c.query<{ id: string }>('DELETE FROM public.orders WHERE id % 5 = 1 RETURNING id::text AS id');
      await c.query('DELETE FROM public.order_lines l WHERE NOT EXISTS (SELECT 1 FROM public.orders o WHERE o.id = l.order_id)');
      await c.query('UPDATE public.customers SET tier = NULL, rev = rev + 1 WHERE id % 7 = 4');
      gone = { customers: customers.rows.map((r) => canonicalKeyString({ id: r.id })), orders: orders.rows.map((r) => canonicalKeyString({ id: Number(r.id) })) };
    } finally {
      await c.end();
    }
    // A new slot: the connector snapshots again (p.drop() drops it with the database).
    await connectSamplePipeline(p, { connector: { 'slot.name': `${p.slotName}_2` } });
    lap(`re-registered with a new slot: ${gone.customers.length} customers and ${gone.orders.length} orders deleted in the gap`);
    await startApp();
    const converged = await waitConverged(p, store, redis, app);
    lap(`converged: ${converged.total} mismatches`);

    // The deleted rows, looked up by key in each store.
    const state = { customers: await readStateTable(store, `${p.topicPrefix}.public.customers`), orders: await readStateTable(store, `${p.topicPrefix}.public.orders`) };
    const cache = { customers: await readCacheDocs(redis, sinksOf(app, 'customer-rev').cache), orders: await readCacheDocs(redis, sinksOf(app, 'order-lines').cache) };
    const search = await readSearchDocs(cfg.CDCV_OPENSEARCH_URL, sinksOf(app, 'order-lines').search);
    const left: string[] = [];
    for (const k of gone.customers) for (const [where, m] of [['state', state.customers], ['cache', cache.customers]] as const) if (m.has(k)) left.push(`customer ${k} in ${where}`);
    for (const k of gone.orders) for (const [where, m] of [['state', state.orders], ['cache', cache.orders], ['search', search]] as const) if (m.has(k)) left.push(`order ${k} in ${where}`);
    t.diagnostic(`${gone.customers.length + gone.orders.length} rows deleted in the gap, ${left.length} still present: ${left.slice(0, 5).join(', ')}`);
    assert.ok(gone.customers.length > 5 && gone.orders.length > 5, 'rows were deleted in the gap');
    assert.deepEqual(left.slice(0, 10), [], 'rows deleted in the gap are gone from state and views');
    assertConvergence(converged);
  }));
