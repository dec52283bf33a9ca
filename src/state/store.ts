/**
 * The table state store (Kafka Streams' KTable store, kept in Redis): the
 * latest row per primary key, version-guarded writes, the positions stored
 * atomically with the state, and owner epochs for fencing. Key names come
 * from ./keys.ts, stored values from ./encoding.ts, scripts from ./scripts.ts.
 * The reads are in ./state-reader.ts.
 */
import type { Redis } from 'ioredis';
import type { Row } from '../cdc/types.ts';
import { CdcViewsError, FencedError, PositionMismatchError } from '../errors.ts';
import { encodePayload, parseOrigin, parseStored, partitionField, Positions, type StoredRow } from './encoding.ts';
import { hscanPages, scanKeys, unlinkMatching } from './scan.ts';
import { Scripts } from './scripts.ts';
import { StateReader } from './state-reader.ts';
import type { SnapshotRecord } from './housekeeping-store.ts';

export { parseStored, type StoredRow } from './encoding.ts';

/** One compacted change to apply: the newest event of a key within a chunk. */
export interface StateWrite {
  /** The table's id in the state store (its topic). */
  table: string;
  /** Canonical key string (src/cdc/keys.ts). */
  keyString: string;
  /** Source version of the change (src/cdc/source-position.ts): applied only when newer than the stored one. */
  version: string;
  /** `<incarnation>:<partition>:<offset>` of the change's record (encodeOrigin). */
  origin: string;
  /** The row after the change, or null for a delete. */
  row: Row | null;
  /**
   * The stored version the row was completed from (unchanged TOASTed columns
   * taken from the stored row): the write applies only while that is still
   * the stored version. @defaultValue none: no condition
   */
  basis?: string;
  /**
   * Columns the row lacks because their value could not be had (unchanged
   * TOASTed values with no older image to take them from): the row is stored
   * without them and listed as incomplete until a full image arrives.
   * @defaultValue none: the row is complete (and clears an earlier mark)
   */
  incomplete?: readonly string[];
}

/** The field of the snapshot-starts hash for one partition of one snapshot of a table. */
export function snapshotStartField(table: string, version: string, partition: number): string {
  return `${table}\u0000${version}\u0000${partition}`;
}

/** The owner epoch a write of a partition carries (it is refused when no longer the stored one). */
export interface Fence {
  topic: string;
  partition: number;
  epoch: number;
}

/** What {@link StateStore.acquire} returns. */
export interface Acquired {
  epoch: number;
  position: bigint | null;
  /** How many times the topic was found re-created (part of every origin). */
  incarnation: number;
}

/** Result of {@link StateStore.applyChunk}, in writes. */
export interface ApplyResult {
  applied: number;
  stale: number;
  /** Writes applied whose row equalled the stored row: version moved on, nothing marked for the views. */
  unchanged: number;
  /**
   * Per write, in order: `1` applied, `=` applied with the row unchanged
   * (not marked, renders nothing), `0` stale (not newer), `b` not applied
   * because its basis changed.
   */
  flags: string;
}

/**
 * The layout of the state this code writes: `2` = versions from the source
 * position, stored rows with their origin. State of layout 1 (versions were
 * Kafka offsets) cannot be compared with it.
 */
export const STATE_FORMAT = '2';

