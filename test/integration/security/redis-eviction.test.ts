/**
 * The eviction-policy check on a real Redis (#15): a redis-server started
 * by the test with `maxmemory-policy allkeys-lru` is refused by `run` and by
 * the operator commands that write (here `promote`), in one line naming the
 * policy and the fix, exit 1, before anything is written; a command that only
 * reads (`dump`) still works. The check reads INFO, so it is also what a
 * managed Redis (CONFIG disabled) gets: the test's server has CONFIG renamed away.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from '../../support/connect-worker.ts';
import { exited, sleep, uniqueId } from '../helpers.ts';
import { cli } from '../ops/helpers.ts';

let server: ChildProcess;
let port: number;
let redis: Redis;

before(async () => {
  port = await freePort();
  // CONFIG is disabled, as on ElastiCache, MemoryDB or Memorystore: the check must not need it.
  server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'allkeys-lru', '--maxmemory', '64mb', '--rename-command', 'CONFIG', ''], { stdio: 'ignore' });
  for (let i = 0; ; i++) {
    redis = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null });
    redis.on('error', () => undefined);
    try {
      await redis.connect();
      break;
    } catch (err) {
      redis.disconnect();
      assert.ok(i < 50, `redis-server on ${port} did not start: ${String(err)}`);
      await sleep(100);
    }
  }
});

after(async () => {
  redis?.disconnect();
  if (server && server.exitCode === null) {
    server.kill('SIGTERM');
    await exited(server);
  }
});

test('a Redis that evicts keys (allkeys-lru) is refused by run and promote with the fix named; a reading command still works', async () => {
  assert.match(await redis.info('memory'), /^maxmemory_policy:allkeys-lru\r?$/m, 'the server really evicts');
  await assert.rejects(redis.call('CONFIG', 'GET', 'maxmemory-policy'), /unknown command/, 'CONFIG is disabled on the server');
  const env = { CDCV_REDIS_URL: `redis://127.0.0.1:${port}` };
  const app = uniqueId('revict');
  const fix = new RegExp(`^cdc-views: Redis at redis://127\\.0\\.0\\.1:${port} evicts keys when full \\(maxmemory-policy allkeys-lru\\): it would silently drop table state and views\\. Set maxmemory-policy noeviction .*parameter group`);
  for (const args of [
    ['run', '--app', app, '--topics', '^revict_none$', '--http-port', '0'],
    ['promote', 'revict', '--version', 'v1'],
  ]) {
    const r = await cli(args, 60_000, env);
    assert.equal(r.code, 1, `${args[0]}: exit 1 (refused): ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, `${args[0]}: one line: ${r.stderr}`);
    assert.match(r.stderr, fix, args[0]);
  }
  assert.equal(await redis.dbsize(), 0, 'nothing was written');
  const dump = await cli(['dump', '--app', app, '--table', 'public.customers'], 60_000, env);
  assert.equal(dump.code, 0, `dump only reads, so it is not refused: ${dump.stderr}`);
});
