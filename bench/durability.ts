/**
 * The two durability modes of the materialize benchmark, applied to the
 * Redis the benchmark uses (CONFIG SET, restored afterwards):
 * - `durable`: AOF on with `appendfsync everysec` (Redis' documented
 *   default trade-off: at most about a second of writes lost on a crash),
 *   measured against Kafka Streams with its changelog topic;
 * - `volatile`: no AOF and no RDB snapshots, against Kafka Streams with the
 *   changelog disabled (RocksDB only on local disk).
 * See https://redis.io/docs/latest/operate/oss_and_stack/management/persistence/.
 */
import type { Redis } from 'ioredis';

export const DURABILITY_MODES = ['durable', 'volatile'] as const;
export type Durability = (typeof DURABILITY_MODES)[number];

const KEYS = ['appendonly', 'appendfsync', 'save'] as const;

/** Reads the persistence settings, applies `mode`, and returns a function restoring what was there. */
export async function applyDurability(redis: Redis, mode: Durability): Promise<() => Promise<void>> {
  const before: Record<string, string> = {};
  for (const k of KEYS) {
    const [, v] = (await redis.config('GET', k)) as [string, string];
    before[k] = v;
  }
  if (mode === 'durable') {
    await redis.config('SET', 'appendfsync', 'everysec');
    await redis.config('SET', 'appendonly', 'yes');
  } else {
    await redis.config('SET', 'appendonly', 'no');
    await redis.config('SET', 'save', '');
  }
  await waitForRewrite(redis);
  return async () => {
    for (const k of KEYS) await redis.config('SET', k, before[k]!);
  };
}

/** Turning AOF on rewrites the whole dataset in the background: wait for it, so it does not overlap a measured run. */
async function waitForRewrite(redis: Redis): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const info = await redis.info('persistence');
    if (/aof_rewrite_in_progress:0/.test(info) && /aof_rewrite_scheduled:0/.test(info)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('Redis AOF rewrite did not finish within 60 s');
}

/** The persistence settings as Redis reports them now (for the raw results). */
export async function persistenceSettings(redis: Redis): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const k of KEYS) out[k] = ((await redis.config('GET', k)) as [string, string])[1];
  return out;
}
