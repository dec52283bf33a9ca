/**
 * The Kafka look-ups of the operator commands (src/ops/kafka.ts) against an
 * Admin stand-in with only the methods each one calls, and a Kafka stand-in
 * whose consumer the test feeds: group members and the "stop it first"
 * refusal, watermarks sorted by partition, offsets by time, committed
 * offsets (-1 = none), retention settings and their defaults, the oldest
 * retained record's timestamp per partition, group offsets set per topic.
 * Also readCacheDocuments (src/ops/cache-reader.ts) on the test Redis.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Admin, EachBatchPayload, Kafka } from 'kafkajs';
import { CdcViewsError } from '../../../src/errors.ts';
import { readCacheDocument, readCacheDocuments } from '../../../src/ops/cache-reader.ts';
import { assertStopped, committedOffsets, groupMembers, offsetsForTime, oldestRecordTimestamps, topicRetention, watermarks } from '../../../src/ops/kafka.ts';
import { fileRedis, uniqueId } from '../state/helpers.ts';

const redis = await fileRedis();

const asAdmin = (methods: Record<string, unknown>): Admin => methods as unknown as Admin;

const described = (groups: unknown[]): Admin => asAdmin({ describeGroups: (ids: string[]) => (assert.deepEqual(ids, ['app-1']), Promise.resolve({ groups })) });
const kafkaMember = (memberId: string, clientHost: string) => ({ memberId, clientId: 'cdc-views', clientHost, memberMetadata: Buffer.alloc(0), memberAssignment: Buffer.alloc(0) });

test('groupMembers: the group state and its members (id, client, host only); no group is Dead', async () => {
  assert.deepEqual(await groupMembers(described([{ groupId: 'app-1', state: 'Stable', members: [kafkaMember('m-1', '/10.0.0.1')] }]), 'app-1'), {
    state: 'Stable',
    members: [{ memberId: 'm-1', clientId: 'cdc-views', clientHost: '/10.0.0.1' }],
  });
  assert.deepEqual(await groupMembers(described([]), 'app-1'), { state: 'Dead', members: [] });
});

test('assertStopped: passes without members; refuses naming each member without the leading slash of its host', async () => {
  await assertStopped(described([{ groupId: 'app-1', state: 'Empty', members: [] }]), 'app-1', 'rewind');
  const admin = described([{ groupId: 'app-1', state: 'Stable', members: [kafkaMember('m-1', '/10.0.0.1'), kafkaMember('m-2', 'pod/b')] }]);
  await assert.rejects(assertStopped(admin, 'app-1', 'rewind'), (err: unknown) => {
    assert.ok(err instanceof CdcViewsError);
    assert.equal(err.code, 'OPS_APP_RUNNING');
    assert.equal(err.message, 'cannot rewind: application app-1 has 2 running member(s) (group Stable): cdc-views on 10.0.0.1 (member m-1); cdc-views on pod/b (member m-2). Stop them first (SIGTERM lets in-flight batches finish)');
    return true;
  });
});

test('watermarks: low and high per partition, as bigints, sorted by partition', async () => {
  const admin = asAdmin({ fetchTopicOffsets: () => Promise.resolve([{ partition: 2, offset: '9', low: '3', high: '9' }, { partition: 0, offset: '5', low: '0', high: '5' }, { partition: 10, offset: '1', low: '1', high: '1' }]) });
  assert.deepEqual(await watermarks(admin, 't'), [
    { partition: 0, low: 0n, high: 5n },
    { partition: 2, low: 3n, high: 9n },
    { partition: 10, low: 1n, high: 1n },
  ]);
});

test('offsetsForTime: the offset per partition for the timestamp asked', async () => {
  const admin = asAdmin({
    fetchTopicOffsetsByTimestamp: (topic: string, ts: number) => (assert.deepEqual([topic, ts], ['t', 1234]), Promise.resolve([{ partition: 0, offset: '7' }, { partition: 1, offset: '12' }])),
  });
  assert.deepEqual(await offsetsForTime(admin, 't', 1234), new Map([[0, 7n], [1, 12n]]));
});

test('committedOffsets: per partition, null for -1 (none committed); nothing for an unknown topic', async () => {
  const admin = asAdmin({
    fetchOffsets: ({ groupId, topics }: { groupId: string; topics: string[] }) =>
      Promise.resolve(topics[0] === 't' && groupId === 'g' ? [{ topic: 't', partitions: [{ partition: 0, offset: '-1' }, { partition: 1, offset: '42' }] }] : []),
  });
  assert.deepEqual(await committedOffsets(admin, 'g', 't'), new Map([[0, null], [1, 42n]]));
  assert.deepEqual(await committedOffsets(admin, 'g', 'u'), new Map());
});

test('topicRetention: cleanup.policy and retention.ms of the topic; delete and -1 when not reported', async () => {
  const requests: unknown[] = [];
  const answer = (entries: { configName: string; configValue: string }[]) =>
    asAdmin({ describeConfigs: (r: unknown) => (requests.push(r), Promise.resolve({ resources: [{ configEntries: entries }] })) });
  assert.deepEqual(await topicRetention(answer([{ configName: 'retention.ms', configValue: '604800000' }, { configName: 'cleanup.policy', configValue: 'compact,delete' }]), 'orders'), { cleanupPolicy: 'compact,delete', retentionMs: 604800000 });
  assert.deepEqual(requests, [{ resources: [{ type: 2, name: 'orders', configNames: ['cleanup.policy', 'retention.ms'] }], includeSynonyms: false }]);
  assert.deepEqual(await topicRetention(answer([]), 'orders'), { cleanupPolicy: 'delete', retentionMs: -1 });
  assert.deepEqual(await topicRetention(asAdmin({ describeConfigs: () => Promise.resolve({ resources: [] }) }), 'orders'), { cleanupPolicy: 'delete', retentionMs: -1 });
});

/** A Kafka stand-in: its consumer records its settings and calls, and hands `batches` to eachBatch once run. */
function peekKafka(batches: { partition: number; timestamps: string[] }[]): { kafka: Kafka; log: string[]; config: () => Record<string, unknown> } {
  const log: string[] = [];
  let config: Record<string, unknown> = {};
  const kafka = {
    consumer: (c: Record<string, unknown>) => {
      config = c;
      return {
        connect: () => (log.push('connect'), Promise.resolve()),
        subscribe: (s: unknown) => (log.push(`subscribe ${JSON.stringify(s)}`), Promise.resolve()),
        disconnect: () => (log.push('disconnect'), Promise.resolve()),
        run: ({ autoCommit, eachBatch }: { autoCommit: boolean; eachBatch: (p: EachBatchPayload) => Promise<void> }) => {
          log.push(`run autoCommit=${autoCommit}`);
          void (async () => {
            for (const b of batches) await eachBatch({ batch: { partition: b.partition, messages: b.timestamps.map((timestamp) => ({ timestamp })) } } as unknown as EachBatchPayload);
          })();
          return Promise.resolve();
        },
      };
    },
  } as unknown as Kafka;
  return { kafka, log, config: () => config };
}

