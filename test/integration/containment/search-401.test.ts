/**
 * Containment: the search engine answers 401 for 15 s.
 *
 * Injected: the application's search sink writes through a reverse proxy
 * (test/support/search-proxy.ts) in front of the real OpenSearch that
 * requires Basic credentials. During a workload the proxy switches for 15 s
 * to refusing every request with 401 and the security plugin's error body
 * (credentials rotated under the application), then accepts them again.
 *
 * Checked:
 * - the fault happened: the proxy answered > 0 requests with 401, bulk writes among them;
 * - the partitions paused (`cdc_views_partitions_paused` > 0 seen while refused,
 *   renders retried) instead of dead-lettering: the DLQ topic holds 0 records
 *   and the application counted 0 dead letters;
 * - the application stayed live the whole time (`live()` true at every sample,
 *   no failure);
 * - after the credentials work again, the index converges: every document of
 *   the real index equals its SQL definition (all documents, none extra).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { awaitWatermark } from '../../support/sample-pipeline.ts';
import { runWorkload } from '../../support/sample/workload.ts';
import { SearchProxy } from '../../support/search-proxy.ts';
import { mismatches, verifySearchView } from '../../support/verify/compare.ts';
import { dlqTopic } from '../../../src/runtime/dlq.ts';
import { resolveSinkPlan } from '../../../src/sinks/index.ts';
import { tablesOf, topicsFor } from '../../../src/topology/plan.ts';
import orderSearch from '../../../topologies/order-search.ts';
import { brokers, cfg, newRedis, pipeline, processor, sleep, uniqueId } from '../helpers.ts';

const redis = newRedis();
let p: Awaited<ReturnType<typeof pipeline>>;
let proxy: SearchProxy;

before(async () => {
  p = await pipeline('s401');
  proxy = await new SearchProxy(cfg.CDCV_OPENSEARCH_URL, { username: 'cdcv', password: randomBytes(12).toString('hex') }).start();
});
after(async () => {
  await proxy?.close();
  await p?.drop();
  redis.disconnect();
});

/** Records in a topic (sum of the partitions' end offsets minus their start). */
async function recordsIn(topic: string): Promise<number> {
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) return -1;
    return (await admin.fetchTopicOffsets(topic)).reduce((n, o) => n + Number(o.high) - Number(o.low), 0);
  } finally {
    await admin.disconnect();
  }
}

async function deleteTopics(topics: string[]): Promise<void> {
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const gone = topics.filter((x) => existing.has(x));
    if (gone.length > 0) await admin.deleteTopics({ topics: gone });
  } finally {
    await admin.disconnect();
  }
}

