/**
 * `cdc-views status` (src/ops/status.ts) without Kafka or Redis: the lag
 * arithmetic from stored positions and watermarks, the last-event times, and
 * the text printed for people. Expected values are written out by hand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Positions } from '../../../src/state/encoding.ts';
import { formatStatus, lagFrom, lastEvents, type AppStatus } from '../../../src/ops/status.ts';

test('lagFrom: end − position; from the log start when there is no position or it is below it; never negative', () => {
  const positions = Positions.of([
    { topic: 'shop.public.orders', partition: 0, offset: 120n },
    { topic: 'shop.public.orders', partition: 1, offset: 2n },
    { topic: 'shop.public.orders', partition: 2, offset: 6n },
    { topic: 'shop-eu.public.items', partition: 1, offset: 10n },
  ]);
  const marks = [
    ['shop.public.orders', [{ partition: 0, low: 0n, high: 150n }, { partition: 1, low: 5n, high: 9n }, { partition: 2, low: 0n, high: 4n }]],
    ['shop-eu.public.items', [{ partition: 0, low: 3n, high: 10n }, { partition: 1, low: 0n, high: 10n }, { partition: 2, low: 0n, high: 6n }]],
    ['empty', []],
  ] as const;
  assert.deepEqual(lagFrom(positions, marks), {
    rows: [
      { topic: 'shop.public.orders', partition: 0, position: '120', logStart: '0', endOffset: '150', lag: '30' },
      { topic: 'shop.public.orders', partition: 1, position: '2', logStart: '5', endOffset: '9', lag: '4' }, // 9 − 5, not 9 − 2
      { topic: 'shop.public.orders', partition: 2, position: '6', logStart: '0', endOffset: '4', lag: '0' }, // past the end: 0, not −2
      { topic: 'shop-eu.public.items', partition: 0, position: null, logStart: '3', endOffset: '10', lag: '7' },
      { topic: 'shop-eu.public.items', partition: 1, position: '10', logStart: '0', endOffset: '10', lag: '0' },
      { topic: 'shop-eu.public.items', partition: 2, position: null, logStart: '0', endOffset: '6', lag: '6' },
    ],
    total: 47n, // 30 + 4 + 0 + 7 + 0 + 6
  });
  assert.deepEqual(lagFrom(new Positions([]), []), { rows: [], total: 0n });
});

test('lastEvents: each partition\'s last event time, and the latest of all lastEvent stats', () => {
  const rows = [
    { topic: 'shop.public.orders', partition: 0, position: '1', logStart: '0', endOffset: '1', lag: '0' },
    { topic: 'shop.public.orders', partition: 1, position: null, logStart: '0', endOffset: '0', lag: '0' },
  ];
  const stats = { 'lastEvent:shop.public.orders:0': Date.UTC(2026, 4, 1), 'lastEvent:shop.public.items:3': Date.UTC(2026, 4, 2), 'applied:public.orders': Date.UTC(2027, 0, 1), dlq: 1 };
  assert.deepEqual(lastEvents(rows, stats), {
    partitions: [
      { ...rows[0]!, lastEventAt: '2026-05-01T00:00:00.000Z' },
      { ...rows[1]!, lastEventAt: null },
    ],
    lastEventAt: '2026-05-02T00:00:00.000Z', // a partition not listed still counts; other stats do not
  });
  assert.deepEqual(lastEvents([], { dlq: 4 }), { partitions: [], lastEventAt: null });
  assert.deepEqual(lastEvents([rows[0]!], { 'lastEvent:shop.public.orders:0': 0 }), {
    partitions: [{ ...rows[0]!, lastEventAt: '1970-01-01T00:00:00.000Z' }],
    lastEventAt: '1970-01-01T00:00:00.000Z',
  }, 'time 0 is a time');
});

test('formatStatus: members, an aligned partition table, totals, and the entries per table', () => {
  const s: AppStatus = {
    applicationId: 'shop-v1',
    groupState: 'Stable',
    members: [{ memberId: 'm-1', clientId: 'cdc-views-shop-v1', clientHost: '/10.0.0.7' }],
    partitions: [
      { topic: 'shop.public.orders', partition: 0, position: '120', logStart: '0', endOffset: '150', lag: '30', lastEventAt: '2026-05-01T00:00:00.000Z' },
      { topic: 'shop.public.orders', partition: 1, position: null, logStart: '5', endOffset: '9', lag: '4', lastEventAt: null },
    ],
    totalLag: '34',
    tables: {
      'shop.public.orders': { entries: 1200, applied: 1500, stale: 3, incomplete: 0, versions: null },
      'shop.public.order_lines': { entries: 7, applied: 0, stale: 0, incomplete: 0, versions: null },
    },
    lastEventAt: '2026-05-01T00:00:00.000Z',
    dlq: 2,
    rendersPending: 0,
    historyLost: {},
  };
  assert.equal(
    formatStatus(s),
    [
      'application shop-v1: group Stable, 1 member(s)',
      '  member cdc-views-shop-v1 on 10.0.0.7 (m-1)',
      '  TOPIC               PARTITION  POSITION  END OFFSET  LAG  LAST EVENT',
      '  shop.public.orders  0          120       150         30   2026-05-01T00:00:00.000Z',
      '  shop.public.orders  1          -         9           4    -',
      '  total lag 34; last event 2026-05-01T00:00:00.000Z; DLQ 2; renders pending 0',
      '  state:',
      '    shop.public.orders               1200 entries  applied 1500  stale 3',
      '    shop.public.order_lines             7 entries  applied 0  stale 0',
      '',
    ].join('\n'),
  );
});

test('formatStatus: lost history, the kind of versions each table holds, rows missing TOASTed columns', () => {
  const s: AppStatus = {
    applicationId: 'x',
    groupState: 'Empty',
    members: [],
    partitions: [],
    totalLag: '0',
    tables: {
      'pg.public.orders': { entries: 3, applied: 3, stale: 0, incomplete: 1, versions: 'postgresql' },
      'my.shop.items': { entries: 0, applied: 0, stale: 0, incomplete: 0, versions: 'mysql' },
      'ms.dbo.stock': { entries: 12, applied: 12, stale: 1, incomplete: 0, versions: 'sqlserver' },
      'k.public.t': { entries: 5, applied: 5, stale: 0, incomplete: 2, versions: 'kafka-offset' },
    },
    lastEventAt: null,
    dlq: 0,
    rendersPending: 0,
    historyLost: { 'pg.public.orders:1': '5', 'pg.public.orders:2': '40' },
  };
  const toast = '  INCOMPLETE 1 (rows missing unchanged TOASTed columns; see cdc-views dump)';
  assert.equal(
    formatStatus(s),
    [
      'application x: group Empty, 0 member(s)',
      '  TOPIC  PARTITION  POSITION  END OFFSET  LAG  LAST EVENT',
      '  total lag 0; last event unknown; DLQ 0; renders pending 0',
      '  INCOMPLETE STORE: built without the history retention had deleted on pg.public.orders:1 (before offset 5), pg.public.orders:2 (before offset 40); rows no later change re-sent are missing: backfill the tables or clone a live version',
      '  state:',
      `    pg.public.orders                    3 entries  applied 3  stale 0  versions: PostgreSQL LSNs${toast}`,
      '    my.shop.items                       0 entries  applied 0  stale 0  versions: binlog positions',
      '    ms.dbo.stock                       12 entries  applied 12  stale 1  versions: SQL Server LSNs',
      '    k.public.t                          5 entries  applied 5  stale 0  versions: KAFKA OFFSETS (the source gives no position: correct only while each key stays in one partition of one topic)  INCOMPLETE 2 (rows missing unchanged TOASTed columns; see cdc-views dump)',
      '',
    ].join('\n'),
  );
});

test('formatStatus: a stopped application with nothing stored', () => {
  const s: AppStatus = { applicationId: 'x', groupState: 'Dead', members: [], partitions: [], totalLag: '0', tables: {}, lastEventAt: null, dlq: 0, rendersPending: 5, historyLost: {} };
  assert.equal(
    formatStatus(s),
    'application x: group Dead, 0 member(s)\n  TOPIC  PARTITION  POSITION  END OFFSET  LAG  LAST EVENT\n  total lag 0; last event unknown; DLQ 0; renders pending 5\n  state:\n',
  );
});
