/**
 * Connections to the state Redis: a single server (`redisUrl`), or the
 * primary a set of Redis Sentinels names (`redisSentinels` + `redisSentinelName`,
 * ioredis' Sentinel client); with an ACL user and password, TLS
 * (`rediss://`, CA and client certificate) and Sentinel credentials (#15).
 * Every command connects through here (the cache sink shares `run`'s client).
 *
 * A password from a file is read again on every (re)connection: ioredis reads
 * `options.password` (and, for each Sentinel connection, `options.sentinelPassword`)
 * each time it connects (ioredis 5, `Redis#connect`, `SentinelConnector#connectToSentinel`),
 * so those two options are getters over the {@link Secret}.
 */
import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import { CdcViewsError, ConfigError } from '../errors.ts';
import type { Secret } from '../secrets.ts';

/** Where the state Redis is and how to authenticate (the `redis*` settings; see ./redis-target.ts). */
export interface RedisTarget {
  /** `redis[s]://[user:password@]host:port[/db]`; with Sentinels only its scheme, credentials and db are used. */
  url: string;
  /** Sentinels as `host:port[,host:port…]`. @defaultValue none: connect to `url` */
  sentinels?: string | undefined;
  /** The primary's name the Sentinels monitor. Required with `sentinels`. */
  sentinelName?: string | undefined;
  /** ACL user. @defaultValue the user in `url`, else Redis' `default` */
  username?: string | undefined;
  /** Password of the user. @defaultValue the password in `url`, else none */
  password?: Secret | undefined;
  /** PEM files for `rediss://` (read at connection). @defaultValue system CAs, no client certificate */
  tls?: { caFile?: string | undefined; certFile?: string | undefined; keyFile?: string | undefined } | undefined;
  /** ACL user on the Sentinels. */
  sentinelUsername?: string | undefined;
  /** Password of the Sentinels. */
  sentinelPassword?: Secret | undefined;
}

/** Reads a PEM file of a TLS setting. @throws {ConfigError} naming the setting when it cannot be read */
function pem(setting: string, file: string | undefined): Buffer | undefined {
  if (file === undefined) return undefined;
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ConfigError(setting, `cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): mount the file there or fix the path`);
  }
}

/**
 * The client options for a target (no connection made). TLS when the URL is
 * `rediss://`: Node's defaults verify the certificate chain and that the
 * certificate names the URL's host (with Sentinels: the primary's address).
 * @throws {ConfigError} when a TLS file or a password file cannot be read
 */
