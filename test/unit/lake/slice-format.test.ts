/**
 * Slice names (src/lake/slice-format.ts) and slice rows
 * (src/lake/slice-writer.ts `sliceRow`): expected values written by hand.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ChangeEvent } from '../../../src/cdc/types.ts';
import { compactUtc, intervalStartOf, parseSliceKey, sliceKey } from '../../../src/lake/slice-format.ts';
import { sliceRow } from '../../../src/lake/slice-writer.ts';
import type { LakeTableSpec } from '../../../src/lake/table-spec.ts';

test('a slice key names the partition, the interval and the first offset, and parses back', () => {
  const start = intervalStartOf(Date.parse('2026-12-01T10:15:07.250Z'), 5000);
  assert.equal(new Date(start).toISOString(), '2026-12-01T10:15:05.000Z');
  assert.equal(compactUtc(start), '20261201T101505Z');
  const key = sliceKey('public.orders', 2, start, 1234n);
  assert.equal(key, 'slices/public.orders/partition=2/20261201T101505Z-00000000000000001234.parquet');
  assert.deepEqual(parseSliceKey(key), { table: 'public.orders', partition: 2, intervalStart: start, firstOffset: 1234n });
  assert.equal(parseSliceKey('slices/public.orders/partition=2/20261201T101505Z-1234.parquet'), null);
  assert.equal(parseSliceKey('tables/public.orders/_delta_log/00000000000000000000.json'), null);
});

const spec: LakeTableSpec = {
  table: 'public.orders',
  topic: 'shop.public.orders',
  keyColumns: ['id'],
  partitionSource: 'placed_at',
  columns: [
    { name: 'id', type: 'long', nullable: false },
    { name: 'total', type: 'decimal(12,2)', nullable: false },
    { name: 'note', type: 'string', nullable: true },
    { name: 'placed_at', type: 'timestamp', nullable: false },
  ],
};

function event(op: ChangeEvent['op'], before: Record<string, unknown> | null, after: Record<string, unknown> | null, extra: Partial<ChangeEvent> = {}): ChangeEvent {
  return {
    kind: 'change', table: 'public.orders', key: { id: 7 }, keyString: '{"id":7}', op, before, after,
    source: { connector: 'postgresql', name: 'shop', tsMs: 1764584107000, snapshot: false, db: 'shop', schema: 'public', table: 'orders', lsn: 100 },
    version: 'P0000000000000000100', position: { topic: 'shop.public.orders', partition: 1, offset: '42', timestamp: 1764584107100 }, ...extra,
  };
}

test('sliceRow: the new row of an update, with op, version, offset and source time', () => {
  const row = sliceRow(spec, event('u', null, { id: 7, total: '12.50', note: 'x', placed_at: '2026-11-01T08:00:00.000000Z' }));
  assert.deepEqual(row, { id: 7n, total: '12.50', note: 'x', placed_at: '2026-11-01T08:00:00.000000Z', _cdcv_op: 'u', _cdcv_version: 'P0000000000000000100', _cdcv_offset: 42n, _cdcv_ts_ms: 1764584107000n, _cdcv_unavailable: null });
});

test('sliceRow: a delete of a REPLICA IDENTITY DEFAULT table is a delete marker holding only the key', () => {
  const row = sliceRow(spec, event('d', { id: 7 }, null));
  assert.deepEqual(row, { id: 7n, total: null, note: null, placed_at: null, _cdcv_op: 'd', _cdcv_version: 'P0000000000000000100', _cdcv_offset: 42n, _cdcv_ts_ms: 1764584107000n, _cdcv_unavailable: null });
});

test('sliceRow: unavailable (TOAST) columns are null and listed; truncates are no row', () => {
  const row = sliceRow(spec, event('u', null, { id: 7, total: '1.00', placed_at: '2026-11-01T08:00:00.000000Z' }, { unavailable: ['note'] }));
  assert.equal(row?.note, null);
  assert.equal(row?._cdcv_unavailable, 'note');
  assert.equal(sliceRow(spec, event('t', null, null)), null);
});

test('sliceRow: a value that does not fit its column throws (the record goes to the DLQ)', () => {
  assert.throws(() => sliceRow(spec, event('c', null, { id: 'seven', total: '1.00', placed_at: '2026-11-01T08:00:00.000000Z' })));
});
