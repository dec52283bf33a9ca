/**
 * The connections of the operator commands (rewind, replay, promote,
 * versions, drop, status): Redis and a Kafka admin client from the
 * command's settings (src/cli/options.ts), each bounded in time, closed at the end.
 */
import type { Admin, Kafka } from 'kafkajs';
import type { Redis } from 'ioredis';
import type { Config } from '../config.ts';
import { kafkaSecurity } from '../kafka/security.ts';
import { searchConnection, type SearchConnection } from '../sinks/search-client.ts';
import { connectStateRedis } from '../state/redis-target.ts';
import { COMMAND_TIMEOUT_MS, connectAdmin } from './connections.ts';

/** What an operator command works with. */
export interface OpsContext {
  redis: Redis;
  admin: Admin;
  kafka: Kafka;
  /** The search engine (`--opensearch-url` and its credentials, CA, signing). */
  searchUrl: string | SearchConnection;
}

/**
 * Runs `fn` with Redis and Kafka connected as `config` says; disconnects both after.
 * @param options `writes`: the command writes state, so a Redis that may evict keys is refused
 * @throws {CdcViewsError} REDIS_UNREACHABLE, REDIS_AUTH_FAILED, KAFKA_UNREACHABLE (exit 3) when a dependency does not answer within {@link COMMAND_TIMEOUT_MS};
 *   REDIS_EVICTION_POLICY (exit 1) when a writing command finds a policy other than noeviction
 */
export async function withOps<T>(config: Config, fn: (ctx: OpsContext) => Promise<T>, options: { writes?: boolean } = {}): Promise<T> {
  const security = kafkaSecurity(config);
  const redis = await connectStateRedis(config, { extra: { commandTimeout: COMMAND_TIMEOUT_MS }, writes: options.writes ?? false });
  let admin: Admin | undefined;
  try {
    const connected = await connectAdmin(config.kafkaBrokers.split(','), 'cdc-views-ops', COMMAND_TIMEOUT_MS, security);
    admin = connected.admin;
    return await fn({ redis, admin, kafka: connected.kafka, searchUrl: searchConnection(config) });
  } finally {
    await admin?.disconnect();
    redis.disconnect();
  }
}

/** Writes a value as JSON on stdout (bigints as strings), pretty-printed, one document. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x), 2)}\n`);
}
