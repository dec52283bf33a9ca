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
import { readFileSync } from 'node:fs';
import type { Admin, Kafka } from 'kafkajs';
import type { Redis } from 'ioredis';
import { parse as parseDuration, toSeconds } from 'iso8601-duration';
import { tableFromTopic } from '../cdc/debezium-json.ts';
import { CdcViewsError, ConfigError } from '../errors.ts';
import { Positions } from '../state/encoding.ts';
import { StateStore } from '../state/store.ts';
import { tablesOf, type TopologyPlan } from '../topology/plan.ts';
import { assertStopped, committedOffsets, oldestRecordTimestamps, setGroupOffsets, watermarks } from './kafka.ts';

/** What to rewind to: exactly one of kafka-consumer-groups' reset specifications. */
export type RewindTarget =
  | { kind: 'to-datetime'; timestampMs: number }
  | { kind: 'by-duration'; duration: string }
  | { kind: 'to-earliest' }
  | { kind: 'to-latest' }
  | { kind: 'shift-by'; by: bigint }
  | { kind: 'to-offset'; offset: bigint }
  | { kind: 'from-file'; entries: { topic: string; partition: number; offset: bigint }[] };

/** A topic, optionally restricted to some partitions (`--topic t[:p,p]`). */
export interface TopicScope {
  topic: string;
  partitions?: number[];
}

/** History the log no longer holds for a requested time. */
export interface RetentionGap {
  /** Timestamp of the oldest record still retained, ms. */
  oldestRetainedMs: number;
  /** oldestRetainedMs − requested time, ms. */
  gapMs: number;
  /** Offsets before the low watermark are deleted: how many of them fell after the requested time is unknown. */
  deletedOffsets: bigint;
}

/** One partition of a rewind plan. */
export interface RewindRow {
  topic: string;
  partition: number;
  /** Position stored with the state (or the group's committed offset, or the low watermark, when none). */
  current: bigint;
  /** Where `current` came from. */
  currentFrom: 'state' | 'group' | 'log-start';
  target: bigint;
  low: bigint;
  high: bigint;
  /** current − target: records processed again (negative: records skipped). */
  reprocess: bigint;
  /** The requested target was outside the log and was clamped to its start or end. */
  clamped?: 'start' | 'end';
  gap?: RetentionGap;
}

export interface RewindPlan {
  applicationId: string;
  target: RewindTarget;
  /** The requested time (to-datetime, by-duration), ms. */
  timestampMs?: number;
  rows: RewindRow[];
  warnings: string[];
}

/** Parses `--topic t` or `t:0,2`. @throws {ConfigError} */
export function parseTopicScope(value: string): TopicScope {
  const m = /^([A-Za-z0-9._-]+)(?::(\d+(?:,\d+)*))?$/.exec(value);
  if (!m) throw new ConfigError('--topic', `${JSON.stringify(value)}: expected <topic> or <topic>:<partition>[,<partition>…], e.g. demo.public.orders:0,2`);
  return m[2] ? { topic: m[1]!, partitions: m[2].split(',').map(Number) } : { topic: m[1]! };
}

/** Parses a datetime given to --to-datetime / --from: ISO-8601 with a zone (Z or ±hh:mm). @throws {ConfigError} */
export function parseDatetime(value: string, flag: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) throw new ConfigError(flag, `${JSON.stringify(value)} is not an ISO-8601 datetime with a zone, e.g. 2026-05-01T00:00:00Z or 2026-05-01T02:00:00.000+02:00`);
  return ms;
}

/** Milliseconds of an ISO-8601 duration (P1D, PT2H30M, P1DT12H; years and months count as 365 and 30 days). @throws {ConfigError} */
export function durationMs(value: string): number {
  try {
    const ms = toSeconds(parseDuration(value)) * 1000;
    if (!(ms > 0)) throw new Error('not positive');
    return ms;
  } catch {
    throw new ConfigError('--by-duration', `${JSON.stringify(value)} is not a positive ISO-8601 duration, e.g. P1D, PT2H, P1DT12H`);
  }
}

/** Reads `--from-file` CSV lines `topic,partition,offset` (as `--export` writes them; a header line is skipped). @throws {ConfigError} */
export function readOffsetsCsv(file: string): { topic: string; partition: number; offset: bigint }[] {
  const out: { topic: string; partition: number; offset: bigint }[] = [];
  const lines = readFileSync(file, 'utf8').split(/\r?\n/);
  lines.forEach((line, i) => {
    const cells = line.trim().split(',');
    if (line.trim() === '' || (i === 0 && cells[0] === 'topic')) return;
    if (cells.length < 3 || !/^\d+$/.test(cells[1]!) || !/^\d+$/.test(cells[2]!)) throw new ConfigError('--from-file', `${file} line ${i + 1}: expected topic,partition,offset, got ${JSON.stringify(line)}`);
    out.push({ topic: cells[0]!, partition: Number(cells[1]), offset: BigInt(cells[2]!) });
  });
  return out;
}

