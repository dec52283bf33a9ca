/**
 * Fault: two instances of one application; the second is stopped and restarted
 * repeatedly (gracefully and with SIGKILL), forcing rebalances while the first
 * keeps running. Partitions move back and forth; owner epochs fence the
 * instance that lost one (invariants 2, 3 and 6).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kill, runScenario, sleep, spawnRun } from './harness.ts';

test('two instances with forced rebalances: converges, no version goes backwards', async (t) => {
  const report = await runScenario(t, { name: 'rebalance', rate: 500, durationSeconds: 35, seed: 22 }, async ({ app, topics, log }) => {
    const a = spawnRun(app, topics, 'a');
    let b = spawnRun(app, topics, 'b');
    const cycles: string[] = [];
    for (let i = 0; i < 5; i++) {
      await sleep(3000 + Math.floor(Math.random() * 2000));
      const how = i % 2 === 0 ? 'SIGTERM' : 'SIGKILL';
      await kill(b, how);
      cycles.push(how);
      await sleep(1000 + Math.floor(Math.random() * 1500));
      b = spawnRun(app, topics, 'b');
    }
    log(`instance b stopped and restarted ${cycles.length} times (${cycles.join(', ')}) while instance a ran`);
    return [a, b];
  });
  assert.ok(report.workloadChanges > 8000, `workload made ${report.workloadChanges} changes`);
});
