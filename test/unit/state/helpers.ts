/**
 * Shared set-up of the state-store and runtime unit tests: one client of the
 * file's private Redis (src/topology/test-redis.ts), a fresh applicationId per
 * test whose keys are removed after it, small builders of writes and
 * versions, and a writer that chains a partition's chunks from one stored
 * position to the next (apply-chunk checks the position a chunk starts from).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, type TestContext } from 'node:test';
import type { Redis } from 'ioredis';
import { kafkaOffsetVersion } from '../../../src/cdc/source-position.ts';
import type { Row } from '../../../src/cdc/types.ts';
import { encodeOrigin, type StoredRow } from '../../../src/state/encoding.ts';
import { StateKeys } from '../../../src/state/keys.ts';
import { StateStore, type ApplyResult, type PartitionStateStore, type StateWrite } from '../../../src/state/store.ts';
import { ViewStore } from '../../../src/state/view-store.ts';
import { connectTestRedis } from '../../../src/topology/test-redis.ts';

/**
 * A client of the test Redis, disconnected after the file's last test. Call it
 * at the top level of a test file (one private redis-server per file).
 */
export async function fileRedis(): Promise<Redis> {
  const redis = await connectTestRedis();
  after(() => redis.disconnect());
  return redis;
}

/** A fresh applicationId, unique in the test Redis. */
export const uniqueId = (label: string): string => `${label}-${randomUUID()}`;

/** The stores of one fresh application; every key of it is removed after the test. */
export interface TestApp {
  id: string;
  keys: StateKeys;
  state: StateStore;
  views: ViewStore;
}

export function newApp(t: TestContext, redis: Redis, id = uniqueId('app')): TestApp {
  const state = new StateStore(redis, id);
  t.after(() => state.destroy());
  return { id, keys: state.keys, state, views: new ViewStore(redis, id) };
}

/** The canonical key string of a single-column key `{"id":n}`. */
export const key = (id: number): string => `{"id":${id}}`;

/** The version of a change without a source position: its Kafka offset (`K` + 20 digits). */
export const K = (offset: number | bigint): string => kafkaOffsetVersion(BigInt(offset));

/** Where a record sits, for its origin: the topic's incarnation and the partition. @defaultValue incarnation 0, partition 0 */
export interface At {
  incarnation?: number;
  partition?: number;
  /** The version. @defaultValue the Kafka-offset version of the record's offset */
  version?: string;
  /** The whole origin. @defaultValue `<incarnation>:<partition>:<offset>` */
  origin?: string;
}

const originOf = (offset: number | bigint, at: At): string => at.origin ?? encodeOrigin(at.incarnation ?? 0, at.partition ?? 0, BigInt(offset));

/**
 * A write of `row` (null: delete) to the key `{"id":id}` of `table`, made by
 * the record at `offset` (its origin): by default a change without a source
 * position, whose version is that offset (as the decoder's fallback gives).
 */
export function write(table: string, id: number, offset: number | bigint, row: Row | null, at: At = {}): StateWrite {
  return { table, keyString: key(id), version: at.version ?? K(offset), origin: originOf(offset, at), row };
}

/**
 * Asserts that a stored entry is the delete marker of the delete at `offset`
 * (version and origin as {@link write} makes them), deleted at a time of
 * Redis' clock between `since` and now (ms).
 */
export function assertMarker(actual: StoredRow | null, offset: number | bigint, since: number, at: At = {}, message?: string): void {
  assert.ok(actual !== null, message ?? 'a delete marker is stored');
  const { deletedAtMs, ...rest } = actual;
  assert.deepEqual(rest, { version: at.version ?? K(offset), origin: originOf(offset, at), row: null }, message);
  assert.ok(deletedAtMs !== null && deletedAtMs >= since && deletedAtMs <= Date.now(), `${message ?? 'delete marker'}: deleted at ${deletedAtMs}, expected between ${since} and now`);
}

/** The stored entry `write(…, offset, row, at)` leaves (a live row; for a delete marker see {@link assertMarker}). */
export function stored(offset: number | bigint, row: Row, at: At = {}): StoredRow {
  return { version: at.version ?? K(offset), origin: originOf(offset, at), row, deletedAtMs: null };
}

/**
 * PostgreSQL versions (src/cdc/source-position.ts): a change at (P, L) —
 * P the end of the previous transaction's COMMIT, L its own LSN — and a
 * snapshot read at S.
 */
export const pg = {
  change: (p: number | bigint, l: number | bigint): string => `P${pad20(p)}2${pad20(l)}1`,
  firstChange: (l: number | bigint): string => `P${pad20(l)}1${pad20(l)}1`,
  read: (s: number | bigint): string => `P${pad20(s)}0${pad20(s)}0`,
};
const pad20 = (n: number | bigint): string => n.toString().padStart(20, '0');

/**
 * Applies a partition's chunks in order, each from the position the previous
 * one stored (apply-chunk refuses a chunk whose start is not the stored position).
 */
export interface PartitionWriter {
  epoch: number;
  /** The stored position the next chunk starts from. */
  position: bigint | null;
  /** Applies writes and moves the position to `next`. */
  apply(next: bigint, writes: readonly StateWrite[], dirtyTables?: ReadonlySet<string>): Promise<ApplyResult>;
}

/** Acquires a partition (a new owner epoch) and returns a writer continuing from its stored position. */
export async function partitionWriter(state: PartitionStateStore, topic: string, partition: number): Promise<PartitionWriter> {
  const { epoch, position } = await state.acquire(topic, partition);
  const writer: PartitionWriter = {
    epoch,
    position,
    apply: async (next, writes, dirtyTables) => {
      const r = await state.applyChunk(topic, partition, epoch, writer.position, next, writes, dirtyTables);
      writer.position = next;
      return r;
    },
  };
  return writer;
}

/**
 * Every key of an application with its content (hash, set and zset contents,
 * string values), for "nothing was written" comparisons.
 */
export async function snapshot(redis: Redis, keys: StateKeys): Promise<Record<string, unknown>> {
  const names = (await redis.keys(keys.pattern)).sort();
  const out: Record<string, unknown> = {};
  for (const name of names) {
    const type = await redis.type(name);
    if (type === 'hash') out[name] = await redis.hgetall(name);
    else if (type === 'set') out[name] = (await redis.smembers(name)).sort();
    else if (type === 'zset') out[name] = await redis.zrange(name, 0, -1);
    else out[name] = await redis.get(name);
  }
  return out;
}

/**
 * The same client with some methods replaced (to stage what another client
 * would have changed between two calls); every other property is the client's own.
 */
export function withOverrides(redis: Redis, overrides: Record<string, unknown>): Redis {
  return new Proxy(redis, {
    get(target, prop, receiver) {
      if (typeof prop === 'string' && Object.prototype.hasOwnProperty.call(overrides, prop)) return overrides[prop];
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
