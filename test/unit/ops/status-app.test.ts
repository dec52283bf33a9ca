/**
 * appStatus (src/ops/status.ts) against the file's private test Redis and an
 * Admin stand-in (describeGroups, fetchTopicOffsets only): group state and
 * members; per partition with a stored position its position, log start, end
 * offset, lag and last event; per table its entries, applied / stale counts,
 * incomplete rows and kind of versions; the DLQ count, the pending renders and
 * the partitions built without their history. Also formatStatus on a member
 * host with a slash that is not leading.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Admin } from 'kafkajs';
import { appStatus, formatStatus, lagOf, type AppStatus } from '../../../src/ops/status.ts';
import { fileRedis, newApp, partitionWriter, write } from '../state/helpers.ts';

const redis = await fileRedis();
const TOPIC = 'shop.public.items';

const admin = (groups: Record<string, { state: string; hosts: string[] }>, offsets: Record<string, [number, number, number][]>): Admin =>
  ({
    describeGroups: (ids: string[]) =>
      Promise.resolve({ groups: ids.filter((id) => groups[id]).map((id) => ({ groupId: id, state: groups[id]!.state, members: groups[id]!.hosts.map((h, i) => ({ memberId: `m-${i}`, clientId: 'cdcv', clientHost: h })) })) }),
    fetchTopicOffsets: (topic: string) => Promise.resolve((offsets[topic] ?? []).map(([partition, low, high]) => ({ partition, offset: String(high), low: String(low), high: String(high) }))),
  }) as unknown as Admin;

test('appStatus: everything an application stored, with its group and lag', async (t) => {
  const app = newApp(t, redis);
  const w = await partitionWriter(app.state, TOPIC, 0);
  // Two new keys are applied; then key 1 again at the version it already has: stale.
  await w.apply(2n, [write('public.items', 1, 0, { id: 1 }), write('public.items', 2, 1, { id: 2 })]);
  await w.apply(3n, [write('public.items', 1, 0, { id: 1 })]);
  await redis.hset(app.keys.stats, 'dlq', '4', `lastEvent:${TOPIC}:0`, String(Date.UTC(2026, 4, 1)));
  await redis.hset(app.keys.incomplete('public.items'), '{"id":2}', '1');
  await redis.hset(app.keys.dirty('public.items'), '{"id":1}', 'x', '{"id":2}', 'y');
  await app.state.recordHistoryLost(TOPIC, 0, 5n);
  const s = await appStatus(redis, admin({ [app.id]: { state: 'Stable', hosts: ['/10.0.0.7'] } }, { [TOPIC]: [[0, 0, 10]], other: [[0, 0, 99]] }), app.id);
  assert.deepEqual(s, {
    applicationId: app.id,
    groupState: 'Stable',
    members: [{ memberId: 'm-0', clientId: 'cdcv', clientHost: '/10.0.0.7' }],
    partitions: [{ topic: TOPIC, partition: 0, position: '3', logStart: '0', endOffset: '10', lag: '7', lastEventAt: '2026-05-01T00:00:00.000Z' }],
    totalLag: '7',
    tables: { 'public.items': { entries: 2, applied: 2, stale: 1, incomplete: 1, versions: 'kafka-offset' } },
    lastEventAt: '2026-05-01T00:00:00.000Z',
    dlq: 4,
    rendersPending: 2,
    historyLost: { [`${TOPIC}:0`]: '5' },
  } satisfies AppStatus);
});

test('appStatus: an application that never ran: group Dead, nothing stored, counts 0', async (t) => {
  const app = newApp(t, redis);
  assert.deepEqual(await appStatus(redis, admin({}, {}), app.id), {
    applicationId: app.id,
    groupState: 'Dead',
    members: [],
    partitions: [],
    totalLag: '0',
    tables: {},
    lastEventAt: null,
    dlq: 0,
    rendersPending: 0,
    historyLost: {},
  });
});

test('appStatus: a table without stats or versions counts 0 applied, 0 stale, versions null', async (t) => {
  const app = newApp(t, redis);
  await redis.sadd(app.keys.tables, 'public.empty');
  const s = await appStatus(redis, admin({}, {}), app.id);
  assert.deepEqual(s.tables, { 'public.empty': { entries: 0, applied: 0, stale: 0, incomplete: 0, versions: null } });
});

test('lagOf: the given topics, every partition of them, even without a stored position', async (t) => {
  const app = newApp(t, redis);
  const { rows, total } = await lagOf(redis, admin({}, { [TOPIC]: [[1, 2, 8], [0, 0, 3]] }), app.id, [TOPIC]);
  assert.deepEqual(rows, [
    { topic: TOPIC, partition: 0, position: null, logStart: '0', endOffset: '3', lag: '3' },
    { topic: TOPIC, partition: 1, position: null, logStart: '2', endOffset: '8', lag: '6' },
  ]);
  assert.equal(total, 9n);
});

test('formatStatus: only a leading slash of a member host is dropped', () => {
  const s: AppStatus = { applicationId: 'x', groupState: 'Stable', members: [{ memberId: 'm', clientId: 'c', clientHost: 'pod/10.0.0.7' }], partitions: [], totalLag: '0', tables: {}, lastEventAt: null, dlq: 0, rendersPending: 0, historyLost: {} };
  assert.match(formatStatus(s), /\n {2}member c on pod\/10\.0\.0\.7 \(m\)\n/);
});
