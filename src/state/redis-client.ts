/**
 * Connections to the state Redis: a single server (`redisUrl`), or the
 * primary a set of Redis Sentinels names (`redisSentinels` + `redisSentinelName`,
 * ioredis' Sentinel client). Every command connects through here.
 */
import { Redis, type RedisOptions } from 'ioredis';
import { CdcViewsError } from '../errors.ts';

/** Where the state Redis is (the `redisUrl`, `redisSentinels` and `redisSentinelName` settings). */
export interface RedisTarget {
  /** `redis://[user:password@]host:port[/db]`; with Sentinels only its credentials and db are used. */
  url: string;
  /** Sentinels as `host:port[,host:port…]`. @defaultValue none: connect to `url` */
  sentinels?: string | undefined;
  /** The primary's name the Sentinels monitor. Required with `sentinels`. */
  sentinelName?: string | undefined;
}

/** The client options for a target (no connection made). */
export function redisOptions(target: RedisTarget, extra: RedisOptions = {}): RedisOptions {
  const url = new URL(target.url);
  const auth: RedisOptions = {
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
    ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
  };
  if (!target.sentinels) return { host: url.hostname, port: Number(url.port || 6379), ...auth, ...extra };
  return {
    sentinels: target.sentinels.split(',').map((hp) => {
      const i = hp.lastIndexOf(':');
      return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) };
    }),
    name: target.sentinelName!,
    // Without it ioredis learns of a failover only when the old primary refuses writes (≈10 s later
    // with Sentinel's defaults), writing meanwhile to a primary whose writes the failover discards.
    failoverDetector: true,
    ...auth,
    ...extra,
  };
}

/** Where the target is, for messages (never a credential). */
export function describeRedisTarget(target: RedisTarget): string {
  if (target.sentinels) return `the primary ${target.sentinelName} of the Sentinels ${target.sentinels}`;
  const url = new URL(target.url);
  return `${url.protocol}//${url.host}${url.pathname.length > 1 ? url.pathname : ''}`;
}

/** Replies of a Redis that refuses the credentials given (AUTH / HELLO); they never contain the password. */
const AUTH_REFUSED = /^(WRONGPASS|NOAUTH|NOPERM)\b|invalid password/;

/**
 * Connects to the state Redis. A command fails after a few reconnect attempts
 * (`maxRetriesPerRequest` 3) instead of hanging while Redis is down.
 * @param timeoutMs longest wait for the connection to be ready, ms. @defaultValue 10000
 * @throws {CdcViewsError} REDIS_AUTH_FAILED when Redis answers but refuses the credentials;
 *   REDIS_UNREACHABLE otherwise; each naming the target (never its password) and the fix
 */
export async function connectRedis(target: RedisTarget, extra: RedisOptions = {}, timeoutMs = 10_000): Promise<Redis> {
  const redis = new Redis({ lazyConnect: true, maxRetriesPerRequest: 3, connectTimeout: 5_000, ...redisOptions(target, extra) });
  // Connection errors surface as failed commands (which their callers report); without a listener
  // ioredis prints every reconnect attempt's error to stderr.
  // The error event is also the only place the reason of a refused AUTH shows: connect() then just sees the connection closed.
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => void (lastError = err));
  let timer: NodeJS.Timeout | undefined;
  try {
    // connectTimeout covers the TCP connection only; a server that accepts and never answers hangs the ready check.
    await Promise.race([
      redis.connect(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    clearTimeout(timer);
    redis.disconnect();
    const refused = lastError && AUTH_REFUSED.exec(lastError.message);
    if (refused) {
      // A password refused is not an outage: "start it" would send the operator the wrong way.
      throw new CdcViewsError('REDIS_AUTH_FAILED', `Redis at ${describeRedisTarget(target)} refuses the credentials (${refused[1] ?? 'invalid password'}); check the user and password in CDCV_REDIS_URL (rotated?)`, { cause: lastError });
    }
    throw new CdcViewsError('REDIS_UNREACHABLE', `Redis does not answer at ${describeRedisTarget(target)}; start it (npm run stack:up) or set CDCV_REDIS_URL${target.sentinels ? ' / CDCV_REDIS_SENTINELS' : ''}`, { cause: err });
  }
  clearTimeout(timer);
  return redis;
}
