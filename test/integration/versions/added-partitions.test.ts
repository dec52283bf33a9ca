/**
 * Partitions of the CDC topics increased from 3 to 6 during a workload (Kafka
 * admin createPartitions). Connect's producer (a worker of the test's own with
 * a metadata max age of 2 s) then hashes keys onto 6 partitions: a key's older
 * changes stay in its old partition while its newer ones land in another, and
 * cdc-views (metadata max age 2 s) consumes both partitions concurrently. With
 * source-position versions a key's state must still end at its newest change.
 *
 * Asserts that keys really moved (the same key read in two partitions of a
 * topic with a plain kafkajs consumer), that cdc-views consumed the new
 * partitions, that no row or document's `rev` went back, and that every table
 * and view equals its SQL.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { runWorkload } from '../../support/sample/workload.ts';
import { brokers, sleep } from '../helpers.ts';
import { assertConvergence, assertNoRegression, comparedRows, readTopics, scenario, waitConverged } from './support.ts';

test('partitions added during a workload: keys move partitions, tables and views converge, no row goes back', (t) =>
  scenario(t, { name: 'vparts', worker: { producerMetadataMaxAgeMs: 2000 }, app: { metadataMaxAgeMs: 2000 } }, async ({ p, app, redis, proc, watcher, lap }) => {
    const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    let topics: string[];
    try {
      const workload = runWorkload({ connectionString: p.connectionString, ratePerSecond: 250, durationSeconds: 12, seed: 61 });
      await sleep(4000);
      topics = (await admin.listTopics()).filter((x) => p.topics.test(x));
      await admin.createPartitions({ topicPartitions: topics.map((topic) => ({ topic, count: 6 })) });
      lap(`${topics.length} topics: 3 → 6 partitions`);
      const stats = await workload;
      lap(`workload done: ${stats.changes} changes`);
    } finally {
      await admin.disconnect();
    }
    const converged = await waitConverged(p, proc.store, redis, app);
    lap(`converged: ${converged.total} mismatches`);
    await watcher.stop();

    // Keys that moved: the same key in two partitions of a topic.
    const partitionsOf = new Map<string, Set<number>>();
    for (const r of await readTopics(p.topics)) {
      if (r.key === null) continue;
      const id = `${r.topic} ${r.key}`;
      partitionsOf.set(id, (partitionsOf.get(id) ?? new Set()).add(r.partition));
    }
    const moved = [...partitionsOf.values()].filter((s) => s.size > 1).length;
    const positions = await proc.store.positions();
    const consumedNew = topics.flatMap((topic) => [3, 4, 5].filter((n) => (positions.get(topic, n) ?? 0n) > 0n)).length;
    t.diagnostic(`${moved} keys read in two partitions, ${consumedNew} added partitions consumed, ${comparedRows(converged)} rows compared`);
    assert.ok(moved > 0, 'keys moved to another partition after the partitions were added');
    assert.ok(consumedNew > 0, 'cdc-views consumed the added partitions');
    assertConvergence(converged);
    assertNoRegression(t, watcher);
  }));
