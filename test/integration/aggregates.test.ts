/**
 * Incremental aggregates exactly once (issue #16): `sales-by-product` (an
 * adder and a subtractor per order-line change) runs as a child process
 * killed with SIGKILL at random points during a workload that inserts,
 * updates, moves between skus and deletes order lines; then the application
 * is rewound to a time inside the workload and replays the history since
 * then (killed once more while replaying). Replayed changes must not count
 * twice and killed folds must not be lost: afterwards every cache document
 * equals the view's SQL definition (GROUP BY sku), read from the cache keys
 * and from PostgreSQL, not through cdc-views' own bookkeeping.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { awaitWatermark } from '../support/sample-pipeline.ts';
import { runWorkload } from '../support/sample/workload.ts';
import { mismatches, verifyCacheView } from '../support/verify/compare.ts';
import { resolveSinkPlan } from '../../src/sinks/index.ts';
import { StateKeys } from '../../src/state/keys.ts';
import { StateStore } from '../../src/state/store.ts';
import { unlinkMatching } from '../../src/state/scan.ts';
import { topicsFor } from '../../src/topology/plan.ts';
import salesByProduct from '../../topologies/sales-by-product.ts';
import { cli } from './ops/helpers.ts';
import { exited, newRedis, pipeline, processor, sleep, spawnProcessor, uniqueId, waitForLagZero } from './helpers.ts';

const TOPOLOGY = 'topologies/sales-by-product.ts';
const redis = newRedis();
let p: Awaited<ReturnType<typeof pipeline>>;

before(async () => {
  p = await pipeline('agg');
});
after(async () => {
  await p?.drop();
  redis.disconnect();
});

/** Records the version guard skipped as older than the stored row, over every table of the app (apply-chunk's counters). */
async function staleCount(app: string): Promise<number> {
  const stats = await redis.hgetall(new StateKeys(app).stats);
  return Object.entries(stats).reduce((n, [field, v]) => (field.startsWith('stale:') ? n + Number(v) : n), 0);
}

test('incremental aggregate after kill -9 and a rewind that replays history: equals GROUP BY on PostgreSQL', async () => {
  const app = uniqueId('agg');
  // The watermark table rides along, so the app itself tells when Debezium has delivered the workload.
  const topics = topicsFor(p.topicPrefix, ['public.order_lines', 'public.cdcv_watermark']);
  const spawn = (): ReturnType<typeof spawnProcessor> => spawnProcessor(app, topics, ['--topology', TOPOLOGY]);
  const started = Date.now();
  const workload = runWorkload({ connectionString: p.connectionString, ratePerSecond: 500, durationSeconds: 12, seed: 41 });
  const signals: (string | null)[] = [];
  let child = spawn();
  for (let i = 0; i < 2; i++) {
    await sleep(2500 + Math.floor(Math.random() * 2000));
    child.kill('SIGKILL');
    await exited(child);
    signals.push(child.signalCode);
    child = spawn();
  }
  const stats = await workload;
  assert.ok(stats.perTable['public.order_lines']! > 1000 && stats.keyUpdates > 0 && stats.deletes > 0, `the workload changed order lines, keys and deletes: ${JSON.stringify(stats.perTable)}`);
  // The last child catches up, then a graceful stop leaves the group, so the rewind finds it empty.
  const store = new StateStore(redis, app);
  await awaitWatermark(p, store);
  await waitForLagZero(store, topics, Date.now() + 120_000);
  child.kill('SIGTERM');
  assert.equal(await exited(child), 0);

  const rewindTo = new Date(started + 4000).toISOString();
  const staleBefore = await staleCount(app);
  const rewound = await cli(['rewind', '--app', app, '--to-datetime', rewindTo, '--topology', TOPOLOGY, '--execute', '--json']);
  assert.equal(rewound.code, 0, rewound.stderr);
  const plan = JSON.parse(rewound.stdout) as { rows: { reprocess: string }[] };
  const reprocess = plan.rows.reduce((n, r) => n + Number(r.reprocess), 0);
  assert.ok(reprocess > 1000, `the rewind moved back over ${reprocess} records`);

  // Replaying, killed once more.
  child = spawn();
  await sleep(3000);
  child.kill('SIGKILL');
  await exited(child);
  signals.push(child.signalCode);
  assert.deepEqual(signals, ['SIGKILL', 'SIGKILL', 'SIGKILL'], 'every kill happened');

  const view = salesByProduct.views[0]!;
  const sink = resolveSinkPlan(view.sinks[0]!, app);
  const prefix = sink.kind === 'cache' ? sink.prefix : assert.fail('sales-by-product writes to the cache');
  const proc = processor({ applicationId: app, topics, redis, topology: salesByProduct });
  await proc.start();
  const source = new pg.Client({ connectionString: p.connectionString });
  await source.connect();
  try {
    await awaitWatermark(p, proc.store);
    await proc.waitUntilCaughtUp();
    const staleAfter = await staleCount(app);
    assert.ok(staleAfter - staleBefore > 1000, `replayed records were skipped by the version guard (${staleAfter - staleBefore} of ${reprocess})`);
    const c = await verifyCacheView(source, redis, view, prefix);
    assert.ok(c.expected > 10, `GROUP BY sku has ${c.expected} rows`);
    assert.equal(mismatches(c), 0, `missing ${c.missing.slice(0, 3).join(' ')} extra ${c.extra.slice(0, 3).join(' ')} different ${c.different.slice(0, 3).join(' ')}`);
  } finally {
    await source.end();
    await proc.stop();
    await proc.store.destroy();
    await unlinkMatching(redis, `${prefix}*`);
  }
});
