/**
 * Fault: Redis restarted during the workload. The stack's Redis keeps nothing
 * on disk, so the restart loses all table state, positions and owner epochs
 * while Kafka still has the group's committed offsets. The processor must
 * notice (no owner epoch / no stored position any more) and rebuild every
 * partition from the earliest offset instead of resuming from the committed
 * Kafka offset, which would silently lose every row not changed afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { restartRedis, runScenario, sleep, spawnRun } from './harness.ts';

test('Redis restarted (all data lost) during the workload: state rebuilt from the log, converges', async (t) => {
  const report = await runScenario(t, { name: 'redis', rate: 500, durationSeconds: 30, seed: 23 }, async ({ app, topics, log }) => {
    const child = spawnRun(app, topics, 'run');
    await sleep(10_000);
    const down = Date.now();
    await restartRedis(3000);
    log(`Redis shut down (nosave) and restarted empty after ${((Date.now() - down) / 1000).toFixed(1)} s, 10 s into the workload`);
    return [child];
  });
  assert.ok(report.workloadChanges > 8000, `workload made ${report.workloadChanges} changes`);
});
