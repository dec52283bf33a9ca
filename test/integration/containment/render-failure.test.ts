/**
 * Containment of a topology that throws (README "DLQ", code RENDER_FAILED).
 *
 * Injected: a customer view (customers left-joined to their shipping
 * address, written to a cache and to a search index) whose joiner throws for
 * every customer whose id ≡ 7 (mod 1000) — 1 root in 1,000; with 5,000 seeded
 * customers that is 5 roots (and 5007 once the workload has inserted it).
 * The application renders the snapshot, then a 25 s workload (inserts,
 * updates, deletes and re-inserts of customers and addresses) runs while it
 * consumes; 5 s into it the throwing customers are updated as well.
 *
 * Checked, independently of the code under test:
 *  - the DLQ topic, read with a plain kafkajs consumer: the set of root keys
 *    carrying RENDER_FAILED is exactly the set of customer ids satisfying the
 *    predicate, computed from PostgreSQL (the seeded ids, which were all
 *    rendered by the snapshot before the workload started, and the ids live at
 *    the end, whose last change was rendered). An id that the workload both
 *    created and deleted may or may not have been rendered in between (a
 *    chunk that holds its insert and its delete renders only the delete): such
 *    ids, taken from an audit trigger in PostgreSQL, are the only tolerance,
 *    and the run prints how many there were (normally 0);
 *  - every other document, in both sinks, equals the view's SQL definition
 *    evaluated on PostgreSQL (all documents compared, none extra);
 *  - the throwing roots have no document at all: a failed render writes
 *    nothing for its root (src/runtime/view-engine.ts keeps the last document
 *    written, and since the predicate depends only on the id, a throwing root
 *    never had a good render to keep);
 *  - the application never restarted: it was live at every sample taken
 *    every 100 ms during the run, its consumer emitted no CRASH event (not
 *    even one KafkaJS restarts), it joined the group once, and `failure` is
 *    unset;
 *  - the render-failure counter, the RENDER_FAILED DLQ counter and the
 *    application's count all equal the number of RENDER_FAILED records in the
 *    DLQ (one per failed render: a root re-rendered because its address
 *    changed fails again and is dead-lettered again);
 *  - phase 2, a root whose render throws after a good render: 3 customers
 *    (ids ≡ 500 mod 1000) renamed to end with " !boom", which the view's code
 *    also throws on. One RENDER_FAILED record each, and both sinks keep their
 *    last good document (a failed render writes nothing for its root): the
 *    only documents that differ from the SQL, by exactly that rename;
 *  - nothing keeps re-rendering a failed root: with no input, the DLQ does not
 *    grow over more than one render-punctuator period.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { awaitWatermark } from '../../support/sample-pipeline.ts';
import { runWorkload } from '../../support/sample/workload.ts';
import { compareRows, expectedDocs, mismatches, readCacheDocs, readSearchDocs, type Comparison } from '../../support/verify/compare.ts';
import { DLQ_HEADERS, dlqTopic } from '../../../src/runtime/dlq.ts';
import { resolveSinkPlan } from '../../../src/sinks/index.ts';
import { StreamsBuilder } from '../../../src/topology/dsl.ts';
import { tablesOf, topicsFor } from '../../../src/topology/plan.ts';
import { logger } from '../../../src/log.ts';
import { brokers, cfg, header, newRedis, pipeline, processor, readWholeTopic, sleep, uniqueId, watchedKafka } from '../helpers.ts';

/** The injected fault: the view's code throws for these roots. */
const throws = (id: number): boolean => id % 1000 === 7;
/** The second injected fault (phase 2): the view's code also throws for a customer whose name ends with this. */
const BOOM = ' !boom';
const SEED_CUSTOMERS = 5000;
const VIEW = 'customer-contained';

const builder = new StreamsBuilder('render-failure');
builder
  .table('public.customers')
  .view(VIEW)
  .join(builder.table('public.addresses'), {
    name: 'shipping-address',
    key: (customer) => ({ customer_id: customer.id, kind: 'shipping' }),
    kind: 'left',
    joiner: (customer, address) => {
      if (throws(customer.id as number)) throw new Error(`injected render failure for customer ${String(customer.id)}`);
      if (typeof customer.name === 'string' && customer.name.endsWith(BOOM)) throw new Error(`injected render failure for customer ${String(customer.id)} (its name)`);
      return { id: customer.id, email: customer.email, name: customer.name, tier: customer.tier, shippingCity: address?.city ?? null, shippingCountry: address?.country ?? null };
    },
  })
  .as(VIEW, {
    sql: `SELECT json_build_object('id', c.id) AS _key, c.id, c.email, c.name, c.tier,
                 a.city AS "shippingCity", a.country AS "shippingCountry"
            FROM public.customers c
            LEFT JOIN public.addresses a ON a.customer_id = c.id AND a.kind = 'shipping'`,
  })
  .toCache()
  .toSearchIndex({
    mappings: {
      properties: {
        id: { type: 'long' },
        email: { type: 'keyword' },
        name: { type: 'text' },
        tier: { type: 'keyword' },
        shippingCity: { type: 'keyword' },
        shippingCountry: { type: 'keyword' },
      },
    },
  });
