/**
 * The decisions of a replay, without Kafka or Redis: which topics it
 * consumes, whether they feed every table of the topology, where each
 * partition starts and which case applies (a complete store or only the keys
 * changed since a point, module comment of ./replay.ts), the registry entry
 * and the summary printed before it starts. ./replay.ts reads the inputs and
 * sets the version up.
 */
import { tableFromTopic } from '../cdc/debezium-json.ts';
import { CdcViewsError } from '../errors.ts';
import type { Positions } from '../state/encoding.ts';
import { tablesOf, type TopologyPlan } from '../topology/plan.ts';
import type { PartitionOffsets } from './kafka.ts';
import type { VersionEntry, VersionSink } from './versions.ts';

/** Where a replay starts. */
export type ReplayFrom = { kind: 'earliest' } | { kind: 'datetime'; timestampMs: number } | { kind: 'clone'; applicationId: string };

/** Per partition: where the new version starts. */
export interface ReplayStart {
  topic: string;
  partition: number;
  offset: bigint;
  low: bigint;
  high: bigint;
}

export interface PreparedReplay {
  applicationId: string;
  topics: string[];
  /** true: the store will be complete; false: only keys changed since a point. */
  complete: boolean;
  /** One paragraph for the operator: which case applies and why. */
  description: string;
  warnings: string[];
  starts: ReplayStart[];
  entry: VersionEntry;
  /** True when the version existed (built from the same point) and the replay continues it. */
  resumed: boolean;
}

/** The case a replay's start points make, and the start points. */
export interface ReplayCase {
  complete: boolean;
  description: string;
  warnings: string[];
  starts: ReplayStart[];
}

/** `cleanup.policy` and `retention.ms` of a topic (./kafka.ts topicRetention). */
export interface TopicRetention {
  cleanupPolicy: string;
  retentionMs: number;
}

/** @throws {CdcViewsError} OPS_VERSION_EXISTS when the application has Redis keys (under `redisPrefix`) or a consumer group (state other than `Dead`). */
export function assertFreshApplication(applicationId: string, redisPrefix: string, leftovers: boolean, groupState: string): void {
  if (leftovers || groupState !== 'Dead') {
    throw new CdcViewsError('OPS_VERSION_EXISTS', `application ${applicationId} already has ${leftovers ? `Redis keys (${redisPrefix}…)` : ''}${leftovers && groupState !== 'Dead' ? ' and ' : ''}${groupState !== 'Dead' ? `a consumer group (${groupState})` : ''} though the version is not registered; choose another --version`);
  }
}

/** The topics a clone consumes: those the live application has positions on, matching `re` when given. @throws {CdcViewsError} OPS_NO_TOPICS */
export function cloneTopics(fromApp: string, live: Positions, re?: RegExp): string[] {
  const topics = live.topics().filter((t) => !re || re.test(t));
  if (topics.length === 0) throw new CdcViewsError('OPS_NO_TOPICS', `application ${fromApp} has no stored positions${re ? ` on topics matching ${String(re)}` : ''}: nothing to clone`);
  return topics;
}

/** The broker's topics matching `re`, sorted. @throws {CdcViewsError} OPS_NO_TOPICS when `re` is missing or matches none. */
export function matchingTopics(all: readonly string[], re?: RegExp): string[] {
  if (!re) throw new CdcViewsError('OPS_NO_TOPICS', 'give the topics to consume: --topics <regex>, e.g. \'^demo\\.public\\.\'');
  const topics = all.filter((t) => re.test(t)).sort();
  if (topics.length === 0) throw new CdcViewsError('OPS_NO_TOPICS', `no topic matches ${String(re)}`);
  return topics;
}

/** The tables the topology reads that none of the topics carries. */
export function missingTables(plan: TopologyPlan, topics: readonly string[]): string[] {
  const fed = new Set(topics.map(tableFromTopic));
  return tablesOf(plan).filter((t) => !fed.has(t));
}

/** @throws {CdcViewsError} OPS_CLONE_INCOMPLETE (clone) or OPS_NO_TOPICS naming the tables no topic carries. */
export function assertTablesFed(plan: TopologyPlan, topics: readonly string[], from: ReplayFrom, re?: RegExp): void {
  const missing = missingTables(plan, topics);
  if (missing.length > 0) {
    throw new CdcViewsError(from.kind === 'clone' ? 'OPS_CLONE_INCOMPLETE' : 'OPS_NO_TOPICS', `topology ${plan.name} reads ${missing.join(', ')}, but none of the topics ${from.kind === 'clone' ? `of ${from.applicationId}` : `matching ${String(re)}`} carries ${missing.length > 1 ? 'them' : 'it'} (topics: ${topics.join(', ')})`);
  }
}

/** One start per partition of a topic, at its log start. */
export function logStarts(topic: string, marks: readonly PartitionOffsets[]): ReplayStart[] {
  return marks.map((w) => ({ topic, partition: w.partition, offset: w.low, low: w.low, high: w.high }));
}

/** The starts moved to stored positions; a partition without one starts at its log start. */
export function startsAt(starts: readonly ReplayStart[], positions: Positions): ReplayStart[] {
  return starts.map((s) => ({ ...s, offset: positions.get(s.topic, s.partition) ?? s.low }));
}

