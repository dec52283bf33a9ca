/**
 * The view engine (src/runtime/view-engine.ts) on the real view store and a
 * private Redis, for what the topology driver tests do not reach: roots that
 * keep changing between the two reads of a render (changed by a second
 * client), documents a sink refuses, marks set again during a render,
 * drain() finishing table and view marks left behind, stream views' writes
 * and the engine's state table ids.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import type { Row } from '../../../src/cdc/types.ts';
import { CdcViewsError } from '../../../src/errors.ts';
import { METRIC_NAMES, createMetrics, type Metrics } from '../../../src/metrics/catalogue.ts';
import { RENDER_PAGE, RenderFailedError, ViewEngine, type RejectedHandler } from '../../../src/runtime/view-engine.ts';
import type { RenderFailure } from '../../../src/runtime/dlq.ts';
import { DocumentsRejectedError, SinkUnavailableError, type Sink, type SinkWrite, type SinkWriteResult } from '../../../src/sinks/sink.ts';
import { StateStore } from '../../../src/state/store.ts';
import type { StoredRoot, ViewStateStore } from '../../../src/state/view-store.ts';
import { StreamsBuilder } from '../../../src/topology/dsl.ts';
import { metricValue } from '../metrics/registry.ts';
import { fileRedis, K, key, newApp, partitionWriter, write, type PartitionWriter, type TestApp } from '../state/helpers.ts';
import { changeEvent, silentLog } from './helpers.ts';

const redis = await fileRedis();
/** A second client, to change state between the engine's reads as another instance would. */
const other = await fileRedis();
const TOPIC = 'demo.public.orders';
const ORDERS = 'public.orders';
const CUSTOMERS = 'public.customers';

/** Orders joined to their customer, and orders counted per customer (a group). */
function plan() {
  const b = new StreamsBuilder('ve');
  const customers = b.table(CUSTOMERS);
  b.table(ORDERS)
    .join(customers, { key: (o) => ({ id: o.customer_id }), kind: 'left', joiner: (o, c) => ({ id: o.id, customer: c?.name ?? null }) })
    .as('orders')
    .toCache();
  b.table(ORDERS).groupBy((o) => ({ customer_id: o.customer_id })).count().as('per-customer').toCache();
  b.stream(ORDERS).mapValues((e) => ({ op: e.op })).as('order-events').toCache();
  return b.build();
}

/** A sink that keeps the highest sequence per document, like every sink, and can be told to fail. */
class TestSink implements Sink {
  readonly docs = new Map<string, { seq: number; doc: Record<string, unknown> | null }>();
  readonly writes: SinkWrite[][] = [];
  /** Called before each write (to stage a concurrent change). */
  beforeWrite: (() => Promise<void>) | undefined;
  /** Thrown by the next writes instead of writing; a DocumentsRejectedError is thrown after writing the others. */
  failure: Error | undefined;

