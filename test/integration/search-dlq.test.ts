/**
 * Documents a search index refuses for good (a mapping that does not fit the
 * documents) go to the DLQ with the view, the sink, the render sequence and
 * the reason, are counted, and processing continues (invariant 5).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { awaitWatermark } from '../support/sample-pipeline.ts';
import { DLQ_HEADERS } from '../../src/runtime/dlq.ts';
import { StreamsBuilder } from '../../src/topology/dsl.ts';
import { topicsFor } from '../../src/topology/plan.ts';
import { readSearchDocs } from '../support/verify/compare.ts';
import { cfg, header, newRedis, pipeline, processor, readDeadLetters, uniqueId } from './helpers.ts';

const redis = newRedis();
let p: Awaited<ReturnType<typeof pipeline>>;

before(async () => {
  p = await pipeline('sdlq');
});
after(async () => {
  await p?.drop();
  redis.disconnect();
});

test('documents the index rejects go to the DLQ; the others are indexed', async () => {
  const app = uniqueId('sdlq');
  const b = new StreamsBuilder('bad-mapping');
  b.table('public.customers')
    // A tier that is a word cannot be indexed as a long: customers with a tier are rejected, the others not.
    .mapValues((c) => ({ id: c.id, tier: c.tier }))
    .as('customers')
    .toSearchIndex({ mappings: { properties: { id: { type: 'long' }, tier: { type: 'long' } } } });
  const topology = b.build();
  const proc = processor({ applicationId: app, redis, topics: topicsFor(p.topicPrefix, ['public.customers', 'public.cdcv_watermark']), topology, searchUrl: cfg.CDCV_OPENSEARCH_URL });
  await proc.start();
  try {
    await awaitWatermark(p, proc.store);
    await proc.waitUntilCaughtUp();
    assert.equal(proc.failure, undefined, 'processing continued');
    const withTier = Number((await redis.eval(`local n = 0 for _, v in ipairs(redis.call('HVALS', KEYS[1])) do if string.find(v, '"tier":"', 1, true) then n = n + 1 end end return n`, 1, proc.store.keys.table(await proc.store.resolveTable('public.customers')))));
    assert.ok(withTier > 0, 'some customers have a tier');
    assert.equal(proc.counts.dlq, withTier, 'every rejected document was dead-lettered');

    const indexed = await readSearchDocs(cfg.CDCV_OPENSEARCH_URL, `${app}-customers`);
    assert.ok(indexed.size > 0 && [...indexed.values()].every((d) => d.tier === null), 'the documents without a tier were indexed');

    const letters = await readDeadLetters(app, withTier);
    assert.equal(letters.length, withTier);
    const h = header;
    const first = letters[0]!;
    assert.equal(h(first, DLQ_HEADERS.view), 'customers');
    assert.equal(h(first, DLQ_HEADERS.sink), `search:${app}-customers`);
    assert.equal(h(first, DLQ_HEADERS.code), 'SINK_DOCUMENT_REJECTED');
    assert.match(h(first, DLQ_HEADERS.message) ?? '', /mapper_parsing_exception|number_format_exception/);
    assert.match(first.key?.toString() ?? '', /^\{"id":\d+\}$/);
    assert.ok(typeof (JSON.parse(first.value!.toString()) as { tier: unknown }).tier === 'string', 'the rendered document is in the DLQ record');
  } finally {
    await proc.stop();
    await proc.store.destroy();
    await fetch(`${cfg.CDCV_OPENSEARCH_URL}/${app}-*`, { method: 'DELETE' }).catch(() => undefined);
  }
});
