/**
 * Versions of a topology (src/ops/versions.ts): the applicationId of a
 * version, its sinks (the `{app}` rule), the cache pointer key, and the
 * registry with the separator search of findVersionOfApp, on the test Redis
 * (a private redis-server, src/topology/test-redis.ts). Registry keys are
 * under a topology name unique to this run and removed afterwards.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { StreamsBuilder } from '../../../src/topology/dsl.ts';
import { connectTestRedis } from '../../../src/topology/test-redis.ts';
import { applicationIdOf, cachePointerKey, findVersionOfApp, topologyVersionSplits, VersionRegistry, versionSinks, type VersionEntry } from '../../../src/ops/versions.ts';

let redis: Redis;
const run = randomUUID().slice(0, 8);

before(async () => {
  redis = await connectTestRedis();
});

after(async () => {
  const keys = await redis.keys(`cdcv:topology:*${run}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
});

const entry = (topology: string, version: string, createdAt: string, applicationId = `${topology}-${version}`): VersionEntry => ({
  version,
  applicationId,
  createdAt,
  from: 'earliest',
  complete: true,
  state: 'replaying',
  topics: ['shop.public.orders'],
  sinks: [],
});

test('applicationIdOf: <topology>-<version>; a version name with other than letters, digits, . and _ is refused', () => {
  assert.equal(applicationIdOf('order-search', 'v2'), 'order-search-v2');
  assert.equal(applicationIdOf('shop', 'v2.1_rc'), 'shop-v2.1_rc');
  assert.throws(() => applicationIdOf('shop', 'v-2'), { name: 'ConfigError', field: '--version', message: '--version: version "v-2": use letters, digits, . and _ only (e.g. v2)' });
  for (const bad of ['', 'v 2', 'v2/x', 'v:2', 'vä', '{app}']) assert.throws(() => applicationIdOf('shop', bad), { field: '--version' }, JSON.stringify(bad));
});

test('cachePointerKey: the prefix template with {app} as the topology, then __current', () => {
  assert.equal(cachePointerKey('cache:{app}:item:', 'shop'), 'cache:shop:item:__current');
  assert.equal(cachePointerKey('{app}/{app}:', 'shop-eu'), 'shop-eu/shop-eu:__current');
});

test('versionSinks: targets with {app} as the applicationId, readers with {app} as the topology', () => {
  const b = new StreamsBuilder('shop');
  b.table('public.orders').view('order').toCache().toSearchIndex();
  b.table('public.items').view('item').toCache({ prefix: 'c:{app}:{app}:' }).toSearchIndex({ index: 'idx-{app}' });
  assert.deepEqual(versionSinks(b.build(), 'shop-v2'), [
    { view: 'order', kind: 'cache', target: 'cache:shop-v2:order:', reader: 'cache:shop:order:__current' },
    { view: 'order', kind: 'search', target: 'shop-v2-order', reader: 'shop-order' },
    { view: 'item', kind: 'cache', target: 'c:shop-v2:shop-v2:', reader: 'c:shop:shop:__current' },
    { view: 'item', kind: 'search', target: 'idx-shop-v2', reader: 'idx-shop' },
  ]);
});

test('versionSinks: a sink without {app} would write the live store and is refused, naming the view', () => {
  const cache = new StreamsBuilder('shop');
  cache.table('public.orders').view('order').toSearchIndex().toCache({ prefix: 'cache:order:' });
  assert.throws(() => versionSinks(cache.build(), 'shop-v2'), {
    name: 'ConfigError',
    field: 'view order',
    message: "view order: its cache sink writes to the fixed name \"cache:order:\": a replay would write the live store; put {app} in it (e.g. '{app}-order')",
  });
  const search = new StreamsBuilder('shop');
  search.table('public.orders').view('order').toSearchIndex({ index: 'orders-{App}' });
  assert.throws(() => versionSinks(search.build(), 'shop-v2'), { field: 'view order', message: /its search sink writes to the fixed name "orders-\{App\}"/ });
});

test('topologyVersionSplits: every dash is a candidate separator, leftmost first', () => {
  assert.deepEqual(topologyVersionSplits('order-search-v2'), [
    { topology: 'order', version: 'search-v2' },
    { topology: 'order-search', version: 'v2' },
  ]);
  assert.deepEqual(topologyVersionSplits('shop-'), [{ topology: 'shop', version: '' }]);
  assert.deepEqual(topologyVersionSplits('shop'), []);
  assert.deepEqual(topologyVersionSplits('-shop-v1'), [], 'a leading dash ends the search');
});

test('VersionRegistry: add, get, list by creation time, update, promoted, remove', async () => {
  const topology = `reg-${run}`;
  const registry = new VersionRegistry(redis, topology);
  assert.equal(registry.key, `cdcv:topology:${topology}:versions`);
  assert.equal(registry.promotedKey, `cdcv:topology:${topology}:promoted`);
  assert.deepEqual(await registry.list(), []);
  await assert.rejects(registry.require('v1'), { code: 'OPS_VERSION_UNKNOWN', message: `topology ${topology} has no version v1 (known: none; create one with cdc-views replay)` });
  // Six versions, neither registered nor named in creation order: the entries are too large for
  // Redis' listpack encoding, so HGETALL's order is the hash table's, which varies per server.
  for (const [version, day] of [['v2', 2], ['v1', 1], ['v10', 6], ['rc', 3], ['v9', 5], ['a', 4]] as const) await registry.add(entry(topology, version, `2026-05-0${day}T00:00:00.000Z`));
  await assert.rejects(registry.add(entry(topology, 'v1', '2026-05-03T00:00:00.000Z')), {
    code: 'OPS_VERSION_EXISTS',
    message: `version v1 of ${topology} exists already; choose another --version, or drop it first: cdc-views drop ${topology} --version v1`,
  });
  assert.deepEqual(await registry.get('v1'), entry(topology, 'v1', '2026-05-01T00:00:00.000Z'), 'the first registration stands');
  assert.equal(await registry.get('v3'), null);
  assert.deepEqual((await registry.list()).map((e) => e.version), ['v1', 'v2', 'rc', 'a', 'v9', 'v10'], 'by creation time, not by name');
  await assert.rejects(registry.require('v3'), { message: `topology ${topology} has no version v3 (known: v1, v2, rc, a, v9, v10)` });
  await registry.update('v2', { state: 'built' });
  assert.deepEqual(await registry.require('v2'), { ...entry(topology, 'v2', '2026-05-02T00:00:00.000Z'), state: 'built' });
  await assert.rejects(registry.update('v7', { state: 'built' }), { code: 'OPS_VERSION_UNKNOWN' });
  assert.equal(await registry.promoted(), null);
  await redis.set(registry.promotedKey, 'v2');
  assert.equal(await registry.promoted(), 'v2');
  await registry.remove('v1');
  assert.deepEqual((await registry.list()).map((e) => e.version), ['v2', 'rc', 'a', 'v9', 'v10']);
});

test('findVersionOfApp: tries each dash, skips an entry of another application, null when none matches', async () => {
  const topology = `shop-eu-${run}`; // a topology name with dashes
  const app = `${topology}-v1`;
  // A decoy: topology "shop" has a version named like the rest of the id, but it runs another application.
  const decoy = new VersionRegistry(redis, 'shop');
  await decoy.add(entry('shop', `eu-${run}-v1`, '2026-05-01T00:00:00.000Z', `other-${run}`));
  const real = entry(topology, 'v1', '2026-05-02T00:00:00.000Z');
  await new VersionRegistry(redis, topology).add(real);
  try {
    const found = await findVersionOfApp(redis, app);
    assert.deepEqual(found?.entry, real);
    assert.equal(found?.registry.topology, topology);
    assert.equal(await findVersionOfApp(redis, `${topology}-v2`), null, 'not registered');
    assert.equal(await findVersionOfApp(redis, `nodash${run}`), null);
  } finally {
    await decoy.remove(`eu-${run}-v1`);
  }
});
