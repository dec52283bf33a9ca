/**
 * The housekeeping punctuator (src/runtime/housekeeping.ts): which rows a
 * snapshot did not re-read (`notReread`, a table of cases), and one run
 * (`runOnce`) against the test Redis: the lock, reconciliation only once
 * every partition has passed the snapshot's end offsets, the snapshot and its
 * starts forgotten, the views of what it deleted rendered, and the cadence of
 * the delete-marker sweep.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { METRIC_NAMES, createMetrics } from '../../../src/metrics/catalogue.ts';
import { Housekeeping, notReread } from '../../../src/runtime/housekeeping.ts';
import { ViewEngine } from '../../../src/runtime/view-engine.ts';
import type { Sink, SinkWrite, SinkWriteResult } from '../../../src/sinks/sink.ts';
import { encodeStored, partitionField, type StoredRow } from '../../../src/state/encoding.ts';
import { HousekeepingStore } from '../../../src/state/housekeeping-store.ts';
import { StreamsBuilder } from '../../../src/topology/dsl.ts';
import { metricValue } from '../metrics/registry.ts';
import { assertMarker, fileRedis, key, newApp, partitionWriter, pg, write, type TestApp } from '../state/helpers.ts';
import { silentLog } from './helpers.ts';

const redis = await fileRedis();
const TOPIC = 'demo.public.customers';
const S = 1000;

test('notReread: older than the snapshot and not written after its reads began in the row\'s partition', () => {
  const snapshot = { version: pg.read(S), incarnation: 1 };
  const starts = new Map([[0, { incarnation: 1, offset: 100n }], [2, { incarnation: 0, offset: 5n }]]);
  const row = (version: string, origin: string): StoredRow => ({ version, origin, row: { id: 1 }, deletedAtMs: null });
  const cases: [string, StoredRow, boolean][] = [
    ['re-read by the snapshot: its version decides, whatever is known of the partition', row(pg.read(S), '1:1:120'), false],
    ['changed after the snapshot', row(pg.change(1005, 1010), '1:0:300'), false],
    ['older, written before the reads began', row(pg.change(100, 110), '1:0:99'), true],
    ['older, written at the first read\'s offset', row(pg.change(100, 110), '1:0:100'), false],
    ['older by version, written after the reads began (open across the snapshot)', row(pg.change(800, 850), '1:0:150'), false],
    ['older, of an earlier incarnation of the topic', row(pg.change(100, 110), '0:0:500'), true],
    ['older by version, of a later incarnation', row(pg.change(100, 110), '2:0:1'), false],
    ['older, in a partition where no read started', row(pg.change(100, 110), '1:1:900'), true],
    ['older, the partition\'s start recorded in another incarnation', row(pg.change(100, 110), '1:2:50'), true],
    ['older, no Kafka origin (deleted by an earlier reconciliation)', row(pg.change(100, 110), 'snapshot'), true],
    ['a Kafka-offset version (below every source version)', row('K00000000000000000007', '1:0:7'), true],
  ];
  for (const [what, stored, expected] of cases) assert.equal(notReread(stored, snapshot, starts), expected, what);
});

/** A sink that records the documents of its last writes. */
class RecordingSink implements Sink {
  readonly docs = new Map<string, Record<string, unknown> | null>();
  readonly name = 'test:names';
  init(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  write(docs: readonly SinkWrite[]): Promise<SinkWriteResult> {
    for (const d of docs) this.docs.set(d.keyString, d.doc);
    return Promise.resolve({ written: docs.length, skipped: 0 });
  }
}

interface Setup {
  app: TestApp;
  sink: RecordingSink;
  metrics: ReturnType<typeof createMetrics>;
  /** A housekeeping of this application (another instance when called again). */
  housekeeping: (retentionMs?: number) => Housekeeping;
}

function setup(t: TestContext): Setup {
  const app = newApp(t, redis);
  const b = new StreamsBuilder('hk');
  b.table('public.customers').mapValues((c) => ({ name: c.name })).as('names').toCache();
  const sink = new RecordingSink();
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const views = new ViewEngine({ applicationId: app.id, store: app.views, plan: b.build(), sinks: new Map([['names', [sink]]]), log: silentLog, tableIds: new Map([['public.customers', TOPIC]]) });
  return { app, sink, metrics, housekeeping: (retentionMs = 60_000) => new Housekeeping(app.state, views, app.views, metrics, silentLog, { intervalMs: 10_000, deleteMarkerRetentionMs: retentionMs }) };
}

/** Lets the lock expire (as its TTL would) so that the next run can take it. */
const expireLock = (app: TestApp): Promise<number> => redis.del(app.keys.housekeepingLock);

test('runOnce reconciles a snapshot once every partition has passed its end offsets: rows it did not re-read are deleted and rendered', async (t) => {
  const { app, sink, metrics, housekeeping } = setup(t);
  const dirty = new Set([TOPIC]);
  const p0 = await partitionWriter(app.state, TOPIC, 0);
  const p1 = await partitionWriter(app.state, TOPIC, 1);
  // Partition 0: the snapshot's reads start at offset 100; partition 1: at 50.
  await p0.apply(160n, [
    write(TOPIC, 1, 5n, { id: 1, name: 'deleted while nothing was captured' }, { version: pg.change(100, 110) }),
    write(TOPIC, 2, 100n, { id: 2, name: 're-read' }, { version: pg.read(S) }),
    write(TOPIC, 3, 150n, { id: 3, name: 'open across the snapshot' }, { version: pg.change(800, 850) }),
    write(TOPIC, 5, 6n, null, { version: pg.change(100, 120) }),
    write(TOPIC, 6, 155n, { id: 6, name: 'changed after' }, { version: pg.change(2000, 2010) }),
  ], dirty);
  await p1.apply(60n, [write(TOPIC, 4, 3n, { id: 4, name: 'also gone' }, { partition: 1, version: pg.change(100, 130) })], dirty);
  await app.state.recordSnapshotStart(TOPIC, 0, 0, pg.read(S), 100n);
  await app.state.recordSnapshotStart(TOPIC, 1, 0, pg.read(S), 50n);
  // Partition 2 is empty (end 0): nothing to wait for.
  await app.state.recordSnapshot(TOPIC, pg.read(S), 0, new Map([[0, 200n], [1, 80n], [2, 0n]]));
  await redis.del(app.keys.dirty(TOPIC));

  const hk = housekeeping();
  await p0.apply(200n, []);
  await p1.apply(79n, []);
  assert.equal(await hk.runOnce(), true);
  assert.equal(await app.state.size(TOPIC), 6, 'partition 1 has not passed its end offset: nothing deleted yet');
  assert.equal((await new HousekeepingStore(redis, app.id).snapshots()).size, 1, 'the snapshot waits');

  await p1.apply(80n, []);
  await expireLock(app);
  const since = Date.now();
  assert.equal(await hk.runOnce(), true);
  for (const id of [1, 4]) assertMarker(await app.state.get(TOPIC, key(id)), 0n, since, { version: pg.read(S), origin: 'snapshot' }, `row ${id}`);
  assert.deepEqual(await app.state.rows(TOPIC, [key(2), key(3), key(6)]), [{ id: 2, name: 're-read' }, { id: 3, name: 'open across the snapshot' }, { id: 6, name: 'changed after' }]);
  assert.deepEqual(new Map([...sink.docs].filter(([k]) => k === key(1) || k === key(4))), new Map([[key(1), null], [key(4), null]]), 'their documents deleted');
  assert.equal(await app.views.pendingMarks(), 0);
  assert.equal(await metricValue(metrics.registry, METRIC_NAMES.snapshotDeletes, { application_id: app.id, table: TOPIC }), 2);
  assert.deepEqual(await new HousekeepingStore(redis, app.id).snapshots(), new Map(), 'the snapshot is forgotten');
  assert.equal(await redis.exists(app.keys.snapshotStarts), 0, 'and where its reads started');

  await expireLock(app);
  sink.docs.clear();
  assert.equal(await hk.runOnce(), true);
  assert.equal(sink.docs.size, 0, 'nothing to do again');
});

test('runOnce runs on one instance at a time (the lock)', async (t) => {
  const { app, housekeeping } = setup(t);
  const a = housekeeping();
  const b = housekeeping();
  assert.equal(await a.runOnce(), true);
  assert.equal(await b.runOnce(), false);
  assert.equal(await a.runOnce(), false, 'not even the holder before the lock expires');
  const ttl = await redis.pttl(app.keys.housekeepingLock);
  assert.ok(ttl > 0 && ttl <= 9_900, `the lock expires by itself, 100 ms before the next run is due (${ttl} ms left)`);
  assert.ok(ttl > 5_000, `not after a fixed second (${ttl} ms left)`);
  await expireLock(app);
  assert.equal(await b.runOnce(), true);
});

test('runOnce sweeps delete markers older than the retention, at most ten times per retention period', async (t) => {
  const { app, metrics, housekeeping } = setup(t);
  const retention = 60_000;
  const now = 1_767_225_600_000;
  const p = await partitionWriter(app.state, TOPIC, 0);
  await p.apply(1n, [write(TOPIC, 9, 0n, { id: 9 })]);
  const marker = (id: number, deletedAt: number): Promise<number> => redis.hset(app.keys.table(TOPIC), key(id), encodeStored(pg.change(1, id), `0:0:${id}`, null, deletedAt));
  await marker(1, now - retention - 1);
  await marker(2, now - retention + 1);
  const hk = housekeeping(retention);
  const swept = (): Promise<number> => metricValue(metrics.registry, METRIC_NAMES.deleteMarkersSwept, { application_id: app.id, table: TOPIC });

  assert.equal(await hk.runOnce(now), true);
  assert.deepEqual((await redis.hkeys(app.keys.table(TOPIC))).sort(), [key(2), key(9)], 'the marker past the retention goes; a younger one and the row stay');
  assert.equal(await swept(), 1);

  // Marker 2 is past the retention a little later, but the next sweep is due only a tenth of the retention after the last.
  await marker(3, now - retention);
  await expireLock(app);
  assert.equal(await hk.runOnce(now + retention / 10 - 1), true);
  assert.deepEqual((await redis.hkeys(app.keys.table(TOPIC))).sort(), [key(2), key(3), key(9)], 'not swept: not due');
  await expireLock(app);
  assert.equal(await hk.runOnce(now + retention / 10), true);
  assert.deepEqual(await redis.hkeys(app.keys.table(TOPIC)), [key(9)]);
  assert.equal(await swept(), 3);
  assert.equal(await redis.hget(app.keys.positions, partitionField(TOPIC, 0)), '1', 'positions untouched');
});