/** What the partition task needs of the state store (the metered decorator implements it too). */
export interface PartitionStateStore {
  acquire(topic: string, partition: number): Promise<Acquired>;
  advanceIncarnation(topic: string, known: number): Promise<number>;
  currentEpoch(topic: string, partition: number): Promise<number | null>;
  applyChunk(topic: string, partition: number, epoch: number, from: bigint | null, next: bigint, writes: readonly StateWrite[], dirtyTables?: ReadonlySet<string>, stamp?: string, stats?: Readonly<Record<string, number>>): Promise<ApplyResult>;
  positionStamp(topic: string, partition: number): Promise<string | null>;
  deleteOlderThan(table: string, version: string, origin: string, markDirty: boolean, fence: Fence, onPage?: (keys: string[]) => Promise<void>): Promise<number>;
  recordSnapshot(table: string, version: string, incarnation: number, ends: ReadonlyMap<number, bigint>): Promise<void>;
  recordHistoryLost(topic: string, partition: number, logStart: bigint): Promise<void>;
  recordSnapshotStart(table: string, partition: number, incarnation: number, version: string, offset: bigint): Promise<void>;
  storedRows(table: string, keyStrings: readonly string[]): Promise<(StoredRow | null)[]>;
  positions(): Promise<Positions>;
  recordLastEvent(topic: string, partition: number, timestampMs: string): Promise<void>;
  incrementStat(name: string, by?: number): Promise<void>;
}

/** Table state and positions of one application in Redis. */
export class StateStore extends StateReader implements PartitionStateStore {
  private readonly scripts: Scripts;

  constructor(redis: Redis, applicationId: string) {
    super(redis, applicationId);
    this.scripts = new Scripts(redis);
  }

  /**
   * Takes ownership of a partition: increments its owner epoch, so writes with
   * an older epoch are refused from now on. Returns the new epoch, the stored
   * position (next offset to consume; null when none is stored) and the
   * topic's incarnation.
   */
  async acquire(topic: string, partition: number): Promise<Acquired> {
    const field = partitionField(topic, partition);
    const [[, epoch], [, position], [, incarnation]] = (await this.redis
      .multi()
      .hincrby(this.keys.epochs, field, 1)
      .hget(this.keys.positions, field)
      .hget(this.keys.incarnations, topic)
      .exec()) as [[null, number], [null, string | null], [null, string | null]];
    return { epoch, position: position === null ? null : BigInt(position), incarnation: Number(incarnation ?? 0) };
  }

  /**
   * Counts one more re-creation of a topic, unless another partition's task
   * counted it already (the incarnation moved past `known`).
   * @returns the topic's incarnation now
   */
  async advanceIncarnation(topic: string, known: number): Promise<number> {
    await this.redis.watch(this.keys.incarnations);
    const now = Number((await this.redis.hget(this.keys.incarnations, topic)) ?? 0);
    if (now !== known) {
      await this.redis.unwatch();
      return now;
    }
    const done = await this.redis.multi().hset(this.keys.incarnations, topic, known + 1).exec();
    return done === null ? this.advanceIncarnation(topic, known) : known + 1;
  }

  /** The timestamp of the record just before a partition's stored position (null: unknown). */
  async positionStamp(topic: string, partition: number): Promise<string | null> {
    return this.redis.hget(this.keys.positionStamps, partitionField(topic, partition));
  }

  /**
   * Bumps the owner epoch of every partition with a stored position, so a
   * running instance's next write is refused (rewind and drop do this after
   * checking the group is empty, against an instance starting meanwhile).
   * @returns the partitions fenced
   */
  async fenceAll(): Promise<number> {
    const fields = Object.keys(await this.redis.hgetall(this.keys.positions));
    if (fields.length === 0) return 0;
    const tx = this.redis.multi();
    for (const f of fields) tx.hincrby(this.keys.epochs, f, 1);
    await tx.exec();
    return fields.length;
  }

  /** The partition's stored owner epoch; null when none is stored (the state was lost). */
  async currentEpoch(topic: string, partition: number): Promise<number | null> {
    const v = await this.redis.hget(this.keys.epochs, partitionField(topic, partition));
    return v === null ? null : Number(v);
  }

