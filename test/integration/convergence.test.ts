/**
 * Convergence (invariant 1): a workload with inserts, updates, deletes,
 * re-inserts and primary-key updates → every table's state equals SELECT * of
 * PostgreSQL, value by value, and the cache view equals its SQL definition.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { awaitWatermark } from '../../src/ops/sample-pipeline.ts';
import { runWorkload } from '../../src/sample/workload.ts';
import { resolveView } from '../../src/topology/topology.ts';
import { mismatches, verifyCacheView } from '../../src/verify/compare.ts';
import customerCache from '../../topologies/customer-cache.ts';
import { describeMismatches, newRedis, pipeline, processor, uniqueId, verifyAll } from './helpers.ts';

const redis = newRedis();
let p: Awaited<ReturnType<typeof pipeline>>;

before(async () => {
  p = await pipeline('conv');
});
after(async () => {
  await p?.drop();
  redis.disconnect();
});

test('table state and the cache view converge to PostgreSQL after a mixed workload', async () => {
  const app = uniqueId('conv');
  const proc = processor({ applicationId: app, topics: p.topics, redis, views: customerCache.views });
  await proc.start();
  try {
    const stats = await runWorkload({ connectionString: p.connectionString, ratePerSecond: 800, durationSeconds: 8, seed: 7 });
    assert.ok(stats.deletes > 0 && stats.keyUpdates > 0 && stats.reinserts > 0, `workload exercised deletes, key updates, re-inserts: ${JSON.stringify(stats)}`);
    await awaitWatermark(p, proc.store);
    await proc.waitUntilCaughtUp();

    const { total, detail } = describeMismatches(await verifyAll(p, proc.store));
    assert.equal(total, 0, detail);
    const source = new pg.Client({ connectionString: p.connectionString });
    await source.connect();
    const view = await verifyCacheView(source, redis, resolveView(customerCache.views[0]!, app));
    await source.end();
    assert.ok(view.expected > 0);
    assert.equal(mismatches(view), 0, JSON.stringify(view));
    assert.equal(proc.counts.dlq, 0);
  } finally {
    await proc.stop();
    await proc.store.destroy();
  }
});
