/**
 * Sentinel credentials on real servers (#15): the test starts a Redis whose
 * only usable user is an ACL user, and a Sentinel that monitors it and itself
 * admits only its own ACL user (redis-server in sentinel mode, on free ports,
 * no persistence). A command reaching the primary through the Sentinel with
 * both credentials from files works; a wrong Sentinel password fails at once
 * in one line naming redisSentinelPasswordFile (not the password), exit 3,
 * and the Sentinel's ACL LOG shows it refused the AUTH.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../../support/connect-worker.ts';
import { exited, sleep, uniqueId } from '../helpers.ts';
import { cli } from '../ops/helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'cdcv-redis-sentinel-'));
const NAME = 'cdcv-auth';
const ADMIN = 'admin-pw-sentinel-test';
const DATA_PW = 'data-pw-canary-4f1a';
const SENTINEL_PW = 'sentinel-pw-canary-9b2c';
const servers: ChildProcess[] = [];
let dataPort: number;
let sentinelPort: number;
let sentinel: Redis;

/** Starts a redis-server on a config file; resolves once `probe` logs in. */
async function start(conf: string, args: string[], probe: () => Redis): Promise<Redis> {
  servers.push(spawn('redis-server', [conf, ...args], { stdio: 'ignore' }));
  for (let i = 0; ; i++) {
    const c = probe();
    c.on('error', () => undefined);
    try {
      await c.connect();
      return c;
    } catch (err) {
      c.disconnect();
      assert.ok(i < 100, `${conf} did not start: ${String(err)}`);
      await sleep(100);
    }
  }
}

before(async () => {
  dataPort = await freePort();
  sentinelPort = await freePort();
  const dataConf = join(dir, 'data.conf');
  writeFileSync(dataConf, `port ${dataPort}\nbind 127.0.0.1\nsave ""\nappendonly no\nuser default on >${ADMIN} ~* &* +@all\nuser app on >${DATA_PW} ~cdcv:* ~cache:* -@all +info +hgetall +hscan +hget +smembers +get +scan\n`);
  const data = await start(dataConf, [], () => new Redis({ port: dataPort, host: '127.0.0.1', password: ADMIN, lazyConnect: true, retryStrategy: () => null }));
  data.disconnect();
  const sentinelConf = join(dir, 'sentinel.conf');
  writeFileSync(
    sentinelConf,
    `port ${sentinelPort}\nbind 127.0.0.1\ndir ${dir}\nuser default off\nuser watcher on >${SENTINEL_PW} allchannels +@all\nuser admin on >${ADMIN} allchannels +@all\nsentinel monitor ${NAME} 127.0.0.1 ${dataPort} 1\nsentinel auth-pass ${NAME} ${ADMIN}\n`,
  );
  sentinel = await start(sentinelConf, ['--sentinel'], () => new Redis({ port: sentinelPort, host: '127.0.0.1', username: 'admin', password: ADMIN, lazyConnect: true, retryStrategy: () => null }));
});

after(async () => {
  sentinel?.disconnect();
  for (const s of servers.reverse()) {
    if (s.exitCode === null && s.signalCode === null) {
      s.kill('SIGTERM');
      await exited(s);
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

test('through a Sentinel that requires its own ACL user, to a primary that requires another: both from files; a wrong Sentinel password fails in one line', async () => {
  const [host, port] = (await sentinel.call('SENTINEL', 'get-master-addr-by-name', NAME)) as [string, string];
  assert.equal(`${host}:${port}`, `127.0.0.1:${dataPort}`, 'the Sentinel names the primary');
  const dataFile = join(dir, 'redis-password');
  const sentinelFile = join(dir, 'sentinel-password');
  writeFileSync(dataFile, `${DATA_PW}\n`);
  writeFileSync(sentinelFile, `${SENTINEL_PW}\n`);
  const env = {
    CDCV_REDIS_URL: 'redis://127.0.0.1:6379',
    CDCV_REDIS_SENTINELS: `127.0.0.1:${sentinelPort}`,
    CDCV_REDIS_SENTINEL_NAME: NAME,
    CDCV_REDIS_SENTINEL_USERNAME: 'watcher',
    CDCV_REDIS_SENTINEL_PASSWORD_FILE: sentinelFile,
    CDCV_REDIS_USERNAME: 'app',
    CDCV_REDIS_PASSWORD_FILE: dataFile,
  };
  const args = ['dump', '--app', uniqueId('rsent'), '--table', 'public.customers'];
  const ok = await cli(args, 60_000, env);
  assert.equal(ok.code, 0, `dump through the Sentinel with both credentials: ${ok.stderr}`);

  await sentinel.call('ACL', 'LOG', 'RESET');
  const wrongFile = join(dir, 'wrong-sentinel-password');
  writeFileSync(wrongFile, 'wrong-sentinel-canary\n');
  const startedAt = Date.now();
  const r = await cli(args, 60_000, { ...env, CDCV_REDIS_SENTINEL_PASSWORD_FILE: wrongFile });
  assert.equal(r.code, 3, `exit 3: ${r.stderr}`);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`^cdc-views: the Redis Sentinels 127\\.0\\.0\\.1:${sentinelPort} refuse the credentials \\(WRONGPASS\\) of user watcher \\(redisSentinelUsername\\); check the user and password in redisSentinelPasswordFile \\(CDCV_REDIS_SENTINEL_PASSWORD_FILE=${wrongFile}\\)`));
  assert.ok(!r.stderr.includes('wrong-sentinel-canary') && !r.stderr.includes(DATA_PW), 'no password printed');
  assert.ok(Date.now() - startedAt < 9000, 'refused at once, not after the connection timeout');
  const log = (await sentinel.call('ACL', 'LOG')) as (string | number)[][];
  assert.ok(
    log.some((e) => e.includes('auth') && e.includes('watcher')),
    `the Sentinel logged the refused AUTH: ${JSON.stringify(log)}`,
  );
});