/** Human-readable duration, e.g. `1d 2h 3m 4s`. */
export function formatDuration(ms: number): string {
  let s = Math.round(ms / 1000);
  const parts: string[] = [];
  for (const [unit, n] of [['d', 86_400], ['h', 3600], ['m', 60]] as const) {
    if (s >= n) {
      parts.push(`${Math.floor(s / n)}${unit}`);
      s %= n;
    }
  }
  if (s > 0 || parts.length === 0) parts.push(`${s}s`);
  return parts.join(' ');
}

/**
 * Computes a rewind plan. Scope: the given topics (all their partitions unless
 * listed), or every partition the application has a stored position for.
 * @throws {CdcViewsError} OPS_NOTHING_TO_REWIND when the app has no stored position and no --topic is given.
 */
export async function planRewind(ctx: { redis: Redis; admin: Admin; kafka: Kafka }, applicationId: string, target: RewindTarget, scope: readonly TopicScope[] = [], now = Date.now()): Promise<RewindPlan> {
  const store = new StateStore(ctx.redis, applicationId);
  const positions = await store.positions();
  const warnings: string[] = [];
  const wanted = new Map<string, Set<number> | 'all'>();
  if (target.kind === 'from-file') {
    for (const e of target.entries) {
      const s = wanted.get(e.topic);
      if (s !== 'all') wanted.set(e.topic, (s ?? new Set()).add(e.partition));
    }
  } else if (scope.length > 0) {
    for (const s of scope) {
      const have = wanted.get(s.topic);
      if (!s.partitions || have === 'all') wanted.set(s.topic, 'all');
      else wanted.set(s.topic, new Set([...(have ?? []), ...s.partitions]));
    }
  } else {
    for (const { topic, partition } of positions.entries()) {
      const s = wanted.get(topic);
      if (s !== 'all') wanted.set(topic, (s ?? new Set()).add(partition));
    }
  }
  if (wanted.size === 0) throw new CdcViewsError('OPS_NOTHING_TO_REWIND', `application ${applicationId} has no stored positions; name the topics with --topic <topic>`);

  const timestampMs = target.kind === 'to-datetime' ? target.timestampMs : target.kind === 'by-duration' ? now - durationMs(target.duration) : undefined;
  const rows: RewindRow[] = [];
  const existing = new Set(await ctx.admin.listTopics());
  for (const [topic, parts] of [...wanted].sort((a, b) => a[0].localeCompare(b[0]))) {
    if (!existing.has(topic)) throw new CdcViewsError('OPS_UNKNOWN_TOPIC', `topic ${topic} does not exist`);
    const marks = await watermarks(ctx.admin, topic);
    const selected = marks.filter((m) => parts === 'all' || parts.has(m.partition));
    if (parts !== 'all') {
      for (const p of parts) if (!marks.some((m) => m.partition === p)) throw new CdcViewsError('OPS_UNKNOWN_TOPIC', `topic ${topic} has no partition ${p} (it has ${marks.length})`);
    }
    const committed = await committedOffsets(ctx.admin, applicationId, topic);
    const byTime = timestampMs === undefined ? undefined : new Map((await ctx.admin.fetchTopicOffsetsByTimestamp(topic, timestampMs)).map((e) => [e.partition, BigInt(e.offset)]));
    const topicRows: RewindRow[] = [];
    for (const m of selected) {
      const stored = positions.get(topic, m.partition);
      const group = committed.get(m.partition) ?? null;
      const [current, currentFrom]: [bigint, RewindRow['currentFrom']] = stored !== null ? [stored, 'state'] : group !== null ? [group, 'group'] : [m.low, 'log-start'];
      let requested: bigint;
      switch (target.kind) {
        case 'to-datetime':
        case 'by-duration':
          requested = byTime!.get(m.partition) ?? m.high;
          break;
        case 'to-earliest':
          requested = m.low;
          break;
        case 'to-latest':
          requested = m.high;
          break;
        case 'shift-by':
          requested = current + target.by;
          break;
        case 'to-offset':
          requested = target.offset;
          break;
        case 'from-file':
          requested = target.entries.find((e) => e.topic === topic && e.partition === m.partition)!.offset;
          break;
      }
      const row: RewindRow = { topic, partition: m.partition, current, currentFrom, target: requested, low: m.low, high: m.high, reprocess: 0n };
      if (requested < m.low) {
        row.target = m.low;
        row.clamped = 'start';
        warnings.push(`${topic}[${m.partition}]: offset ${requested} is before the log start ${m.low}; clamped to ${m.low}`);
      } else if (requested > m.high) {
        row.target = m.high;
        row.clamped = 'end';
        warnings.push(`${topic}[${m.partition}]: offset ${requested} is past the log end ${m.high}; clamped to ${m.high}`);
      }
      row.reprocess = row.current - row.target;
      topicRows.push(row);
    }
    // History older than the log start: only a partition whose log start moved (low > 0) can have lost records after T.
    if (timestampMs !== undefined) {
      const suspect = topicRows.filter((r) => r.low > 0n && r.target === r.low && r.high > r.low);
      if (suspect.length > 0) {
        const oldest = await oldestRecordTimestamps(ctx.kafka, ctx.admin, topic, suspect.map((r) => r.partition));
        for (const r of suspect) {
          const ts = oldest.get(r.partition);
          if (ts === undefined || ts <= timestampMs) continue;
          r.gap = { oldestRetainedMs: ts, gapMs: ts - timestampMs, deletedOffsets: r.low };
          warnings.push(
            `${topic}[${r.partition}]: history before ${new Date(ts).toISOString()} is gone (retention): the requested time ${new Date(timestampMs).toISOString()} is ${formatDuration(ts - timestampMs)} older than the oldest retained record; offsets 0..${r.low - 1n} (${r.low} records) were deleted, how many of them were after the requested time is unknown`,
          );
        }
      }
    }
    rows.push(...topicRows);
  }
  return { applicationId, target, ...(timestampMs === undefined ? {} : { timestampMs }), rows, warnings };
}

