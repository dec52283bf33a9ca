/**
 * Fault: the Kafka broker (single node) restarted during the workload. The
 * processor's consumer loses its connections, retries, and KafkaJS restarts it;
 * Debezium buffers in Kafka Connect meanwhile (invariant 3).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { restartStackService, runScenario, sleep, spawnRun } from './harness.ts';

test('Kafka broker restarted during the workload: converges, no version goes backwards', async (t) => {
  const report = await runScenario(t, { name: 'kafka', rate: 400, durationSeconds: 30, seed: 24, convergeTimeoutMs: 300_000 }, async ({ app, topics, log }) => {
    const child = spawnRun(app, topics, 'run');
    await sleep(8000);
    const seconds = await restartStackService('kafka', 2000);
    log(`Kafka broker stopped (SIGTERM) 8 s into the workload and back after ${seconds.toFixed(1)} s (scripts/stack/up.sh)`);
    return [child];
  });
  assert.ok(report.workloadChanges > 3000, `workload made ${report.workloadChanges} changes`);
});
