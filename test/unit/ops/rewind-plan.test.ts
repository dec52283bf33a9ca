/**
 * The decisions of a rewind (src/ops/rewind-plan.ts), without Kafka or Redis:
 * scope, current and requested offset per target, clamping with its warning,
 * the retention-gap rule and the re-render thresholds. Expected rows are
 * worked out by hand from the watermarks, positions and targets given.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Positions } from '../../../src/state/encoding.ts';
import type { PartitionOffsets } from '../../../src/ops/kafka.ts';
import {
  clampedRow,
  currentOffset,
  formatPlan,
  gapSuspects,
  markRetentionGaps,
  planCsv,
  planJson,
  requestedOffset,
  requestedTime,
  rerenderTargets,
  rewindScope,
  selectPartitions,
  topicRows,
  type RewindPlan,
  type RewindRow,
  type RewindTarget,
} from '../../../src/ops/rewind-plan.ts';

const mark = (partition: number, low: bigint, high: bigint): PartitionOffsets => ({ partition, low, high });
const none = new Positions([]);
const row = (partition: number, current: bigint, target: bigint, low: bigint, high: bigint, topic = 't'): RewindRow => ({ topic, partition, current, currentFrom: 'state', target, low, high, reprocess: current - target });

test('rewindScope: without --topic, every partition with a stored position, topics sorted', () => {
  const positions = Positions.of([
    { topic: 'shop.public.orders', partition: 2, offset: 5n },
    { topic: 'shop-eu.public.customers', partition: 0, offset: 1n },
    { topic: 'shop.public.orders', partition: 0, offset: 9n },
  ]);
  assert.deepEqual(rewindScope('app', { kind: 'to-earliest' }, [], positions), [
    ['shop-eu.public.customers', new Set([0])],
    ['shop.public.orders', new Set([0, 2])],
  ]);
});

test('rewindScope: --topic scopes merge per topic; a topic named without partitions means all of them', () => {
  const scope = [{ topic: 'b', partitions: [0] }, { topic: 'a' }, { topic: 'b', partitions: [2, 0] }, { topic: 'c', partitions: [1] }, { topic: 'c' }, { topic: 'a', partitions: [3] }];
  const stored = Positions.of([{ topic: 'z', partition: 0, offset: 1n }]);
  assert.deepEqual(rewindScope('app', { kind: 'to-latest' }, scope, stored), [
    ['a', 'all'],
    ['b', new Set([0, 2])],
    ['c', 'all'],
  ]);
});

test('rewindScope: from-file takes the partitions the file names, not --topic nor the stored positions', () => {
  const target: RewindTarget = {
    kind: 'from-file',
    entries: [
      { topic: 'x.public.items', partition: 1, offset: 4n },
      { topic: 'w-1.public.items', partition: 0, offset: 2n },
      { topic: 'x.public.items', partition: 0, offset: 3n },
    ],
  };
  const stored = Positions.of([{ topic: 'x.public.items', partition: 2, offset: 8n }]);
  assert.deepEqual(rewindScope('app', target, [{ topic: 'other' }], stored), [
    ['w-1.public.items', new Set([0])],
    ['x.public.items', new Set([1, 0])],
  ]);
});

test('rewindScope: nothing stored and no --topic is refused', () => {
  assert.throws(() => rewindScope('shop-v1', { kind: 'shift-by', by: -1n }, [], none), {
    code: 'OPS_NOTHING_TO_REWIND',
    message: 'application shop-v1 has no stored positions; name the topics with --topic <topic>',
  });
});

test('selectPartitions: all, or the listed ones in partition order; a partition the topic lacks is refused', () => {
  const marks = [mark(0, 0n, 5n), mark(1, 0n, 6n), mark(2, 0n, 7n)];
  assert.deepEqual(selectPartitions('t', 'all', marks), marks);
  assert.deepEqual(selectPartitions('t', new Set([2, 0]), marks), [mark(0, 0n, 5n), mark(2, 0n, 7n)]);
  // e.g. a --from-file line naming partition 5 of a topic with 3 partitions
  assert.throws(() => selectPartitions('x.public.items', new Set([0, 5]), marks), { code: 'OPS_UNKNOWN_TOPIC', message: 'topic x.public.items has no partition 5 (it has 3)' });
});

test('requestedTime: the datetime, or now minus the duration; none for offset targets', () => {
  const now = Date.UTC(2026, 4, 1, 12, 0, 0);
  assert.equal(requestedTime({ kind: 'to-datetime', timestampMs: 1_000 }, now), 1_000);
  assert.equal(requestedTime({ kind: 'by-duration', duration: 'PT2H' }, now), Date.UTC(2026, 4, 1, 10, 0, 0));
  assert.equal(requestedTime({ kind: 'by-duration', duration: 'P1DT30M' }, now), Date.UTC(2026, 3, 30, 11, 30, 0));
  for (const target of [{ kind: 'to-earliest' }, { kind: 'to-latest' }, { kind: 'shift-by', by: 3n }, { kind: 'to-offset', offset: 3n }, { kind: 'from-file', entries: [] }] as RewindTarget[]) {
    assert.equal(requestedTime(target, now), undefined, target.kind);
  }
  assert.throws(() => requestedTime({ kind: 'by-duration', duration: 'P0D' }, now), { field: '--by-duration' });
});

test('currentOffset: the state position, else the group offset, else the log start', () => {
  assert.deepEqual(currentOffset(5n, 3n, 1n), [5n, 'state']);
  assert.deepEqual(currentOffset(0n, 3n, 1n), [0n, 'state'], 'a stored 0 is a position');
  assert.deepEqual(currentOffset(null, 3n, 1n), [3n, 'group']);
  assert.deepEqual(currentOffset(null, 0n, 1n), [0n, 'group']);
  assert.deepEqual(currentOffset(null, null, 1n), [1n, 'log-start']);
});

test('requestedOffset: each of the seven targets on one partition (log 100..250, current 180)', () => {
  const m = mark(1, 100n, 250n);
  const byTime = new Map([[0, 110n], [1, 140n]]);
  assert.equal(requestedOffset({ kind: 'to-datetime', timestampMs: 0 }, 't', m, 180n, byTime), 140n);
  assert.equal(requestedOffset({ kind: 'by-duration', duration: 'P1D' }, 't', m, 180n, byTime), 140n);
  // No record at or after the time on this partition: its end.
  assert.equal(requestedOffset({ kind: 'to-datetime', timestampMs: 0 }, 't', m, 180n, new Map([[0, 110n]])), 250n);
  assert.equal(requestedOffset({ kind: 'to-earliest' }, 't', m, 180n), 100n);
  assert.equal(requestedOffset({ kind: 'to-latest' }, 't', m, 180n), 250n);
  assert.equal(requestedOffset({ kind: 'shift-by', by: -30n }, 't', m, 180n), 150n);
  assert.equal(requestedOffset({ kind: 'shift-by', by: 5n }, 't', m, 180n), 185n);
  assert.equal(requestedOffset({ kind: 'to-offset', offset: 42n }, 't', m, 180n), 42n, 'not clamped yet');
  const file: RewindTarget = { kind: 'from-file', entries: [{ topic: 'u', partition: 1, offset: 7n }, { topic: 't', partition: 0, offset: 8n }, { topic: 't', partition: 1, offset: 9n }] };
  assert.equal(requestedOffset(file, 't', m, 180n), 9n);
});

test('clampedRow: inside the log (bounds included) the requested offset stands', () => {
  const m = mark(1, 100n, 250n);
  assert.deepEqual(clampedRow('t', m, [180n, 'state'], 150n), { row: { topic: 't', partition: 1, current: 180n, currentFrom: 'state', target: 150n, low: 100n, high: 250n, reprocess: 30n } });
  assert.deepEqual(clampedRow('t', m, [180n, 'group'], 100n), { row: { topic: 't', partition: 1, current: 180n, currentFrom: 'group', target: 100n, low: 100n, high: 250n, reprocess: 80n } });
  assert.deepEqual(clampedRow('t', m, [180n, 'state'], 250n), { row: { topic: 't', partition: 1, current: 180n, currentFrom: 'state', target: 250n, low: 100n, high: 250n, reprocess: -70n } });
});

test('clampedRow: before the log start → the start, past the end → the end, each with a warning', () => {
  const m = mark(1, 100n, 250n);
  assert.deepEqual(clampedRow('t', m, [180n, 'state'], 99n), {
    row: { topic: 't', partition: 1, current: 180n, currentFrom: 'state', target: 100n, low: 100n, high: 250n, reprocess: 80n, clamped: 'start' },
    warning: 't[1]: offset 99 is before the log start 100; clamped to 100',
  });
  assert.deepEqual(clampedRow('t', m, [180n, 'state'], 251n), {
    row: { topic: 't', partition: 1, current: 180n, currentFrom: 'state', target: 250n, low: 100n, high: 250n, reprocess: -70n, clamped: 'end' },
    warning: 't[1]: offset 251 is past the log end 250; clamped to 250',
  });
});

test('topicRows: a negative shift beyond the log start is clamped with a warning; current from state, group or log start', () => {
  const topic = 'shop-eu.public.order-lines';
  const positions = Positions.of([{ topic, partition: 0, offset: 150n }]);
  const committed = new Map<number, bigint | null>([[1, 40n], [2, null]]);
  const marks = [mark(0, 100n, 300n), mark(1, 0n, 50n), mark(2, 20n, 30n)];
  assert.deepEqual(topicRows({ kind: 'shift-by', by: -100n }, topic, marks, positions, committed), {
    rows: [
      // 150 − 100 = 50 < log start 100 → 100; reprocess 150 − 100 = 50
      { topic, partition: 0, current: 150n, currentFrom: 'state', target: 100n, low: 100n, high: 300n, reprocess: 50n, clamped: 'start' },
      // group 40 − 100 = −60 < 0 → 0; reprocess 40
      { topic, partition: 1, current: 40n, currentFrom: 'group', target: 0n, low: 0n, high: 50n, reprocess: 40n, clamped: 'start' },
      // no position, group offset null → log start 20; 20 − 100 = −80 → 20; reprocess 0
      { topic, partition: 2, current: 20n, currentFrom: 'log-start', target: 20n, low: 20n, high: 30n, reprocess: 0n, clamped: 'start' },
    ],
    warnings: [
      `${topic}[0]: offset 50 is before the log start 100; clamped to 100`,
      `${topic}[1]: offset -60 is before the log start 0; clamped to 0`,
      `${topic}[2]: offset -80 is before the log start 20; clamped to 20`,
    ],
  });
});

test('topicRows: to-offset past the end is clamped to the end; a datetime with no record after it targets the end unclamped', () => {
  const positions = Positions.of([{ topic: 'o', partition: 0, offset: 280n }, { topic: 'o', partition: 1, offset: 50n }]);
  const marks = [mark(0, 0n, 300n), mark(1, 0n, 50n)];
  assert.deepEqual(topicRows({ kind: 'to-offset', offset: 500n }, 'o', marks, positions, new Map()), {
    rows: [
      { topic: 'o', partition: 0, current: 280n, currentFrom: 'state', target: 300n, low: 0n, high: 300n, reprocess: -20n, clamped: 'end' },
      { topic: 'o', partition: 1, current: 50n, currentFrom: 'state', target: 50n, low: 0n, high: 50n, reprocess: 0n, clamped: 'end' },
    ],
    warnings: ['o[0]: offset 500 is past the log end 300; clamped to 300', 'o[1]: offset 500 is past the log end 50; clamped to 50'],
  });
  // The broker found a record after the time on partition 0 only (offset 120).
  assert.deepEqual(topicRows({ kind: 'to-datetime', timestampMs: 5 }, 'o', marks, positions, new Map(), new Map([[0, 120n]])), {
    rows: [
      { topic: 'o', partition: 0, current: 280n, currentFrom: 'state', target: 120n, low: 0n, high: 300n, reprocess: 160n },
      { topic: 'o', partition: 1, current: 50n, currentFrom: 'state', target: 50n, low: 0n, high: 50n, reprocess: 0n },
    ],
    warnings: [],
  });
});

test('gapSuspects: a moved log start, a non-empty log and the target at that start', () => {
  const a = row(0, 50n, 40n, 40n, 41n);
  const rows = [a, row(1, 5n, 0n, 0n, 10n), row(2, 50n, 45n, 40n, 50n), row(3, 40n, 40n, 40n, 40n)];
  assert.deepEqual(gapSuspects(rows), [a]);
});

test('markRetentionGaps: a gap only where the oldest retained record is younger than the requested time', () => {
  const asked = Date.UTC(2026, 4, 1);
  const p0 = row(0, 60n, 40n, 40n, 41n, 'shop.public.items');
  const p1 = row(1, 60n, 10n, 10n, 20n, 'shop.public.items');
  const p2 = row(2, 60n, 5n, 5n, 9n, 'shop.public.items');
  const oldest = new Map([[0, Date.UTC(2026, 4, 4, 0, 0, 1)], [1, asked]]); // p2: no record read
  assert.deepEqual(markRetentionGaps('shop.public.items', [p0, p1, p2], oldest, asked), [
    'shop.public.items[0]: history before 2026-05-04T00:00:01.000Z is gone (retention): the requested time 2026-05-01T00:00:00.000Z is 3d 1s older than the oldest retained record; offsets 0..39 (40 records) were deleted, how many of them were after the requested time is unknown',
  ]);
  assert.deepEqual(p0.gap, { oldestRetainedMs: Date.UTC(2026, 4, 4, 0, 0, 1), gapMs: 259_201_000, deletedOffsets: 40n });
  assert.equal(p1.gap, undefined, 'oldest record at exactly the requested time: nothing lost');
  assert.equal(p2.gap, undefined);
});

test('rerenderTargets: per topic of a topology table, the target of each partition that moved back', () => {
  const rows = [
    row(1, 90n, 60n, 0n, 100n, 'shop.public.orders'),
    row(0, 100n, 40n, 0n, 100n, 'shop.public.orders'),
    row(2, 10n, 30n, 0n, 100n, 'shop.public.orders'), // forward: not re-rendered
    row(3, 25n, 25n, 0n, 100n, 'shop.public.orders'), // unchanged
    row(0, 50n, 0n, 0n, 100n, 'shop.public.customers'), // not a table of the topology
    row(0, 9n, 5n, 0n, 10n, 'eu.public.orders'), // the same table from another topic: its own entry
    row(0, 7n, 3n, 0n, 10n, 'my-app.inventory.stock-levels'),
  ];
  assert.deepEqual(
    rerenderTargets(rows, ['public.orders', 'inventory.stock-levels', 'public.unused']),
    new Map([
      ['shop.public.orders', new Map([[1, 60n], [0, 40n]])],
      ['eu.public.orders', new Map([[0, 5n]])],
      ['my-app.inventory.stock-levels', new Map([[0, 3n]])],
    ]),
  );
  assert.deepEqual(rerenderTargets(rows.slice(2, 4), ['public.orders']), new Map(), 'forward and unchanged rows only');
});

const may1 = Date.UTC(2026, 4, 1);
const printed: RewindPlan = {
  applicationId: 'shop-v1',
  target: { kind: 'to-datetime', timestampMs: may1 },
  timestampMs: may1,
  rows: [
    { topic: 'shop.public.orders', partition: 0, current: 150n, currentFrom: 'state', target: 100n, low: 100n, high: 300n, reprocess: 50n, clamped: 'start' },
    { topic: 'shop.public.orders', partition: 1, current: 40n, currentFrom: 'group', target: 60n, low: 0n, high: 60n, reprocess: -20n },
    { topic: 'shop.public.orders', partition: 2, current: 40n, currentFrom: 'log-start', target: 40n, low: 40n, high: 41n, reprocess: 0n, gap: { oldestRetainedMs: 7, gapMs: 259_201_000, deletedOffsets: 40n } },
  ],
  warnings: ['first', 'second'],
};

test('formatPlan: columns as wide as their widest cell, where current came from, skips, notes, the total reprocessed and the warnings', () => {
  assert.equal(
    formatPlan(printed),
    [
      'rewind plan for shop-v1 (time 2026-05-01T00:00:00.000Z):',
      'TOPIC               PARTITION  CURRENT         TARGET  REPROCESS  LOG START  LOG END  NOTE',
      'shop.public.orders  0          150             100     50         100        300      clamped to log start',
      'shop.public.orders  1          40 (group)      60      skip 20    0          60',
      'shop.public.orders  2          40 (log-start)  40      0          40         41       GAP 3d 1s, 40 offsets deleted',
      'records to reprocess: 50', // skipped records do not count against reprocessed ones
      'warning: first',
      'warning: second',
      '',
    ].join('\n'),
  );
});

test('formatPlan: no time, both notes on one row, and an empty plan', () => {
  const one: RewindPlan = {
    applicationId: 'a',
    target: { kind: 'to-latest' },
    rows: [{ topic: 'x', partition: 0, current: 5n, currentFrom: 'state', target: 9n, low: 0n, high: 9n, reprocess: -4n, clamped: 'end', gap: { oldestRetainedMs: 0, gapMs: 61_000, deletedOffsets: 3n } }],
    warnings: [],
  };
  assert.equal(
    formatPlan(one),
    'rewind plan for a:\n' +
      'TOPIC  PARTITION  CURRENT  TARGET  REPROCESS  LOG START  LOG END  NOTE\n' +
      'x      0          5        9       skip 4     0          9        clamped to log end; GAP 1m 1s, 3 offsets deleted\n' +
      'records to reprocess: 0\n',
  );
  assert.equal(
    formatPlan({ applicationId: 'a', target: { kind: 'to-earliest' }, rows: [], warnings: [] }),
    'rewind plan for a:\nTOPIC  PARTITION  CURRENT  TARGET  REPROCESS  LOG START  LOG END  NOTE\nrecords to reprocess: 0\n',
  );
});

test('planCsv and planJson: the --export lines, and bigints as strings for --json', () => {
  assert.equal(planCsv(printed), 'shop.public.orders,0,100\nshop.public.orders,1,60\nshop.public.orders,2,40\n');
  assert.equal(planCsv({ ...printed, rows: [] }), '');
  assert.deepEqual(planJson(printed), {
    applicationId: 'shop-v1',
    target: { kind: 'to-datetime', timestampMs: 1_777_593_600_000 },
    timestampMs: 1_777_593_600_000,
    rows: [
      { topic: 'shop.public.orders', partition: 0, current: '150', currentFrom: 'state', target: '100', low: '100', high: '300', reprocess: '50', clamped: 'start' },
      { topic: 'shop.public.orders', partition: 1, current: '40', currentFrom: 'group', target: '60', low: '0', high: '60', reprocess: '-20' },
      { topic: 'shop.public.orders', partition: 2, current: '40', currentFrom: 'log-start', target: '40', low: '40', high: '41', reprocess: '0', gap: { oldestRetainedMs: 7, gapMs: 259_201_000, deletedOffsets: '40' } },
    ],
    warnings: ['first', 'second'],
  });
  assert.deepEqual(planJson({ applicationId: 'a', target: { kind: 'shift-by', by: -5n }, rows: [], warnings: [] }), { applicationId: 'a', target: { kind: 'shift-by', by: '-5' }, rows: [], warnings: [] });
});