/** The plan as CSV `topic,partition,offset` (the `--from-file` format, like kafka-consumer-groups `--export`). */
export function planCsv(plan: RewindPlan): string {
  return plan.rows.map((r) => `${r.topic},${r.partition},${r.target}\n`).join('');
}

/** The plan as a table for people. */
export function formatPlan(plan: RewindPlan): string {
  const head = ['TOPIC', 'PARTITION', 'CURRENT', 'TARGET', 'REPROCESS', 'LOG START', 'LOG END', 'NOTE'];
  const body = plan.rows.map((r) => [
    r.topic,
    String(r.partition),
    `${r.current}${r.currentFrom === 'state' ? '' : ` (${r.currentFrom})`}`,
    String(r.target),
    r.reprocess >= 0n ? String(r.reprocess) : `skip ${-r.reprocess}`,
    String(r.low),
    String(r.high),
    [r.clamped ? `clamped to log ${r.clamped}` : '', r.gap ? `GAP ${formatDuration(r.gap.gapMs)}, ${r.gap.deletedOffsets} offsets deleted` : ''].filter(Boolean).join('; '),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  const total = plan.rows.reduce((a, r) => a + (r.reprocess > 0n ? r.reprocess : 0n), 0n);
  const when = plan.timestampMs === undefined ? '' : ` (time ${new Date(plan.timestampMs).toISOString()})`;
  return [`rewind plan for ${plan.applicationId}${when}:`, line(head), ...body.map(line), `records to reprocess: ${total}`, ...plan.warnings.map((w) => `warning: ${w}`)].join('\n') + '\n';
}

/** Plain-JSON form of a plan (bigints as strings) for `--json`. */
export function planJson(plan: RewindPlan): unknown {
  return JSON.parse(JSON.stringify(plan, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)));
}

/** Outcome of {@link executeRewind}. */
export interface RewindResult {
  /** Table rows marked for re-rendering, per table. */
  marked: Record<string, number>;
}

/**
 * Executes a plan: refuses while the group has members, marks the rows to
 * re-render (when a topology is given), moves the Kafka group offsets, then
 * the positions stored with the state (see the module comment for the order).
 * @throws {CdcViewsError} OPS_APP_RUNNING naming the members.
 */
export async function executeRewind(ctx: { redis: Redis; admin: Admin }, plan: RewindPlan, topology?: TopologyPlan): Promise<RewindResult> {
  await assertStopped(ctx.admin, plan.applicationId, 'rewind');
  const store = new StateStore(ctx.redis, plan.applicationId);
  const marked: Record<string, number> = {};
  if (topology) {
    const tables = new Set(tablesOf(topology));
    // State is kept per topic (the table's id in the state store); a row is re-rendered when the
    // change that wrote it came at or after its partition's target.
    const targets = new Map<string, Map<number, bigint>>();
    for (const r of plan.rows) {
      if (r.target >= r.current || !tables.has(tableFromTopic(r.topic))) continue;
      const byPartition = targets.get(r.topic) ?? new Map<number, bigint>();
      byPartition.set(r.partition, r.target);
      targets.set(r.topic, byPartition);
    }
    for (const [table, byPartition] of targets) marked[table] = await store.markRowsChangedSince(table, byPartition);
  }
  await setGroupOffsets(ctx.admin, plan.applicationId, plan.rows.map((r) => ({ topic: r.topic, partition: r.partition, offset: r.target })));
  await store.setPositions(Positions.of(plan.rows.map((r) => ({ topic: r.topic, partition: r.partition, offset: r.target }))));
  return { marked };
}
