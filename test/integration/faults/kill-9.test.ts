/**
 * Fault: the processor is killed with SIGKILL at random points (6 times)
 * during a workload and restarted each time (invariants 2 and 3).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kill, runScenario, sleep, spawnRun } from './harness.ts';

test('kill -9 of the processor at random points: converges, no version goes backwards', async (t) => {
  const report = await runScenario(t, { name: 'kill9', rate: 600, durationSeconds: 30, seed: 21 }, async ({ app, topics, log }) => {
    let child = spawnRun(app, topics, 'run');
    const kills: number[] = [];
    for (let i = 0; i < 6; i++) {
      const after = 1500 + Math.floor(Math.random() * 3000);
      await sleep(after);
      await kill(child);
      kills.push(after);
      child = spawnRun(app, topics, 'run');
    }
    log(`killed with SIGKILL ${kills.length} times, after ${kills.join(', ')} ms of each run`);
    return [child];
  });
  assert.ok(report.workloadChanges > 8000, `workload made ${report.workloadChanges} changes`);
});
