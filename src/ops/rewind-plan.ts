/**
 * The decisions of a rewind, without Kafka or Redis: the plan's scope, each
 * partition's current and target offset (clamped to the log), the
 * retention-gap rule, the re-render threshold per table, and the plan's
 * printed forms. ./rewind.ts reads the inputs from Kafka and Redis, calls
 * these, and applies the plan; ./parse.ts reads the operator's input.
 */
import { tableFromTopic } from '../cdc/debezium-json.ts';
import { CdcViewsError } from '../errors.ts';
import type { Positions } from '../state/encoding.ts';
import type { PartitionOffsets } from './kafka.ts';
import { durationMs, formatDuration, type TopicScope } from './parse.ts';

/** What to rewind to: exactly one of kafka-consumer-groups' reset specifications. */
export type RewindTarget =
  | { kind: 'to-datetime'; timestampMs: number }
  | { kind: 'by-duration'; duration: string }
  | { kind: 'to-earliest' }
  | { kind: 'to-latest' }
  | { kind: 'shift-by'; by: bigint }
  | { kind: 'to-offset'; offset: bigint }
  | { kind: 'from-file'; entries: { topic: string; partition: number; offset: bigint }[] };

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

/** The partitions of one topic a plan covers: the listed ones, or all the topic has. */
export type PartitionSelection = ReadonlySet<number> | 'all';

/**
 * The partitions a plan covers, topics sorted: for `from-file`, the file's
 * partitions (`--topic` is not consulted); else the given topics (all their
 * partitions unless listed); else every partition with a stored position.
 * @throws {CdcViewsError} OPS_NOTHING_TO_REWIND when that leaves nothing.
 */
export function rewindScope(applicationId: string, target: RewindTarget, scope: readonly TopicScope[], positions: Positions): [topic: string, partitions: PartitionSelection][] {
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
  return [...wanted].sort((a, b) => a[0].localeCompare(b[0]));
}

/**
 * The watermarks of the selected partitions of a topic.
 * @throws {CdcViewsError} OPS_UNKNOWN_TOPIC when a listed partition is not among the topic's.
 */
export function selectPartitions(topic: string, parts: PartitionSelection, marks: readonly PartitionOffsets[]): PartitionOffsets[] {
  if (parts !== 'all') {
    for (const p of parts) if (!marks.some((m) => m.partition === p)) throw new CdcViewsError('OPS_UNKNOWN_TOPIC', `topic ${topic} has no partition ${p} (it has ${marks.length})`);
  }
  return marks.filter((m) => parts === 'all' || parts.has(m.partition));
}

/** The requested time of a plan, ms: to-datetime's, or `now` minus by-duration's duration; undefined for other targets. @throws {ConfigError} on a bad duration. */
export function requestedTime(target: RewindTarget, now: number): number | undefined {
  return target.kind === 'to-datetime' ? target.timestampMs : target.kind === 'by-duration' ? now - durationMs(target.duration) : undefined;
}

/** A partition's current offset: the position stored with the state, else the group's committed offset, else the log start. */
export function currentOffset(stored: bigint | null, group: bigint | null, low: bigint): [bigint, RewindRow['currentFrom']] {
  return stored !== null ? [stored, 'state'] : group !== null ? [group, 'group'] : [low, 'log-start'];
}

/**
 * The offset a target asks for on one partition, before clamping.
 * @param byTime per partition, the first offset at or after the requested time (to-datetime, by-duration); a partition absent from it asks for its end.
 */
export function requestedOffset(target: RewindTarget, topic: string, mark: PartitionOffsets, current: bigint, byTime?: ReadonlyMap<number, bigint>): bigint {
  switch (target.kind) {
    case 'to-datetime':
    case 'by-duration':
      return byTime!.get(mark.partition) ?? mark.high;
    case 'to-earliest':
      return mark.low;
    case 'to-latest':
      return mark.high;
    case 'shift-by':
      return current + target.by;
    case 'to-offset':
      return target.offset;
    case 'from-file':
      return target.entries.find((e) => e.topic === topic && e.partition === mark.partition)!.offset;
  }
}