export function redisOptions(target: RedisTarget, extra: RedisOptions = {}): RedisOptions {
  const url = new URL(target.url);
  const username = target.username ?? (decodeURIComponent(url.username) || undefined);
  const password = target.password ? target.password.reveal() : decodeURIComponent(url.password) || undefined;
  const tls = url.protocol === 'rediss:' ? { ca: pem('redisTlsCaFile', target.tls?.caFile), cert: pem('redisTlsCertFile', target.tls?.certFile), key: pem('redisTlsKeyFile', target.tls?.keyFile) } : undefined;
  const auth: RedisOptions = {
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
    ...(tls ? { tls: Object.fromEntries(Object.entries(tls).filter(([, v]) => v !== undefined)) } : {}),
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
    ...(tls ? { enableTLSForSentinelMode: true } : {}),
    ...(target.sentinelUsername ? { sentinelUsername: target.sentinelUsername } : {}),
    ...(target.sentinelPassword ? { sentinelPassword: target.sentinelPassword.reveal() } : {}),
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

/** Replies of a Redis that refuses the credentials given (AUTH / HELLO) or a command to the user; they never contain the password. */
const AUTH_REFUSED = /^(WRONGPASS|NOAUTH|NOPERM)\b|invalid password/;

/** ioredis' error when every Sentinel refused the credentials ("All sentinels are unreachable. … Last error: WRONGPASS …"). */
const SENTINEL_AUTH_REFUSED = /^All sentinels are unreachable.*Last error: (WRONGPASS|NOAUTH|NOPERM)\b/;

/** Node's TLS errors: the server's certificate is not trusted or does not name the host, or the handshake failed. */
const TLS_FAILED = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|ERR_OSSL_)/;

/** Where the password of a target is set, for messages (never the password itself). */
export function describePasswordSource(target: RedisTarget): string {
  const pw = target.password;
  if (pw === undefined) return 'redisPasswordFile (CDCV_REDIS_PASSWORD_FILE): none is set';
  if (pw.file !== undefined) return `${pw.setting}File (CDCV_REDIS_PASSWORD_FILE=${pw.file})`;
  return pw.setting === 'redisUrl' ? 'CDCV_REDIS_URL (redisUrl)' : `${pw.setting} (CDCV_REDIS_PASSWORD)`;
}

/** The ACL user of a target, for messages. */
export function describeUser(target: RedisTarget): string {
  return `user ${target.username ?? (decodeURIComponent(new URL(target.url).username) || 'default')} (redisUsername)`;
}

/**
 * Makes a client read a password option from its secret on every
 * (re)connection (see the module comment). A secret file that cannot be read
 * at a reconnection keeps the last value (the server then refuses or accepts
 * it) and is reported through `onError`.
 */
function followRotation(redis: Redis, option: 'password' | 'sentinelPassword', secret: Secret | undefined, onError: (err: unknown) => void): void {
  if (!secret) return;
  let last = secret.reveal();
  Object.defineProperty(redis.options, option, {
    configurable: true,
    enumerable: true,
    get: () => {
      try {
        last = secret.reveal();
      } catch (err) {
        onError(err);
      }
      return last;
    },
  });
}

/**
 * ioredis puts the command of a failed reply on the error (`err.command.args`):
 * for AUTH and HELLO that is the password. Scrubbed in the client's `error`
 * listener, which runs before the callers the same error is rejected to.
 */
function scrubCredentials(err: unknown): void {
  const command = (err as { command?: { name?: unknown; args?: unknown[] } }).command;
  if (command && typeof command.name === 'string' && /^(auth|hello)$/i.test(command.name) && Array.isArray(command.args)) command.args = command.args.map(() => '*****');
}

/**
 * A client of a target, not connected yet (`lazyConnect`): its password
 * options follow their secret files, and its errors have their credentials
 * scrubbed before `onError` and any caller sees them.
 * @param onError every error of the client (connection, AUTH, a secret file that cannot be read)
 * @throws {ConfigError} when a password or TLS file cannot be read
 */
export function createRedisClient(target: RedisTarget, extra: RedisOptions = {}, onError: (err: Error) => void = () => undefined): Redis {
  const redis = new Redis({ lazyConnect: true, maxRetriesPerRequest: 3, connectTimeout: 5_000, ...redisOptions(target, extra) });
  // Connection errors surface as failed commands (which their callers report); without a listener
  // ioredis prints every reconnect attempt's error to stderr.
  // The error event is also the only place the reason of a refused AUTH shows: connect() then just sees the connection closed.
  const listener = (err: unknown): void => {
    scrubCredentials(err);
    if (err instanceof Error) onError(err);
  };
  redis.on('error', listener);
  followRotation(redis, 'password', target.password, listener);
  followRotation(redis, 'sentinelPassword', target.sentinelPassword, listener);
  return redis;
}

/**
 * Connects to the state Redis. A command fails after a few reconnect attempts
 * (`maxRetriesPerRequest` 3) instead of hanging while Redis is down. Reconnects
 * re-read a password file, so a rotated password is used without a restart.
 * @param timeoutMs longest wait for the connection to be ready, ms. @defaultValue 10000
 * @throws {ConfigError} when a password or TLS file cannot be read (exit 2)
 * @throws {CdcViewsError} REDIS_AUTH_FAILED when Redis answers but refuses the credentials
 *   (naming the user and the setting of the password, never the password);
 *   REDIS_TLS_UNAVAILABLE when the TLS handshake or the server's certificate fails;
 *   REDIS_UNREACHABLE otherwise; each naming the target and the fix (all exit 3)
 */
export async function connectRedis(target: RedisTarget, extra: RedisOptions = {}, timeoutMs = 10_000): Promise<Redis> {
  let lastError: Error | undefined;
  let sentinelRefused: (err: Error) => void = () => undefined;
  const redis = createRedisClient(target, extra, (err) => {
    lastError = err;
    // ioredis retries Sentinels that refuse the credentials forever; a refusal is not an outage.
    if (SENTINEL_AUTH_REFUSED.test(err.message)) sentinelRefused(err);
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    // connectTimeout covers the TCP connection only; a server that accepts and never answers hangs the ready check.
    await Promise.race([
      redis.connect(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        sentinelRefused = reject;
      }),
    ]);
  } catch (err) {
    clearTimeout(timer);
    redis.disconnect();
    throw connectionFailure(target, lastError, err);
  }
  clearTimeout(timer);
  return redis;
}

/** The error of a failed connection: refused credentials, a failed TLS handshake, or no answer. */
function connectionFailure(target: RedisTarget, lastError: Error | undefined, err: unknown): CdcViewsError {
  const where = describeRedisTarget(target);
  const sentinelRefused = lastError && SENTINEL_AUTH_REFUSED.exec(lastError.message);
  if (sentinelRefused) {
    const pw = target.sentinelPassword;
    const source = pw === undefined ? 'redisSentinelPasswordFile (CDCV_REDIS_SENTINEL_PASSWORD_FILE): none is set' : pw.file !== undefined ? `redisSentinelPasswordFile (CDCV_REDIS_SENTINEL_PASSWORD_FILE=${pw.file})` : 'redisSentinelPassword (CDCV_REDIS_SENTINEL_PASSWORD)';
    return new CdcViewsError('REDIS_AUTH_FAILED', `the Redis Sentinels ${target.sentinels ?? ''} refuse the credentials (${sentinelRefused[1]}) of user ${target.sentinelUsername ?? 'default'} (redisSentinelUsername); check the user and password in ${source} (rotated?)`, { cause: lastError });
  }
  const refused = lastError && AUTH_REFUSED.exec(lastError.message);
  if (refused && refused[1] === 'NOPERM') {
    return new CdcViewsError('REDIS_AUTH_FAILED', `Redis at ${where} does not permit ${describeUser(target)} a command cdc-views needs (${lastError.message.split('\n')[0]}); grant the Redis ACL of docs/security.md`, { cause: lastError });
  }
  if (refused) {
    // A password refused is not an outage: "start it" would send the operator the wrong way.
    return new CdcViewsError('REDIS_AUTH_FAILED', `Redis at ${where} refuses the credentials (${refused[1] ?? 'invalid password'}) of ${describeUser(target)}; check the user and password in ${describePasswordSource(target)} (rotated?)`, { cause: lastError });
  }
  const code: unknown = lastError && (lastError as NodeJS.ErrnoException).code;
  if (lastError && typeof code === 'string' && TLS_FAILED.test(code)) {
    return new CdcViewsError('REDIS_TLS_UNAVAILABLE', `Redis at ${where}: TLS failed (${code}: ${lastError.message.split('\n')[0]}); check redisTlsCaFile (the CA that signed the server certificate) and that the certificate names the host of redisUrl`, { cause: lastError });
  }
  return new CdcViewsError('REDIS_UNREACHABLE', `Redis does not answer at ${where}; start it (npm run stack:up) or set CDCV_REDIS_URL${target.sentinels ? ' / CDCV_REDIS_SENTINELS' : ''}`, { cause: err });
}
