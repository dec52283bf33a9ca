/**
 * Kafka Connect (Debezium) killed with SIGKILL three times during a workload,
 * on a worker of the test's own that commits source offsets only every 30 s:
 * each restart re-sends every change since the last commit, at new Kafka
 * offsets. A re-sent change is older than what state and views already hold;
 * with source-position versions it must never move a row back.
 *
 * Asserts that the fault happened (records whose source position appears more
 * than once in a topic, read with a plain kafkajs consumer), that a reader of
 * row content (the workload's per-key `rev`) never saw a row or a cache
 * document go back, and that every table and view converges to its SQL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runWorkload } from '../../support/sample/workload.ts';
import { sleep } from '../helpers.ts';
import { assertConvergence, assertNoRegression, comparedRows, envelope, readTopics, scenario, waitConverged } from './support.ts';

test('Connect killed 3× re-sends changes: no row or document goes back, tables and views converge', (t) =>
  scenario(t, { name: 'vresend', worker: { offsetFlushIntervalMs: 30_000 } }, async ({ p, app, redis, proc, watcher, worker, lap }) => {
    const connect = worker!;
    // A graceful task restart commits the snapshot's offsets: the kills below re-send streamed changes, not the snapshot.
    await fetch(`${connect.url}/connectors/${p.connectorName}/restart?includeTasks=true`, { method: 'POST' });
    await connect.client.waitRunning(p.connectorName);
    const stop = new AbortController();
    const workload = runWorkload({ connectionString: p.connectionString, ratePerSecond: 100, durationSeconds: Infinity, seed: 51, signal: stop.signal });
    try {
      for (let i = 0; i < 3; i++) {
        await sleep(3000 + i * 700);
        await connect.kill9();
        await connect.restart();
        await connect.client.waitRunning(p.connectorName);
        lap(`Connect killed and restarted ${i + 1}×`);
      }
      await sleep(2000);
    } finally {
      stop.abort();
    }
    const stats = await workload;
    lap(`workload done: ${stats.changes} changes`);
    const converged = await waitConverged(p, proc.store, redis, app);
    lap(`converged: ${converged.total} mismatches`);
    await watcher.stop();

    // Re-sent changes: the same change (source position, key, operation) more than once in a topic.
    const seen = new Map<string, number>();
    for (const r of await readTopics(p.topics)) {
      const e = envelope(r.value);
      if (!e?.source || e.op === 'r') continue; // snapshot reads share one position
      const id = `${r.topic} ${String(e.source.lsn)} ${r.key} ${e.op}`;
      seen.set(id, (seen.get(id) ?? 0) + 1);
    }
    const resent = [...seen.values()].reduce((n, c) => n + (c - 1), 0);
    t.diagnostic(`Connect killed ${connect.kills}×, ${resent} changes re-sent, ${comparedRows(converged)} rows compared`);
    assert.equal(connect.kills, 3);
    assert.ok(resent > 0, 'Connect re-sent changes after the kills');
    assertConvergence(converged);
    assertNoRegression(t, watcher);
  }));
