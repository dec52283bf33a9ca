/**
 * Key names (src/state/keys.ts): the documented layout, SCAN patterns that
 * escape glob characters (checked against a real Redis), and no key name that
 * holds a canonical key string after the stores ran.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CacheKeys, escapeGlob, MEMBER_SEPARATOR, StateKeys, TopologyKeys } from '../../../src/state/keys.ts';
import { scanKeys } from '../../../src/state/scan.ts';
import { fileRedis, K, newApp, partitionWriter, uniqueId, write } from './helpers.ts';

const redis = await fileRedis();

test('StateKeys: one name per documented key, all under cdcv:<app>:', () => {
  const k = new StateKeys('orders-v2');
  assert.equal(k.applicationId, 'orders-v2');
  assert.equal(k.prefix, 'cdcv:orders-v2:');
  assert.equal(k.table('public.orders'), 'cdcv:orders-v2:t:public.orders');
  assert.equal(k.tablePrefix, 'cdcv:orders-v2:t:');
  assert.equal(k.tables, 'cdcv:orders-v2:tables');
  assert.equal(k.format, 'cdcv:orders-v2:format');
  assert.equal(k.incarnations, 'cdcv:orders-v2:incarnations');
  assert.equal(k.snapshots, 'cdcv:orders-v2:snapshots');
  assert.equal(k.snapshotStarts, 'cdcv:orders-v2:snapshot-starts');
  assert.equal(k.housekeepingLock, 'cdcv:orders-v2:housekeeping-lock');
  assert.equal(k.renderLock, 'cdcv:orders-v2:render-lock');
  assert.equal(k.historyLost, 'cdcv:orders-v2:history-lost');
  assert.equal(k.incomplete('demo.public.orders'), 'cdcv:orders-v2:incomplete:demo.public.orders');
  assert.equal(k.dirty('public.orders'), 'cdcv:orders-v2:dirty:public.orders');
  assert.equal(k.positions, 'cdcv:orders-v2:positions');
  assert.equal(k.positionStamps, 'cdcv:orders-v2:position-stamps');
  assert.equal(k.epochs, 'cdcv:orders-v2:epochs');
  assert.equal(k.stats, 'cdcv:orders-v2:stats');
  assert.equal(k.seq('order-search'), 'cdcv:orders-v2:seq:order-search');
  assert.equal(k.viewDirty('order-search'), 'cdcv:orders-v2:v:order-search:dirty');
  assert.equal(k.viewForeignKeys('order-search', '0'), 'cdcv:orders-v2:v:order-search:fk:0');
  assert.equal(k.viewReverseIndex('order-search', '0'), 'cdcv:orders-v2:v:order-search:rev:0');
  assert.equal(k.viewParents('order-search', '1'), 'cdcv:orders-v2:v:order-search:par:1');
  assert.equal(k.viewMembers('order-search', 'g'), 'cdcv:orders-v2:v:order-search:mem:g');
  assert.equal(k.pattern, 'cdcv:orders-v2:*');
  assert.equal(k.seqPattern, 'cdcv:orders-v2:seq:*');
  assert.equal(k.dirtyPattern, 'cdcv:orders-v2:dirty:*');
  assert.equal(k.viewDirtyPattern, 'cdcv:orders-v2:v:*:dirty');
  assert.equal(MEMBER_SEPARATOR, '\u0000');
});

test('TopologyKeys and CacheKeys', () => {
  const t = new TopologyKeys('order-search');
  assert.equal(t.versions, 'cdcv:topology:order-search:versions');
  assert.equal(t.promoted, 'cdcv:topology:order-search:promoted');
  const c = new CacheKeys('cache:app:customers:');
  assert.equal(c.document('{"id":7}'), 'cache:app:customers:{"id":7}', 'cache documents keep the canonical key (public contract)');
  assert.equal(c.sequences, 'cache:app:customers:__seq');
  assert.equal(c.documentPattern, 'cache:app:customers:{*', 'documents only: another namespace that merely starts with this prefix is not matched');
  assert.equal(CacheKeys.pointer('cache:customer-cache:customers:'), 'cache:customer-cache:customers:__current');
});

test('patterns escape the glob characters * ? [ ] and \\', () => {
  assert.equal(escapeGlob('a*b?c[d]e\\f'), 'a\\*b\\?c\\[d\\]e\\\\f');
  assert.equal(escapeGlob('plain-name.v1'), 'plain-name.v1');
  const k = new StateKeys('a*?[x]\\');
  assert.equal(k.pattern, 'cdcv:a\\*\\?\\[x\\]\\\\:*');
  assert.equal(k.seqPattern, 'cdcv:a\\*\\?\\[x\\]\\\\:seq:*');
  assert.equal(k.dirtyPattern, 'cdcv:a\\*\\?\\[x\\]\\\\:dirty:*');
  assert.equal(k.viewDirtyPattern, 'cdcv:a\\*\\?\\[x\\]\\\\:v:*:dirty');
  assert.equal(new CacheKeys('c[1]:').documentPattern, 'c\\[1\\]:{*');
});

test('in Redis, the pattern of an applicationId with glob characters matches only its own keys', async (t) => {
  const base = uniqueId('glob');
  // Unescaped, "<base>*" would match "<base>X" and "<base>?" would match any one character.
  const ids = [`${base}*`, `${base}X`, `${base}?`, `${base}[ab]`, `${base}a`];
  for (const id of ids) {
    const { keys } = newApp(t, redis, id);
    await redis.set(keys.seq('v'), '1');
    await redis.hset(keys.dirty('public.t'), 'k', '1');
    await redis.hset(keys.viewDirty('v'), 'k', '1');
  }
  const found = async (pattern: string): Promise<string[]> => {
    const out: string[] = [];
    for await (const page of scanKeys(redis, pattern, 10)) out.push(...page);
    return out.sort();
  };
  for (const id of ids) {
    const k = new StateKeys(id);
    assert.deepEqual(await found(k.pattern), [k.dirty('public.t'), k.seq('v'), k.viewDirty('v')].sort(), id);
    assert.deepEqual(await found(k.seqPattern), [k.seq('v')], id);
    assert.deepEqual(await found(k.dirtyPattern), [k.dirty('public.t')], id);
    assert.deepEqual(await found(k.viewDirtyPattern), [k.viewDirty('v')], id);
  }
});

test('after the stores ran, no key name holds a canonical key (its braces would be a cluster hash tag)', async (t) => {
  const { keys, state, views } = newApp(t, redis);
  await state.checkFormat();
  const p = await partitionWriter(state, 'demo.public.orders', 0);
  const composite = '{"customer_id":7,"kind":"billing"}';
  await p.apply(3n, [write('public.orders', 7, 1n, { id: 7, customer_id: 7 }), { table: 'public.addresses', keyString: composite, version: K(2), origin: '0:0:2', row: { customer_id: 7, kind: 'billing' }, incomplete: ['notes'] }], new Set(['public.orders', 'public.addresses']));
  await state.advanceIncarnation('demo.public.orders', 0);
  await state.recordSnapshot('public.orders', K(1), 0, new Map([[0, 3n]]));
  await state.recordSnapshotStart('public.orders', 0, 0, K(1), 1n);
  await state.recordHistoryLost('demo.public.orders', 0, 1n);
  await views.propagate('public.orders', [{ kind: 'r', view: 'v', op: '' }, { kind: 'm', view: 'g', op: 'g' }], [{ keyString: '{"id":7}', version: K(1), parents: ['', '{"customer_id":7}'] }]);
  await views.readForRender(
    { view: 'v', rootTable: 'public.orders', hasRoot: true, joins: [{ op: '0', table: 'public.addresses' }], rollups: [{ op: '1', table: 'public.lines' }] },
    [{ root: '{"id":7}', expectedVersion: K(1), joinKeys: [composite] }],
  );
  const names = await redis.keys(keys.pattern);
  assert.ok(names.length >= 15, `the stores wrote their keys (${names.length})`);
  for (const name of names) assert.doesNotMatch(name, /[{}]/, name);
});