test('search engine answering 401 for 15 s: partitions pause, nothing dead-lettered, the index converges', async (t) => {
  const applicationId = uniqueId('s401');
  const proc = processor({ applicationId, redis, topics: topicsFor(p.topicPrefix, tablesOf(orderSearch)), topology: orderSearch, searchUrl: proxy.url });
  const mirror = processor({ applicationId: `${applicationId}-mirror`, redis, topics: p.topics });
  const index = resolveSinkPlan(orderSearch.views[0]!.sinks[0]!, applicationId);
  assert.equal(index.kind, 'search');
  const indexName = index.kind === 'search' ? index.index : '';

  // Liveness and pauses, sampled through the whole run.
  const samples = { live: 0, notLive: 0, pausedMax: 0, pausedWhileRefused: 0 };
  let refusing = false;
  const paused = async (): Promise<number> => ((await proc.metrics.registry.getSingleMetric('cdc_views_partitions_paused')?.get())?.values ?? []).reduce((n, v) => n + v.value, 0);
  let sampler: NodeJS.Timeout | undefined;
  try {
    await proc.start();
    await mirror.start();
    assert.ok(proxy.counts.forwarded > 0, 'the application reached the engine through the proxy (credentials accepted) before the fault');
    const samplingFrom = Date.now();
    sampler = setInterval(() => {
      if (proc.live()) samples.live += 1;
      else samples.notLive += 1;
      void paused().then((n) => {
        samples.pausedMax = Math.max(samples.pausedMax, n);
        if (refusing && n > 0) samples.pausedWhileRefused += 1;
      });
    }, 250);

    const workload = runWorkload({ connectionString: p.connectionString, ratePerSecond: 300, durationSeconds: 25, seed: 401 });
    await sleep(5000);
    const before401 = { ...proxy.counts };
    proxy.mode = 'unauthorized';
    refusing = true;
    const refusedAt = Date.now();
    // A bulk request forwarded just before the switch may still be acknowledged: count from 2 s in.
    await sleep(2000);
    const writtenAt2s = proc.renderCounts.written;
    await sleep(13_000);
    const writtenDuring = proc.renderCounts.written - writtenAt2s;
    const forwardedDuring = proxy.counts.forwarded - before401.forwarded;
    proxy.mode = 'forward';
    refusing = false;
    const refusedMs = Date.now() - refusedAt;
    const stats = await workload;
    await awaitWatermark(p, mirror.store);
    const resumed = Date.now();
    await proc.waitUntilCaughtUp();
    const convergedMs = Date.now() - resumed;
    clearInterval(sampler);
    sampler = undefined;
    const sampledMs = Date.now() - samplingFrom;

    // The fault really happened, and reached the writes.
    assert.equal(forwardedDuring, 0, 'nothing reached the engine while it answered 401');
    assert.ok(proxy.counts.unauthorized > 0, 'the proxy answered 401');
    assert.ok(proxy.counts.refusedBulk > 0, 'bulk writes of the sink were refused with 401');
    assert.equal(writtenDuring, 0, 'no document was acknowledged while the engine answered 401 (from 2 s after the switch)');

    // Contained: paused, retried, nothing dead-lettered, never crashed.
    assert.ok(samples.pausedWhileRefused > 0, 'partitions were seen paused while the engine answered 401');
    const retries = (await proc.metrics.registry.getSingleMetric('cdc_views_retries_total')?.get())?.values ?? [];
    const renderRetries = retries.filter((v) => v.labels.operation === 'render').reduce((n, v) => n + v.value, 0);
    assert.ok(renderRetries > 0, 'renders were retried');
    assert.equal(await recordsIn(dlqTopic(applicationId)), 0, 'the DLQ topic exists and holds no record');
    assert.equal(proc.counts.dlq, 0, 'the application counted no dead letter');
    assert.equal(proc.failure, undefined, 'no error escaped the application');
    assert.equal(samples.notLive, 0, 'the application was live at every sample');
    // A sample every 250 ms; the test's own event loop (the application runs in it) may delay some under load.
    assert.ok(samples.live >= sampledMs / 250 / 2, `liveness was sampled through the run: ${samples.live} samples in ${sampledMs} ms`);
    assert.equal(await paused(), 0, 'no partition is paused any more');

    // Converged: every document equals its SQL definition, read from the real engine.
    const source = new pg.Client({ connectionString: p.connectionString });
    await source.connect();
    const c = await verifySearchView(source, cfg.CDCV_OPENSEARCH_URL, orderSearch.views[0]!, indexName);
    await source.end();
    assert.ok(c.expected > 0);
    assert.equal(mismatches(c), 0, `missing ${c.missing.slice(0, 3).join(' ')} extra ${c.extra.slice(0, 3).join(' ')} different ${c.different.slice(0, 3).join(' ')}`);

    t.diagnostic(`401 for ${refusedMs} ms: proxy refused ${proxy.counts.unauthorized} request(s) (${proxy.counts.refusedBulk} bulk), forwarded ${proxy.counts.forwarded} in all, 0 while refusing`);
    t.diagnostic(`workload ${stats.changes} changes; render retries ${renderRetries}; partitions paused at most ${samples.pausedMax}; liveness samples ${samples.live} live / ${samples.notLive} not; DLQ 0`);
    t.diagnostic(`documents written ${proc.renderCounts.written} (0 during the 401s); ${c.expected} documents compared with SQL, 0 mismatches; caught up ${convergedMs} ms after the watermark`);
  } finally {
    clearInterval(sampler);
    await proc.stop();
    await mirror.stop();
    await proc.store.destroy();
    await mirror.store.destroy();
    await fetch(`${cfg.CDCV_OPENSEARCH_URL}/${applicationId}-*`, { method: 'DELETE' }).catch(() => undefined);
    await deleteTopics([dlqTopic(applicationId), dlqTopic(`${applicationId}-mirror`)]).catch(() => undefined);
  }
});