/** `--from earliest`: complete unless a log start moved (records deleted) on some partition. */
export function earliestCase(topics: readonly string[], starts: readonly ReplayStart[], retention: ReadonlyMap<string, TopicRetention>): ReplayCase {
  const lines: string[] = [];
  const warnings: string[] = [];
  let complete = true;
  for (const topic of topics) {
    const { cleanupPolicy, retentionMs } = retention.get(topic)!;
    const lost = starts.filter((s) => s.topic === topic && s.low > 0n);
    const policy = `cleanup.policy=${cleanupPolicy}${cleanupPolicy.includes('delete') ? `, retention.ms=${retentionMs}` : ''}`;
    if (lost.length > 0) {
      complete = false;
      const msg = `${topic} (${policy}): log start moved on partition(s) ${lost.map((s) => `${s.partition} (offset ${s.low})`).join(', ')}: records before it were deleted, only changes since the oldest retained record are replayed`;
      lines.push(msg);
      warnings.push(msg);
    } else {
      lines.push(`${topic} (${policy}): every partition starts at offset 0: ${cleanupPolicy.includes('compact') && !cleanupPolicy.includes('delete') ? 'a compacted topic keeps the latest record of every key' : 'nothing deleted yet'}`);
    }
  }
  return { complete, description: `${complete ? 'COMPLETE store' : 'INCOMPLETE store'}: replay from earliest.\n  ${lines.join('\n  ')}`, warnings, starts: [...starts] };
}

/**
 * `--from <datetime>`: only the keys changed since `at`.
 * @param byTime per topic and partition, the first offset at or after `at`; a partition absent from it starts at its end.
 */
export function datetimeCase(starts: readonly ReplayStart[], byTime: ReadonlyMap<string, ReadonlyMap<number, bigint>>, at: number): ReplayCase {
  const moved = starts.map((s) => ({ ...s, offset: byTime.get(s.topic)?.get(s.partition) ?? s.high }));
  const gone = moved.filter((s) => s.low > 0n && s.offset === s.low);
  const warnings: string[] = [];
  if (gone.length > 0) warnings.push(`retention deleted records of ${gone.map((s) => `${s.topic}[${s.partition}] (offsets 0..${s.low - 1n})`).join(', ')}; changes between ${new Date(at).toISOString()} and the oldest retained record may be missing (cdc-views rewind --to-datetime shows the gap in time)`);
  return {
    complete: false,
    description: `ONLY KEYS CHANGED since ${new Date(at).toISOString()}: rows not changed since then are absent from the new store (for a complete store use --from earliest on a compacted topic, or --from clone).`,
    warnings,
    starts: moved,
  };
}

/** `--from clone`: complete; each partition continues from the live application's position (its log start when it has none). */
export function cloneCase(starts: readonly ReplayStart[], live: Positions, fromApp: string): ReplayCase {
  return {
    complete: true,
    description: `COMPLETE store: clone of ${fromApp}'s table state with its stored positions (one atomic copy), then continues from those positions.`,
    warnings: [],
    starts: startsAt(starts, live),
  };
}

/** The cloned state's tables (kept per topic) that feed a table the topology reads: every row of them is rendered anew. */
export function tablesToRender(plan: TopologyPlan, stored: readonly string[]): string[] {
  const read = new Set(tablesOf(plan));
  return stored.filter((table) => read.has(tableFromTopic(table)));
}

/** What the clone copied, appended to the description. */
export function clonedNote(tables: number, positions: number): string {
  return ` Copied ${tables} table(s), ${positions} position(s).`;
}

/** How a version was built, as the registry records it: `earliest`, an ISO-8601 time, or `clone:<applicationId>`. */
/**
 * Whether re-running a replay continues the registered version: it must have
 * been built from the same point (a retried Job, an operator re-running the
 * command after a crash).
 * @throws {CdcViewsError} OPS_VERSION_EXISTS when it was built from another point
 */
export function assertResumable(entry: VersionEntry, from: ReplayFrom, topology: string): void {
  if (entry.from !== fromLabel(from)) {
    throw new CdcViewsError('OPS_VERSION_EXISTS', `version ${entry.version} of ${topology} exists, built from ${entry.from}, not ${fromLabel(from)}; re-run with --from as before to continue it, choose another --version, or drop it first: cdc-views drop ${topology} --version ${entry.version}`);
  }
}

export function fromLabel(from: ReplayFrom): string {
  return from.kind === 'earliest' ? 'earliest' : from.kind === 'datetime' ? new Date(from.timestampMs).toISOString() : `clone:${from.applicationId}`;
}

/** The registry entry of a new version, in state `replaying`. */
export function versionEntry(v: { version: string; applicationId: string; createdAt: Date; from: ReplayFrom; complete: boolean; topologyFile?: string | undefined; topics: string[]; sinks: VersionSink[] }): VersionEntry {
  return {
    version: v.version,
    applicationId: v.applicationId,
    createdAt: v.createdAt.toISOString(),
    from: fromLabel(v.from),
    complete: v.complete,
    state: 'replaying',
    ...(v.topologyFile ? { topologyFile: v.topologyFile } : {}),
    topics: v.topics,
    sinks: v.sinks,
  };
}

/** Records to process before a start point reaches the end offsets, for the "before it starts" summary. */
export function replaySummary(p: PreparedReplay): string {
  const total = p.starts.reduce((a, s) => a + (s.high > s.offset ? s.high - s.offset : 0n), 0n);
  const lines = [
    `replay ${p.entry.version} as application ${p.applicationId}`,
    `  ${p.description}`,
    `  topics: ${p.topics.join(', ')}`,
    `  records to process: ${total}`,
    ...p.entry.sinks.map((s) => `  sink ${s.view} → ${s.kind} ${s.target} (readers: ${s.kind === 'search' ? 'alias' : 'pointer'} ${s.reader}, switched by promote)`),
    ...p.warnings.map((w) => `warning: ${w}`),
  ];
  return `${lines.join('\n')}\n`;
}
