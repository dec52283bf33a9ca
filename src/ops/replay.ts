/**
 * Replay: build a topology version under its own applicationId
 * (`<topology>-<v>`) into new stores — a new Redis namespace, new cache
 * prefixes, new indexes — from a chosen point. The live stores are never
 * written (replay isolation, docs/architecture.md): every sink name of the topology must
 * contain `{app}`.
 *
 * Which store the replay yields (stated before it starts):
 * - `earliest`, every partition's log start at offset 0 → complete (nothing
 *   was deleted; on a `compact` topic this stays true, on a `delete` topic only
 *   until the first segment expires);
 * - `earliest`, a log start > 0 → only changes since the oldest retained
 *   record (retention deleted older ones);
 * - a datetime T → only keys changed since T;
 * - `clone` → complete: the live application's table state and its stored
 *   positions are copied in one atomic Lua step (lua/clone-state.lua) —
 *   a consistent snapshot even while the live application runs — every row is
 *   marked for rendering so the new version's sinks are filled from the
 *   cloned state, and consumption continues from the cloned positions.
 */
import type { Admin, Kafka } from 'kafkajs';
import type { Redis } from 'ioredis';
import { tableFromTopic } from '../cdc/debezium-json.ts';
import { CdcViewsError } from '../errors.ts';
import { Positions } from '../state/encoding.ts';
import { StateStore } from '../state/store.ts';
import { tablesOf, type TopologyPlan } from '../topology/plan.ts';
import { groupMembers, setGroupOffsets, topicRetention, watermarks } from './kafka.ts';
import { formatDuration } from './rewind.ts';
import { applicationIdOf, VersionRegistry, versionSinks, type VersionEntry } from './versions.ts';


/** Where a replay starts. */
export type ReplayFrom = { kind: 'earliest' } | { kind: 'datetime'; timestampMs: number } | { kind: 'clone'; applicationId: string };

export interface ReplayOptions {
  plan: TopologyPlan;
  /** The topology module, recorded in the registry. */
  topologyFile?: string;
  version: string;
  from: ReplayFrom;
  /** Topics to consume (a regex over the broker's topics); for `clone`, defaults to the live app's topics. */
  topics?: RegExp;
}

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
}

type Ctx = { redis: Redis; admin: Admin; kafka: Kafka };

/**
 * Checks and sets up a new version: refuses an existing version, a topology
 * writing fixed sink names, or topics not covering its tables; registers the
 * version; sets its start positions (Redis and Kafka group) or clones the
 * live state. The caller then runs a Processor with `applicationId`.
 * @throws {CdcViewsError} OPS_VERSION_EXISTS, OPS_NO_TOPICS, OPS_CLONE_INCOMPLETE; {ConfigError} for sink names.
 */
