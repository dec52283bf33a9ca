/**
 * The decisions of `cdc-views backfill` (src/ops/backfill-signal.ts,
 * src/ops/backfill-follow.ts, src/connect/signalling.ts): signal payloads in
 * Debezium's documented shapes, the refusals before a signal is sent, and the
 * folding of notifications into progress. Notification values follow the
 * sink channel's JSON (JsonConverter, with and without the schema envelope).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { signallingOf } from '../../../src/connect/signalling.ts';
import { ConfigError } from '../../../src/errors.ts';
import { NO_PROGRESS, consumedSince, foldNotification, parseNotification, type Notification, type SnapshotProgress } from '../../../src/ops/backfill-follow.ts';
import { checkSignalling, kafkaSignalRecord, quoteTable, signalFor } from '../../../src/ops/backfill-signal.ts';

const SHOP = {
  'topic.prefix': 'shop',
  'table.include.list': 'public.customers, public.orders,public.cdcv_signal',
  'signal.data.collection': 'public.cdcv_signal',
  'signal.enabled.channels': 'source,kafka',
  'signal.kafka.topic': 'shop.signals',
  'notification.enabled.channels': 'sink',
  'notification.sink.topic.name': 'shop.notifications',
  'incremental.snapshot.chunk.size': '2048',
  'publication.name': 'cdcv_pub',
};

test('signallingOf reads the settings, with Debezium\'s defaults where a key is missing', () => {
  assert.deepEqual(signallingOf(SHOP), {
    topicPrefix: 'shop', signalTable: 'public.cdcv_signal', channels: ['source', 'kafka'], kafkaTopic: 'shop.signals', notificationTopic: 'shop.notifications',
    chunkSize: 2048, readOnly: false, includedTables: ['public.customers', 'public.orders', 'public.cdcv_signal'], publication: 'cdcv_pub',
  });
  const bare = signallingOf({ 'topic.prefix': 'p', 'signal.enabled.channels': 'kafka' });
  assert.equal(bare.kafkaTopic, 'p-signal');
  assert.equal(bare.chunkSize, 1024);
  assert.equal(bare.publication, 'dbz_publication');
  assert.equal(bare.notificationTopic, null);
  assert.deepEqual(signallingOf({}).channels, ['source'], 'the source channel is the default');
  assert.equal(signallingOf({ 'read.only': 'true' }).readOnly, true);
});

test('signalFor: execute-snapshot with data collections and one additional condition per table; stop, pause, resume', () => {
  const start = signalFor('start', 'id-1', ['public.a', 'public.b'], 'tenant = 3');
  assert.equal(start.type, 'execute-snapshot');
  assert.deepEqual(JSON.parse(start.data), {
    type: 'incremental', 'data-collections': ['public.a', 'public.b'],
    'additional-conditions': [{ 'data-collection': 'public.a', filter: 'tenant = 3' }, { 'data-collection': 'public.b', filter: 'tenant = 3' }],
  });
  assert.deepEqual(JSON.parse(signalFor('start', 'id', ['public.a']).data), { type: 'incremental', 'data-collections': ['public.a'] });
  assert.deepEqual(JSON.parse(signalFor('stop', 'id', ['public.a']).data), { type: 'incremental', 'data-collections': ['public.a'] });
  assert.deepEqual(JSON.parse(signalFor('stop', 'id', []).data), { type: 'incremental' }, 'no table stops every table');
  assert.equal(signalFor('pause', 'id', ['public.a'], 'x').type, 'pause-snapshot');
  assert.deepEqual(JSON.parse(signalFor('pause', 'id', ['public.a'], 'x').data), { type: 'incremental' });
  assert.equal(signalFor('resume', 'id', []).type, 'resume-snapshot');
});

test('a Kafka-channel signal goes to partition 0, keyed by topic.prefix, with the data as an object', () => {
  const r = kafkaSignalRecord(signallingOf(SHOP), signalFor('start', 'id-9', ['public.orders']));
  assert.equal(r.partition, 0);
  assert.equal(r.key, 'shop');
  assert.deepEqual(JSON.parse(r.value), { id: 'id-9', type: 'execute-snapshot', data: { type: 'incremental', 'data-collections': ['public.orders'] } });
});

test('quoteTable quotes schema and table, doubling quotes', () => {
  assert.equal(quoteTable('public.orders'), '"public"."orders"');
  assert.equal(quoteTable('we"ird.t.x'), '"we""ird"."t.x"');
  assert.equal(quoteTable('orders'), '"public"."orders"');
});

const refusal = (config: Record<string, string> | null, req: Partial<Parameters<typeof checkSignalling>[3]> = {}): ConfigError | null => {
  try {
    checkSignalling('c1', config, config === null ? null : signallingOf(config), { action: 'start', tables: ['public.orders'], channel: 'source', follow: true, ...req });
    return null;
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
};

test('checkSignalling refuses with the option and the fix', () => {
  assert.equal(refusal(SHOP), null);
  assert.match(refusal(null)!.message, /--connector: Kafka Connect has no connector c1/);
  const { ['signal.data.collection']: _dropped, ...withoutTable } = SHOP;
  const noTable = refusal(withoutTable);
  assert.match(noTable!.message, /--connector: connector c1 has no signal table \(signal\.data\.collection\).*set signal\.data\.collection/);
  assert.match(refusal({ ...SHOP, 'signal.enabled.channels': 'source' }, { channel: 'kafka' })!.message, /--channel: .*does not read the Kafka signal channel/);
  assert.match(refusal({ ...SHOP, 'signal.enabled.channels': 'kafka' })!.message, /--channel: .*use --channel kafka/);
  assert.match(refusal({ ...SHOP, 'notification.enabled.channels': 'log' })!.message, /sends no notifications.*or use --detach/);
  assert.equal(refusal({ ...SHOP, 'notification.enabled.channels': 'log' }, { follow: false }), null, 'detached needs no notifications');
  assert.match(refusal(SHOP, { tables: ['public.orders', 'public.accounts'] })!.message, /--table: connector c1 does not capture public\.accounts .*cdc-views connect add-table c1 public\.accounts --execute/);
  const readOnly = { ...SHOP, 'read.only': 'true', 'signal.enabled.channels': 'kafka' } as Record<string, string>;
  delete readOnly['signal.data.collection'];
  assert.equal(refusal(readOnly, { channel: 'kafka' }), null, 'read-only mode needs no signal table');
});

const envelope = (payload: object): string => JSON.stringify({ schema: { type: 'struct', fields: [] }, payload });
const note = (type: string, data: Record<string, string> = {}, id = 'sig-1'): Notification =>
  parseNotification(Buffer.from(envelope({ id, aggregate_type: 'Incremental Snapshot', type, additional_data: { connector_name: 'shop', ...data }, timestamp: 1 })))!;

test('parseNotification reads the sink channel\'s JSON with and without the schema envelope; anything else is null', () => {
  const n = note('IN_PROGRESS', { current_collection_in_progress: 'public.orders', maximum_key: '[900]', last_processed_key: '[100]' });
  assert.deepEqual(n, { id: 'sig-1', aggregateType: 'Incremental Snapshot', type: 'IN_PROGRESS', data: { connector_name: 'shop', current_collection_in_progress: 'public.orders', maximum_key: '[900]', last_processed_key: '[100]' }, timestamp: 1 });
  assert.deepEqual(parseNotification(JSON.stringify({ id: 'x', aggregate_type: 'Initial Snapshot', type: 'COMPLETED' })), { id: 'x', aggregateType: 'Initial Snapshot', type: 'COMPLETED', data: {}, timestamp: null });
  assert.equal(parseNotification(null), null);
  assert.equal(parseNotification('not json'), null);
  assert.equal(parseNotification(JSON.stringify({ before: null, after: {} })), null);
  assert.equal(parseNotification(JSON.stringify(null)), null);
});

test('foldNotification follows one snapshot: chunks, table scans, pause, completion; others change nothing', () => {
  const steps: [Notification, Partial<SnapshotProgress>][] = [
    [note('STARTED'), { status: 'running', chunks: 0 }],
    [note('IN_PROGRESS', { current_collection_in_progress: 'public.orders', last_processed_key: '[100]', maximum_key: '[900]' }), { chunks: 1, current: { table: 'public.orders', lastKey: '[100]', maximumKey: '[900]' } }],
    [note('PAUSED'), { status: 'paused' }],
    [note('IN_PROGRESS'), { status: 'paused', chunks: 2 }],
    [note('RESUMED'), { status: 'running' }],
    [note('TABLE_SCAN_COMPLETED', { scanned_collection: 'public.orders', total_rows_scanned: '900', status: 'SUCCEEDED' }), { scanned: { 'public.orders': { rows: 900, status: 'SUCCEEDED' } } }],
    [note('IN_PROGRESS', {}, 'another-snapshot'), { chunks: 2 }],
    [{ ...note('COMPLETED'), aggregateType: 'Initial Snapshot' }, { status: 'running' }],
    [note('COMPLETED'), { status: 'completed', current: null }],
  ];
  let p = NO_PROGRESS;
  for (const [n, expected] of steps) {
    p = foldNotification(p, n, 'sig-1');
    for (const [k, v] of Object.entries(expected)) assert.deepEqual(p[k as keyof SnapshotProgress], v, `${n.type} (${n.id}): ${k}`);
  }
  assert.equal(foldNotification(NO_PROGRESS, note('ABORTED', {}, 'running-one'), null).status, 'aborted', 'stop/pause/resume accept the running snapshot\'s id');
  assert.equal(foldNotification(NO_PROGRESS, note('ABORTED', {}, 'running-one'), 'sig-1').status, 'waiting');
  assert.equal(foldNotification(NO_PROGRESS, note('SOMETHING_NEW'), 'sig-1'), NO_PROGRESS);
});

test('consumedSince sums the backfill counters of the topics since the baseline, missing counters as 0', () => {
  const before = { 'backfill:s.public.a': '10', 'applied:s.public.a': '99' };
  const now = { 'backfill:s.public.a': '25', 'backfill:s.public.b': '7', 'backfill:s.public.c': '1000' };
  assert.equal(consumedSince(before, now, ['s.public.a', 's.public.b']), 22);
  assert.equal(consumedSince({}, {}, ['s.public.a']), 0);
});