  constructor(readonly name: string) {}
  init(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  async write(docs: readonly SinkWrite[]): Promise<SinkWriteResult> {
    await this.beforeWrite?.();
    if (this.failure && !(this.failure instanceof DocumentsRejectedError)) throw this.failure;
    const rejected = new Set(this.failure instanceof DocumentsRejectedError ? this.failure.rejected.map((r) => r.keyString) : []);
    this.writes.push([...docs]);
    for (const d of docs) if (!rejected.has(d.keyString) && d.seq > (this.docs.get(d.keyString)?.seq ?? 0)) this.docs.set(d.keyString, { seq: d.seq, doc: d.doc });
    if (this.failure) throw this.failure;
    return { written: docs.length, skipped: 0 };
  }
  doc(id: number): Record<string, unknown> | null | undefined {
    return this.docs.get(key(id))?.doc;
  }
}

interface Harness {
  app: TestApp;
  engine: ViewEngine;
  sinks: Record<'orders' | 'per-customer' | 'order-events', TestSink>;
  metrics: Metrics;
  /** Applies writes as the partition task does (dirty tables marked, partition 0), then lets the engine process those that applied. */
  apply(writes: ReturnType<typeof write>[], process?: boolean): Promise<void>;
}

/** Another instance writing the key's records through partition 1, on its own connection. */
async function otherInstance(app: TestApp): Promise<PartitionWriter> {
  return partitionWriter(new StateStore(other, app.id), TOPIC, 1);
}

async function harness(t: TestContext, options: { store?: (inner: ViewStateStore, app: TestApp) => ViewStateStore; onRejected?: RejectedHandler } = {}): Promise<Harness> {
  const app = newApp(t, redis);
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const sinks = { orders: new TestSink('test:orders'), 'per-customer': new TestSink('test:per-customer'), 'order-events': new TestSink('test:order-events') };
  const engine = new ViewEngine({
    applicationId: app.id,
    store: options.store ? options.store(app.views, app) : app.views,
    plan: plan(),
    sinks: new Map(Object.entries(sinks).map(([view, sink]) => [view, [sink]])),
    log: silentLog,
    metrics,
    ...(options.onRejected ? { onRejected: options.onRejected } : {}),
  });
  const partition = await partitionWriter(app.state, TOPIC, 0);
  const apply = async (writes: ReturnType<typeof write>[], process = true): Promise<void> => {
    const { flags } = await partition.apply((partition.position ?? 0n) + 1n, writes, engine.dirtyTables);
    if (!process) return;
    // As the checkpoint does: only the writes that applied are rendered.
    const applied = writes.filter((_, i) => flags[i] === '1');
    for (const table of new Set(applied.map((w) => w.table))) {
      await engine.process(table, applied.filter((w) => w.table === table).map((w) => ({ keyString: w.keyString, version: w.version, row: w.row })));
    }
  };
  return { app, engine, sinks, metrics, apply };
}

const order = (id: number, customer: number): Row => ({ id, customer_id: customer });

test('dirtyTables and streamTables follow the plan; process returns the sinks written; renders are timed', async (t) => {
  const h = await harness(t);
  assert.deepEqual([...h.engine.dirtyTables].sort(), [CUSTOMERS, ORDERS, 'view:order-events'], 'a stream view\'s own table has a view');
  assert.deepEqual([...h.engine.streamTables], [ORDERS]);
  await h.apply([write(CUSTOMERS, 7, 1n, { id: 7, name: 'Zoë' })]);
  const sinks = await h.engine.process(ORDERS, []);
  assert.equal(sinks.size, 0);
  await h.apply([write(ORDERS, 1, 2n, order(1, 7))], false);
  const written = await h.engine.process(ORDERS, [{ keyString: key(1), version: K(2), row: order(1, 7) }]);
  assert.deepEqual([...written].sort(), ['test:orders', 'test:per-customer']);
  assert.deepEqual(h.sinks.orders.doc(1), { id: 1, customer: 'Zoë' });
  assert.deepEqual(h.sinks['per-customer'].docs.get('{"customer_id":7}')?.doc, { count: 1 });
  assert.deepEqual(h.engine.counts, { rendered: 2, written: 2, skipped: 0 });
  assert.equal(await metricValue(h.metrics.registry, `${METRIC_NAMES.renderDuration}_count`, { application_id: h.app.id, view: 'orders' }), 1);
  assert.equal(await metricValue(h.metrics.registry, METRIC_NAMES.sinkDocumentsWritten, { application_id: h.app.id, sink: 'test:orders' }), 1);
  assert.equal(await h.app.views.pendingMarks(), 0);
  // Unknown views and empty root lists render nothing.
  await h.engine.render('no-such-view', [key(1)]);
  await h.engine.render('orders', []);
  assert.equal(h.sinks.orders.writes.length, 1);
});

/** A view store whose readRoots lets `between` run after the roots were read (before render-view reads them again). */
function interleaved(between: (roots: readonly string[], app: TestApp) => Promise<void>): (inner: ViewStateStore, app: TestApp) => ViewStateStore {
  return (inner, app) => ({
    propagate: (...a) => inner.propagate(...a),
    readFold: (...a) => inner.readFold(...a),
    readAggregates: (...a) => inner.readAggregates(...a),
    commitFold: (...a) => inner.commitFold(...a),
    readRoots: async (table, roots): Promise<StoredRoot[]> => {
      const stored = await inner.readRoots(table, roots);
      await between(roots, app);
      return stored;
    },
    readForRender: (...a) => inner.readForRender(...a),
    dirtyTokens: (...a) => inner.dirtyTokens(...a),
    clearDirty: (...a) => inner.clearDirty(...a),
  });
}

test('a root changed between the two reads is read again and rendered from its newest row', async (t) => {
  let changes = 0;
  const h = await harness(t, {
    store: interleaved(async (roots, app) => {
      // Another instance applies a newer version of the root between the reads, once.
      if (!roots.includes(key(1)) || changes++ > 0) return;
      await (await otherInstance(app)).apply(41n, [write(ORDERS, 1, 40n, { ...order(1, 7), note: 'newer' }, { partition: 1 })]);
    }),
  });
  await h.apply([write(ORDERS, 1, 2n, order(1, 7)), write(ORDERS, 2, 3n, order(2, 7))]);
  assert.equal(changes, 2, 'read again after the change');
  assert.deepEqual(h.sinks.orders.writes.length, 1, 'one write with both roots');
  assert.deepEqual(h.sinks.orders.writes[0]!.map((w) => w.keyString).sort(), [key(1), key(2)]);
  assert.deepEqual(h.sinks.orders.doc(1), { id: 1, customer: null });
  assert.deepEqual((await h.app.state.get(ORDERS, key(1)))?.version, K(40));
});

test('roots that keep changing give up after 10 attempts with RENDER_CONTENDED (retriable); the marks stay', async (t) => {
  let attempts = 0;
  let writer: PartitionWriter | undefined;
  const h = await harness(t, {
    store: interleaved(async (roots, app) => {
      if (!roots.includes(key(1))) return;
      attempts++;
      writer ??= await otherInstance(app);
      await writer.apply(BigInt(101 + attempts), [write(ORDERS, 1, BigInt(100 + attempts), order(1, 7), { partition: 1 })]);
    }),
  });
  await h.apply([write(ORDERS, 1, 1n, order(1, 7))], false);
  await h.engine.propagate(ORDERS, [{ keyString: key(1), version: K(1), row: order(1, 7) }]);
  await assert.rejects(h.engine.render('orders', [key(1)]), (err: unknown) => {
    assert.ok(err instanceof CdcViewsError);
    assert.equal(err.code, 'RENDER_CONTENDED');
    assert.equal(err.retriable, true);
    assert.match(err.message, /view orders: roots kept changing while rendering \(1 left\)/);
    return true;
  });
  assert.equal(attempts, 10);
  assert.equal(h.sinks.orders.writes.length, 0);
  assert.deepEqual(await h.app.views.dirtyTokens('orders', [key(1)]), ['1']);
});

test('documents a sink refuses go to onRejected with the error and every rendered document; the others stand', async (t) => {
  const calls: [string, DocumentsRejectedError, SinkWrite[]][] = [];
  const h = await harness(t, { onRejected: (view, err, docs) => (calls.push([view, err, [...docs]]), Promise.resolve()) });
  const refusal = new DocumentsRejectedError('test:orders', [{ keyString: key(2), seq: 2, reason: 'mapping' }], 1, 3, 'SINK_REJECTED', 'refused');
  h.sinks.orders.failure = refusal;
  await h.apply([write(ORDERS, 1, 1n, order(1, 7)), write(ORDERS, 2, 2n, order(2, 7))]);
  assert.equal(calls.length, 1);
  const [view, err, docs] = calls[0]!;
  assert.equal(view, 'orders');
  assert.equal(err, refusal);
  assert.deepEqual(docs.map((d) => d.keyString).sort(), [key(1), key(2)]);
  assert.deepEqual(h.sinks.orders.doc(1), { id: 1, customer: null });
  assert.equal(h.sinks.orders.doc(2), undefined);
  // Counted from the error: written 1, skipped 3 (plus the per-customer view's one document).
  assert.deepEqual(h.engine.counts, { rendered: 3, written: 2, skipped: 3 });
  assert.equal(await metricValue(h.metrics.registry, METRIC_NAMES.sinkDocumentsSkipped, { application_id: h.app.id, sink: 'test:orders' }), 3);
  assert.equal(await metricValue(h.metrics.registry, METRIC_NAMES.sinkWriteErrors, { application_id: h.app.id, sink: 'test:orders', code: 'SINK_REJECTED' }), 1);
  assert.equal(await h.app.views.pendingMarks(), 0, 'a refusal for good is not retried');
});

test('without onRejected a refusal fails the render, and a sink that is down fails it even with one; the marks stay', async (t) => {
  const noHandler = await harness(t);
  noHandler.sinks.orders.failure = new DocumentsRejectedError('test:orders', [{ keyString: key(1), seq: 1, reason: 'mapping' }], 0, 0, 'SINK_REJECTED', 'refused');
  await assert.rejects(noHandler.apply([write(ORDERS, 1, 1n, order(1, 7))]), DocumentsRejectedError);
  assert.deepEqual(await noHandler.app.views.dirtyTokens('orders', [key(1)]), ['1']);

  let handled = 0;
  const down = await harness(t, { onRejected: () => (handled++, Promise.resolve()) });
  down.sinks.orders.failure = new SinkUnavailableError('test:orders', 'timeout', 100);
  await assert.rejects(down.apply([write(ORDERS, 1, 1n, order(1, 7))]), SinkUnavailableError);
  assert.equal(handled, 0);
  assert.deepEqual(await down.app.views.dirtyTokens('orders', [key(1)]), ['1']);
  assert.equal(await metricValue(down.metrics.registry, METRIC_NAMES.sinkWriteErrors, { application_id: down.app.id, sink: 'test:orders', code: 'SINK_UNAVAILABLE' }), 1);
});

test('a root marked again while it was rendered keeps its mark', async (t) => {
  const h = await harness(t);
  let once = true;
  h.sinks.orders.beforeWrite = async () => {
    if (!once) return;
    once = false;
    await h.engine.propagate(ORDERS, [{ keyString: key(1), version: K(1), row: order(1, 7) }]);
  };
  await h.apply([write(ORDERS, 1, 1n, order(1, 7)), write(ORDERS, 2, 2n, order(2, 7))]);
  assert.deepEqual(await h.app.views.dirtyTokens('orders', [key(1), key(2)]), ['2', null]);
});

test('drain() propagates table marks left behind (with the stored rows) and renders every view mark', async (t) => {
  const h = await harness(t);
  // A crash after the state step: table marks only.
  await h.apply([write(CUSTOMERS, 7, 1n, { id: 7, name: 'Zoë' }), write(ORDERS, 1, 2n, order(1, 7)), write(ORDERS, 2, 3n, order(2, 7)), write(ORDERS, 3, 4n, order(3, 8))], false);
  // A crash after propagation: a view mark only.
  await h.apply([write(ORDERS, 4, 5n, order(4, 8))], false);
  await h.engine.propagate(ORDERS, [{ keyString: key(4), version: K(5), row: order(4, 8) }]);
  // Table marks: customer 7 and orders 1–3 (order 4's was propagated); view marks: order 4 and the group of customer 8.
  assert.equal(await h.app.views.pendingMarks(), 4 + 2);
  const rendered = await h.engine.drain(h.app.views);
  assert.equal(rendered, 4 + 2, 'orders 1–4 and the groups of customers 7 and 8');
  assert.deepEqual(h.sinks.orders.doc(1), { id: 1, customer: 'Zoë' });
  assert.deepEqual(h.sinks.orders.doc(4), { id: 4, customer: null });
  assert.deepEqual(h.sinks['per-customer'].docs.get('{"customer_id":7}')?.doc, { count: 2 });
  assert.deepEqual(h.sinks['per-customer'].docs.get('{"customer_id":8}')?.doc, { count: 2 });
  assert.equal(await h.app.views.pendingMarks(), 0);
  assert.equal(await h.engine.drain(h.app.views), 0, 'nothing left');
});

test('a root the view\'s code throws on goes to onRenderFailed with what it read; the other roots are written and every mark cleared', async (t) => {
  const app = newApp(t, redis);
  const b = new StreamsBuilder('fragile');
  b.table(ORDERS)
    .join(b.table(CUSTOMERS), { key: (o) => ({ id: o.customer_id }), kind: 'left', joiner: (o, c) => ({ id: o.id, customer: c?.name ?? null }) })
    .mapValues((o) => {
      if (o.customer === null) throw new Error('an order without its customer');
      return o;
    })
    .as('orders')
    .toCache();
  const sink = new TestSink('test:orders');
  const failures: [string, readonly RenderFailure[]][] = [];
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const engine = new ViewEngine({ applicationId: app.id, store: app.views, plan: b.build(), sinks: new Map([['orders', [sink]]]), log: silentLog, metrics, onRenderFailed: (view, f) => (failures.push([view, f]), Promise.resolve()) });
  const p = await partitionWriter(app.state, TOPIC, 0);
  await p.apply(3n, [write(CUSTOMERS, 7, 0n, { id: 7, name: 'Zoë' }), write(ORDERS, 1, 1n, order(1, 7)), write(ORDERS, 2, 2n, order(2, 9))], engine.dirtyTables);
  await engine.process(ORDERS, [{ keyString: key(1), version: K(1), row: order(1, 7) }, { keyString: key(2), version: K(2), row: order(2, 9) }]);
  assert.deepEqual(sink.doc(1), { id: 1, customer: 'Zoë' });
  assert.equal(sink.doc(2), undefined, 'never written');
  assert.equal(failures.length, 1);
  const [view, [failure, ...more]] = failures[0]!;
  assert.deepEqual([view, more], ['orders', []]);
  assert.equal(failure!.keyString, key(2));
  assert.ok(failure!.error instanceof RenderFailedError);
  assert.match(failure!.error.message, /view orders, key \{"id":2\}: the topology's code threw: an order without its customer/);
  assert.deepEqual(failure!.inputs.root, { table: ORDERS, key: key(2), version: K(2) });
  assert.deepEqual(Object.values(failure!.inputs.joined as object), [{ table: CUSTOMERS, key: key(9), found: false }], 'the joined customer it did not find');
  assert.equal(await metricValue(metrics.registry, METRIC_NAMES.renderFailures, { application_id: app.id, view: 'orders' }), 1);
  assert.deepEqual(await app.views.dirtyTokens('orders', [key(1), key(2)]), [null, null], 'a failed root is in the DLQ, not retried');

  // Without a handler the render fails as it did, and the marks stay for a retry.
  const strict = new ViewEngine({ applicationId: app.id, store: app.views, plan: b.build(), sinks: new Map([['orders', [sink]]]), log: silentLog });
  await p.apply(4n, [write(ORDERS, 2, 3n, order(2, 9))], strict.dirtyTables);
  await assert.rejects(strict.process(ORDERS, [{ keyString: key(2), version: K(3), row: order(2, 9) }]), /an order without its customer/);
  assert.deepEqual(await app.views.dirtyTokens('orders', [key(2)]), ['1']);
});

/** Stream views of orders: every event's op, big orders (deletes remove the document), and one of another table. */
function streamPlan() {
  const b = new StreamsBuilder('streams');
  b.stream(ORDERS).mapValues((e) => ({ op: e.op })).as('order-events').toCache();
  b.stream(ORDERS)
    .filter((e) => e.op === 'd' || Number(e.after?.total) > 100)
    .mapValues((e) => (e.op === 'd' ? null : { total: e.after?.total }))
    .as('big-orders')
    .toCache();
  b.stream(CUSTOMERS).mapValues((e) => ({ op: e.op })).as('customer-events').toCache();
  b.stream(CUSTOMERS)
    .mapValues((e) => {
      if (e.after?.name === 'boom') throw new Error('no name like that');
      return { name: e.after?.name };
    })
    .as('customer-names')
    .toCache();
  return b.build();
}

test('streamWrites: per stream view of the event\'s table, its document as a write of the view\'s own table; a filter skips, null removes', (t) => {
  const app = newApp(t, redis);
  const engine = new ViewEngine({ applicationId: app.id, store: app.views, plan: streamPlan(), sinks: new Map(), log: silentLog });
  assert.deepEqual([...engine.streamTables].sort(), [CUSTOMERS, ORDERS]);
  const writes = (event: ReturnType<typeof changeEvent>): [string, unknown][] =>
    engine.streamWrites(event.table, event, event.version, `0:0:${event.position.offset}`).writes.map((w) => {
      assert.deepEqual([w.keyString, w.version, w.origin], [event.keyString, event.version, `0:0:${event.position.offset}`], 'the event\'s key, version and origin');
      return [w.table, w.row];
    });
  assert.deepEqual(writes(changeEvent(ORDERS, { id: 1 }, 'c', { id: 1, total: 50 }, 10)), [['view:order-events', { op: 'c' }]], 'big-orders skips a small order: its document stays as it was');
  assert.deepEqual(writes(changeEvent(ORDERS, { id: 1 }, 'u', { id: 1, total: 150 }, 11)), [['view:order-events', { op: 'u' }], ['view:big-orders', { total: 150 }]]);
  assert.deepEqual(writes(changeEvent(ORDERS, { id: 1 }, 'd', null, 12)), [['view:order-events', { op: 'd' }], ['view:big-orders', null]], 'a null document removes it');
  assert.deepEqual(writes(changeEvent(ORDERS, { id: 2 }, 'r', { id: 2, total: 500 }, 13)), [['view:order-events', { op: 'r' }], ['view:big-orders', { total: 500 }]], 'snapshot reads too');
  assert.deepEqual(writes(changeEvent(CUSTOMERS, { id: 7 }, 'u', { id: 7, name: 'Zoë' }, 14)), [['view:customer-events', { op: 'u' }], ['view:customer-names', { name: 'Zoë' }]], 'only the views of that table');
  // A view whose code throws on the event: contained to that view and event (a dead letter), the other views write.
  const thrown = engine.streamWrites(CUSTOMERS, changeEvent(CUSTOMERS, { id: 8 }, 'u', { id: 8, name: 'boom' }, 15), K(15), '0:0:15');
  assert.deepEqual(thrown.writes.map((w) => w.table), ['view:customer-events']);
  assert.equal(thrown.failed.length, 1);
  assert.equal(thrown.failed[0]!.view, 'customer-names');
  assert.ok(thrown.failed[0]!.error instanceof RenderFailedError);
  assert.equal(thrown.failed[0]!.error.code, 'RENDER_FAILED');
  assert.match(thrown.failed[0]!.error.message, /view customer-names, key \{"id":8\}: the topology's code threw: no name like that/);
  assert.deepEqual(writes(changeEvent(ORDERS, null, 'c', { what: 'keyless' }, 15)), []);
  assert.deepEqual(writes(changeEvent(ORDERS, null, 't', null, 16)), [], 'a truncate is no event of a key');
  assert.deepEqual(writes(changeEvent(ORDERS, { id: 1 }, 'm', null, 17)), []);
  assert.deepEqual(engine.streamWrites('public.other', changeEvent('public.other', { id: 1 }, 'c', {}, 18), K(18), '0:0:18'), { writes: [], failed: [] });
});

test('a stream view renders its stored documents; a re-sent older event never replaces a newer one', async (t) => {
  const h = await harness(t);
  const event = (id: number, op: 'c' | 'u' | 'd', offset: number) => changeEvent(ORDERS, { id }, op, op === 'd' ? null : order(id, 7), offset);
  const apply = async (...events: ReturnType<typeof event>[]): Promise<void> => {
    const writes = events.flatMap((e) => h.engine.streamWrites(ORDERS, e, e.version, `0:0:${e.position.offset}`).writes);
    await h.apply(writes);
  };
  // Offset 0 too: render sequences are not offsets (a document at sequence 0 was never written).
  await apply(event(1, 'c', 0), event(2, 'c', 1));
  await apply(event(1, 'u', 5), event(2, 'd', 6));
  assert.deepEqual(h.sinks['order-events'].doc(1), { op: 'u' });
  assert.deepEqual(h.sinks['order-events'].doc(2), { op: 'd' }, 'the last event of the key');
  const seq = h.sinks['order-events'].docs.get(key(1))!.seq;
  // Connect re-sends the older create at a later offset, with its own (older) version.
  await apply({ ...event(1, 'c', 9), version: K(0) });
  assert.deepEqual(h.sinks['order-events'].doc(1), { op: 'u' });
  assert.equal(h.sinks['order-events'].docs.get(key(1))!.seq, seq, 'not rendered again');
  assert.deepEqual(await h.app.state.get('view:order-events', key(1)), { version: K(5), origin: '0:0:5', row: { op: 'u' }, deletedAtMs: null });
});

test('tableIds: the engine speaks state table ids (topics); plan names map to them', async (t) => {
  const app = newApp(t, redis);
  const sink = new TestSink('test:orders');
  const ids = new Map([[ORDERS, 'demo.public.orders'], [CUSTOMERS, 'demo.public.customers']]);
  const engine = new ViewEngine({ applicationId: app.id, store: app.views, plan: plan(), sinks: new Map([['orders', [sink]]]), log: silentLog, tableIds: ids });
  assert.deepEqual([...engine.dirtyTables].sort(), ['demo.public.customers', 'demo.public.orders', 'view:order-events']);
  assert.deepEqual([...engine.streamTables], ['demo.public.orders']);
  assert.equal(engine.streamWrites(ORDERS, changeEvent(ORDERS, { id: 1 }, 'c', order(1, 7), 0), K(0), '0:0:0').writes.length, 0, 'a plan name is not a state table');
  assert.equal(engine.streamWrites('demo.public.orders', changeEvent(ORDERS, { id: 1 }, 'c', order(1, 7), 0), K(0), '0:0:0').writes.length, 1);
  const p = await partitionWriter(app.state, TOPIC, 0);
  await p.apply(2n, [write('demo.public.customers', 7, 0n, { id: 7, name: 'Zoë' }), write('demo.public.orders', 1, 1n, order(1, 7))], engine.dirtyTables);
  await engine.process('demo.public.orders', [{ keyString: key(1), version: K(1), row: order(1, 7) }]);
  assert.deepEqual(sink.doc(1), { id: 1, customer: 'Zoë' }, 'the join read the customers topic\'s table');
  assert.deepEqual(await engine.process(ORDERS, [{ keyString: key(1), version: K(1), row: order(1, 7) }]), new Set(), 'nothing depends on a plan name');
});

test(`roots a change marks are rendered in pages of ${RENDER_PAGE} (one render-view call and one sink write each)`, async (t) => {
  const h = await harness(t);
  const n = 2 * RENDER_PAGE + 1;
  await h.apply([write(CUSTOMERS, 7, 1n, { id: 7, name: 'Zoë' })]);
  await h.apply(Array.from({ length: n }, (_, i) => write(ORDERS, 1000 + i, BigInt(2 + i), order(1000 + i, 7))));
  assert.deepEqual(h.sinks.orders.writes.map((w) => w.length), [RENDER_PAGE, RENDER_PAGE, 1]);
  // The customer's change reaches every order that read it, in pages too.
  await h.apply([write(CUSTOMERS, 7, BigInt(n + 2), { id: 7, name: 'Zoé' })]);
  assert.deepEqual(h.sinks.orders.writes.slice(3).map((w) => w.length), [RENDER_PAGE, RENDER_PAGE, 1]);
  assert.deepEqual(h.sinks.orders.doc(1000 + n - 1), { id: 1000 + n - 1, customer: 'Zoé' });
});

test('seedFolds: an incremental aggregate never built over stored members is marked whole and folded by the drain; once built, nothing', async (t) => {
  const h = await harness(t);
  // State from before the view: rows stored, no mark of any kind.
  const before = await otherInstance(h.app);
  await before.apply(4n, [write(ORDERS, 1, 1n, order(1, 7), { partition: 1 }), write(ORDERS, 2, 2n, order(2, 7), { partition: 1 }), write(ORDERS, 3, 3n, order(3, 8), { partition: 1 })], new Set());
  assert.equal(await h.app.views.pendingMarks(), 0);
  assert.equal(await h.engine.seedFolds(h.app.views), 3);
  await h.engine.drain(h.app.views);
  assert.deepEqual(h.sinks['per-customer'].docs.get('{"customer_id":7}')?.doc, { count: 2 });
  assert.deepEqual(h.sinks['per-customer'].docs.get('{"customer_id":8}')?.doc, { count: 1 });
  assert.equal(await h.engine.seedFolds(h.app.views), 0, 'built: nothing to mark');
  await h.engine.drain(h.app.views);
  assert.deepEqual(h.sinks['per-customer'].docs.get('{"customer_id":7}')?.doc, { count: 2 }, 'nothing counted twice');
});
