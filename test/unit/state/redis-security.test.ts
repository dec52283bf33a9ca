/**
 * Redis security settings (#15) without a server: how the settings become a
 * target and client options, which combinations are refused, that messages
 * name the setting and never the password, that a client's password follows
 * its secret file, and the eviction-policy decision.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadConfig } from '../../../src/config.ts';
import { ConfigError } from '../../../src/errors.ts';
import { evictionRefusal, evictionVerdict } from '../../../src/state/eviction-check.ts';
import { createRedisClient, describePasswordSource, describeUser, redisOptions } from '../../../src/state/redis-client.ts';
import { redisTargetOf } from '../../../src/state/redis-target.ts';

const dir = mkdtempSync(join(tmpdir(), 'cdcv-redis-sec-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string): string => {
  const f = join(dir, name);
  writeFileSync(f, content);
  return f;
};
const settings = (env: Record<string, string>) => loadConfig({ env }).config;

test('the Redis settings: a password file, an ACL user and TLS files make a target; the password is read from the file', () => {
  const pw = file('pw', 's3cret-canary\n');
  const ca = file('ca.pem', 'CA PEM');
  const target = redisTargetOf(settings({ CDCV_REDIS_URL: 'rediss://redis.example:6390/2', CDCV_REDIS_USERNAME: 'cdcv', CDCV_REDIS_PASSWORD_FILE: pw, CDCV_REDIS_TLS_CA_FILE: ca }));
  assert.equal(target.username, 'cdcv');
  assert.equal(target.password?.reveal(), 's3cret-canary');
  const o = redisOptions(target);
  assert.equal(o.host, 'redis.example');
  assert.equal(o.port, 6390);
  assert.equal(o.db, 2);
  assert.equal(o.username, 'cdcv');
  assert.equal(o.password, 's3cret-canary');
  assert.deepEqual(o.tls, { ca: Buffer.from('CA PEM') });
  assert.equal(describeUser(target), 'user cdcv (redisUsername)');
  const said = describePasswordSource(target);
  assert.match(said, /^redisPasswordFile \(CDCV_REDIS_PASSWORD_FILE=.*pw\)$/);
  assert.doesNotMatch(said, /s3cret/);
});

test('a password inside redisUrl keeps working; a plain redis:// URL has no TLS', () => {
  const target = redisTargetOf(settings({ CDCV_REDIS_URL: 'redis://app:p%40ss@127.0.0.1:6379' }));
  const o = redisOptions(target);
  assert.equal(o.username, 'app');
  assert.equal(o.password, 'p@ss');
  assert.equal(o.tls, undefined);
  assert.equal(describeUser(target), 'user app (redisUsername)');
  assert.equal(describePasswordSource(target), 'CDCV_REDIS_URL (redisUrl)');
  assert.equal(describeUser(redisTargetOf(settings({}))), 'user default (redisUsername)');
  assert.match(describePasswordSource(redisTargetOf(settings({}))), /none is set/);
  assert.equal(describePasswordSource(redisTargetOf(settings({ CDCV_REDIS_PASSWORD: 'x' }))), 'redisPassword (CDCV_REDIS_PASSWORD)');
});

test('contradicting Redis settings are refused, each naming the setting and the fix', () => {
  const refused = (env: Record<string, string>, re: RegExp) => assert.throws(() => redisTargetOf(settings(env)), (e: unknown) => e instanceof ConfigError && re.test(e.message), JSON.stringify(env));
  refused({ CDCV_REDIS_URL: 'redis://:inurl@h:6379', CDCV_REDIS_PASSWORD: 'other' }, /^redisPassword: redisUrl \(CDCV_REDIS_URL\) holds a password too/);
  refused({ CDCV_REDIS_URL: 'redis://u@h:6379', CDCV_REDIS_USERNAME: 'v' }, /^redisUsername: redisUrl .* names a user too/);
  refused({ CDCV_REDIS_PASSWORD: 'a', CDCV_REDIS_PASSWORD_FILE: '/f' }, /^redisPassword: give the value or redisPasswordFile, not both/);
  refused({ CDCV_REDIS_TLS_CA_FILE: '/ca.pem' }, /^redisTlsCaFile: is used with TLS only, but redisUrl .* is redis:\/\/: write rediss:\/\/127\.0\.0\.1:6379/);
  refused({ CDCV_REDIS_URL: 'rediss://h:6379', CDCV_REDIS_TLS_CERT_FILE: '/c.pem' }, /^redisTlsKeyFile: a client certificate needs both/);
  refused({ CDCV_REDIS_SENTINEL_PASSWORD: 'x' }, /^redisSentinelPassword: is for Redis Sentinels, but redisSentinels .* is not set/);
});

test('a TLS file that cannot be read names its setting', () => {
  const target = redisTargetOf(settings({ CDCV_REDIS_URL: 'rediss://h:6390', CDCV_REDIS_TLS_CA_FILE: join(dir, 'missing.pem') }));
  assert.throws(() => redisOptions(target), (e: unknown) => e instanceof ConfigError && /^redisTlsCaFile: cannot read .*missing\.pem \(ENOENT\)/.test(e.message));
});

test('Sentinels: their own user and password, TLS to the primary with rediss://', () => {
  const spw = file('spw', 'sentinel-pw');
  const target = redisTargetOf(
    settings({ CDCV_REDIS_URL: 'rediss://h:6379', CDCV_REDIS_SENTINELS: '10.0.0.1:26379,10.0.0.2:26379', CDCV_REDIS_SENTINEL_NAME: 'main', CDCV_REDIS_SENTINEL_USERNAME: 'watcher', CDCV_REDIS_SENTINEL_PASSWORD_FILE: spw, CDCV_REDIS_PASSWORD: 'data-pw' }),
  );
  const o = redisOptions(target) as Record<string, unknown>;
  assert.deepEqual(o.sentinels, [
    { host: '10.0.0.1', port: 26379 },
    { host: '10.0.0.2', port: 26379 },
  ]);
  assert.equal(o.name, 'main');
  assert.equal(o.sentinelUsername, 'watcher');
  assert.equal(o.sentinelPassword, 'sentinel-pw');
  assert.equal(o.password, 'data-pw');
  assert.equal(o.enableTLSForSentinelMode, true);
});

test("a client's password and Sentinel password follow their secret files: ioredis reads them at every (re)connection", () => {
  const pw = file('rotating', 'first-password');
  const spw = file('srotating', 'first-sentinel');
  const target = redisTargetOf(
    settings({ CDCV_REDIS_PASSWORD_FILE: pw, CDCV_REDIS_SENTINELS: '127.0.0.1:1', CDCV_REDIS_SENTINEL_NAME: 'm', CDCV_REDIS_SENTINEL_PASSWORD_FILE: spw }),
  );
  const errors: Error[] = [];
  const redis = createRedisClient(target, {}, (e) => errors.push(e));
  try {
    assert.equal(redis.options.password, 'first-password');
    assert.equal(redis.options.sentinelPassword, 'first-sentinel');
    writeFileSync(pw, 'second-password-rotated');
    writeFileSync(spw, 'second-sentinel-rotated');
    const later = new Date(Date.now() + 5000);
    utimesSync(pw, later, later);
    utimesSync(spw, later, later);
    assert.equal(redis.options.password, 'second-password-rotated');
    assert.equal(redis.options.sentinelPassword, 'second-sentinel-rotated');
    // A file gone during a rotation: the last value stays, the failure is reported.
    rmSync(pw);
    assert.equal(redis.options.password, 'second-password-rotated');
    assert.match(String(errors.at(-1)?.message), /^redisPasswordFile: cannot read .*rotating \(ENOENT\)/);
  } finally {
    redis.disconnect();
  }
});

test("an AUTH error's command arguments (the password) are scrubbed before anyone sees the error", () => {
  const redis = createRedisClient(redisTargetOf(settings({ CDCV_REDIS_PASSWORD: 'canary-pw-123' })));
  try {
    const seen: unknown[] = [];
    redis.on('error', (e: unknown) => seen.push(e));
    const err = Object.assign(new Error('WRONGPASS invalid username-password pair or user is disabled.'), { command: { name: 'auth', args: ['cdcv', 'canary-pw-123'] } });
    redis.emit('error', err);
    assert.deepEqual(err.command.args, ['*****', '*****']);
    assert.doesNotMatch(JSON.stringify(seen), /canary-pw-123/);
  } finally {
    redis.disconnect();
  }
});

test('eviction policy: only noeviction passes; INFO without the field is unknown', () => {
  const info = (policy: string) => `# Memory\r\nused_memory:1\r\nmaxmemory:0\r\nmaxmemory_policy:${policy}\r\nallocator_frag_ratio:1.0\r\n`;
  assert.deepEqual(evictionVerdict(info('noeviction')), { ok: true, policy: 'noeviction' });
  for (const p of ['allkeys-lru', 'volatile-lru', 'allkeys-lfu', 'volatile-ttl', 'allkeys-random', 'volatile-random', 'volatile-lfu']) assert.deepEqual(evictionVerdict(info(p)), { ok: false, policy: p });
  assert.deepEqual(evictionVerdict('# Memory\r\nused_memory:1\r\n'), { ok: 'unknown' });
  const message = evictionRefusal('allkeys-lru', 'redis://10.0.0.5:6379');
  assert.match(message, /^Redis at redis:\/\/10\.0\.0\.5:6379 evicts keys when full \(maxmemory-policy allkeys-lru\)/);
  assert.match(message, /Set maxmemory-policy noeviction .*managed service, the maxmemory-policy parameter of its parameter group/);
});