  /**
   * Applies a partition's compacted writes and its new position in one atomic
   * Redis step (lua/apply-chunk.lua). Each write is applied only if its
   * version is newer than the stored one. The applied keys of `dirtyTables`
   * (tables with views) are marked for propagation in the same step.
   * @param from the position the chunk starts from, as the caller last stored or read it (null: none)
   * @param next the position after the chunk
   * @param stamp the Kafka timestamp (ms) of the record just before `next`, kept to recognise a re-created topic. @defaultValue unknown
   * @param stats counters of the stats hash to increment with the chunk, atomically with its position (so a
   *   chunk consumed twice after a crash counts once), e.g. `{ 'backfill:<table>': 1024 }`. @defaultValue none
   * @throws {FencedError} when `epoch` is no longer the partition's owner epoch (nothing was written)
   * @throws {PositionMismatchError} when the stored position is not `from` (nothing was written)
   */
  async applyChunk(
    topic: string,
    partition: number,
    epoch: number,
    from: bigint | null,
    next: bigint,
    writes: readonly StateWrite[],
    dirtyTables: ReadonlySet<string> = new Set(),
    stamp = '',
    stats: Readonly<Record<string, number>> = {},
  ): Promise<ApplyResult> {
    const keys = [this.keys.positions, this.keys.epochs, this.keys.stats, this.keys.tables, this.keys.positionStamps];
    const index = new Map<string, number>();
    const keyIndex = (k: string): number => {
      let i = index.get(k);
      if (i === undefined) {
        keys.push(k);
        i = keys.length; // Lua KEYS are 1-based
        index.set(k, i);
      }
      return i;
    };
    const args: (string | number)[] = [partitionField(topic, partition), epoch, from?.toString() ?? '', next.toString(), stamp, writes.length];
    for (const w of writes) {
      const t = keyIndex(this.keys.table(w.table));
      const d = dirtyTables.has(w.table) ? keyIndex(this.keys.dirty(w.table)) : 0;
      const inc = keyIndex(this.keys.incomplete(w.table));
      args.push(t, d, inc, w.table, w.keyString, w.version, w.origin, encodePayload(w.row), w.basis ?? '', w.incomplete?.length ? JSON.stringify(w.incomplete) : '');
    }
    try {
      const counters = Object.entries(stats).filter(([, n]) => n !== 0);
      args.push(counters.length, ...counters.flat());
      const [applied, stale, flags, unchanged] = await this.scripts.applyChunk(keys, args);
      return { applied, stale, flags, unchanged };
    } catch (err) {
      const m = err instanceof Error ? /^(FENCED|POSITION) (\S+)/.exec(err.message) : null;
      const found = m?.[2] === 'none' ? null : m?.[2];
      if (m?.[1] === 'FENCED') throw new FencedError(topic, partition, epoch, found == null ? null : Number(found));
      if (m?.[1] === 'POSITION') throw new PositionMismatchError(topic, partition, from, found == null ? null : BigInt(found));
      throw err;
    }
  }

  /** Sets stored positions (rewind, replay). Does not touch owner epochs. */
  async setPositions(positions: Positions): Promise<void> {
    if (positions.size === 0) return;
    await this.redis.hset(this.keys.positions, positions.toHash());
  }

  async incrementStat(name: string, by = 1): Promise<void> {
    await this.redis.hincrby(this.keys.stats, name, by);
  }

  /** Records the timestamp of the last event processed on a partition (for `cdc-views status`). */
  async recordLastEvent(topic: string, partition: number, timestampMs: string): Promise<void> {
    await this.redis.hset(this.keys.stats, StateStore.lastEventStat(topic, partition), timestampMs);
  }

  /**
   * Copies this application's table state and positions into `target`'s
   * namespace in one atomic step (lua/clone-state.lua), so the copy is one
   * consistent snapshot; returns the copied positions.
   * @throws {CdcViewsError} OPS_VERSION_EXISTS when the target already has state
   */
  async cloneInto(target: StateStore): Promise<{ tables: number; positions: Positions }> {
    await this.checkFormat();
    for (let attempt = 0; ; attempt++) {
      const tables = await this.tables();
      const keys = [this.keys.tables, this.keys.positions, target.keys.tables, target.keys.positions];
      for (const t of tables) keys.push(this.keys.table(t), target.keys.table(t));
      try {
        const [copied] = await this.scripts.cloneState(keys, tables);
        await target.markFormat();
        return { tables: copied, positions: await target.positions() };
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        if (message.includes('TARGET_EXISTS')) {
          throw new CdcViewsError('OPS_VERSION_EXISTS', `application ${target.applicationId} already has state; choose another version name`, { cause: err });
        }
        // A table got its first row between reading the tables set and the copy: read it again.
        if (!message.includes('TABLES_CHANGED') || attempt >= 10) throw err;
      }
    }
  }