const topology = builder.build('test/integration/containment/render-failure.test.ts');

/** Records who was ever a customer during the workload (PostgreSQL, not captured: the table is not in the publication). */
const AUDIT_SQL = `
  CREATE TABLE public.customer_ids_seen (id integer PRIMARY KEY);
  CREATE FUNCTION public.note_customer_id() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN INSERT INTO public.customer_ids_seen VALUES (NEW.id) ON CONFLICT DO NOTHING; RETURN NEW; END $$;
  CREATE TRIGGER note_customer_id AFTER INSERT OR UPDATE ON public.customers FOR EACH ROW EXECUTE FUNCTION public.note_customer_id();`;

const redis = newRedis();
let p: Awaited<ReturnType<typeof pipeline>>;

before(async () => {
  p = await pipeline('rfail', { seedCustomers: SEED_CUSTOMERS, seedOrders: 100, setupSql: AUDIT_SQL });
});
after(async () => {
  await p?.drop();
  redis.disconnect();
});

const ids = async (c: pg.Client, sql: string): Promise<Set<number>> => new Set((await c.query<{ id: number }>(sql)).rows.map((r) => r.id));
const sorted = (s: Iterable<number>): number[] => [...s].sort((a, b) => a - b);

test('a view that throws for 1 root in 1,000 during a workload: exactly those roots in the DLQ, every other document equals its SQL, no restart', async () => {
  const started = Date.now();
  const applicationId = uniqueId('rfail');
  const log = logger.child({ test: true }, { level: 'warn' });

  // The application's own Kafka client, watched: every consumer it creates reports its CRASH events.
  const { kafka, crashes } = watchedKafka(applicationId, log);

  const topics = topicsFor(p.topicPrefix, [...tablesOf(topology), 'public.cdcv_watermark']);
  const proc = processor({ applicationId, redis, topics, topology, searchUrl: cfg.CDCV_OPENSEARCH_URL, kafka, logger: log });
  const cache = resolveSinkPlan(topology.views[0]!.sinks[0]!, applicationId);
  const index = resolveSinkPlan(topology.views[0]!.sinks[1]!, applicationId);
  assert.ok(cache.kind === 'cache' && index.kind === 'search');

  let samples = 0;
  const notLive: number[] = [];
  let liveness: NodeJS.Timeout | undefined;
  const source = new pg.Client({ connectionString: p.connectionString });
  await source.connect();
  await proc.start();
  try {
    liveness = setInterval(() => {
      samples += 1;
      if (!proc.live()) notLive.push(Date.now() - started);
    }, 100);

    // The snapshot first: every seeded customer is rendered before the workload starts.
    await awaitWatermark(p, proc.store);
    await proc.waitUntilCaughtUp({ signal: AbortSignal.timeout(120_000) });
    const seeded = await ids(source, 'SELECT id FROM public.customers');
    assert.equal(seeded.size, SEED_CUSTOMERS);
    const afterSnapshot = proc.counts.renderFailures;

    const workload = runWorkload({ connectionString: p.connectionString, ratePerSecond: 300, durationSeconds: 15, seed: 11, connections: 4 });
    // Mid-workload, the throwing roots change too: each must fail (and be dead-lettered) again.
    await sleep(5_000);
    const touched = (await source.query(`UPDATE public.customers SET name = name || ' *' WHERE id % 1000 = 7`)).rowCount ?? 0;
    assert.ok(touched > 0, 'throwing roots updated during the workload');
    const stats = await workload;
    assert.ok(stats.perTable['public.customers']! > 0 && stats.perTable['public.addresses']! > 0 && stats.deletes > 0, 'the workload changed customers and addresses, deletes included');
    await awaitWatermark(p, proc.store);
    await proc.waitUntilCaughtUp({ signal: AbortSignal.timeout(120_000) });

    // Expected, from PostgreSQL alone.
    const live = await ids(source, 'SELECT id FROM public.customers');
    const seen = await ids(source, 'SELECT id FROM public.customer_ids_seen');
    const required = new Set([...seeded, ...live].filter(throws));
    const maybe = new Set([...seen].filter((id) => throws(id) && !seeded.has(id) && !live.has(id)));
    assert.ok(required.size >= 5, `the predicate hits a handful of roots (${sorted(required).join(', ')})`);

    // The DLQ, read back.
    const letters = await readWholeTopic(dlqTopic(applicationId));
    assert.ok(letters.length > 0, 'the fault happened: the DLQ is not empty');
    const failed = letters.filter((m) => header(m, DLQ_HEADERS.code) === 'RENDER_FAILED');
    assert.equal(failed.length, letters.length, `only RENDER_FAILED in the DLQ, got ${[...new Set(letters.map((m) => header(m, DLQ_HEADERS.code)))].join(', ')}`);
    const dlqIds = new Set<number>();
    for (const m of failed) {
      const key = JSON.parse(m.key!.toString()) as { id: number };
      const value = JSON.parse(m.value!.toString()) as { view: string; key: string; error: string; inputs: unknown };
      assert.deepEqual(Object.keys(key), ['id'], 'the DLQ key is the root key');
      assert.equal(header(m, DLQ_HEADERS.view), VIEW);
      assert.equal(header(m, DLQ_HEADERS.applicationId), applicationId);
      assert.equal(value.view, VIEW);
      assert.match(value.error, new RegExp(`injected render failure for customer ${key.id}\\b`));
      assert.match(header(m, DLQ_HEADERS.message), /injected render failure/);
      assert.ok(value.inputs !== null && typeof value.inputs === 'object', 'the DLQ value names the inputs read');
      dlqIds.add(key.id);
    }
    const missing = sorted([...required].filter((id) => !dlqIds.has(id)));
    const unexpected = sorted([...dlqIds].filter((id) => !required.has(id) && !maybe.has(id)));
    assert.deepEqual(missing, [], 'every throwing root is in the DLQ');
    assert.deepEqual(unexpected, [], 'no other root is in the DLQ');
    assert.ok(failed.length > dlqIds.size, `a root that changed after its failed render fails again and is dead-lettered again (${failed.length} records, ${dlqIds.size} roots)`);

    // Every other document equals its SQL; the throwing roots have no document.
    const expected = await expectedDocs(source, topology.views[0]!);
    const throwingKeys = [...expected.keys()].filter((k) => throws((JSON.parse(k) as { id: number }).id));
    assert.equal(throwingKeys.length, sorted(live).filter(throws).length, 'the SQL definition has a row per live throwing customer');
    for (const k of throwingKeys) expected.delete(k);
    const actualCache = await readCacheDocs(redis, cache.prefix);
    const actualSearch = await readSearchDocs(cfg.CDCV_OPENSEARCH_URL, index.index);
    const results: [string, Comparison][] = [
      ['cache', compareRows(expected, actualCache)],
      ['search', compareRows(expected, actualSearch)],
    ];
    for (const [sink, docs] of [['cache', actualCache], ['search', actualSearch]] as const) {
      const withDoc = [...docs.keys()].filter((k) => throws((JSON.parse(k) as { id: number }).id));
      assert.deepEqual(withDoc, [], `${sink}: a root whose render threw has no document`);
    }
    let compared = 0;
    let mismatched = 0;
    for (const [sink, c] of results) {
      compared += c.expected;
      mismatched += mismatches(c);
      assert.ok(c.expected > SEED_CUSTOMERS / 2, `${sink}: documents to compare`);
      assert.equal(mismatches(c), 0, `${sink}: missing ${c.missing.slice(0, 3).join(' ')} extra ${c.extra.slice(0, 3).join(' ')} different ${c.different.slice(0, 3).join(' ')} ${JSON.stringify(c.firstDifference ?? '')}`);
    }

    // The counters agree with what the DLQ holds.
    const metric = async (name: string, labels: Record<string, string>): Promise<number> =>
      ((await proc.metrics.registry.getSingleMetric(name)?.get())?.values ?? [])
        .filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x))
        .reduce((n, v) => n + v.value, 0);
    assert.equal(await metric('cdc_views_render_failures_total', { view: VIEW }), failed.length, 'render-failure counter = RENDER_FAILED records in the DLQ');
    assert.equal(await metric('cdc_views_dlq_records_total', { reason: 'RENDER_FAILED' }), failed.length, 'DLQ counter = RENDER_FAILED records');
    assert.equal(proc.counts.renderFailures, failed.length);
    assert.ok(afterSnapshot >= [...seeded].filter(throws).length, 'the snapshot render failed for each seeded throwing root');

    // Phase 2: roots whose render throws after a good one. A failed render writes nothing for its root, so each
    // keeps its last good document: the only documents that differ from their SQL; the DLQ names them.
    const keyById = new Map([...actualCache.keys()].map((k) => [(JSON.parse(k) as { id: number }).id, k]));
    const goodIds = sorted(live).filter((id) => id % 1000 === 500 && keyById.has(id)).slice(0, 3);
    assert.equal(goodIds.length, 3);
    const lastGood = new Map(goodIds.map((id) => [keyById.get(id)!, actualCache.get(keyById.get(id)!)!]));
    for (const [k, doc] of lastGood) assert.deepEqual(actualSearch.get(k), doc, `${k}: a good document in both sinks`);
    const boomed = (await source.query(`UPDATE public.customers SET name = name || '${BOOM}' WHERE id = ANY($1)`, [goodIds])).rowCount;
    assert.equal(boomed, goodIds.length);
    await awaitWatermark(p, proc.store);
    await proc.waitUntilCaughtUp({ signal: AbortSignal.timeout(120_000) });
    const letters2 = await readWholeTopic(dlqTopic(applicationId));
    const phase2 = letters2.filter((m) => BigInt(m.offset) >= BigInt(letters.length));
    assert.deepEqual(phase2.map((m) => header(m, DLQ_HEADERS.code)), goodIds.map(() => 'RENDER_FAILED'), 'one RENDER_FAILED record per root that threw');
    assert.deepEqual(sorted(phase2.map((m) => (JSON.parse(m.key!.toString()) as { id: number }).id)), goodIds);
    const expected2 = await expectedDocs(source, topology.views[0]!);
    for (const k of [...expected2.keys()]) if (throws((JSON.parse(k) as { id: number }).id)) expected2.delete(k);
    for (const [sink, docs] of [['cache', await readCacheDocs(redis, cache.prefix)], ['search', await readSearchDocs(cfg.CDCV_OPENSEARCH_URL, index.index)]] as const) {
      const c = compareRows(expected2, docs);
      assert.deepEqual([c.missing, c.extra], [[], []], `${sink}: no document missing or extra`);
      assert.deepEqual(c.different.sort(), [...lastGood.keys()].sort(), `${sink}: only the roots that threw differ from their SQL`);
      for (const [k, doc] of lastGood) {
        assert.deepEqual(docs.get(k), doc, `${sink} ${k}: the last good document stays`);
        assert.equal(expected2.get(k)!.name, `${String(doc.name)}${BOOM}`, `${k}: it differs from the SQL by the change whose render threw`);
      }
    }
    assert.equal(await metric('cdc_views_render_failures_total', { view: VIEW }), letters2.length, 'render-failure counter = RENDER_FAILED records in the DLQ');
    assert.equal(proc.counts.renderFailures, letters2.length);

    // No re-render loop: with no input, the DLQ stays as it is over more than one punctuator period (5 s).
    await sleep(6000);
    const later = await readWholeTopic(dlqTopic(applicationId));
    assert.equal(later.length, letters2.length, 'nothing re-renders failed roots without a change');

    // Never restarted.
    assert.equal(proc.failure, undefined, 'no error stopped the consumer');
    assert.ok(samples > 100, `liveness sampled (${samples})`);
    assert.deepEqual(notLive, [], 'live at every sample');
    assert.deepEqual(crashes, [], 'no CRASH event');
    assert.equal(await metric('cdc_views_rebalances_total', {}), 1, 'one group join: the consumer never restarted');

    console.log(
      `render-failure: injected: ${required.size} throwing roots (${sorted(required).join(', ')}; ${maybe.size} more created and deleted by the workload) of ${live.size} live / ${seeded.size} seeded customers, ` +
        `${stats.changes} workload changes + ${touched} updates of throwing roots; seen in DLQ: ${failed.length} RENDER_FAILED records for ${dlqIds.size} roots; ` +
        `documents compared: ${compared} (cache ${results[0]![1].expected}, search ${results[1]![1].expected}); mismatches: ${mismatched}; ` +
        `phase 2: ${goodIds.length} good roots made to throw → ${phase2.length} more RENDER_FAILED, their last good documents kept; ` +
        `liveness samples ${samples}, not live ${notLive.length}, crashes ${crashes.length}; ${Date.now() - started} ms`,
    );
  } finally {
    clearInterval(liveness);
    await source.end();
    await proc.stop();
    await proc.store.destroy();
    await fetch(`${cfg.CDCV_OPENSEARCH_URL}/${index.kind === 'search' ? index.index : applicationId}`, { method: 'DELETE' }).catch(() => undefined);
    const cacheKeys = cache.kind === 'cache' ? await redis.keys(`${cache.prefix}*`) : [];
    if (cacheKeys.length > 0) await redis.unlink(...cacheKeys);
    const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.deleteTopics({ topics: [dlqTopic(applicationId)] }).catch(() => undefined);
    await admin.disconnect();
  }
});
