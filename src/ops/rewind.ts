/**
 * Rewind: move a stopped application's positions — the ones stored with its
 * state in Redis, and its Kafka group offsets — with the semantics of
 * `kafka-consumer-groups --reset-offsets` (Apache Kafka's tool): a plan first,
 * executed only on request.
 *
 * ## Order of the writes, and why a failure in between is harmless
 * 1. view re-render marks (see below), 2. Kafka group offsets, 3. Redis
 * positions. The processor trusts the Redis positions (it seeks to them on
 * assignment whatever Kafka holds), so until step 3 the application still
 * resumes where it was; and since "current" is read from Redis, running the
 * same rewind again after a failure computes the same plan (even `--shift-by`).
 * Extra re-render marks only cause renders that write what is already there.
 *
 * ## Re-rendering views (docs/architecture.md, "Rewind vs replay")
 * Events re-consumed after a rewind are skipped by the version guard (their
 * versions are not newer), so by themselves they would re-render nothing. A
 * rewind therefore marks for rendering every row of the topology's tables
 * whose stored version (its source offset) is ≥ the smallest target offset of
 * its topic's rewound partitions. The key's partition is not stored, so this
 * is a superset of the rows changed since the target — re-rendering a row
 * with unchanged inputs is idempotent. The marks are table-level (`dirty:<table>`),
 * so joins and roll-ups fan out to every dependent document as for a live
 * change; the next `run` renders them with its (fixed) code before consuming.
 * A bug in decoding, by contrast, is not fixed by a rewind in place (state
 * writes of old events are no-ops): replay into a new version instead.
 */
import type { Admin, Kafka } from 'kafkajs';
import type { Redis } from 'ioredis';
import { CdcViewsError } from '../errors.ts';
import { Positions } from '../state/encoding.ts';
import { StateStore } from '../state/store.ts';
import { tablesOf, type TopologyPlan } from '../topology/plan.ts';
import { groupMembers, assertStopped, committedOffsets, offsetsForTime, oldestRecordTimestamps, setGroupOffsets, watermarks } from './kafka.ts';
import { gapSuspects, markRetentionGaps, requestedTime, rerenderTargets, rewindScope, selectPartitions, topicRows, type RewindPlan, type RewindRow, type RewindTarget } from './rewind-plan.ts';
import type { TopicScope } from './parse.ts';

export type { TopicScope } from './parse.ts';
export type { RetentionGap, RewindPlan, RewindRow, RewindTarget } from './rewind-plan.ts';
export { durationMs, formatDuration, parseDatetime, parseTopicScope, readOffsetsCsv } from './parse.ts';
export { formatPlan, planCsv, planJson } from './rewind-plan.ts';

/**
 * Computes a rewind plan. Scope: the given topics (all their partitions unless
 * listed), or every partition the application has a stored position for.
 * @throws {CdcViewsError} OPS_NOTHING_TO_REWIND when the app has no stored position and no --topic is given.
 */
export async function planRewind(ctx: { redis: Redis; admin: Admin; kafka: Kafka }, applicationId: string, target: RewindTarget, scope: readonly TopicScope[] = [], now = Date.now()): Promise<RewindPlan> {
  const positions = await new StateStore(ctx.redis, applicationId).positions();
  const wanted = rewindScope(applicationId, target, scope, positions);
  const timestampMs = requestedTime(target, now);
  const rows: RewindRow[] = [];
  const warnings: string[] = [];
  const existing = new Set(await ctx.admin.listTopics());
  for (const [topic, parts] of wanted) {
    if (!existing.has(topic)) throw new CdcViewsError('OPS_UNKNOWN_TOPIC', `topic ${topic} does not exist`);
    const selected = selectPartitions(topic, parts, await watermarks(ctx.admin, topic));
    const committed = await committedOffsets(ctx.admin, applicationId, topic);
    const byTime = timestampMs === undefined ? undefined : await offsetsForTime(ctx.admin, topic, timestampMs);
    const planned = topicRows(target, topic, selected, positions, committed, byTime);
    warnings.push(...planned.warnings);
    if (timestampMs !== undefined) {
      // History older than the log start: only a partition whose log start moved (low > 0) can have lost records after T.
      const suspect = gapSuspects(planned.rows);
      if (suspect.length > 0) warnings.push(...markRetentionGaps(topic, suspect, await oldestRecordTimestamps(ctx.kafka, ctx.admin, topic, suspect.map((r) => r.partition)), timestampMs));
    }
    rows.push(...planned.rows);
  }
  return { applicationId, target, ...(timestampMs === undefined ? {} : { timestampMs }), rows, warnings };
}

/** Outcome of {@link executeRewind}. */
export interface RewindResult {
  /** Table rows marked for re-rendering, per table. */
  marked: Record<string, number>;
  /** What the operator should know (an instance that started meanwhile). */
  warnings: string[];
}

/** Progress of marking views for re-rendering: entries of the topology's tables scanned so far, of `total`. */
export type RewindProgress = (scanned: number, total: number) => void;

/**
 * Executes a plan: refuses while the group has members, marks the rows to
 * re-render (when a topology is given), moves the Kafka group offsets, then
 * the positions stored with the state (see the module comment for the order).
 * `onProgress` follows the marking, table by table.
 * @throws {CdcViewsError} OPS_APP_RUNNING naming the members.
 */
export async function executeRewind(ctx: { redis: Redis; admin: Admin; kafka: Kafka }, plan: RewindPlan, topology?: TopologyPlan, onProgress?: RewindProgress): Promise<RewindResult> {
  await assertStopped(ctx.admin, plan.applicationId, 'rewind');
  const store = new StateStore(ctx.redis, plan.applicationId);
  const marked: Record<string, number> = {};
  if (topology) {
    const targets = [...rerenderTargets(plan.rows, tablesOf(topology))];
    const sizes = await Promise.all(targets.map(([table]) => store.size(table)));
    const total = sizes.reduce((a, b) => a + b, 0);
    let scanned = 0;
    onProgress?.(0, total);
    for (const [i, [table, byPartition]] of targets.entries()) {
      marked[table] = await store.markRowsChangedSince(table, byPartition);
      scanned += sizes[i]!;
      onProgress?.(scanned, total);
    }
  }
  const moves = plan.rows.map((r) => ({ topic: r.topic, partition: r.partition, offset: r.target }));
  await setGroupOffsets(ctx.kafka, plan.applicationId, moves);
  // An instance that started after the check above: its next write is refused (it rejoins and reads the new positions).
  await store.fenceAll();
  await store.setPositions(Positions.of(moves));
  const { members } = await groupMembers(ctx.admin, plan.applicationId);
  const warnings = members.length > 0 ? [`${members.length} member(s) joined ${plan.applicationId} during the rewind; they were fenced and resume from the rewound positions`] : [];
  return { marked, warnings };
}
