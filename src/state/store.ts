/**
 * The Redis state store: per-key table state (KTable), version-guarded writes,
 * positions stored atomically with the state, and owner epochs for fencing.
 * The Lua scripts in ./lua/ state their contracts in their headers.
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { FencedError } from '../errors.ts';
import type { Row } from '../cdc/types.ts';
import { StateKeys } from './keys.ts';

const script = (name: string): string => readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');

/** One compacted change to apply: the newest event of a key within a batch. */
export interface StateWrite {
  table: string;
  keyString: string;
  /** Source offset of the event: monotonic per key, as one key lives in one partition. */
  version: bigint;
  /** The row after the change, or null for a delete. */
  row: Row | null;
}

/** Result of {@link StateStore.applyBatch}, in records. */
export interface ApplyResult {
  applied: number;
  stale: number;
}

/** A stored table row: its version and value (null when the stored marker is a delete). */
export interface StoredRow {
  version: bigint;
  row: Row | null;
}

/** Parses the stored `<version>\n<row JSON>` form. */
export function parseStored(value: string): StoredRow {
  const nl = value.indexOf('\n');
  const body = value.slice(nl + 1);
  return { version: BigInt(value.slice(0, nl)), row: body === '' ? null : (JSON.parse(body) as Row) };
}

interface ScriptedRedis extends Redis {
  cdcvApplyBatch(numKeys: number, ...args: (string | number)[]): Promise<[number, number]>;
  cdcvCacheWrite(numKeys: number, ...args: (string | number)[]): Promise<[number, number]>;
  cdcvClearDirty(numKeys: number, ...args: string[]): Promise<number>;
  cdcvPropagate(numKeys: number, ...args: (string | number)[]): Promise<string[]>;
  cdcvRenderView(numKeys: number, ...args: (string | number)[]): Promise<RenderViewReply[]>;
}

/** One root's reply of render-view.lua (see its header). */
export type RenderViewReply = [0] | [1, number, ...(string | number | null)[]];

/** Registers cdc-views' Lua scripts on a client (EVALSHA with automatic fallback to EVAL). */
export function withScripts(redis: Redis): ScriptedRedis {
  const r = redis as ScriptedRedis;
  if (typeof r.cdcvApplyBatch !== 'function') {
    redis.defineCommand('cdcvApplyBatch', { lua: script('apply-batch') });
    redis.defineCommand('cdcvCacheWrite', { lua: script('cache-write') });
    redis.defineCommand('cdcvClearDirty', { lua: script('clear-dirty') });
    redis.defineCommand('cdcvPropagate', { lua: script('propagate') });
    redis.defineCommand('cdcvRenderView', { lua: script('render-view') });
  }
  return r;
}

/** Table state and positions of one application in Redis. */
export class StateStore {
  readonly keys: StateKeys;
  readonly redis: ScriptedRedis;

  constructor(redis: Redis, readonly applicationId: string) {
    this.redis = withScripts(redis);
    this.keys = new StateKeys(applicationId);
  }

  /**
   * Takes ownership of a partition: increments its owner epoch. Writes with an
   * older epoch are refused from now on. Returns the new epoch and the stored
   * position (next offset to consume; null when the app never stored one).
   */
  async acquire(topic: string, partition: number): Promise<{ epoch: number; position: bigint | null }> {
    const field = StateKeys.partitionField(topic, partition);
    const [[, epoch], [, position]] = (await this.redis
      .multi()
      .hincrby(this.keys.epochs, field, 1)
      .hget(this.keys.positions, field)
      .exec()) as [[null, number], [null, string | null]];
    return { epoch, position: position === null ? null : BigInt(position) };
  }

  /**
   * Applies a partition's compacted writes and its new position in one atomic
   * Redis step. Each write is applied only if its version is newer than the
   * stored one. `dirtyTables` are tables with views: their applied keys are
   * marked for rendering in the same step.
   * @throws {FencedError} when `epoch` is no longer the partition's owner epoch.
   */
  async applyBatch(
    topic: string,
    partition: number,
    epoch: number,
    nextOffset: bigint,
    writes: readonly StateWrite[],
    dirtyTables: ReadonlySet<string> = new Set(),
  ): Promise<ApplyResult> {
    const keys = [this.keys.positions, this.keys.epochs, this.keys.stats];
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
    const args: (string | number)[] = [StateKeys.partitionField(topic, partition), epoch, nextOffset.toString(), writes.length];
    for (const w of writes) {
      const t = keyIndex(this.keys.table(w.table));
      const d = dirtyTables.has(w.table) ? keyIndex(this.keys.dirty(w.table)) : 0;
      args.push(t, d, w.table, w.keyString, w.version.toString(), w.row === null ? '' : JSON.stringify(w.row));
    }
    try {
      const [applied, stale] = await this.redis.cdcvApplyBatch(keys.length, ...keys, ...args);
      return { applied, stale };
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('FENCED')) throw new FencedError(topic, partition, epoch);
      throw err;
    }
  }

  /** Empties a table's state (Debezium truncate event). */
  async truncate(table: string): Promise<void> {
    await this.redis.del(this.keys.table(table));
  }

  /** Stored positions: `<topic>:<partition>` → next offset. */
  async positions(): Promise<Map<string, bigint>> {
    const all = await this.redis.hgetall(this.keys.positions);
    return new Map(Object.entries(all).map(([k, v]) => [k, BigInt(v)]));
  }

  /** Sets stored positions (rewind, tests). Does not touch owner epochs. */
  async setPositions(positions: ReadonlyMap<string, bigint>): Promise<void> {
    if (positions.size === 0) return;
    await this.redis.hset(this.keys.positions, Object.fromEntries([...positions].map(([k, v]) => [k, v.toString()])));
  }

  /** Reads one row; null when absent or deleted. `keyString` is the canonical key. */
  async get(table: string, keyString: string): Promise<StoredRow | null> {
    const v = await this.redis.hget(this.keys.table(table), keyString);
    return v === null ? null : parseStored(v);
  }

  /** Iterates a table's stored entries (live rows and delete markers), in batches of about `count`. */
  async *scan(table: string, count = 1000): AsyncGenerator<[string, StoredRow]> {
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(this.keys.table(table), cursor, 'COUNT', count);
      cursor = next;
      for (let i = 0; i < flat.length; i += 2) yield [flat[i] as string, parseStored(flat[i + 1] as string)];
    } while (cursor !== '0');
  }

  /** Tables that have state in this application. */
  async tables(): Promise<string[]> {
    const found = new Set<string>();
    const pattern = `${this.keys.prefix}t:*`;
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
      cursor = next;
      for (const k of batch) found.add(k.slice(this.keys.prefix.length + 2));
    } while (cursor !== '0');
    return [...found].sort();
  }

  /** Counters: `applied:<table>`, `stale:<table>`, `dlq`. */
  async stats(): Promise<Record<string, number>> {
    const all = await this.redis.hgetall(this.keys.stats);
    return Object.fromEntries(Object.entries(all).map(([k, v]) => [k, Number(v)]));
  }

  async incrementStat(name: string, by = 1): Promise<void> {
    await this.redis.hincrby(this.keys.stats, name, by);
  }

  /** Deletes every key of this application (state, positions, epochs, stats). */
  async destroy(): Promise<number> {
    let removed = 0;
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.scan(cursor, 'MATCH', `${this.keys.prefix}*`, 'COUNT', 500);
      cursor = next;
      if (batch.length > 0) removed += await this.redis.unlink(...batch);
    } while (cursor !== '0');
    return removed;
  }
}
