/**
 * Versions of a topology and the registry that lists them.
 *
 * Version `<v>` of topology `<name>` runs as applicationId `<name>-<v>`
 * (e.g. `order-search-v2`). Every Redis key it owns is under its application prefix,
 * and its sinks resolve `{app}` in cache prefixes and index names, so two
 * versions never share a store (replay isolation, docs/architecture.md).
 *
 * The registry's Redis keys are listed in src/state/keys.ts ({@link TopologyKeys}).
 */
import type { Redis } from 'ioredis';
import { CdcViewsError, ConfigError } from '../errors.ts';
import { resolveName } from '../sinks/index.ts';
import { CacheKeys, TopologyKeys } from '../state/keys.ts';
import type { TopologyPlan } from '../topology/plan.ts';

/** Where one view's sink writes for one version, and the stable name readers use. */
export interface VersionSink {
  view: string;
  kind: 'cache' | 'search';
  /** Cache key prefix or index name of this version (`{app}` resolved to the applicationId). */
  target: string;
  /**
   * What readers use, stable across versions: the search alias (`{app}` resolved
   * to the topology name), or the Redis key of the cache namespace pointer.
   */
  reader: string;
}

/** One registered version (JSON in the registry hash). */
export interface VersionEntry {
  version: string;
  applicationId: string;
  /** ISO-8601 time of registration. */
  createdAt: string;
  /** How it was built: `earliest`, an ISO-8601 time, or `clone:<applicationId>`. */
  from: string;
  /** Whether the build yields the complete store, or only the keys changed since a time. */
  complete: boolean;
  /** `replaying` until the replay reported caught up once, then `built`. */
  state: 'replaying' | 'built';
  /** The topology module the version runs (as given to `replay`). */
  topologyFile?: string;
  /** The topics the version consumes (exact names). */
  topics: string[];
  sinks: VersionSink[];
  /** ISO-8601 time of the last promotion to this version. */
  promotedAt?: string;
}

/** A version name: letters, digits, `.` and `_`. */
export const VERSION_RE = /^[A-Za-z0-9._]+$/;

/** The applicationId of a topology version. @throws {ConfigError} on a version name with other than letters, digits, `.`, `_`. */
export function applicationIdOf(topology: string, version: string): string {
  if (!VERSION_RE.test(version)) throw new ConfigError('--version', `version ${JSON.stringify(version)}: use letters, digits, . and _ only (e.g. v2)`);
  return `${topology}-${version}`;
}

/** Redis key of the cache namespace pointer for a view's cache sink: readers GET it to find the live prefix. */
export function cachePointerKey(prefixTemplate: string, topology: string): string {
  return CacheKeys.pointer(resolveName(prefixTemplate, topology));
}

/**
 * The sinks of a topology for one version. Every cache prefix and index name
 * must contain `{app}`: a fixed name would make a replay write the live store.
 * @throws {ConfigError} naming the view and sink otherwise.
 */
export function versionSinks(plan: TopologyPlan, applicationId: string): VersionSink[] {
  const out: VersionSink[] = [];
  for (const view of plan.views) {
    for (const sink of view.sinks) {
      const template = sink.kind === 'cache' ? sink.prefix : sink.index;
      if (!template.includes('{app}')) {
        throw new ConfigError(`view ${view.name}`, `its ${sink.kind} sink writes to the fixed name ${JSON.stringify(template)}: a replay would write the live store; put {app} in it (e.g. '{app}-${view.name}')`);
      }
      out.push(
        sink.kind === 'cache'
          ? { view: view.name, kind: 'cache', target: resolveName(template, applicationId), reader: cachePointerKey(template, plan.name) }
          : { view: view.name, kind: 'search', target: resolveName(template, applicationId), reader: resolveName(template, plan.name) },
      );
    }
  }
  return out;
}

/** The versions of one topology, in Redis. */
export class VersionRegistry {
  readonly key: string;
  readonly promotedKey: string;

  constructor(readonly redis: Redis, readonly topology: string) {
    const keys = new TopologyKeys(topology);
    this.key = keys.versions;
    this.promotedKey = keys.promoted;
  }

  async list(): Promise<VersionEntry[]> {
    const all = await this.redis.hgetall(this.key);
    return Object.values(all)
      .map((v) => JSON.parse(v) as VersionEntry)
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async get(version: string): Promise<VersionEntry | null> {
    const v = await this.redis.hget(this.key, version);
    return v === null ? null : (JSON.parse(v) as VersionEntry);
  }

  /** @throws {CdcViewsError} OPS_VERSION_UNKNOWN naming the registered versions. */
  async require(version: string): Promise<VersionEntry> {
    const entry = await this.get(version);
    if (entry) return entry;
    const known = (await this.list()).map((e) => e.version);
    throw new CdcViewsError('OPS_VERSION_UNKNOWN', `topology ${this.topology} has no version ${version} (known: ${known.join(', ') || 'none; create one with cdc-views replay'})`);
  }

  /** Registers a new version. @throws {CdcViewsError} OPS_VERSION_EXISTS when it is registered already. */
  async add(entry: VersionEntry): Promise<void> {
    const created = await this.redis.hsetnx(this.key, entry.version, JSON.stringify(entry));
    if (created === 0) throw new CdcViewsError('OPS_VERSION_EXISTS', `version ${entry.version} of ${this.topology} exists already; choose another --version, or drop it first: cdc-views drop ${this.topology} --version ${entry.version}`);
  }

  async update(version: string, change: Partial<VersionEntry>): Promise<void> {
    const entry = await this.require(version);
    await this.redis.hset(this.key, version, JSON.stringify({ ...entry, ...change }));
  }

  async promoted(): Promise<string | null> {
    return this.redis.get(this.promotedKey);
  }

  async remove(version: string): Promise<void> {
    await this.redis.hdel(this.key, version);
  }
}

/**
 * The ways to read an applicationId as `<topology>-<v>`, one per `-`, the
 * leftmost first (a topology name may hold dashes). The search ends at a `-`
 * in first place.
 */
export function topologyVersionSplits(applicationId: string): { topology: string; version: string }[] {
  const out: { topology: string; version: string }[] = [];
  for (let i = applicationId.indexOf('-'); i > 0; i = applicationId.indexOf('-', i + 1)) out.push({ topology: applicationId.slice(0, i), version: applicationId.slice(i + 1) });
  return out;
}

/**
 * Finds the registered version an applicationId belongs to (`<topology>-<v>`),
 * trying every `-` as the separator; null when it is not a registered version.
 */
export async function findVersionOfApp(redis: Redis, applicationId: string): Promise<{ registry: VersionRegistry; entry: VersionEntry } | null> {
  for (const { topology, version } of topologyVersionSplits(applicationId)) {
    const registry = new VersionRegistry(redis, topology);
    const entry = await registry.get(version);
    if (entry?.applicationId === applicationId) return { registry, entry };
  }
  return null;
}
