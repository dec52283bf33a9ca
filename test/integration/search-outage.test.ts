/**
 * The search engine stopped for 30 s during a workload (issue #3, and the
 * "search engine unavailable" fault of issue #6): no error escapes the
 * application, the partitions whose views write the index pause (the render
 * is retried with backoff while the partition waits) and resume when it is
 * back, and the index converges to the view's SQL definition: nothing lost.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import pg from 'pg';
import { awaitWatermark } from '../support/sample-pipeline.ts';
import { runWorkload } from '../support/sample/workload.ts';
import { resolveSinkPlan } from '../../src/sinks/index.ts';
import { tablesOf, topicsFor } from '../../src/topology/plan.ts';
import { mismatches, verifySearchView } from '../support/verify/compare.ts';
import orderSearch from '../../topologies/order-search.ts';
import { cfg, newRedis, pipeline, processor, sleep, uniqueId } from './helpers.ts';

const redis = newRedis();
let p: Awaited<ReturnType<typeof pipeline>>;
const opensearch = (cmd: 'start' | 'stop'): void => void execFileSync('bash', ['scripts/stack/opensearch.sh', cmd], { stdio: 'ignore' });

before(async () => {
  p = await pipeline('srch');
});
after(async () => {
  opensearch('start'); // whatever happened, leave the shared engine running
  await p?.drop();
  redis.disconnect();
});

test('search engine down for 30 s: partitions pause and resume, the index converges', async () => {
  const applicationId = uniqueId('srch');
  const proc = processor({ applicationId, redis, topics: topicsFor(p.topicPrefix, tablesOf(orderSearch)), topology: orderSearch, searchUrl: cfg.CDCV_OPENSEARCH_URL });
  const mirror = processor({ applicationId: `${applicationId}-mirror`, redis, topics: p.topics });
  await proc.start();
  await mirror.start();
  const index = resolveSinkPlan(orderSearch.views[0]!.sinks[0]!, applicationId);
  assert.equal(index.kind, 'search');
  try {
    const workload = runWorkload({ connectionString: p.connectionString, ratePerSecond: 300, durationSeconds: 45, seed: 5 });
    await sleep(5000);
    opensearch('stop');
    const stoppedAt = Date.now();
    await sleep(30_000);
    const renderedWhileDown = proc.renderCounts.written;
    opensearch('start');
    const downMs = Date.now() - stoppedAt;
    await workload;
    await awaitWatermark(p, mirror.store);
    const started = Date.now();
    await proc.waitUntilCaughtUp();
    assert.equal(proc.failure, undefined, 'no error escaped the application');

    const retries = (await proc.metrics.registry.getSingleMetric('cdc_views_retries_total')?.get())?.values ?? [];
    const renderRetries = retries.filter((v) => v.labels.operation === 'render').reduce((n, v) => n + v.value, 0);
    assert.ok(renderRetries > 0, 'renders were retried while the engine was down (the partitions waited)');

    const source = new pg.Client({ connectionString: p.connectionString });
    await source.connect();
    const c = await verifySearchView(source, cfg.CDCV_OPENSEARCH_URL, orderSearch.views[0]!, index.kind === 'search' ? index.index : '');
    await source.end();
    assert.ok(c.expected > 0);
    assert.equal(mismatches(c), 0, `missing ${c.missing.slice(0, 3).join(' ')} extra ${c.extra.slice(0, 3).join(' ')} different ${c.different.slice(0, 3).join(' ')}`);
    console.log(`search down ${downMs} ms; ${renderRetries} render retries; documents written before the restart ${renderedWhileDown}, in all ${proc.renderCounts.written}; ${c.expected} documents compared; converged ${Date.now() - started} ms after the watermark`);
  } finally {
    await proc.stop();
    await mirror.stop();
    await proc.store.destroy();
    await mirror.store.destroy();
    await fetch(`${cfg.CDCV_OPENSEARCH_URL}/${applicationId}-*`, { method: 'DELETE' }).catch(() => undefined);
  }
});