/** A plan row: the requested offset clamped to the log [low, high], with a warning when it was outside. */
export function clampedRow(topic: string, mark: PartitionOffsets, current: [bigint, RewindRow['currentFrom']], requested: bigint): { row: RewindRow; warning?: string } {
  const row: RewindRow = { topic, partition: mark.partition, current: current[0], currentFrom: current[1], target: requested, low: mark.low, high: mark.high, reprocess: 0n };
  let warning: string | undefined;
  if (requested < mark.low) {
    row.target = mark.low;
    row.clamped = 'start';
    warning = `${topic}[${mark.partition}]: offset ${requested} is before the log start ${mark.low}; clamped to ${mark.low}`;
  } else if (requested > mark.high) {
    row.target = mark.high;
    row.clamped = 'end';
    warning = `${topic}[${mark.partition}]: offset ${requested} is past the log end ${mark.high}; clamped to ${mark.high}`;
  }
  row.reprocess = row.current - row.target;
  return warning === undefined ? { row } : { row, warning };
}

/** The rows of one topic's selected partitions and their clamping warnings, in partition order. */
export function topicRows(
  target: RewindTarget,
  topic: string,
  selected: readonly PartitionOffsets[],
  positions: Positions,
  committed: ReadonlyMap<number, bigint | null>,
  byTime?: ReadonlyMap<number, bigint>,
): { rows: RewindRow[]; warnings: string[] } {
  const rows: RewindRow[] = [];
  const warnings: string[] = [];
  for (const m of selected) {
    const current = currentOffset(positions.get(topic, m.partition), committed.get(m.partition) ?? null, m.low);
    const { row, warning } = clampedRow(topic, m, current, requestedOffset(target, topic, m, current[0], byTime));
    if (warning !== undefined) warnings.push(warning);
    rows.push(row);
  }
  return { rows, warnings };
}

/** Rows that may have lost history after the requested time: a log start that moved (low > 0), a non-empty log, and the target at that start. */
export function gapSuspects(rows: readonly RewindRow[]): RewindRow[] {
  return rows.filter((r) => r.low > 0n && r.target === r.low && r.high > r.low);
}

/**
 * Records the retention gap on each suspect row whose oldest retained record
 * is younger than the requested time (a row without a known oldest record has
 * none); returns one warning per gap.
 */
export function markRetentionGaps(topic: string, suspects: readonly RewindRow[], oldest: ReadonlyMap<number, number>, timestampMs: number): string[] {
  const warnings: string[] = [];
  for (const r of suspects) {
    const ts = oldest.get(r.partition);
    if (ts === undefined || ts <= timestampMs) continue;
    r.gap = { oldestRetainedMs: ts, gapMs: ts - timestampMs, deletedOffsets: r.low };
    warnings.push(
      `${topic}[${r.partition}]: history before ${new Date(ts).toISOString()} is gone (retention): the requested time ${new Date(timestampMs).toISOString()} is ${formatDuration(ts - timestampMs)} older than the oldest retained record; offsets 0..${r.low - 1n} (${r.low} records) were deleted, how many of them were after the requested time is unknown`,
    );
  }
  return warnings;
}

/**
 * What a rewind re-renders: per topic of a topology table (the table's id in
 * the state store), the target of each partition that moved back. A row is
 * marked when the change that wrote it came at or after its partition's
 * target (StateStore.markRowsChangedSince).
 */
export function rerenderTargets(rows: readonly RewindRow[], tables: readonly string[]): Map<string, Map<number, bigint>> {
  const known = new Set(tables);
  const targets = new Map<string, Map<number, bigint>>();
  for (const r of rows) {
    if (r.target >= r.current || !known.has(tableFromTopic(r.topic))) continue;
    const byPartition = targets.get(r.topic) ?? new Map<number, bigint>();
    byPartition.set(r.partition, r.target);
    targets.set(r.topic, byPartition);
  }
  return targets;
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
