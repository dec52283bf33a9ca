/**
 * Fault: Kafka Connect (Debezium) restarted during the workload. The source
 * keeps changing; the replication slot retains the WAL; Debezium resumes from
 * its stored offsets (events after the last offset flush may be written again,
 * at new Kafka offsets) (invariant 3).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { restartStackService, runScenario, sleep, spawnRun } from './harness.ts';

test('Kafka Connect restarted during the workload: converges, no version goes backwards', async (t) => {
  const report = await runScenario(t, { name: 'connect', rate: 400, durationSeconds: 30, seed: 25, convergeTimeoutMs: 300_000 }, async ({ app, topics, log }) => {
    const child = spawnRun(app, topics, 'run');
    await sleep(8000);
    const seconds = await restartStackService('connect', 2000);
    log(`Kafka Connect stopped (SIGTERM) 8 s into the workload and back after ${seconds.toFixed(1)} s (scripts/stack/up.sh)`);
    return [child];
  });
  assert.ok(report.workloadChanges > 3000, `workload made ${report.workloadChanges} changes`);
});
