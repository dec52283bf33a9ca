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
import { CdcViewsError } from '../errors.ts';
import { Positions } from '../state/encoding.ts';
import { StateStore } from '../state/store.ts';
import type { TopologyPlan } from '../topology/plan.ts';
import { groupMembers, offsetsForTime, setGroupOffsets, topicRetention, watermarks } from './kafka.ts';
import { assertResumable,
  assertFreshApplication,
  assertTablesFed,
  cloneCase,
  clonedNote,
  cloneTopics,
  datetimeCase,
  earliestCase,
  logStarts,
  matchingTopics,
  startsAt,
  tablesToRender,
  versionEntry,
  type PreparedReplay,
  type ReplayCase,
  type ReplayFrom,
  type ReplayStart,
  type TopicRetention,
} from './replay-plan.ts';
import { applicationIdOf, VersionRegistry, versionSinks } from './versions.ts';

export type { PreparedReplay, ReplayFrom, ReplayStart } from './replay-plan.ts';
export { replaySummary } from './replay-plan.ts';

export interface ReplayOptions {
  plan: TopologyPlan;
  /** The topology module, recorded in the registry. */
  topologyFile?: string;
  version: string;
  from: ReplayFrom;
  /** Topics to consume (a regex over the broker's topics); for `clone`, defaults to the live app's topics. */
  topics?: RegExp;
}

type Ctx = { redis: Redis; admin: Admin; kafka: Kafka };

/**
 * Checks and sets up a new version: refuses an existing version, a topology
 * writing fixed sink names, or topics not covering its tables; registers the
 * version; sets its start positions (Redis and Kafka group) or clones the
 * live state. The caller then runs an Application with `applicationId`. A
 * version registered already from the same point is resumed (nothing set up
 * again; it continues from its stored positions).
 * @throws {CdcViewsError} OPS_VERSION_EXISTS (built from another point), OPS_NO_TOPICS, OPS_CLONE_INCOMPLETE; {ConfigError} for sink names.
 */
export async function prepareReplay(ctx: Ctx, opts: ReplayOptions): Promise<PreparedReplay> {
  const { plan } = opts;
  const applicationId = applicationIdOf(plan.name, opts.version);
  const sinks = versionSinks(plan, applicationId);
  const registry = new VersionRegistry(ctx.redis, plan.name);
  const store = new StateStore(ctx.redis, applicationId);
  const existing = await registry.get(opts.version);
  if (existing) {
    // Re-running a replay continues it from the positions it stored (a retried Job, a crash).
    assertResumable(existing, opts.from, plan.name);
    const positions = await store.positions();
    const starts: ReplayStart[] = [];
    for (const topic of existing.topics) {
      for (const w of await watermarks(ctx.admin, topic)) starts.push({ topic, partition: w.partition, offset: positions.get(topic, w.partition) ?? w.low, low: w.low, high: w.high });
    }
    const description = `RESUMING version ${opts.version} (built from ${existing.from}, ${existing.complete ? 'COMPLETE store' : 'ONLY KEYS CHANGED'}): it continues from the positions it stored.`;
    return { applicationId, topics: existing.topics, complete: existing.complete, description, warnings: [], starts, entry: existing, resumed: true };
  }
  const leftovers = await store.exists();
  assertFreshApplication(applicationId, store.keys.prefix, leftovers, (await groupMembers(ctx.admin, applicationId)).state);

  // Topics.
  let livePositions: Positions | undefined;
  let topics: string[];
  const all = await ctx.admin.listTopics();
  if (opts.from.kind === 'clone') {
    if (opts.from.applicationId === applicationId) throw new CdcViewsError('OPS_VERSION_EXISTS', 'a version cannot be cloned from itself');
    livePositions = await new StateStore(ctx.redis, opts.from.applicationId).positions();
    topics = cloneTopics(opts.from.applicationId, livePositions, opts.topics);
  } else {
    topics = matchingTopics(all, opts.topics);
  }
  assertTablesFed(plan, topics, opts.from, opts.topics);

  // Start points and the case that applies.
  const atLogStart: ReplayStart[] = [];
  for (const topic of topics) atLogStart.push(...logStarts(topic, await watermarks(ctx.admin, topic)));
  let c: ReplayCase;
  switch (opts.from.kind) {
    case 'earliest': {
      const retention = new Map<string, TopicRetention>();
      for (const topic of topics) retention.set(topic, await topicRetention(ctx.admin, topic));
      c = earliestCase(topics, atLogStart, retention);
      break;
    }
    case 'datetime': {
      const byTime = new Map<string, Map<number, bigint>>();
      for (const topic of topics) byTime.set(topic, await offsetsForTime(ctx.admin, topic, opts.from.timestampMs));
      c = datetimeCase(atLogStart, byTime, opts.from.timestampMs);
      break;
    }
    case 'clone':
      c = cloneCase(atLogStart, livePositions!, opts.from.applicationId);
      break;
  }
  let { description, starts } = c;

  const entry = versionEntry({ version: opts.version, applicationId, createdAt: new Date(), from: opts.from, complete: c.complete, topologyFile: opts.topologyFile, topics, sinks });
  await registry.add(entry);

  if (opts.from.kind === 'clone') {
    const cloned = await new StateStore(ctx.redis, opts.from.applicationId).cloneInto(store);
    // The positions of the snapshot, as copied (the live app went on meanwhile).
    starts = startsAt(starts, cloned.positions);
    for (const table of tablesToRender(plan, await store.tables())) await store.markAllRows(table);
    description += clonedNote(cloned.tables, cloned.positions.size);
  }
  await setGroupOffsets(ctx.kafka, applicationId, starts);
  await store.setPositions(Positions.of(starts));
  await store.markFormat();
  return { applicationId, topics, complete: c.complete, description, warnings: c.warnings, starts, entry, resumed: false };
}

export { formatDuration } from './parse.ts';