export async function prepareReplay(ctx: Ctx, opts: ReplayOptions): Promise<PreparedReplay> {
  const { plan } = opts;
  const applicationId = applicationIdOf(plan.name, opts.version);
  const sinks = versionSinks(plan, applicationId);
  const registry = new VersionRegistry(ctx.redis, plan.name);
  const store = new StateStore(ctx.redis, applicationId);
  if (await registry.get(opts.version)) {
    throw new CdcViewsError('OPS_VERSION_EXISTS', `version ${opts.version} of ${plan.name} exists already; choose another --as, or drop it first: cdc-views drop ${plan.name} --version ${opts.version}`);
  }
  const leftovers = await store.exists();
  const group = await groupMembers(ctx.admin, applicationId);
  if (leftovers || group.state !== 'Dead') {
    throw new CdcViewsError('OPS_VERSION_EXISTS', `application ${applicationId} already has ${leftovers ? `Redis keys (${store.keys.prefix}…)` : ''}${leftovers && group.state !== 'Dead' ? ' and ' : ''}${group.state !== 'Dead' ? `a consumer group (${group.state})` : ''} though the version is not registered; choose another --as`);
  }

  // Topics.
  let livePositions: Positions | undefined;
  let topics: string[];
  const all = await ctx.admin.listTopics();
  if (opts.from.kind === 'clone') {
    if (opts.from.applicationId === applicationId) throw new CdcViewsError('OPS_VERSION_EXISTS', 'a version cannot be cloned from itself');
    livePositions = await new StateStore(ctx.redis, opts.from.applicationId).positions();
    topics = livePositions.topics().filter((t) => !opts.topics || opts.topics.test(t));
    if (topics.length === 0) throw new CdcViewsError('OPS_NO_TOPICS', `application ${opts.from.applicationId} has no stored positions${opts.topics ? ` on topics matching ${String(opts.topics)}` : ''}: nothing to clone`);
  } else {
    if (!opts.topics) throw new CdcViewsError('OPS_NO_TOPICS', 'give the topics to consume: --topics <regex>, e.g. \'^demo\\.public\\.\'');
    topics = all.filter((t) => opts.topics!.test(t)).sort();
    if (topics.length === 0) throw new CdcViewsError('OPS_NO_TOPICS', `no topic matches ${String(opts.topics)}`);
  }
  const fed = new Set(topics.map(tableFromTopic));
  const missing = tablesOf(plan).filter((t) => !fed.has(t));
  if (missing.length > 0) {
    throw new CdcViewsError(opts.from.kind === 'clone' ? 'OPS_CLONE_INCOMPLETE' : 'OPS_NO_TOPICS', `topology ${plan.name} reads ${missing.join(', ')}, but none of the topics ${opts.from.kind === 'clone' ? `of ${opts.from.applicationId}` : `matching ${String(opts.topics)}`} carries ${missing.length > 1 ? 'them' : 'it'} (topics: ${topics.join(', ')})`);
  }

  // Start points and the case that applies.
  const starts: ReplayStart[] = [];
  const warnings: string[] = [];
  let complete: boolean;
  let description: string;
  for (const topic of topics) {
    for (const w of await watermarks(ctx.admin, topic)) starts.push({ topic, partition: w.partition, offset: w.low, low: w.low, high: w.high });
  }
  switch (opts.from.kind) {
    case 'earliest': {
      const lines: string[] = [];
      complete = true;
      for (const topic of topics) {
        const { cleanupPolicy, retentionMs } = await topicRetention(ctx.admin, topic);
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
      description = `${complete ? 'COMPLETE store' : 'INCOMPLETE store'}: replay from earliest.\n  ${lines.join('\n  ')}`;
      break;
    }
    case 'datetime': {
      const at = opts.from.timestampMs;
      for (const topic of topics) {
        const byTime = new Map((await ctx.admin.fetchTopicOffsetsByTimestamp(topic, at)).map((e) => [e.partition, BigInt(e.offset)]));
        for (const s of starts) if (s.topic === topic) s.offset = byTime.get(s.partition) ?? s.high;
      }
      complete = false;
      const gone = starts.filter((s) => s.low > 0n && s.offset === s.low);
      description = `ONLY KEYS CHANGED since ${new Date(at).toISOString()}: rows not changed since then are absent from the new store (for a complete store use --from earliest on a compacted topic, or --from clone).`;
      if (gone.length > 0) warnings.push(`retention deleted records of ${gone.map((s) => `${s.topic}[${s.partition}] (offsets 0..${s.low - 1n})`).join(', ')}; changes between ${new Date(at).toISOString()} and the oldest retained record may be missing (cdc-views rewind --to-datetime shows the gap in time)`);
      break;
    }
    case 'clone': {
      complete = true;
      for (const s of starts) {
        s.offset = livePositions!.get(s.topic, s.partition) ?? s.low;
      }
      description = `COMPLETE store: clone of ${opts.from.applicationId}'s table state with its stored positions (one atomic copy), then continues from those positions.`;
      break;
    }
  }

  const entry: VersionEntry = {
    version: opts.version,
    applicationId,
    createdAt: new Date().toISOString(),
    from: opts.from.kind === 'earliest' ? 'earliest' : opts.from.kind === 'datetime' ? new Date(opts.from.timestampMs).toISOString() : `clone:${opts.from.applicationId}`,
    complete,
    state: 'replaying',
    ...(opts.topologyFile ? { topologyFile: opts.topologyFile } : {}),
    topics,
    sinks,
  };
  await registry.add(entry);

  if (opts.from.kind === 'clone') {
    const cloned = await new StateStore(ctx.redis, opts.from.applicationId).cloneInto(store);
    // The positions of the snapshot, as copied (the live app went on meanwhile).
    for (const s of starts) s.offset = cloned.positions.get(s.topic, s.partition) ?? s.low;
    const read = new Set(tablesOf(plan));
    for (const table of await store.tables()) if (read.has(tableFromTopic(table))) await store.markAllRows(table);
    description += ` Copied ${cloned.tables} table(s), ${cloned.positions.size} position(s).`;
  }
  await setGroupOffsets(ctx.admin, applicationId, starts);
  await store.setPositions(Positions.of(starts));
  await store.markFormat();
  return { applicationId, topics, complete, description, warnings, starts, entry };
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

export { formatDuration };
