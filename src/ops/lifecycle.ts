/**
 * Version lifecycle: list, promote, drop.
 *
 * Promotion switches readers in one atomic step per kind of store:
 * - search: every alias of the topology (`{app}` resolved to the topology
 *   name, e.g. `order-search-order-search`) is moved to the new version's
 *   index in ONE `_aliases` request (remove from the old index + add to the
 *   new one), which OpenSearch applies atomically: a query on the alias sees
 *   either index, never none and never both;
 * - cache: every cache namespace pointer (see ./cache-reader.ts) and the
 *   registry's `promoted` are set in one MULTI/EXEC.
 * The search switch happens first, the cache switch a few milliseconds
 * later. Old stores stay until `drop`.
 */
import { errors, type Client } from '@opensearch-project/opensearch';
import { createSearchClient, describeSearchError, isSecurityFailure, toSearchConnection, type SearchConnection } from '../sinks/search-client.ts';
import { displayUrl } from '../http-auth.ts';
import type { Admin } from 'kafkajs';
import type { Redis } from 'ioredis';
import { CdcViewsError } from '../errors.ts';
import { StateStore } from '../state/store.ts';
import { CacheStore } from '../state/cache-store.ts';
import { StateKeys } from '../state/keys.ts';
import { dlqTopic } from '../runtime/dlq.ts';
import { groupMembers, type GroupMember } from './kafka.ts';
import { COMMAND_TIMEOUT_MS } from './timeouts.ts';
import { lagOf, rendersPending } from './status.ts';
import { VersionRegistry, type VersionEntry, type VersionSink } from './versions.ts';

/** What the lifecycle operations work with; `searchUrl` is the engine's URL or its connection (../sinks/search-client.ts). */
type Ctx = { redis: Redis; admin: Admin; searchUrl: string | SearchConnection };

export interface VersionStatus extends VersionEntry {
  running: boolean;
  members: GroupMember[];
  lag: string;
  rendersPending: number;
  caughtUp: boolean;
  promoted: boolean;
}

export async function listVersions(ctx: Omit<Ctx, 'searchUrl'>, topology: string): Promise<VersionStatus[]> {
  const registry = new VersionRegistry(ctx.redis, topology);
  const promoted = await registry.promoted();
  const out: VersionStatus[] = [];
  for (const e of await registry.list()) {
    const { members } = await groupMembers(ctx.admin, e.applicationId);
    const { total } = await lagOf(ctx.redis, ctx.admin, e.applicationId, e.topics);
    const positions = (await new StateStore(ctx.redis, e.applicationId).positions()).size;
    out.push(versionStatus(e, members, total, await rendersPending(ctx.redis, e.applicationId), promoted, positions));
  }
  return out;
}

/**
 * A version's line in `versions`: caught up when nothing is left to consume or
 * render and it has stored a position (it ran) — the rule `promote` applies
 * ({@link assertCaughtUp}), so `versions` never says caught up where promote refuses.
 * @param positions number of partitions with a stored position
 */
export function versionStatus(e: VersionEntry, members: GroupMember[], lag: bigint, pending: number, promoted: string | null, positions: number): VersionStatus {
  return { ...e, running: members.length > 0, members, lag: lag.toString(), rendersPending: pending, caughtUp: lag === 0n && pending === 0 && positions > 0, promoted: promoted === e.version };
}

