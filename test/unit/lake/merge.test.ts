/**
 * The lake merge (src/lake/merge.ts): the latest change per key by source
 * version, deletes, stale changes, unavailable (TOAST) columns, and the data
 * partitions a change touches. Expected rows are written by hand.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { latestPerKey, mergePartition, partitionsOf, type IndexEntry } from '../../../src/lake/merge.ts';
import { partitionValueOf, rowKey, type LakeTableSpec } from '../../../src/lake/table-spec.ts';
import type { LakeRow } from '../../../src/lake/types.ts';

const spec: LakeTableSpec = {
  table: 'public.orders',
  topic: 'shop.public.orders',
  keyColumns: ['id'],
  partitionSource: 'placed_at',
  columns: [
    { name: 'id', type: 'long', nullable: false },
    { name: 'status', type: 'string', nullable: false },
    { name: 'note', type: 'string', nullable: true },
    { name: 'placed_at', type: 'timestamp', nullable: false },
  ],
};

/** A slice row. */
const change = (id: number, op: string, version: string, status: string | null, placedAt: string | null, extra: Partial<LakeRow> = {}): LakeRow => ({
  id: BigInt(id),
  status,
  note: null,
  placed_at: placedAt,
  _cdcv_op: op,
  _cdcv_version: version,
  _cdcv_offset: 0n,
  _cdcv_ts_ms: 0n,
  _cdcv_unavailable: null,
  ...extra,
});

/** A table row. */
const row = (id: number, status: string, version: string, placedAt: string, note: string | null = null): LakeRow => ({
  id: BigInt(id),
  status,
  note,
  placed_at: placedAt,
  _cdcv_version: version,
  placed_at_day: placedAt.slice(0, 10),
});

const DAY1 = '2026-11-01T08:00:00.000000Z';
const DAY2 = '2026-12-01T09:30:00.000000Z';

test('latestPerKey keeps the highest source version per key, whatever the order of the rows', () => {
  const rows = [change(1, 'u', 'P03', 'paid', DAY1), change(1, 'u', 'P05', 'shipped', DAY1), change(1, 'u', 'P04', 'new', DAY1), change(2, 'd', 'P02', null, null)];
  const latest = latestPerKey(rows, ['id']);
  assert.equal(latest.size, 2);
  assert.equal(latest.get('["1"]')?.version, 'P05');
  assert.equal(latest.get('["1"]')?.row.status, 'shipped');
  assert.equal(latest.get('["2"]')?.deleted, true);
});

test('mergePartition: upsert, delete, stale change, stale change of a deleted key, re-insert after delete', () => {
  const existing = [row(1, 'new', 'P10', DAY2), row(2, 'paid', 'P10', DAY2), row(3, 'new', 'P30', DAY2)];
  const index = new Map<string, IndexEntry>([['["4"]', { partition: '2026-12-01', version: 'P50', deleted: true }]]);
  const changes = [...latestPerKey([change(1, 'u', 'P20', 'shipped', DAY2), change(2, 'd', 'P20', null, null), change(3, 'u', 'P25', 'old news', DAY2), change(4, 'c', 'P40', 'ghost', DAY2), change(5, 'c', 'P60', 'new', DAY2)], ['id']).values()];
  const { rows, counts } = mergePartition(spec, '2026-12-01', existing, changes, index);
  assert.deepEqual(counts, { upserted: 2, deleted: 1, stale: 2 });
  assert.deepEqual(rows, [row(1, 'shipped', 'P20', DAY2), row(3, 'new', 'P30', DAY2), row(5, 'new', 'P60', DAY2)]);
});

test('mergePartition: an equal version changes nothing (a re-sent event)', () => {
  const existing = [row(1, 'paid', 'P10', DAY2)];
  const { rows, counts } = mergePartition(spec, '2026-12-01', existing, [...latestPerKey([change(1, 'u', 'P10', 'other', DAY2)], ['id']).values()], new Map());
  assert.deepEqual(counts, { upserted: 0, deleted: 0, stale: 1 });
  assert.deepEqual(rows, existing);
});

test('mergePartition: columns Debezium could not send keep the stored value', () => {
  const existing = [row(1, 'new', 'P10', DAY2, 'a long note')];
  const changes = [...latestPerKey([change(1, 'u', 'P20', 'paid', DAY2, { _cdcv_unavailable: 'note' })], ['id']).values()];
  const { rows } = mergePartition(spec, '2026-12-01', existing, changes, new Map());
  assert.deepEqual(rows, [row(1, 'paid', 'P20', DAY2, 'a long note')]);
});

test('partitionsOf: an update goes to the day of its partition column; a delete without it to where the index has the key', () => {
  const update = latestPerKey([change(7, 'u', 'P2', 'paid', DAY1)], ['id']).get('["7"]')!;
  assert.deepEqual(partitionsOf(spec, update, undefined), ['2026-11-01']);
  const keyOnlyDelete = latestPerKey([change(7, 'd', 'P3', null, null)], ['id']).get('["7"]')!;
  assert.deepEqual(partitionsOf(spec, keyOnlyDelete, { partition: '2026-11-01', version: 'P2', deleted: false }), ['2026-11-01']);
  assert.deepEqual(partitionsOf(spec, keyOnlyDelete, undefined), [], 'a key the table never held: no partition to rewrite');
  // A row whose partition column changed (it should not): removed from the old day, written in the new one.
  const moved = latestPerKey([change(7, 'u', 'P4', 'paid', DAY2)], ['id']).get('["7"]')!;
  assert.deepEqual(partitionsOf(spec, moved, { partition: '2026-11-01', version: 'P2', deleted: false }).sort(), ['2026-11-01', '2026-12-01']);
  const out = mergePartition(spec, '2026-11-01', [row(7, 'new', 'P2', DAY1)], [moved], new Map());
  assert.deepEqual(out.rows, []);
});

test('partitionValueOf and rowKey', () => {
  assert.equal(partitionValueOf('2026-12-01T23:59:59.999999Z'), '2026-12-01');
  assert.equal(partitionValueOf('1969-12-31'), '1969-12-31');
  assert.equal(partitionValueOf(null), null);
  assert.throws(() => partitionValueOf(42), /not a date or timestamp/);
  assert.equal(rowKey({ a: 1n, b: 'x' }, ['b', 'a']), '["x","1"]');
});
