/**
 * Convergence (invariant 1): a workload with inserts, updates, deletes,
 * re-inserts and primary-key updates → every table's state equals SELECT * of
 * PostgreSQL, value by value. (Views: views.test.ts.)
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { awaitWatermark } from '../support/sample-pipeline.ts';
import { runWorkload } from '../support/sample/workload.ts';
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

test('table state converges to PostgreSQL after a mixed workload', async () => {
  const app = uniqueId('conv');
  const proc = processor({ applicationId: app, topics: p.topics, redis });
  await proc.start();
  try {
    const stats = await runWorkload({ connectionString: p.connectionString, ratePerSecond: 800, durationSeconds: 8, seed: 7 });
    assert.ok(stats.deletes > 0 && stats.keyUpdates > 0 && stats.reinserts > 0, `workload exercised deletes, key updates, re-inserts: ${JSON.stringify(stats)}`);
    await awaitWatermark(p, proc.store);
    await proc.waitUntilCaughtUp();

    const { total, detail } = describeMismatches(await verifyAll(p, proc.store));
    assert.equal(total, 0, detail);
    assert.equal(proc.counts.dlq, 0);
  } finally {
    await proc.stop();
    await proc.store.destroy();
  }
});