  /**
   * Marks for propagation (as apply-chunk does) every stored entry of a table
   * whose change came at or after `targets` (partition → offset) in the
   * table's topic, so that the next run re-renders their views (rewind).
   * An entry whose origin partition has no target is not marked.
   * @returns the number of entries marked
   */
  markRowsChangedSince(table: string, targets: ReadonlyMap<number, bigint>): Promise<number> {
    return this.markRows(table, (stored) => {
      const origin = parseOrigin(stored.origin);
      if (origin === null) return true; // no Kafka origin: re-render, to be safe
      const target = targets.get(origin.partition);
      return target !== undefined && origin.offset >= target;
    });
  }

  /** Marks every stored entry of a table for propagation (clone: the new version renders everything). */
  markAllRows(table: string): Promise<number> {
    return this.markRows(table, () => true);
  }

  private async markRows(table: string, select: (stored: StoredRow) => boolean): Promise<number> {
    let n = 0;
    let batch: string[] = [];
    const flush = async (): Promise<void> => {
      if (batch.length > 0) await this.redis.hset(this.keys.dirty(table), ...batch);
      batch = [];
    };
    for await (const [key, stored] of this.scan(table)) {
      if (!select(stored)) continue;
      batch.push(key, stored.version);
      n += 1;
      if (batch.length >= 2000) await flush();
    }
    await flush();
    return n;
  }

  /** True when a view of this application has rendered at least once (a render sequence exists). */
  async rendersViews(): Promise<boolean> {
    for await (const _ of scanKeys(this.redis, this.keys.seqPattern)) return true;
    return false;
  }

  /**
   * Checks that the application's state, if any, has this code's layout
   * ({@link STATE_FORMAT}), and records the layout for a new application.
   * @throws {CdcViewsError} STATE_FORMAT naming the migration when the state has an older layout
   */
  async checkFormat(): Promise<void> {
    let format = await this.redis.get(this.keys.format);
    if (format === null) {
      // A new application records the layout (SET NX: two instances starting at once agree); keys
      // without a layout are an older cdc-views' state — unless another instance recorded it meanwhile.
      if (!(await this.exists())) await this.redis.set(this.keys.format, STATE_FORMAT, 'NX');
      format = await this.redis.get(this.keys.format);
    }
    if (format === STATE_FORMAT) return;
    throw new CdcViewsError(
      'STATE_FORMAT',
      `the state of ${this.applicationId} has layout ${format ?? '1 (row versions were Kafka offsets)'}, this cdc-views writes layout ${STATE_FORMAT} (versions from the source's log position); the two cannot be mixed: build a new version with \`cdc-views replay <topology> --version <version> --from earliest\` (or run under a new --app) and drop this one when it is no longer read`,
    );
  }

  /** Records this code's layout on a namespace it just created (replay, clone). */
  async markFormat(): Promise<void> {
    await this.redis.set(this.keys.format, STATE_FORMAT);
  }

