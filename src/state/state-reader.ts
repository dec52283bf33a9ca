/**
 * The read side of the table state store: rows, tables, positions, counters
 * and the markers `status`, `versions` and the HTTP server read. Operator
 * commands and readers that never write take this; {@link StateStore}
 * extends it with the writes. Key names come from ./keys.ts, stored values
 * from ./encoding.ts.
 */
import type { Redis } from 'ioredis';
import type { Row } from '../cdc/types.ts';
import { ConfigError } from '../errors.ts';
import { parseStored, partitionField, Positions, storedRow, type StoredRow } from './encoding.ts';
import { StateKeys } from './keys.ts';
import { hscanPages, scanKeys } from './scan.ts';

/** Reads the table state and positions of one application in Redis. */
export class StateReader {
  readonly keys: StateKeys;

  constructor(readonly redis: Redis, readonly applicationId: string) {
    this.keys = new StateKeys(applicationId);
  }

  /** Stored positions of every partition. */
  async positions(): Promise<Positions> {
    return Positions.fromHash(await this.redis.hgetall(this.keys.positions));
  }

  /** Reads one row; null when absent. A delete marker is returned with `row` null. */
  async get(table: string, keyString: string): Promise<StoredRow | null> {
    const v = await this.redis.hget(this.keys.table(table), keyString);
    return v === null ? null : parseStored(v);
  }

  /** Reads the stored entries of some keys (null for absent), in order. */
  async storedRows(table: string, keyStrings: readonly string[]): Promise<(StoredRow | null)[]> {
    if (keyStrings.length === 0) return [];
    return (await this.redis.hmget(this.keys.table(table), ...keyStrings)).map((v) => (v === null ? null : parseStored(v)));
  }

  /** Reads the live rows of some keys (null for absent or deleted), in order. */
  async rows(table: string, keyStrings: readonly string[]): Promise<(Row | null)[]> {
    if (keyStrings.length === 0) return [];
    return (await this.redis.hmget(this.keys.table(table), ...keyStrings)).map(storedRow);
  }

  /** Number of stored entries (live rows and delete markers) of a table. */
  async size(table: string): Promise<number> {
    return this.redis.hlen(this.keys.table(table));
  }

  /** Iterates a table's stored entries (live rows and delete markers), in pages of about `count`. */
  async *scan(table: string, count = 1000): AsyncGenerator<[string, StoredRow]> {
    for await (const page of hscanPages(this.redis, this.keys.table(table), count)) {
      for (const [k, v] of page) yield [k, parseStored(v)];
    }
  }

  /**
   * The state table id for a name given by a person: the name itself when it
   * has state (a topic), else the one table id `<prefix>.<name>` that has
   * (`public.orders` → `shop.public.orders`), else the name unchanged.
   * @throws {ConfigError} when several connectors' tables match the name
   */
  async resolveTable(name: string): Promise<string> {
    const tables = await this.tables();
    if (tables.includes(name)) return name;
    const matching = tables.filter((t) => t.endsWith(`.${name}`));
    if (matching.length > 1) throw new ConfigError('table', `${name} is ambiguous in ${this.applicationId}: ${matching.join(', ')}; name the topic`);
    return matching[0] ?? name;
  }

  /** Rows stored without some columns (unchanged TOASTed values that could not be filled): key string → missing columns, per table. */
  async incompleteRows(table: string): Promise<Map<string, string[]>> {
    const all = await this.redis.hgetall(this.keys.incomplete(table));
    return new Map(Object.entries(all).map(([k, v]) => [k, JSON.parse(v) as string[]]));
  }

  /** The version of one stored entry of a table, taken at random (what kind of versions the table holds); null when empty. */
  async sampleVersion(table: string): Promise<string | null> {
    const reply = (await this.redis.call('HRANDFIELD', this.keys.table(table), '1', 'WITHVALUES')) as string[];
    return reply.length === 2 ? parseStored(reply[1]!).version : null;
  }

  /** Number of incomplete rows of a table. */
  async incompleteCount(table: string): Promise<number> {
    return this.redis.hlen(this.keys.incomplete(table));
  }

  /** Tables that have state in this application (their ids: topics), sorted. */
  async tables(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.tables)).sort();
  }

  /** Counters: `applied:<table>`, `stale:<table>`, `dlq`, `lastEvent:<topic>:<partition>`. */
  async stats(): Promise<Record<string, number>> {
    const all = await this.redis.hgetall(this.keys.stats);
    return Object.fromEntries(Object.entries(all).map(([k, v]) => [k, Number(v)]));
  }

  /** The record timestamp (ms) of the last event processed on a partition, as `stats` reports it. */
  static lastEventStat(topic: string, partition: number): string {
    return `lastEvent:${partitionField(topic, partition)}`;
  }

  /** Partitions whose state was built without the older history: partition field → the log start then. */
  async historyLost(): Promise<Map<string, bigint>> {
    return new Map(Object.entries(await this.redis.hgetall(this.keys.historyLost)).map(([k, v]) => [k, BigInt(v)]));
  }

  /** True when the application has any key in Redis. */
  async exists(): Promise<boolean> {
    for await (const _ of scanKeys(this.redis, this.keys.pattern)) return true;
    return false;
  }
}
