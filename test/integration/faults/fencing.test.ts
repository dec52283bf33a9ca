/**
 * Fault: another owner takes the partitions under a running instance (its
 * owner epochs are bumped in Redis, as a new owner does after a rebalance the
 * instance has not noticed). Every in-flight chunk of the now-revoked instance
 * is refused by the fence (STATE_FENCED): nothing of it is stored; the
 * instance rejoins the group, re-acquires and goes on (invariants 2 and 3).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createMetrics } from '../../../src/metrics/catalogue.ts';
import { awaitWatermark } from '../../support/sample-pipeline.ts';
import { runWorkload } from '../../support/sample/workload.ts';
import { StateStore } from '../../../src/state/store.ts';
import { describeMismatches, newRedis, pipeline, processor, sleep, uniqueId, RevWatcher, stateTables, verifyAll } from '../helpers.ts';

test('a zombie instance is fenced: its in-flight chunks are refused, it rejoins and converges', async (t) => {
  const p = await pipeline('ffence');
  const app = uniqueId('fault_fence');
  const redis = newRedis();
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const proc = processor({ applicationId: app, topics: p.topics, redis, metrics });
  const usurper = new StateStore(newRedis(), app);
  const watcher = new RevWatcher(redis, app, { tables: stateTables(p) });
  try {
    await proc.start();
    watcher.start(100);
    const workload = runWorkload({ connectionString: p.connectionString, ratePerSecond: 400, durationSeconds: 20, seed: 26 });
    let bumps = 0;
    for (let i = 0; i < 5; i++) {
      await sleep(3000);
      for (const { topic, partition } of (await usurper.positions()).entries()) {
        await usurper.acquire(topic, partition);
        bumps += 1;
      }
    }
    const stats = await workload;
    const ended = Date.now();
    await awaitWatermark(p, proc.store);
    await proc.waitUntilCaughtUp();
    const convergeSeconds = (Date.now() - ended) / 1000;
    await watcher.stop();
    const fenced = (await metrics.stateOperationErrors.get()).values.filter((v) => v.labels.code === 'STATE_FENCED').reduce((a, v) => a + v.value, 0);
    const rebalances = (await metrics.rebalances.get()).values.reduce((a, v) => a + v.value, 0);
    const { total, detail } = describeMismatches(await verifyAll(p, proc.store));
    const report = { scenario: 'fencing', workloadChanges: stats.changes, changesApplied: proc.counts.applied, staleSkipped: proc.counts.stale, convergeSeconds, epochBumps: bumps, fencedWrites: fenced, rebalances, mismatches: total, regressions: watcher.regressions.length };
    console.log(`FAULT-REPORT ${JSON.stringify(report)}`);
    t.diagnostic(`fencing: ${bumps} owner epochs taken over, ${fenced} writes refused (STATE_FENCED), ${rebalances} group joins; ${stats.changes} changes, ${proc.counts.applied} applied, ${proc.counts.stale} stale, converged ${convergeSeconds.toFixed(1)} s after the workload`);
    assert.equal(total, 0, detail);
    assert.deepEqual(watcher.regressions, []);
    assert.ok(fenced > 0, 'some in-flight writes were refused by the fence');
    assert.ok(rebalances > 1, 'the fenced instance rejoined the group');
  } finally {
    await watcher.stop();
    await proc.stop();
    await proc.store.destroy();
    usurper.redis.disconnect();
    redis.disconnect();
    await p.drop();
  }
});
