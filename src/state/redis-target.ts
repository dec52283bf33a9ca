/**
 * The state Redis a configuration names, with its credentials and TLS files
 * (the `redis*` settings of src/config.ts, issue #15): what every command hands
 * to {@link connectRedis} ({@link redisTargetOf}: pure, checks the settings fit
 * together, reads no file), and the connection of a command ({@link connectStateRedis}).
 */
import type { Redis, RedisOptions } from 'ioredis';
import type { Config } from '../config.ts';
import { ConfigError } from '../errors.ts';
import { Secret } from '../secrets.ts';
import { assertNoEviction } from './eviction-check.ts';
import { connectRedis, describeRedisTarget, type RedisTarget } from './redis-client.ts';

/** The settings {@link redisTargetOf} reads. */
export type RedisSettings = Pick<
  Config,
  | 'redisUrl'
  | 'redisSentinels'
  | 'redisSentinelName'
  | 'redisUsername'
  | 'redisPassword'
  | 'redisPasswordFile'
  | 'redisTlsCaFile'
  | 'redisTlsCertFile'
  | 'redisTlsKeyFile'
  | 'redisSentinelUsername'
  | 'redisSentinelPassword'
  | 'redisSentinelPasswordFile'
>;

/**
 * The state Redis of a configuration. The password comes from
 * `redisPassword`/`redisPasswordFile` or from the URL (`redis://user:pw@…`,
 * kept working), never both; likewise the user.
 * @throws {ConfigError} naming the settings when they contradict each other: a
 *   password (or user) both in redisUrl and in its own setting; a value and its
 *   file both set; TLS files with a `redis://` URL; a client certificate without
 *   its key (or the reverse); Sentinel credentials without redisSentinels
 */
export function redisTargetOf(cfg: RedisSettings): RedisTarget {
  const url = new URL(cfg.redisUrl);
  const urlUser = decodeURIComponent(url.username);
  const urlPassword = decodeURIComponent(url.password);
  const password = Secret.of('redisPassword', cfg.redisPassword, cfg.redisPasswordFile);
  if (password && urlPassword) throw new ConfigError('redisPassword', 'redisUrl (CDCV_REDIS_URL) holds a password too: give it in one place (preferably redisPasswordFile, and remove it from the URL)');
  if (cfg.redisUsername && urlUser) throw new ConfigError('redisUsername', 'redisUrl (CDCV_REDIS_URL) names a user too: give it in one place (preferably redisUsername, and remove it from the URL)');
  const tlsSet = (['redisTlsCaFile', 'redisTlsCertFile', 'redisTlsKeyFile'] as const).filter((k) => cfg[k] !== undefined);
  if (tlsSet.length > 0 && url.protocol !== 'rediss:') throw new ConfigError(tlsSet[0]!, `is used with TLS only, but redisUrl (CDCV_REDIS_URL) is ${url.protocol}//: write rediss://${url.host}${url.pathname}`);
  if ((cfg.redisTlsCertFile === undefined) !== (cfg.redisTlsKeyFile === undefined)) {
    throw new ConfigError(cfg.redisTlsCertFile === undefined ? 'redisTlsCertFile' : 'redisTlsKeyFile', 'a client certificate needs both redisTlsCertFile and redisTlsKeyFile');
  }
  const sentinelPassword = Secret.of('redisSentinelPassword', cfg.redisSentinelPassword, cfg.redisSentinelPasswordFile);
  if ((sentinelPassword || cfg.redisSentinelUsername) && !cfg.redisSentinels) {
    throw new ConfigError(sentinelPassword ? 'redisSentinelPassword' : 'redisSentinelUsername', 'is for Redis Sentinels, but redisSentinels (CDCV_REDIS_SENTINELS) is not set: set it, or give the credentials of the Redis itself in redisUsername / redisPasswordFile');
  }
  const userPassword = password ?? (urlPassword ? Secret.of('redisUrl', urlPassword, undefined) : undefined);
  const username = cfg.redisUsername ?? (urlUser || undefined);
  return {
    url: cfg.redisUrl,
    ...(cfg.redisSentinels ? { sentinels: cfg.redisSentinels, sentinelName: cfg.redisSentinelName } : {}),
    ...(username ? { username } : {}),
    ...(userPassword ? { password: userPassword } : {}),
    ...(tlsSet.length > 0 ? { tls: { caFile: cfg.redisTlsCaFile, certFile: cfg.redisTlsCertFile, keyFile: cfg.redisTlsKeyFile } } : {}),
    ...(cfg.redisSentinelUsername ? { sentinelUsername: cfg.redisSentinelUsername } : {}),
    ...(sentinelPassword ? { sentinelPassword } : {}),
  };
}

/** Options of {@link connectStateRedis}. */
export interface StateRedisOptions {
  /** More ioredis options (e.g. `commandTimeout`). */
  extra?: RedisOptions;
  /** The command writes state: refuse a Redis that may evict keys (./eviction-check.ts). @defaultValue false */
  writes?: boolean;
  /** Called when a writing command finds no eviction policy in INFO (allowed). */
  onUnknownPolicy?: () => void;
}

/**
 * Connects to the state Redis of a configuration ({@link redisTargetOf},
 * {@link connectRedis}) and, for a command that writes, checks its eviction
 * policy; disconnects again when that check fails.
 * @throws {ConfigError} as {@link redisTargetOf}, or when a password or TLS file cannot be read
 * @throws {CdcViewsError} as {@link connectRedis}; REDIS_EVICTION_POLICY (exit 1) when a writing
 *   command finds a policy other than `noeviction`
 */
export async function connectStateRedis(cfg: RedisSettings, options: StateRedisOptions = {}): Promise<Redis> {
  const target = redisTargetOf(cfg);
  const redis = await connectRedis(target, options.extra);
  if (!options.writes) return redis;
  try {
    await assertNoEviction(redis, describeRedisTarget(target), options.onUnknownPolicy);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  return redis;
}
