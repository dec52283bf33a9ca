/**
 * Schema registry outage for 20 s during a workload on a Debezium Avro topic:
 * a processor that starts while the registry is down cannot fetch any schema,
 * so its partitions wait (retriable REGISTRY_UNAVAILABLE, backoff, nothing to
 * the DLQ, no position moved); once the registry is back they resume and the
 * state converges to PostgreSQL. (Debezium's converter keeps producing: it has
 * the schema ids cached, see shop-avro.json check-period-ms.)
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { autoDecoder } from '../../src/cdc/avro.ts';
import { awaitWatermark } from '../support/sample-pipeline.ts';
import { runWorkload } from '../support/sample/workload.ts';
import { cfg, describeMismatches, newRedis, pipeline, processor, sleep, uniqueId, verifyAll } from './helpers.ts';

const redis = newRedis();
let p: Awaited<ReturnType<typeof pipeline>>;

const registry = (command: 'start' | 'stop'): void => {
  const r = spawnSync('bash', ['scripts/stack/registry.sh', command], { encoding: 'utf8' });
  assert.equal(r.status, 0, `registry.sh ${command}: ${r.stderr}`);
};

before(async () => {
  p = await pipeline('avout', { format: 'avro' });
});
after(async () => {
  registry('start'); // whatever happened, leave the stack as it was
  await p?.drop();
  redis.disconnect();
});

test('a 20 s registry outage pauses decoding; partitions resume and converge with nothing in the DLQ', async () => {
  const app = uniqueId('avout');
  const workload = runWorkload({ connectionString: p.connectionString, ratePerSecond: 300, durationSeconds: 35, seed: 11 });
  await sleep(3000);
  registry('stop');
  const down = Date.now();
  const proc = processor({ applicationId: app, topics: p.topics, redis, decoder: autoDecoder({ registryUrl: cfg.CDCV_SCHEMA_REGISTRY_URL, timeoutMs: 2000 }) });
  try {
    await proc.start();
    await sleep(20_000 - (Date.now() - down));
    assert.ok(proc.counts.consumed > 0, 'records were fetched during the outage');
    assert.equal(proc.counts.applied, 0, 'nothing applied without schemas');
    assert.equal(proc.counts.dlq, 0, 'nothing sent to the DLQ during the outage');
    assert.equal((await proc.store.positions()).size, 0, 'no position advanced during the outage');
    registry('start');
    const stats = await workload;
    assert.ok(stats.changes > 5000, `workload ran through the outage: ${stats.changes} changes`);
    await awaitWatermark(p, proc.store);
    await proc.waitUntilCaughtUp();
    const { total, detail } = describeMismatches(await verifyAll(p, proc.store));
    assert.equal(total, 0, detail);
    assert.equal(proc.counts.dlq, 0);
    assert.equal((await proc.store.stats()).dlq ?? 0, 0);
  } finally {
    await proc.stop();
    await proc.store.destroy();
  }
});