  /**
   * A truncate: every live row of a table the event at (`version`, `origin`)
   * is newer than becomes a delete marker of that version, page by page
   * (lua/delete-older.lua, the apply step's version compare), marking the
   * keys for propagation when `markDirty` (the table has views). Fenced like
   * any write of the partition that carries the truncate.
   * @param onPage called after each page with the keys deleted in it
   * @returns the number of rows deleted
   * @throws {FencedError} when `fence.epoch` is no longer the partition's owner epoch
   */
  async deleteOlderThan(table: string, version: string, origin: string, markDirty: boolean, fence: Fence, onPage?: (keys: string[]) => Promise<void>): Promise<number> {
    try {
      return await this.deletePages(table, version, origin, markDirty, 'newer', [partitionField(fence.topic, fence.partition), fence.epoch], (page) => page.filter(([, v]) => parseStored(v).row !== null).map(([k]) => k), onPage);
    } catch (err) {
      const m = err instanceof Error ? /^FENCED (\S+)/.exec(err.message) : null;
      if (m) throw new FencedError(fence.topic, fence.partition, fence.epoch, m[1] === 'none' ? null : Number(m[1]));
      throw err;
    }
  }

  /**
   * Deletes the live rows `select` picks (from the stored value it is shown),
   * each only while its stored version is still the one read, as delete
   * markers of `version` (a snapshot's reconciliation: src/runtime/housekeeping.ts).
   * @returns the number of rows deleted
   */
  async deleteSelected(table: string, version: string, origin: string, markDirty: boolean, select: (key: string, stored: StoredRow) => boolean, onPage?: (keys: string[]) => Promise<void>): Promise<number> {
    return this.deletePages(table, version, origin, markDirty, 'cas', null, (page) =>
      page.flatMap(([k, v]) => {
        const stored = parseStored(v);
        return stored.row !== null && select(k, stored) ? [k, stored.version] : [];
      }), onPage);
  }

  private async deletePages(
    table: string,
    version: string,
    origin: string,
    markDirty: boolean,
    mode: 'newer' | 'cas',
    fence: readonly [string, number] | null,
    entries: (page: [string, string][]) => string[],
    onPage?: (keys: string[]) => Promise<void>,
  ): Promise<number> {
    const keys: [string, string, string, string] = [this.keys.table(table), markDirty ? this.keys.dirty(table) : this.keys.table(table), this.keys.incomplete(table), this.keys.epochs];
    let deleted = 0;
    for await (const page of hscanPages(this.redis, this.keys.table(table), 500)) {
      const args = entries(page);
      if (args.length === 0) continue;
      const keysDeleted = await this.scripts.deleteOlder(keys, version, origin, markDirty, mode, fence, args);
      deleted += keysDeleted.length;
      if (keysDeleted.length > 0) await onPage?.(keysDeleted);
    }
    return deleted;
  }

  /**
   * Records that a snapshot of a table ended (its last read was processed):
   * once every partition of the table's topic has reached `ends`, rows older
   * than `version` were not re-read by it, i.e. deleted while nothing was
   * captured, and the housekeeping deletes them (src/runtime/housekeeping.ts).
   */
  async recordSnapshot(table: string, version: string, incarnation: number, ends: ReadonlyMap<number, bigint>): Promise<void> {
    const record: SnapshotRecord = { version, incarnation, ends: Object.fromEntries([...ends].map(([p, o]) => [p, o.toString()])) };
    await this.redis.hset(this.keys.snapshots, table, JSON.stringify(record));
  }

  /**
   * Records that a partition's state is being built from a log whose start
   * retention moved (offsets before `logStart` are gone): the store can miss
   * rows no later change re-sent. `status` and `versions` report it.
   */
  async recordHistoryLost(topic: string, partition: number, logStart: bigint): Promise<void> {
    await this.redis.hset(this.keys.historyLost, partitionField(topic, partition), logStart.toString());
  }

  /** Records where a snapshot's reads start in a partition (the first one seen wins). */
  async recordSnapshotStart(table: string, partition: number, incarnation: number, version: string, offset: bigint): Promise<void> {
    await this.redis.hsetnx(this.keys.snapshotStarts, snapshotStartField(table, version, partition), `${incarnation}:${offset}`);
  }


  /** Deletes every key of this application (state, positions, epochs, stats, view bookkeeping). Returns the number removed. */
  async destroy(): Promise<number> {
    return unlinkMatching(this.redis, this.keys.pattern);
  }
}
