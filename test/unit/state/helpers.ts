/**
 * Shared set-up of the state-store and runtime unit tests: one client of the
 * file's private Redis (src/topology/test-redis.ts), a fresh applicationId per
 * test whose keys are removed after it, and small builders of writes.
 */
import { randomUUID } from 'node:crypto';
import { after, type TestContext } from 'node:test';
import type { Redis } from 'ioredis';
import type { Row } from '../../../src/cdc/types.ts';
import { StateKeys } from '../../../src/state/keys.ts';
import { StateStore, type StateWrite } from '../../../src/state/store.ts';
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

/** A write of `row` (null: delete) at `version` to the key `{"id":id}` of `table`. */
export const write = (table: string, id: number, version: bigint, row: Row | null): StateWrite => ({ table, keyString: key(id), version, row });

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
