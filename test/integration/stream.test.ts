/**
 * A stream view (KStream) on the real stack: every change event of the
 * customers topic, in order, mapped to a document (a delete maps to null,
 * removing the document). After a concurrent workload — deletes, re-inserts
 * and updates included — the cache equals the same projection evaluated in
 * SQL on PostgreSQL, all documents compared.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { awaitWatermark } from '../support/sample-pipeline.ts';
import { runWorkload } from '../support/sample/workload.ts';
import { resolveSinkPlan } from '../../src/sinks/index.ts';
import { StreamsBuilder } from '../../src/topology/dsl.ts';
import { topicsFor } from '../../src/topology/plan.ts';
import { mismatches, verifyCacheView } from '../support/verify/compare.ts';
import { newRedis, pipeline, processor, uniqueId } from './helpers.ts';

const redis = newRedis();
let p: Awaited<ReturnType<typeof pipeline>>;

before(async () => {
  p = await pipeline('strm');
});
after(async () => {
  await p?.drop();
  redis.disconnect();
});

test('a stream view converges to its SQL definition after a concurrent workload', async () => {
  const app = uniqueId('strm');
  const b = new StreamsBuilder('customer-feed');
  b.stream('public.customers')
    .mapValues((e) => (e.op === 'd' ? null : { id: e.after?.id, name: e.after?.name, tier: e.after?.tier }))
    .as('customer-feed', { sql: `SELECT json_build_object('id', id) AS _key, id, name, tier FROM public.customers` })
    .toCache();
  const topology = b.build();
  const proc = processor({ applicationId: app, redis, topics: topicsFor(p.topicPrefix, ['public.customers', 'public.cdcv_watermark']), topology });
  await proc.start();
  try {
    const stats = await runWorkload({ connectionString: p.connectionString, ratePerSecond: 600, durationSeconds: 8, seed: 17 });
    assert.ok(stats.perKind.deleteCustomer! > 0 || stats.deletes > 0);
    await awaitWatermark(p, proc.store);
    await proc.waitUntilCaughtUp();
    const source = new pg.Client({ connectionString: p.connectionString });
    await source.connect();
    const sink = resolveSinkPlan(topology.views[0]!.sinks[0]!, app);
    const c = await verifyCacheView(source, redis, topology.views[0]!, sink.kind === 'cache' ? sink.prefix : '');
    await source.end();
    assert.ok(c.expected > 0);
    assert.equal(mismatches(c), 0, `missing ${c.missing.slice(0, 3).join(' ')} extra ${c.extra.slice(0, 3).join(' ')} different ${c.different.slice(0, 3).join(' ')}`);
    assert.ok(proc.renderCounts.rendered > c.expected, 'every event was rendered, not only the last per key');
  } finally {
    await proc.stop();
    await proc.store.destroy();
    const keys = await redis.keys(`cache:${app}:*`);
    if (keys.length > 0) await redis.unlink(...keys);
  }
});
