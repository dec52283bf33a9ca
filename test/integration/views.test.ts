/**
 * Join convergence under concurrency (DESIGN invariant 1 for views): a workload
 * updates customers, addresses, orders and order_lines at the same time —
 * key changes and deletes on both sides of every join included — while each
 * example topology runs as its own application (search index and cache sinks). After quiescence every
 * document of every sink equals the view's SQL definition evaluated on
 * PostgreSQL; all documents are compared, and there are no extra documents.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { awaitWatermark } from '../support/sample-pipeline.ts';
import { runWorkload } from '../support/sample/workload.ts';
import { resolveSinkPlan } from '../../src/sinks/index.ts';
import { tablesOf, topicsFor, type TopologyPlan } from '../../src/topology/plan.ts';
import { mismatches, verifyCacheView, verifySearchView, type Comparison } from '../support/verify/compare.ts';
import customerCache from '../../topologies/customer-cache.ts';
import orderSearch from '../../topologies/order-search.ts';
import salesByProduct from '../../topologies/sales-by-product.ts';
import { cfg, newRedis, pipeline, processor, uniqueId } from './helpers.ts';

const redis = newRedis();
let p: Awaited<ReturnType<typeof pipeline>>;

before(async () => {
  p = await pipeline('views');
});
after(async () => {
  await p?.drop();
  redis.disconnect();
});

const TOPOLOGIES: TopologyPlan[] = [orderSearch, customerCache, salesByProduct];

test('every view document equals its SQL definition after a concurrent workload', async () => {
  const run = uniqueId('v');
  const apps = TOPOLOGIES.map((topology) => {
    const applicationId = `${run}-${topology.name}`;
    return { topology, applicationId, proc: processor({ applicationId, redis, topics: topicsFor(p.topicPrefix, tablesOf(topology)), topology }) };
  });
  const mirror = processor({ applicationId: `${run}-mirror`, redis, topics: p.topics });
  for (const a of [...apps.map((x) => x.proc), mirror]) await a.start();
  try {
    const stats = await runWorkload({ connectionString: p.connectionString, ratePerSecond: 800, durationSeconds: 10, seed: 21, connections: 4 });
    assert.ok(stats.perTable['public.customers']! > 0 && stats.perTable['public.order_lines']! > 0 && stats.keyUpdates > 0 && stats.deletes > 0);
    const started = Date.now();
    await awaitWatermark(p, mirror.store);
    for (const a of apps) await a.proc.waitUntilCaughtUp();

    const source = new pg.Client({ connectionString: p.connectionString });
    await source.connect();
    const results: [string, Comparison][] = [];
    for (const { topology, applicationId } of apps) {
      for (const view of topology.views) {
        for (const sink of view.sinks) {
          const plan = resolveSinkPlan(sink, applicationId);
          if (plan.kind === 'cache') results.push([`${view.name} cache`, await verifyCacheView(source, redis, view, plan.prefix)]);
          else results.push([`${view.name} search`, await verifySearchView(source, cfg.CDCV_OPENSEARCH_URL, view, plan.index)]);
        }
      }
    }
    await source.end();
    const convergedMs = Date.now() - started;
    let compared = 0;
    for (const [name, c] of results) {
      compared += c.expected;
      assert.ok(c.expected > 0, `${name}: the SQL definition has rows`);
      assert.equal(mismatches(c), 0, `${name}: missing ${c.missing.slice(0, 3).join(' ')} extra ${c.extra.slice(0, 3).join(' ')} different ${c.different.slice(0, 3).join(' ')}`);
      assert.equal(c.extra.length, 0);
    }
    console.log(`views converged: ${compared} documents compared, ${convergedMs} ms from the end of the workload`);
  } finally {
    for (const a of apps) {
      await a.proc.stop();
      await a.proc.store.destroy();
      await fetch(`${cfg.CDCV_OPENSEARCH_URL}/${a.applicationId}-*`, { method: 'DELETE' });
    }
    await mirror.stop();
    await mirror.store.destroy();
  }
});
