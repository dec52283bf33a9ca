/**
 * The lake worker's lease: a Redis key `cdcv:lake:{<table>}:lease` holding a
 * random token with an expiry, taken with `SET NX PX`, renewed and released
 * only by its holder (compare-and-set scripts). One worker per table at a
 * time; the lease only saves wasted work: the commit itself stays exclusive
 * through the object store's put-if-absent, so a stalled worker whose lease
 * expired can never overwrite a newer commit.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/** Redis keys of a lake table's metadata. */
export const lakeKeys = (table: string) => ({
  lease: `cdcv:lake:{${table}}:lease`,
  /** Hash: row key → JSON [partition, version, deleted]. */
  index: `cdcv:lake:{${table}}:index`,
  /** The Delta table version the index reflects. */
  indexVersion: `cdcv:lake:{${table}}:index-version`,
});

const RENEW = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end";
const RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

/** A held lease; {@link LakeLease.renew} before it runs out, {@link LakeLease.release} at the end. */
export class LakeLease {
  private constructor(
    private readonly redis: Redis,
    private readonly key: string,
    readonly token: string,
    private readonly ttlMs: number,
  ) {}

  /**
   * Takes the lease of a table, or returns null when another worker holds it.
   * @param ttlMs how long the lease lasts without renewal, ms @defaultValue 30000
   */
  static async take(redis: Redis, table: string, ttlMs = 30_000): Promise<LakeLease | null> {
    const key = lakeKeys(table).lease;
    const token = randomUUID();
    const ok = await redis.set(key, token, 'PX', ttlMs, 'NX');
    return ok === 'OK' ? new LakeLease(redis, key, token, ttlMs) : null;
  }

  /** The holder's token and the ms left, or null when nobody holds the lease. */
  static async holder(redis: Redis, table: string): Promise<{ token: string; ttlMs: number } | null> {
    const key = lakeKeys(table).lease;
    const [token, ttl] = await Promise.all([redis.get(key), redis.pttl(key)]);
    return token === null ? null : { token, ttlMs: ttl };
  }

  /** Extends the lease by its ttl; false when it was lost (expired, or taken by another worker). */
  async renew(): Promise<boolean> {
    return (await this.redis.eval(RENEW, 1, this.key, this.token, String(this.ttlMs))) === 1;
  }

  /** Gives the lease up (no-op when it was lost). */
  async release(): Promise<void> {
    await this.redis.eval(RELEASE, 1, this.key, this.token);
  }
}
