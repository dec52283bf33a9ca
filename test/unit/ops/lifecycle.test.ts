/**
 * The decisions of versions, promote and drop (src/ops/lifecycle.ts) that need
 * no broker, index or Redis: a version's status line and the table of them,
 * the caught-up refusal, the alias actions computed from the indexes holding
 * an alias, the cache pointers, the drop refusals and what a drop deletes.
 * Expected values are written out by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aliasSwitch, assertCaughtUp, assertNotPromoted, assertNotRunning, cachePointers, dropPlanOf, formatVersions, versionStatus, type VersionStatus } from '../../../src/ops/lifecycle.ts';
import type { GroupMember } from '../../../src/ops/kafka.ts';
import type { VersionEntry, VersionSink } from '../../../src/ops/versions.ts';

const sinks: VersionSink[] = [
  { view: 'item', kind: 'cache', target: 'cache:shop-v2:item:', reader: 'cache:shop:item:__current' },
  { view: 'item', kind: 'search', target: 'shop-v2-item', reader: 'shop-item' },
  { view: 'order', kind: 'cache', target: 'cache:shop-v2:order:', reader: 'cache:shop:order:__current' },
];
const entry = (version: string, over: Partial<VersionEntry> = {}): VersionEntry => ({
  version,
  applicationId: `shop-${version}`,
  createdAt: '2026-05-01T00:00:00.000Z',
  from: 'earliest',
  complete: true,
  state: 'built',
  topics: ['shop.public.items'],
  sinks,
  ...over,
});
const member = (clientHost: string): GroupMember => ({ memberId: `m-${clientHost}`, clientId: 'cdc-views-shop-v3', clientHost });

test('versionStatus: running with members; caught up only with no lag and no pending render; promoted by name', () => {
  const e = entry('v1');
  assert.deepEqual(versionStatus(e, [], 0n, 0, 'v1', 3), { ...e, running: false, members: [], lag: '0', rendersPending: 0, caughtUp: true, promoted: true });
  const two = [member('a'), member('b')];
  assert.deepEqual(versionStatus(e, two, 12n, 0, null, 3), { ...e, running: true, members: two, lag: '12', rendersPending: 0, caughtUp: false, promoted: false });
  assert.equal(versionStatus(e, [], 0n, 3, 'v2', 3).caughtUp, false, 'renders pending');
  assert.equal(versionStatus(e, [], 0n, 3, 'v2', 3).promoted, false);
  assert.equal(versionStatus(e, [], 0n, 0, 'v2', 0).caughtUp, false, 'no position stored: it never ran (promote refuses it too)');
});

test('formatVersions: one aligned line per version; a hint when there is none', () => {
  const list: VersionStatus[] = [
    { ...entry('v1'), running: true, members: [member('a'), member('b')], lag: '0', rendersPending: 0, caughtUp: true, promoted: true },
    { ...entry('v2.1_rc', { from: 'clone:shop-v1', complete: false, createdAt: '2026-05-02T00:00:00.000Z' }), running: false, members: [], lag: '1234', rendersPending: 5, caughtUp: false, promoted: false },
  ];
  assert.equal(
    formatVersions('shop', list),
    [
      'VERSION  APPLICATION   FROM           STORE         RUNNING  LAG   CAUGHT UP  PROMOTED  CREATED',
      'v1       shop-v1       earliest       complete      yes (2)  0     yes        yes       2026-05-01T00:00:00.000Z',
      'v2.1_rc  shop-v2.1_rc  clone:shop-v1  changes only  no       1234  no                   2026-05-02T00:00:00.000Z',
      '',
    ].join('\n'),
  );
  assert.equal(formatVersions('shop', []), 'topology shop has no versions; create one with: cdc-views replay <topology file> --version v1 --from earliest --topics <regex>\n');
});

test('assertCaughtUp: refuses lag, pending renders, or no stored position, saying which', () => {
  const e = entry('v3');
  assertCaughtUp('v3', e, 0n, 0, 3);
  const hint = '; run it until caught up (cdc-views run --app shop-v3 … --until-caught-up) or pass --force';
  assert.throws(() => assertCaughtUp('v3', e, 1n, 0, 3), { code: 'OPS_NOT_CAUGHT_UP', message: `version v3 (shop-v3) has not caught up: lag 1 record(s), 0 render(s) pending${hint}` });
  assert.throws(() => assertCaughtUp('v3', e, 0n, 1, 3), { code: 'OPS_NOT_CAUGHT_UP', message: `version v3 (shop-v3) has not caught up: lag 0 record(s), 1 render(s) pending${hint}` });
  assert.throws(() => assertCaughtUp('v3', e, 0n, 0, 0), { code: 'OPS_NOT_CAUGHT_UP', message: `version v3 (shop-v3) has not caught up: lag 0 record(s), 0 render(s) pending, no position stored yet${hint}` });
});

test('aliasSwitch: remove the alias from every other index holding it, add it to the version\'s, in one list', () => {
  const search = sinks[1]!;
  assert.deepEqual(aliasSwitch(search, ['shop-v1-item', 'shop-v2-item', 'legacy-item']), {
    actions: [{ remove: { index: 'shop-v1-item', alias: 'shop-item' } }, { remove: { index: 'legacy-item', alias: 'shop-item' } }, { add: { index: 'shop-v2-item', alias: 'shop-item' } }],
    alias: { alias: 'shop-item', from: ['shop-v1-item', 'legacy-item'], to: 'shop-v2-item' },
  });
  assert.deepEqual(aliasSwitch(search, []), {
    actions: [{ add: { index: 'shop-v2-item', alias: 'shop-item' } }],
    alias: { alias: 'shop-item', from: [], to: 'shop-v2-item' },
  }, 'first promotion: nobody holds the alias yet');
  assert.deepEqual(aliasSwitch(search, [], true), {
    actions: [{ remove_index: { index: 'shop-item' } }, { add: { index: 'shop-v2-item', alias: 'shop-item' } }],
    alias: { alias: 'shop-item', from: ['shop-item'], to: 'shop-v2-item', replacedIndex: true },
  }, 'migration: the index squatting the alias name is deleted in the same request, before the alias is added');
});

test('cachePointers: each cache sink\'s pointer key to the version\'s prefix; search sinks have none', () => {
  assert.deepEqual(cachePointers(entry('v2')), [
    { key: 'cache:shop:item:__current', to: 'cache:shop-v2:item:' },
    { key: 'cache:shop:order:__current', to: 'cache:shop-v2:order:' },
  ]);
  assert.deepEqual(cachePointers(entry('v2', { sinks: [sinks[1]!] })), []);
});

test('assertNotPromoted and assertNotRunning: the promoted version and a running one are not dropped', () => {
  assertNotPromoted('v1', 'v2');
  assertNotPromoted('v1', null);
  assert.throws(() => assertNotPromoted('v1', 'v1'), { code: 'OPS_VERSION_PROMOTED', message: 'version v1 is the promoted one; promote another version first' });
  assertNotRunning('v3', entry('v3'), []);
  assert.throws(() => assertNotRunning('v3', entry('v3'), [member('host-a')]), { code: 'OPS_APP_RUNNING', message: 'version v3 (shop-v3) has 1 running member(s): cdc-views-shop-v3 on host-a; stop it first' });
  assert.throws(() => assertNotRunning('v3', entry('v3'), [member('host-a'), member('host-b')]), {
    code: 'OPS_APP_RUNNING',
    message: 'version v3 (shop-v3) has 2 running member(s): cdc-views-shop-v3 on host-a; cdc-views-shop-v3 on host-b; stop it first',
  });
});

test('dropPlanOf: the application\'s Redis namespace, its cache prefixes, indexes, consumer group and DLQ topic', () => {
  const e = entry('v2');
  assert.deepEqual(dropPlanOf(e), {
    entry: e,
    redisPrefixes: ['cdcv:shop-v2:', 'cache:shop-v2:item:', 'cache:shop-v2:order:'],
    indexes: ['shop-v2-item'],
    consumerGroup: 'shop-v2',
    dlqTopic: 'cdcv.shop-v2.dlq',
  });
  assert.deepEqual(dropPlanOf(entry('v9', { sinks: [] })), { entry: entry('v9', { sinks: [] }), redisPrefixes: ['cdcv:shop-v9:'], indexes: [], consumerGroup: 'shop-v9', dlqTopic: 'cdcv.shop-v9.dlq' });
});
