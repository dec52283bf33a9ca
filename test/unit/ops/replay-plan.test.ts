/**
 * The decisions of a replay (src/ops/replay-plan.ts), without Kafka or Redis:
 * the topics, the missing-table check, the start points and the case each
 * start makes (complete or only keys changed since a point), the registry
 * entry and the summary. Expected values are written out by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Positions } from '../../../src/state/encoding.ts';
import { StreamsBuilder } from '../../../src/topology/dsl.ts';
import { assertResumable,
  assertFreshApplication,
  assertTablesFed,
  cloneCase,
  clonedNote,
  cloneTopics,
  datetimeCase,
  earliestCase,
  fromLabel,
  logStarts,
  matchingTopics,
  missingTables,
  replaySummary,
  startsAt,
  tablesToRender,
  versionEntry,
  type ReplayStart,
} from '../../../src/ops/replay-plan.ts';
import type { VersionSink } from '../../../src/ops/versions.ts';

const start = (topic: string, partition: number, low: bigint, high: bigint, offset = low): ReplayStart => ({ topic, partition, offset, low, high });
const may1 = Date.UTC(2026, 4, 1);

function shop(withLines = false) {
  const b = new StreamsBuilder('shop');
  const view = b.table('public.orders').view('o').join(b.table('public.customers'), { key: (o) => ({ id: o.customer_id }), kind: 'left', joiner: (o, c) => ({ ...o, c: c?.name }) });
  if (withLines) view.rollup(b.table('public.order_lines'), { parentKey: (l) => ({ id: l.order_id }), aggregator: (o, ls) => ({ ...o, n: ls.length }) });
  view.toCache();
  return b.build();
}

test('assertFreshApplication: refuses Redis keys, a consumer group, or both, of an unregistered version', () => {
  assertFreshApplication('shop-v2', 'cdcv:shop-v2:', false, 'Dead');
  const tail = ' though the version is not registered; choose another --version';
  assert.throws(() => assertFreshApplication('shop-v2', 'cdcv:shop-v2:', true, 'Dead'), { code: 'OPS_VERSION_EXISTS', message: `application shop-v2 already has Redis keys (cdcv:shop-v2:…)${tail}` });
  assert.throws(() => assertFreshApplication('shop-v2', 'cdcv:shop-v2:', false, 'Empty'), { code: 'OPS_VERSION_EXISTS', message: `application shop-v2 already has a consumer group (Empty)${tail}` });
  assert.throws(() => assertFreshApplication('shop-v2', 'cdcv:shop-v2:', true, 'Stable'), { message: `application shop-v2 already has Redis keys (cdcv:shop-v2:…) and a consumer group (Stable)${tail}` });
});

test('cloneTopics: the live application\'s topics, sorted, filtered by --topics; none is refused', () => {
  const live = Positions.of([
    { topic: 'shop.public.orders', partition: 1, offset: 9n },
    { topic: 'shop-eu.public.customers', partition: 0, offset: 4n },
    { topic: 'shop.public.orders', partition: 0, offset: 7n },
  ]);
  assert.deepEqual(cloneTopics('shop-v1', live), ['shop-eu.public.customers', 'shop.public.orders']);
  assert.deepEqual(cloneTopics('shop-v1', live, /orders$/), ['shop.public.orders']);
  assert.throws(() => cloneTopics('shop-v1', live, /^x\./), { code: 'OPS_NO_TOPICS', message: 'application shop-v1 has no stored positions on topics matching /^x\\./: nothing to clone' });
  assert.throws(() => cloneTopics('shop-v1', new Positions([])), { code: 'OPS_NO_TOPICS', message: 'application shop-v1 has no stored positions: nothing to clone' });
});

test('matchingTopics: the broker\'s topics matching --topics, sorted; a missing or unmatched regex is refused', () => {
  const all = ['shop.public.orders', '__consumer_offsets', 'shop-eu.public.orders', 'shop.public.customers'];
  assert.deepEqual(matchingTopics(all, /^shop\./), ['shop.public.customers', 'shop.public.orders']);
  assert.deepEqual(matchingTopics(all, /^shop-eu\./), ['shop-eu.public.orders']);
  assert.throws(() => matchingTopics(all), { code: 'OPS_NO_TOPICS', message: "give the topics to consume: --topics <regex>, e.g. '^demo\\.public\\.'" });
  assert.throws(() => matchingTopics(all, /^nope/), { code: 'OPS_NO_TOPICS', message: 'no topic matches /^nope/' });
});

test('missingTables and assertTablesFed: every table the topology reads must be carried by a topic', () => {
  assert.deepEqual(missingTables(shop(), ['shop.public.orders']), ['public.customers']);
  assert.deepEqual(missingTables(shop(), ['shop.public.orders', 'shop-eu.public.customers']), []);
  assertTablesFed(shop(), ['a.public.customers', 'b.public.orders'], { kind: 'earliest' }, /public/);
  assert.throws(() => assertTablesFed(shop(), ['shop.public.orders'], { kind: 'datetime', timestampMs: 0 }, /^shop\.public\.orders$/), {
    code: 'OPS_NO_TOPICS',
    message: 'topology shop reads public.customers, but none of the topics matching /^shop\\.public\\.orders$/ carries it (topics: shop.public.orders)',
  });
  assert.throws(() => assertTablesFed(shop(true), ['x.public.orders', 'x.public.order_line'], { kind: 'clone', applicationId: 'shop-v1' }), {
    code: 'OPS_CLONE_INCOMPLETE',
    message: 'topology shop reads public.customers, public.order_lines, but none of the topics of shop-v1 carries them (topics: x.public.orders, x.public.order_line)',
  });
});

test('logStarts and startsAt: every partition at its log start, or at a stored position where there is one', () => {
  const starts = logStarts('t', [{ partition: 0, low: 3n, high: 9n }, { partition: 1, low: 0n, high: 4n }]);
  assert.deepEqual(starts, [start('t', 0, 3n, 9n), start('t', 1, 0n, 4n)]);
  assert.deepEqual(startsAt(starts, Positions.of([{ topic: 't', partition: 1, offset: 2n }, { topic: 'u', partition: 0, offset: 8n }])), [start('t', 0, 3n, 9n), start('t', 1, 0n, 4n, 2n)]);
});

test('earliestCase: complete only when no log start moved; the reason per topic and cleanup policy', () => {
  const starts = [start('a.public.x', 0, 0n, 10n), start('a.public.x', 1, 0n, 0n), start('b.public.y', 0, 0n, 5n), start('b.public.y', 1, 42n, 50n), start('c.public.z', 0, 0n, 3n)];
  const retention = new Map([
    ['a.public.x', { cleanupPolicy: 'compact', retentionMs: 604_800_000 }],
    ['b.public.y', { cleanupPolicy: 'delete', retentionMs: 604_800_000 }],
    ['c.public.z', { cleanupPolicy: 'compact,delete', retentionMs: -1 }],
  ]);
  const moved = 'b.public.y (cleanup.policy=delete, retention.ms=604800000): log start moved on partition(s) 1 (offset 42): records before it were deleted, only changes since the oldest retained record are replayed';
  assert.deepEqual(earliestCase(['a.public.x', 'b.public.y', 'c.public.z'], starts, retention), {
    complete: false,
    description: [
      'INCOMPLETE store: replay from earliest.',
      '  a.public.x (cleanup.policy=compact): every partition starts at offset 0: a compacted topic keeps the latest record of every key',
      `  ${moved}`,
      '  c.public.z (cleanup.policy=compact,delete, retention.ms=-1): every partition starts at offset 0: nothing deleted yet',
    ].join('\n'),
    warnings: [moved],
    starts,
  });
  assert.deepEqual(earliestCase(['a.public.x'], starts.slice(0, 2), retention), {
    complete: true,
    description: 'COMPLETE store: replay from earliest.\n  a.public.x (cleanup.policy=compact): every partition starts at offset 0: a compacted topic keeps the latest record of every key',
    warnings: [],
    starts: starts.slice(0, 2),
  });
  const both = earliestCase(['d'], [start('d', 0, 3n, 9n), start('d', 1, 42n, 50n)], new Map([['d', { cleanupPolicy: 'delete', retentionMs: 1000 }]]));
  assert.deepEqual([both.complete, both.warnings], [false, ['d (cleanup.policy=delete, retention.ms=1000): log start moved on partition(s) 0 (offset 3), 1 (offset 42): records before it were deleted, only changes since the oldest retained record are replayed']]);
  const kept = earliestCase(['d'], [start('d', 0, 0n, 9n)], new Map([['d', { cleanupPolicy: 'delete', retentionMs: 1000 }]]));
  assert.deepEqual([kept.complete, kept.description], [true, 'COMPLETE store: replay from earliest.\n  d (cleanup.policy=delete, retention.ms=1000): every partition starts at offset 0: nothing deleted yet']);
});

test('datetimeCase: only keys changed since the time; no record after it → the end; a start at a moved log start warns', () => {
  const starts = [start('t', 0, 0n, 100n), start('t', 1, 40n, 90n), start('t', 2, 10n, 20n), start('u', 0, 5n, 5n)];
  const byTime = new Map([['t', new Map([[0, 60n], [1, 40n]])]]); // u: the broker answered nothing
  assert.deepEqual(datetimeCase(starts, byTime, may1), {
    complete: false,
    description: 'ONLY KEYS CHANGED since 2026-05-01T00:00:00.000Z: rows not changed since then are absent from the new store (for a complete store use --from earliest on a compacted topic, or --from clone).',
    warnings: ['retention deleted records of t[1] (offsets 0..39), u[0] (offsets 0..4); changes between 2026-05-01T00:00:00.000Z and the oldest retained record may be missing (cdc-views rewind --to-datetime shows the gap in time)'],
    starts: [start('t', 0, 0n, 100n, 60n), start('t', 1, 40n, 90n, 40n), start('t', 2, 10n, 20n, 20n), start('u', 0, 5n, 5n, 5n)],
  });
  assert.equal(starts[0]!.offset, 0n, 'the given starts are not changed');
  assert.deepEqual(datetimeCase([start('t', 0, 0n, 100n)], new Map([['t', new Map([[0, 0n]])]]), may1).warnings, [], 'log start 0: nothing deleted');
});

test('cloneCase and clonedNote: complete, from the live positions (log start where none is stored)', () => {
  const live = Positions.of([{ topic: 't', partition: 0, offset: 77n }]);
  assert.deepEqual(cloneCase([start('t', 0, 0n, 100n), start('t', 1, 5n, 9n)], live, 'shop-v1'), {
    complete: true,
    description: "COMPLETE store: clone of shop-v1's table state with its stored positions (one atomic copy), then continues from those positions.",
    warnings: [],
    starts: [start('t', 0, 0n, 100n, 77n), start('t', 1, 5n, 9n, 5n)],
  });
  assert.equal(clonedNote(3, 7), ' Copied 3 table(s), 7 position(s).');
});

test('tablesToRender: the cloned tables (kept per topic) that feed a table the topology reads, in stored order', () => {
  const stored = ['shop.public.orders', 'shop.public.order_lines', 'shop-eu.public.customers', 'legacy_orders', 'public.orders'];
  assert.deepEqual(tablesToRender(shop(), stored), ['shop.public.orders', 'shop-eu.public.customers', 'public.orders']);
  assert.deepEqual(tablesToRender(shop(), []), []);
});

const sinks: VersionSink[] = [
  { view: 'item', kind: 'cache', target: 'cache:shop-v2:item:', reader: 'cache:shop:item:__current' },
  { view: 'item', kind: 'search', target: 'shop-v2-item', reader: 'shop-item' },
];

test('fromLabel and versionEntry: how the version was built, in state replaying', () => {
  assert.equal(fromLabel({ kind: 'earliest' }), 'earliest');
  assert.equal(fromLabel({ kind: 'datetime', timestampMs: may1 }), '2026-05-01T00:00:00.000Z');
  assert.equal(fromLabel({ kind: 'clone', applicationId: 'shop-v1' }), 'clone:shop-v1');
  const base = { version: 'v2', applicationId: 'shop-v2', createdAt: new Date(may1 + 1), from: { kind: 'earliest' } as const, complete: true, topics: ['a.public.x'], sinks };
  assert.deepEqual(versionEntry({ ...base, topologyFile: 'topologies/shop.ts' }), {
    version: 'v2',
    applicationId: 'shop-v2',
    createdAt: '2026-05-01T00:00:00.001Z',
    from: 'earliest',
    complete: true,
    state: 'replaying',
    topologyFile: 'topologies/shop.ts',
    topics: ['a.public.x'],
    sinks,
  });
  assert.equal('topologyFile' in versionEntry(base), false);
  assert.equal('topologyFile' in versionEntry({ ...base, topologyFile: '' }), false);
});

test('replaySummary: records left before the end offsets, the sinks and their readers, the warnings', () => {
  const entry = versionEntry({ version: 'v2', applicationId: 'shop-v2', createdAt: new Date(may1), from: { kind: 'earliest' }, complete: false, topics: ['a', 'b'], sinks });
  const text = replaySummary({
    applicationId: 'shop-v2',
    topics: ['a', 'b'],
    complete: false,
    resumed: false,
    description: 'WHICH CASE',
    warnings: ['w1'],
    starts: [start('a', 0, 0n, 100n, 60n), start('a', 1, 0n, 20n, 20n), start('b', 0, 0n, 5n, 9n)],
    entry,
  });
  assert.equal(
    text,
    [
      'replay v2 as application shop-v2',
      '  WHICH CASE',
      '  topics: a, b',
      '  records to process: 40', // 100 − 60; 20 − 20 = 0; a start past the end counts 0, not −4
      '  sink item → cache cache:shop-v2:item: (readers: pointer cache:shop:item:__current, switched by promote)',
      '  sink item → search shop-v2-item (readers: alias shop-item, switched by promote)',
      'warning: w1',
      '',
    ].join('\n'),
  );
});

test('assertResumable: a re-run continues a version built from the same point, and refuses another point naming both', () => {
  const entry = versionEntry({ version: 'v2', applicationId: 'shop-v2', createdAt: new Date(may1), from: { kind: 'earliest' }, complete: true, topics: ['a'], sinks });
  assert.doesNotThrow(() => assertResumable(entry, { kind: 'earliest' }, 'shop'));
  assert.throws(
    () => assertResumable(entry, { kind: 'datetime', timestampMs: Date.parse('2026-05-01T00:00:00Z') }, 'shop'),
    (err: Error) => err.message.includes('built from earliest, not 2026-05-01T00:00:00.000Z') && (err as { code?: string }).code === 'OPS_VERSION_EXISTS',
  );
  const cloned = versionEntry({ version: 'v3', applicationId: 'shop-v3', createdAt: new Date(may1), from: { kind: 'clone', applicationId: 'shop-v1' }, complete: true, topics: ['a'], sinks });
  assert.doesNotThrow(() => assertResumable(cloned, { kind: 'clone', applicationId: 'shop-v1' }, 'shop'));
  assert.throws(() => assertResumable(cloned, { kind: 'clone', applicationId: 'shop-v2' }, 'shop'), /built from clone:shop-v1, not clone:shop-v2/);
});
