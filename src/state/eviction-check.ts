/**
 * The start-up check of the state Redis' eviction policy (#15): a Redis that
 * evicts keys when full would silently drop table state, positions and view
 * data, and cdc-views would then render views from missing rows. Anything
 * but `maxmemory-policy noeviction` stops `run` and the operator commands that
 * write. Read through `INFO memory` (field `maxmemory_policy`), not `CONFIG GET`:
 * managed services (ElastiCache, MemoryDB, Memorystore, Azure Cache) disable CONFIG.
 */
import type { Redis } from 'ioredis';
import { CdcViewsError } from '../errors.ts';

/** The verdict on a Redis' eviction policy. */
export type EvictionVerdict = { ok: true; policy: string } | { ok: false; policy: string } | { ok: 'unknown' };

/**
 * Decides from the text of `INFO memory` (or a full `INFO`): `noeviction` is
 * ok; any other `maxmemory_policy` is not; no such field (a proxy or an old
 * server that does not report it) is unknown.
 */
export function evictionVerdict(info: string): EvictionVerdict {
  const m = /^maxmemory_policy:(\S+)\s*$/m.exec(info);
  if (!m) return { ok: 'unknown' };
  const policy = m[1]!;
  return policy === 'noeviction' ? { ok: true, policy } : { ok: false, policy };
}

/** The message of a refused policy: what is wrong and how to fix it, on self-run and managed Redis. */
export function evictionRefusal(policy: string, where: string): string {
  return (
    `Redis at ${where} evicts keys when full (maxmemory-policy ${policy}): it would silently drop table state and views. ` +
    'Set maxmemory-policy noeviction (redis.conf or CONFIG SET maxmemory-policy noeviction; on a managed service, the maxmemory-policy parameter of its parameter group or configuration), then start again'
  );
}

/**
 * Refuses a state Redis that may evict keys (see the module comment).
 * @param where the Redis, for the message (never a credential)
 * @param onUnknown called when INFO does not report a policy (nothing is refused then)
 * @throws {CdcViewsError} REDIS_EVICTION_POLICY (exit 1) when the policy is not `noeviction`;
 *   ioredis errors when INFO fails
 */
export async function assertNoEviction(redis: Redis, where: string, onUnknown: () => void = () => undefined): Promise<void> {
  const verdict = evictionVerdict(await redis.info('memory'));
  if (verdict.ok === 'unknown') onUnknown();
  else if (!verdict.ok) throw new CdcViewsError('REDIS_EVICTION_POLICY', evictionRefusal(verdict.policy, where));
}
