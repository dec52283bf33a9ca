/**
 * Kafka look-ups shared by the operator commands: group members, watermarks,
 * offsets by time, topic configs, and the timestamp of the oldest retained
 * record of a partition.
 */
import { randomUUID } from 'node:crypto';
import kafkajs, { type Admin, type Kafka } from 'kafkajs';

// kafkajs is CommonJS: its enums are reachable through the default export only.
const { ConfigResourceTypes } = kafkajs;
import { CdcViewsError } from '../errors.ts';

/** One member of a consumer group, as `describeGroups` reports it. */
export interface GroupMember {
  memberId: string;
  clientId: string;
  clientHost: string;
}

/** Group state (`Stable`, `Empty`, `Dead` = no such group, …) and members. */
export async function groupMembers(admin: Admin, groupId: string): Promise<{ state: string; members: GroupMember[] }> {
  const { groups } = await admin.describeGroups([groupId]);
  const g = groups[0];
  return { state: g?.state ?? 'Dead', members: (g?.members ?? []).map((m) => ({ memberId: m.memberId, clientId: m.clientId, clientHost: m.clientHost })) };
}

/**
 * Refuses an operation while the application has running members.
 * @throws {CdcViewsError} OPS_APP_RUNNING naming each member (client id, host).
 */
export async function assertStopped(admin: Admin, applicationId: string, action: string): Promise<void> {
  const { state, members } = await groupMembers(admin, applicationId);
  if (members.length === 0) return;
  const list = members.map((m) => `${m.clientId} on ${m.clientHost.replace(/^\//, '')} (member ${m.memberId})`).join('; ');
  throw new CdcViewsError('OPS_APP_RUNNING', `cannot ${action}: application ${applicationId} has ${members.length} running member(s) (group ${state}): ${list}. Stop them first (SIGTERM lets in-flight batches finish)`);
}

/** Low (log start) and high (end) watermark of each partition. */
export interface PartitionOffsets {
  partition: number;
  low: bigint;
  high: bigint;
}

export async function watermarks(admin: Admin, topic: string): Promise<PartitionOffsets[]> {
  return (await admin.fetchTopicOffsets(topic))
    .map((p) => ({ partition: p.partition, low: BigInt(p.low), high: BigInt(p.high) }))
    .sort((a, b) => a.partition - b.partition);
}

/** Per partition: the earliest offset whose record timestamp is ≥ `timestampMs` (the end offset when none is). */
export async function offsetsForTime(admin: Admin, topic: string, timestampMs: number): Promise<Map<number, bigint>> {
  return new Map((await admin.fetchTopicOffsetsByTimestamp(topic, timestampMs)).map((e) => [e.partition, BigInt(e.offset)]));
}

/** The group's committed offset per partition (null when none). */
export async function committedOffsets(admin: Admin, groupId: string, topic: string): Promise<Map<number, bigint | null>> {
  const [res] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map((res?.partitions ?? []).map((p) => [p.partition, p.offset === '-1' ? null : BigInt(p.offset)]));
}

/** `cleanup.policy` and `retention.ms` of a topic. */
export async function topicRetention(admin: Admin, topic: string): Promise<{ cleanupPolicy: string; retentionMs: number }> {
  const res = await admin.describeConfigs({
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: ['cleanup.policy', 'retention.ms'] }],
    includeSynonyms: false,
  });
  const entries = res.resources[0]?.configEntries ?? [];
  const value = (name: string): string | undefined => entries.find((e) => e.configName === name)?.configValue;
  return { cleanupPolicy: value('cleanup.policy') ?? 'delete', retentionMs: Number(value('retention.ms') ?? '-1') };
}

/**
 * Timestamp (ms) of the first record still retained in each of the given
 * partitions (the record at or after the low watermark). Reads with a
 * throw-away consumer group (deleted afterwards). A partition whose log is
 * empty is absent from the result.
 * @param timeoutMs @defaultValue 30000
 */
export async function oldestRecordTimestamps(kafka: Kafka, admin: Admin, topic: string, partitions: readonly number[], timeoutMs = 30_000): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  const marks = (await watermarks(admin, topic)).filter((w) => partitions.includes(w.partition) && w.high > w.low);
  if (marks.length === 0) return out;
  const groupId = `cdcv-ops-peek-${randomUUID().slice(0, 8)}`;
  const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1000 });
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new CdcViewsError('OPS_TIMEOUT', `could not read the oldest record of ${topic} within ${timeoutMs} ms`)), timeoutMs);
      consumer
        .run({
          autoCommit: false,
          eachBatch: ({ batch }) => {
            const first = batch.messages[0];
            if (first && !out.has(batch.partition)) out.set(batch.partition, Number(first.timestamp));
            if (marks.every((m) => out.has(m.partition))) {
              clearTimeout(timer);
              resolve();
            }
            return Promise.resolve();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }
  return out;
}

/** How long {@link setGroupOffsets} waits for its one group join and commit, ms. */
const SET_OFFSETS_TIMEOUT_MS = 30_000;

/**
 * Moves a stopped group's committed offsets, every topic in one group join:
 * a consumer of the group joins, seeks each partition to its target on the
 * join, commits those offsets and leaves. (KafkaJS' `admin.setOffsets` does
 * the same per topic and waits a whole fetch — 5 s — each time.) The group
 * must have no running member (checked here, as `admin.setOffsets` does).
 * @param targets the committed offset per partition (the next record to read)
 * @throws {CdcViewsError} OPS_APP_RUNNING when the group has members; KAFKA_TIMEOUT when the join and commit take longer than 30 s
 */
export async function setGroupOffsets(kafka: Kafka, groupId: string, targets: readonly { topic: string; partition: number; offset: bigint }[]): Promise<void> {
  if (targets.length === 0) return;
  const admin = kafka.admin();
  await admin.connect();
  try {
    const { state } = await groupMembers(admin, groupId);
    if (state !== 'Empty' && state !== 'Dead') throw new CdcViewsError('OPS_APP_RUNNING', `group ${groupId} is ${state}: its offsets can be set only while no member runs; stop the application first`);
  } finally {
    await admin.disconnect();
  }
  const offsets = targets.map((t) => ({ topic: t.topic, partition: t.partition, offset: t.offset.toString() }));
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, allowAutoTopicCreation: false, retry: { retries: 3 } });
  let timer: NodeJS.Timeout | undefined;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [...new Set(targets.map((t) => t.topic))], fromBeginning: true });
    const joined = new Promise<void>((resolve, reject) => {
      consumer.on(consumer.events.GROUP_JOIN, () => {
        for (const o of offsets) consumer.seek(o);
        resolve();
      });
      consumer.on(consumer.events.CRASH, (e) => reject(e.payload.error));
      timer = setTimeout(() => reject(new CdcViewsError('KAFKA_TIMEOUT', `setting the offsets of group ${groupId}: no group join within ${SET_OFFSETS_TIMEOUT_MS} ms`)), SET_OFFSETS_TIMEOUT_MS);
    });
    await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: () => Promise.resolve() });
    await joined;
    await consumer.commitOffsets(offsets);
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
  }
}