test('oldestRecordTimestamps: the first record\'s timestamp of each asked partition with records; the peek group is deleted', async () => {
  const deleted: string[][] = [];
  const admin = asAdmin({
    fetchTopicOffsets: () => Promise.resolve([0, 1, 2, 3].map((p) => ({ partition: p, offset: '9', low: p === 2 ? '4' : '0', high: p === 2 ? '4' : '9' }))),
    deleteGroups: (ids: string[]) => (deleted.push(ids), Promise.reject(new Error('ignored'))),
  });
  // Partition 2 is empty (low = high) and 3 is not asked: only 0 and 1 are waited for; a later batch of 0 does not replace its first.
  const { kafka, log, config } = peekKafka([
    { partition: 0, timestamps: ['1000', '1001'] },
    { partition: 3, timestamps: ['5'] },
    { partition: 0, timestamps: ['2000'] },
    { partition: 1, timestamps: [] },
    { partition: 1, timestamps: ['3000'] },
  ]);
  const out = await oldestRecordTimestamps(kafka, admin, 'orders', [0, 1, 2], 60_000);
  // Only the asked partitions are checked: a partition not asked may be reported too (the peek consumer reads the whole topic).
  assert.deepEqual([0, 1, 2].map((p) => out.get(p)), [1000, 3000, undefined]);
  const groupId = config().groupId as string;
  assert.match(groupId, /^cdcv-ops-peek-[0-9a-f]{8}$/);
  assert.deepEqual(config(), { groupId, sessionTimeout: 10_000, heartbeatInterval: 1000 });
  assert.deepEqual(log, ['connect', 'subscribe {"topics":["orders"],"fromBeginning":true}', 'run autoCommit=false', 'disconnect']);
  assert.deepEqual(deleted, [[groupId]]);
});

test('oldestRecordTimestamps: no asked partition holds records: no consumer at all', async () => {
  const admin = asAdmin({ fetchTopicOffsets: () => Promise.resolve([{ partition: 0, offset: '4', low: '4', high: '4' }]) });
  const { kafka, log } = peekKafka([]);
  assert.deepEqual(await oldestRecordTimestamps(kafka, admin, 'orders', [0]), new Map());
  assert.deepEqual(log, []);
});

test('oldestRecordTimestamps: a partition that never delivers ends in OPS_TIMEOUT, and the consumer is still disconnected', async () => {
  const admin = asAdmin({ fetchTopicOffsets: () => Promise.resolve([{ partition: 0, offset: '4', low: '0', high: '4' }]), deleteGroups: () => Promise.resolve() });
  const { kafka, log } = peekKafka([]);
  await assert.rejects(oldestRecordTimestamps(kafka, admin, 'orders', [0], 20), { code: 'OPS_TIMEOUT', message: 'could not read the oldest record of orders within 20 ms' });
  assert.equal(log.at(-1), 'disconnect');
});

test('readCacheDocuments: the documents under the prefix the topology\'s pointer names, and that prefix', async (t) => {
  const topology = uniqueId('rc');
  const prefix = `cache:${topology}-v2:item:`;
  t.after(async () => {
    const keys = await redis.keys(`cache:${topology}*`);
    if (keys.length > 0) await redis.del(...keys);
  });
  assert.deepEqual(await readCacheDocuments(redis, topology, 'item', ['{"id":1}']), { prefix: null, docs: [null] }, 'nothing promoted');
  await redis.set(`cache:${topology}:item:__current`, prefix);
  await redis.set(`${prefix}{"id":1}`, JSON.stringify({ id: 1, name: 'one' }));
  assert.deepEqual(await readCacheDocuments(redis, topology, 'item', ['{"id":1}', '{"id":2}']), { prefix, docs: [{ id: 1, name: 'one' }, null] });
  assert.deepEqual(await readCacheDocument(redis, topology, 'item', '{"id":1}'), { id: 1, name: 'one' });
  assert.equal(await readCacheDocument(redis, topology, 'item', '{"id":2}'), null);
  await redis.set(`x:${topology}:__current`, prefix);
  assert.deepEqual(await readCacheDocument(redis, topology, 'item', '{"id":1}', 'x:{app}:'), { id: 1, name: 'one' }, 'another prefix template');
});
