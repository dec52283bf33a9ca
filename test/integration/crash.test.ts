/**
 * Crash (invariants 2 and 3): the processor is killed with SIGKILL at random
 * points during a workload and restarted each time. Afterwards the state
 * converges to PostgreSQL, and a reader polling the stored versions during the
 * whole run never saw a key's version go backwards.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { awaitWatermark } from '../support/sample-pipeline.ts';
import { runWorkload } from '../support/sample/workload.ts';
import { describeMismatches, exited, newRedis, pipeline, processor, sleep, spawnProcessor, uniqueId, MIN_WATCHER_READS, RevWatcher, stateTables, verifyAll } from './helpers.ts';

const redis = newRedis();
let p: Awaited<ReturnType<typeof pipeline>>;

before(async () => {
  p = await pipeline('crash');
});
after(async () => {
  await p?.drop();
  redis.disconnect();
});

test('kill -9 at random points during a workload: converges, no version goes backwards', async () => {
  const app = uniqueId('crash');
  const watcher = new RevWatcher(redis, app, { tables: stateTables(p) });
  watcher.start(50);
  const workload = runWorkload({ connectionString: p.connectionString, ratePerSecond: 600, durationSeconds: 25, seed: 11 });
  const kills: number[] = [];
  let child = spawnProcessor(app, p.topics);
  for (let i = 0; i < 4; i++) {
    const after = 2000 + Math.floor(Math.random() * 3000);
    await sleep(after);
    child.kill('SIGKILL');
    await exited(child);
    kills.push(after);
    child = spawnProcessor(app, p.topics);
  }
  const stats = await workload;
  child.kill('SIGKILL');
  await exited(child);

  // A last, in-process run catches up and is checked.
  const proc = processor({ applicationId: app, topics: p.topics, redis });
  await proc.start();
  try {
    await awaitWatermark(p, proc.store);
    await proc.waitUntilCaughtUp();
    await watcher.stop();
    const { total, detail } = describeMismatches(await verifyAll(p, proc.store));
    assert.equal(total, 0, detail);
    assert.deepEqual(watcher.regressions, [], 'no key version went backwards');
    assert.ok(watcher.reads >= MIN_WATCHER_READS, `the watcher polled during the run (${watcher.reads} reads)`);
    assert.equal(kills.length, 4);
    assert.ok(stats.changes > 5000, `workload made ${stats.changes} changes`);
  } finally {
    await proc.stop();
    await proc.store.destroy();
  }
});