export function formatVersions(topology: string, list: readonly VersionStatus[]): string {
  if (list.length === 0) return `topology ${topology} has no versions; create one with: cdc-views replay <topology file> --version v1 --from earliest --topics <regex>\n`;
  const head = ['VERSION', 'APPLICATION', 'FROM', 'STORE', 'RUNNING', 'LAG', 'CAUGHT UP', 'PROMOTED', 'CREATED'];
  const body = list.map((v) => [v.version, v.applicationId, v.from, v.complete ? 'complete' : 'changes only', v.running ? `yes (${v.members.length})` : 'no', v.lag, v.caughtUp ? 'yes' : 'no', v.promoted ? 'yes' : '', v.createdAt]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return `${[head, ...body].map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n')}\n`;
}

export interface PromoteResult {
  version: string;
  previous: string | null;
  /** `replacedIndex`: an index named like the alias was deleted in the same switch (`replaceIndex`). */
  aliases: { alias: string; from: string[]; to: string; replacedIndex?: boolean }[];
  pointers: { key: string; to: string }[];
}

/** Options of {@link promote}. */
export interface PromoteOptions {
  /** Promote even when the version has not caught up or its store is incomplete. @defaultValue false */
  force?: boolean;
  /**
   * An index named like a readers' alias (written by an application that ran
   * under the topology's own name, before versions) is deleted in the same
   * atomic `_aliases` request that creates the alias (`remove_index`): the
   * migration of such a live index into versions. @defaultValue false
   */
  replaceIndex?: boolean;
}

/**
 * Switches readers of a topology to a version (see the module comment).
 * @throws {CdcViewsError} OPS_NOT_CAUGHT_UP (with lag and pending renders), OPS_INCOMPLETE_STORE,
 *   OPS_VERSION_UNKNOWN, OPS_INDEX_MISSING, OPS_ALIAS_TAKEN (without `replaceIndex`), SEARCH_UNREACHABLE.
 */
export async function promote(ctx: Ctx, topology: string, version: string, options: PromoteOptions = {}): Promise<PromoteResult> {
  const force = options.force ?? false;
  const registry = new VersionRegistry(ctx.redis, topology);
  const entry = await registry.require(version);
  if (!force) {
    const store = new StateStore(ctx.redis, entry.applicationId);
    const { total } = await lagOf(ctx.redis, ctx.admin, entry.applicationId, entry.topics);
    const pending = await rendersPending(ctx.redis, entry.applicationId);
    const positions = await store.positions();
    assertCaughtUp(version, entry, total, pending, positions.size);
    assertComplete(version, entry, (await store.historyLost()).size);
  }
  const previous = await registry.promoted();
  const result: PromoteResult = { version, previous, aliases: [], pointers: [] };

  const search = entry.sinks.filter((s) => s.kind === 'search');
  if (search.length > 0) {
    const client = searchClient(ctx.searchUrl);
    try {
      const actions: Record<string, unknown>[] = [];
      for (const s of search) {
        const exists = await searchCall(ctx.searchUrl, () => client.indices.exists({ index: s.target }));
        if (!exists.body) throw new CdcViewsError('OPS_INDEX_MISSING', `index ${s.target} of version ${version} does not exist; run the version first`);
        let holders: string[] = [];
        try {
          holders = Object.keys((await searchCall(ctx.searchUrl, () => client.indices.getAlias({ name: s.reader }))).body);
        } catch (err) {
          if (!(err instanceof CdcViewsError && err.cause instanceof errors.ResponseError && err.cause.statusCode === 404)) throw err;
        }
        // No alias of that name, yet the name exists: an index (not an alias) carries the readers' name.
        const squatted = holders.length === 0 && (await searchCall(ctx.searchUrl, () => client.indices.exists({ index: s.reader }))).body;
        if (squatted && !options.replaceIndex) {
          // An application that ran under the topology's own name wrote it.
          throw new CdcViewsError(
            'OPS_ALIAS_TAKEN',
            `an index named ${s.reader} exists, so the readers' alias cannot be created: it was written by an application running under the topology's name. Run the live topology as a version (applicationId ${topology}-<version>, the chart's default), let it catch up, then promote it with --replace-index (deletes the old index in the same atomic alias switch)`,
          );
        }
        const moved = aliasSwitch(s, holders, squatted);
        actions.push(...moved.actions);
        result.aliases.push(moved.alias);
      }
      // One request: OpenSearch applies all alias actions atomically.
      await searchCall(ctx.searchUrl, () => client.indices.updateAliases({ body: { actions } }));
    } finally {
      await client.close();
    }
  }

  const tx = ctx.redis.multi();
  for (const p of cachePointers(entry)) {
    tx.set(p.key, p.to);
    result.pointers.push(p);
  }
  tx.set(registry.promotedKey, version);
  tx.hset(registry.key, version, JSON.stringify({ ...entry, promotedAt: new Date().toISOString() }));
  await tx.exec();
  return result;
}

/**
 * Refuses to promote a version with records left to consume, renders left to
 * do, or no stored position (it never ran).
 * @throws {CdcViewsError} OPS_NOT_CAUGHT_UP
 */
export function assertCaughtUp(version: string, entry: VersionEntry, lag: bigint, pending: number, positions: number): void {
  if (lag > 0n || pending > 0 || positions === 0) {
    throw new CdcViewsError('OPS_NOT_CAUGHT_UP', `version ${version} (${entry.applicationId}) has not caught up: lag ${lag} record(s), ${pending} render(s) pending${positions === 0 ? ', no position stored yet' : ''}; run it until caught up (cdc-views run --app ${entry.applicationId} … --until-caught-up) or pass --force`);
  }
}

/**
 * Refuses to promote a store that lacks rows: built `--from <datetime>` (only
 * the keys changed since then), or from a log whose older records retention
 * had deleted.
 * @throws {CdcViewsError} OPS_INCOMPLETE_STORE naming the cause and the fix
 */
export function assertComplete(version: string, entry: VersionEntry, historyLostPartitions: number): void {
  if (!entry.complete) {
    throw new CdcViewsError('OPS_INCOMPLETE_STORE', `version ${version} holds only the keys changed since ${entry.from}: readers would lose every other row; build a complete version (--from earliest on a compacted topic, or --from clone) or pass --force`);
  }
  if (historyLostPartitions > 0) {
    throw new CdcViewsError('OPS_INCOMPLETE_STORE', `version ${version} was built on ${historyLostPartitions} partition(s) after retention had deleted older records (cdc-views status --app ${entry.applicationId} lists them): rows no later change re-sent are missing; backfill or clone, or pass --force`);
  }
}

/**
 * The `_aliases` actions that move a search sink's alias (its reader) from
 * the indexes holding it to the version's index, and the switch to report.
 * With `replaceIndex`, an index named like the alias is deleted first in the
 * same request (`remove_index`; OpenSearch applies the actions atomically).
 */
export function aliasSwitch(sink: VersionSink, holders: readonly string[], replaceIndex = false): { actions: Record<string, unknown>[]; alias: PromoteResult['aliases'][number] } {
  const others = holders.filter((h) => h !== sink.target);
  return {
    actions: [
      ...(replaceIndex ? [{ remove_index: { index: sink.reader } }] : []),
      ...others.map((index) => ({ remove: { index, alias: sink.reader } })),
      { add: { index: sink.target, alias: sink.reader } },
    ],
    alias: { alias: sink.reader, from: replaceIndex ? [sink.reader, ...others] : others, to: sink.target, ...(replaceIndex ? { replacedIndex: true } : {}) },
  };
}

/** The cache namespace pointers a promotion sets: each cache sink's reader key → the version's prefix. */
export function cachePointers(entry: VersionEntry): PromoteResult['pointers'] {
  return entry.sinks.filter((s) => s.kind === 'cache').map((s) => ({ key: s.reader, to: s.target }));
}

export interface DropPlan {
  entry: VersionEntry;
  redisPrefixes: string[];
  indexes: string[];
  consumerGroup: string;
  dlqTopic: string;
}

/**
 * What dropping a version deletes. Refuses the promoted version and a running one.
 * @throws {CdcViewsError} OPS_VERSION_PROMOTED, OPS_APP_RUNNING, OPS_VERSION_UNKNOWN.
 */
export async function planDrop(ctx: Omit<Ctx, 'searchUrl'>, topology: string, version: string): Promise<DropPlan> {
  const registry = new VersionRegistry(ctx.redis, topology);
  const entry = await registry.require(version);
  assertNotPromoted(version, await registry.promoted());
  assertNotRunning(version, entry, (await groupMembers(ctx.admin, entry.applicationId)).members);
  return dropPlanOf(entry);
}

/** @throws {CdcViewsError} OPS_VERSION_PROMOTED when `promoted` is this version. */
export function assertNotPromoted(version: string, promoted: string | null): void {
  if (promoted === version) throw new CdcViewsError('OPS_VERSION_PROMOTED', `version ${version} is the promoted one; promote another version first`);
}

/** @throws {CdcViewsError} OPS_APP_RUNNING naming the version's running members. */
export function assertNotRunning(version: string, entry: VersionEntry, members: readonly GroupMember[]): void {
  if (members.length > 0) throw new CdcViewsError('OPS_APP_RUNNING', `version ${version} (${entry.applicationId}) has ${members.length} running member(s): ${members.map((m) => `${m.clientId} on ${m.clientHost}`).join('; ')}; stop it first`);
}

/** What dropping a version deletes: its Redis namespace and cache prefixes, its indexes, consumer group and DLQ topic. */
export function dropPlanOf(entry: VersionEntry): DropPlan {
  return {
    entry,
    redisPrefixes: [new StateKeys(entry.applicationId).prefix, ...entry.sinks.filter((s) => s.kind === 'cache').map((s) => s.target)],
    indexes: entry.sinks.filter((s) => s.kind === 'search').map((s) => s.target),
    consumerGroup: entry.applicationId,
    dlqTopic: dlqTopic(entry.applicationId),
  };
}

/**
 * Drops a version. The group is checked again right before (a member may have
 * joined while the operator confirmed), and every partition's owner epoch is
 * bumped first, so an instance that starts meanwhile is fenced out of its
 * first write instead of writing into keys being deleted.
 * @throws {CdcViewsError} OPS_APP_RUNNING when the version runs now; SEARCH_UNREACHABLE
 */
export async function executeDrop(ctx: Ctx, topology: string, plan: DropPlan): Promise<{ redisKeys: number; indexes: number }> {
  assertNotRunning(plan.entry.version, plan.entry, (await groupMembers(ctx.admin, plan.entry.applicationId)).members);
  const store = new StateStore(ctx.redis, plan.entry.applicationId);
  await store.fenceAll();
  let redisKeys = await store.destroy();
  for (const s of plan.entry.sinks) if (s.kind === 'cache') redisKeys += await new CacheStore(ctx.redis, s.target).destroy();
  let indexes = 0;
  if (plan.indexes.length > 0) {
    const client = searchClient(ctx.searchUrl);
    try {
      for (const index of plan.indexes) {
        try {
          await searchCall(ctx.searchUrl, () => client.indices.delete({ index }));
          indexes += 1;
        } catch (err) {
          if (!(err instanceof CdcViewsError && err.cause instanceof errors.ResponseError && err.cause.statusCode === 404)) throw err;
        }
      }
    } finally {
      await client.close();
    }
  }
  await ctx.admin.deleteGroups([plan.consumerGroup]).catch(() => undefined);
  if ((await ctx.admin.listTopics()).includes(plan.dlqTopic)) await ctx.admin.deleteTopics({ topics: [plan.dlqTopic] });
  await new VersionRegistry(ctx.redis, topology).remove(plan.entry.version);
  return { redisKeys, indexes };
}

/** A search-engine client of an operator command: bounded requests, no retries (the command reports and exits). */
function searchClient(target: string | SearchConnection): Client {
  return createSearchClient(target, { requestTimeout: COMMAND_TIMEOUT_MS, maxRetries: 0 });
}

/**
 * Runs a search-engine request of an operator command.
 * @throws {CdcViewsError} SEARCH_UNREACHABLE naming the engine without its credentials (the cause is the client's error)
 */
async function searchCall<T>(target: string | SearchConnection, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const conn = toSearchConnection(target);
    const status = err instanceof errors.ResponseError ? ` (HTTP ${err.statusCode})` : '';
    // Credentials and TLS problems get their cause and fix; other failures the engine's address and status.
    const cause = isSecurityFailure(err) ? `: ${describeSearchError(err, conn, false)}` : '';
    throw new CdcViewsError('SEARCH_UNREACHABLE', `the search engine at ${displayUrl(conn.url)} failed${status}${cause}; check it runs and CDCV_OPENSEARCH_URL`, { cause: err });
  }
}
