/**
 * Replayed duplicates (invariant 2): after the state has caught up, the app's
 * stored positions and its Kafka group offsets are moved back to the start and
 * it runs again. The state afterwards is identical, entry by entry (versions
 * included), to the state before, the version guard counted the replayed events
 * as stale, and no key's version went backwards meanwhile.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import { awaitWatermark } from '../support/sample-pipeline.ts';
import { runWorkload } from '../support/sample/workload.ts';
import { Positions } from '../../src/state/encoding.ts';
import { StateKeys } from '../../src/state/keys.ts';
import { StateStore } from '../../src/state/store.ts';
import { brokers, describeMismatches, newRedis, pipeline, processor, uniqueId, RevWatcher, stateTables, verifyAll } from './helpers.ts';

const redis = newRedis();
let p: Awaited<ReturnType<typeof pipeline>>;

before(async () => {
  p = await pipeline('replay');
});
after(async () => {
  await p?.drop();
  redis.disconnect();
});

async function rawState(app: string, tables: readonly string[]): Promise<Record<string, Record<string, string>>> {
  const keys = new StateKeys(app);
  const out: Record<string, Record<string, string>> = {};
  const store = new StateStore(redis, app);
  for (const t of tables) out[t] = await redis.hgetall(keys.table(await store.resolveTable(t)));
  return out;
}

test('moving positions and group offsets back replays duplicates that the version guard skips', async () => {
  const app = uniqueId('replay');
  let proc = processor({ applicationId: app, topics: p.topics, redis });
  await proc.start();
  await runWorkload({ connectionString: p.connectionString, ratePerSecond: 800, durationSeconds: 5, seed: 3 });
  await awaitWatermark(p, proc.store);
  await proc.waitUntilCaughtUp();
  await proc.stop();
  const before = await rawState(app, p.tables);
  assert.equal(describeMismatches(await verifyAll(p, proc.store)).total, 0);

  // Rewind: stored positions to 0 and the group's committed offsets to earliest.
  const positions = await proc.store.positions();
  await proc.store.setPositions(Positions.of([...positions.entries()].map((e) => ({ ...e, offset: 0n }))));
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  for (const topic of proc.topics) await admin.resetOffsets({ groupId: app, topic, earliest: true });
  await admin.disconnect();

  const watcher = new RevWatcher(redis, app, { tables: stateTables(p) });
  watcher.start(50);
  proc = processor({ applicationId: app, topics: p.topics, redis });
  await proc.start();
  try {
    await proc.waitUntilCaughtUp();
    await watcher.stop();
    assert.deepEqual(await rawState(app, p.tables), before, 'state after the replay equals the state before, versions included');
    assert.equal(proc.counts.applied, 0, 'no replayed event was applied');
    assert.ok(proc.counts.stale > 1000, `replayed events were skipped as stale by the version guard (${proc.counts.stale})`);
    assert.deepEqual(watcher.regressions, []);
  } finally {
    await proc.stop();
    await proc.store.destroy();
  }
});
