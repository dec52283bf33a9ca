/**
 * The script loader (src/state/scripts.ts): include expansion, registration
 * once per client, and the replies of branches the stores' wrappers turn into
 * errors or retries (called here directly, as their headers state them).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Scripts, scriptSource } from '../../../src/state/scripts.ts';
import { fileRedis, newApp, uniqueId } from './helpers.ts';

const redis = await fileRedis();

test('scriptSource expands --@include lines; a missing script is an error', () => {
  const lua = scriptSource('apply-chunk');
  assert.doesNotMatch(lua, /--@include/);
  assert.match(lua, /local function version_newer\(version, origin, stored_value\)/);
  assert.match(lua, /local function encode_stored/);
  assert.equal(scriptSource('clear-dirty').includes('stored_version'), false, 'only scripts that include it get it');
  for (const name of ['delete-older', 'sweep-markers', 'propagate', 'render-view']) assert.match(scriptSource(name), /local function stored_version/, name);
  assert.throws(() => scriptSource('no-such-script'), /ENOENT/);
});

test('Scripts registers every script once per client', () => {
  const before = (redis as unknown as Record<string, unknown>).cdcvApplyChunk;
  new Scripts(redis);
  const first = (redis as unknown as Record<string, unknown>).cdcvApplyChunk;
  assert.equal(typeof first, 'function');
  new Scripts(redis);
  assert.equal((redis as unknown as Record<string, unknown>).cdcvApplyChunk, first, 'a second Scripts does not redefine the command');
  if (before !== undefined) assert.equal(first, before);
  for (const command of ['cdcvPropagate', 'cdcvRenderView', 'cdcvClearDirty', 'cdcvCacheWrite', 'cdcvReadCache', 'cdcvCloneState', 'cdcvSweepMarkers', 'cdcvDeleteOlder']) {
    assert.equal(typeof (redis as unknown as Record<string, unknown>)[command], 'function', command);
  }
});

test('apply-chunk replies "FENCED <stored epoch|none>" before it looks at the position, then "POSITION <stored|none>"', async (t) => {
  const { keys, state } = newApp(t, redis);
  await state.acquire('t', 0);
  await state.acquire('t', 0);
  const scripts = new Scripts(redis);
  const call = (epoch: number, from: string, field = 't:0'): Promise<[number, number, string, number]> => scripts.applyChunk([keys.positions, keys.epochs, keys.stats, keys.tables, keys.positionStamps], [field, epoch, from, '5', '1700000000004', 0]);
  await assert.rejects(call(1, '3'), /FENCED 2/);
  await assert.rejects(call(1, '3', 't:1'), /FENCED none/);
  await assert.rejects(call(2, '3'), /POSITION none/);
  assert.deepEqual(await call(2, ''), [0, 0, '', 0]);
  assert.equal(await redis.hget(keys.positions, 't:0'), '5');
  assert.equal(await redis.hget(keys.positionStamps, 't:0'), '1700000000004', 'with the timestamp of the record before it');
  await assert.rejects(call(2, ''), /POSITION 5/);
  await assert.rejects(call(1, '5'), /FENCED 2/, 'the epoch is checked first');
  assert.deepEqual(await call(2, '5'), [0, 0, '', 0]);
});

test('read-cache replies {0, current prefix} when the pointer no longer holds the expected prefix', async (t) => {
  const scripts = new Scripts(redis);
  const pointer = `cache:${uniqueId('p')}:__current`;
  t.after(() => redis.del(pointer, 'cache:new:{"id":1}', 'cache:old:{"id":1}'));
  assert.deepEqual(await scripts.readCache([pointer, 'cache:old:{"id":1}'], 'cache:old:'), [0, null]);
  await redis.set(pointer, 'cache:new:');
  await redis.set('cache:new:{"id":1}', '{"v":"new"}');
  await redis.set('cache:old:{"id":1}', '{"v":"old"}');
  assert.deepEqual(await scripts.readCache([pointer, 'cache:old:{"id":1}'], 'cache:old:'), [0, 'cache:new:']);
  assert.deepEqual(await scripts.readCache([pointer, 'cache:new:{"id":1}', 'cache:new:{"id":2}'], 'cache:new:'), [1, '{"v":"new"}', null]);
});

test('clone-state replies TABLES_CHANGED when the table list is not the source\'s tables set', async (t) => {
  const source = newApp(t, redis);
  const target = newApp(t, redis);
  await redis.sadd(source.keys.tables, 'public.a', 'public.b');
  await redis.hset(source.keys.table('public.a'), 'k', 'K00000000000000000001\n0:0:1\n{}');
  await redis.hset(source.keys.table('public.b'), 'k', 'K00000000000000000001\n0:0:1\n{}');
  await redis.hset(source.keys.positions, 't:0', '3');
  const scripts = new Scripts(redis);
  const keysFor = (tables: string[]): string[] => [source.keys.tables, source.keys.positions, target.keys.tables, target.keys.positions, ...tables.flatMap((x) => [source.keys.table(x), target.keys.table(x)])];
  await assert.rejects(scripts.cloneState(keysFor(['public.a']), ['public.a']), /TABLES_CHANGED/, 'one table missing');
  await assert.rejects(scripts.cloneState(keysFor(['public.a', 'public.c']), ['public.a', 'public.c']), /TABLES_CHANGED/, 'same count, another name');
  assert.equal(await target.state.exists(), false);
  assert.deepEqual(await scripts.cloneState(keysFor(['public.a', 'public.b']), ['public.a', 'public.b']), [2, 1]);
  await assert.rejects(scripts.cloneState(keysFor(['public.a', 'public.b']), ['public.a', 'public.b']), /TARGET_EXISTS/);
});
