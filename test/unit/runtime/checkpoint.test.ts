/**
 * The commit order of a chunk (src/runtime/checkpoint.ts), recorded by a test
 * implementation of CheckpointSteps: DLQ, then per segment the state step
 * from the position the previous one stored, the renders of the writes that
 * applied, and the truncate. (Stream views have no step of their own: their
 * documents are writes of their own tables in the state step.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ApplyResult } from '../../../src/state/store.ts';
import type { CompactedChunk, PendingWrite, Segment, Truncate } from '../../../src/runtime/chunk.ts';
import { Checkpoint, type CheckpointSteps } from '../../../src/runtime/checkpoint.ts';
import { DecodeError } from '../../../src/errors.ts';
import { K } from '../state/helpers.ts';
import { kafkaMessage } from './helpers.ts';

/** Records each step as a line; `fail` names a step that throws; applyState answers from `results` in turn (else all applied). */
class RecordedSteps implements CheckpointSteps {
  readonly log: string[] = [];
  fail: string | undefined;

  constructor(private readonly results: ApplyResult[] = []) {}

  private record(line: string): Promise<void> {
    this.log.push(line);
    return this.fail !== undefined && line.startsWith(this.fail) ? Promise.reject(new Error(`${this.fail} failed`)) : Promise.resolve();
  }
  sendDeadLetters(letters: readonly { message: { offset: string } }[]): Promise<void> {
    return this.record(`dlq ${letters.map((l) => l.message.offset).join(',')}`);
  }
  async applyState(writes: readonly PendingWrite[], from: bigint | null, to: bigint, stamp: string, backfillReads: number): Promise<ApplyResult> {
    await this.record(`apply ${keysOf(writes)} ${from ?? 'none'}->${to}${stamp === '' ? '' : ` @${stamp}`}${backfillReads > 0 ? ` +${backfillReads} backfill` : ''}`);
    return this.results.shift() ?? { applied: writes.length, stale: 0, unchanged: 0, flags: '1'.repeat(writes.length) };
  }
  renderViews(writes: readonly PendingWrite[]): Promise<void> {
    return this.record(`render ${keysOf(writes)}`);
  }
  truncate(truncate: Truncate): Promise<void> {
    return this.record(`truncate ${truncate.table} ${truncate.origin}`);
  }
}

const keysOf = (writes: readonly PendingWrite[]): string => writes.map((w) => `${w.write.table}/${w.write.origin.split(':')[2]}`).join(',');

/** A segment of writes at the given offsets (one key each), ending in a truncate at `truncate` when given. */
function segment(table: string, offsets: number[], truncate?: number): Segment {
  const writes = new Map<string, PendingWrite>(offsets.map((o) => [`${table}\u0000${o}`, { write: { table, keyString: `{"id":${o}}`, version: K(o), origin: `0:0:${o}`, row: {} }, tsMs: null }]));
  return truncate === undefined ? { writes } : { writes, truncate: { table, offset: BigInt(truncate), version: K(truncate), origin: `0:0:${truncate}` } };
}

function chunk(segments: Segment[], letters = 0, incrementalReads = 0): CompactedChunk {
  return {
    segments,
    tombstones: 0,
    incrementalReads,
    letters: Array.from({ length: letters }, (_, i) => ({ topic: 't', partition: 0, message: kafkaMessage(90 + i, null, null), error: new DecodeError('DECODE_NOT_JSON', 'bad') })),
  };
}

test('steps run in the commit order; each segment starts where the previous stored; one ending in a truncate stores the truncate\'s offset, the last one `next`', async () => {
  const steps = new RecordedSteps();
  const total = await new Checkpoint(steps).commit(chunk([segment('t.orders', [1, 2], 3), segment('t.orders', [4], 5), segment('t.orders', [6])], 2), 1n, 7n, '1700000000006');
  assert.deepEqual(steps.log, [
    'dlq 90,91',
    'apply t.orders/1,t.orders/2 1->3',
    'render t.orders/1,t.orders/2',
    'truncate t.orders 0:0:3',
    'apply t.orders/4 3->5',
    'render t.orders/4',
    'truncate t.orders 0:0:5',
    'apply t.orders/6 5->7 @1700000000006',
    'render t.orders/6',
  ]);
  assert.deepEqual(total, { applied: 4, stale: 0 });
});

test('only the position after the chunk\'s last record carries its timestamp (a truncate\'s position is its own record\'s, not known here)', async () => {
  const steps = new RecordedSteps();
  await new Checkpoint(steps).commit(chunk([segment('t.orders', [1], 2), segment('t.orders', [])]), 0n, 3n, '1700000000002');
  assert.deepEqual(steps.log, ['apply t.orders/1 0->2', 'render t.orders/1', 'truncate t.orders 0:0:2', 'apply  2->3 @1700000000002', 'render ']);
});

test('no DLQ step without letters; a first chunk starts from no position; an empty segment still stores its position', async () => {
  const steps = new RecordedSteps();
  await new Checkpoint(steps).commit(chunk([segment('t.orders', [])]), null, 12n);
  assert.deepEqual(steps.log, ['apply  none->12', 'render ']);
});

test('only the writes that applied are rendered: not the stale ones, not those whose basis changed', async () => {
  const steps = new RecordedSteps([{ applied: 2, stale: 1, unchanged: 0, flags: '10b1' }]);
  const total = await new Checkpoint(steps).commit(chunk([segment('t.orders', [1, 2, 3, 4])]), 0n, 5n);
  assert.deepEqual(steps.log, ['apply t.orders/1,t.orders/2,t.orders/3,t.orders/4 0->5', 'render t.orders/1,t.orders/4']);
  assert.deepEqual(total, { applied: 2, stale: 1 });
  const none = new RecordedSteps([{ applied: 0, stale: 2, unchanged: 0, flags: '00' }]);
  await new Checkpoint(none).commit(chunk([segment('view:events', [7, 8])]), 6n, 9n);
  assert.deepEqual(none.log, ['apply view:events/7,view:events/8 6->9', 'render ']);
});

test('writes applied with an unchanged row (`=`) are not rendered; the chunk\'s backfill reads are counted with its first segment only', async () => {
  const steps = new RecordedSteps([{ applied: 1, stale: 0, unchanged: 1, flags: '=1' }]);
  await new Checkpoint(steps).commit(chunk([segment('t.orders', [1, 2], 3), segment('t.orders', [4])], 0, 5), 0n, 5n);
  assert.deepEqual(steps.log, ['apply t.orders/1,t.orders/2 0->3 +5 backfill', 'render t.orders/2', 'truncate t.orders 0:0:3', 'apply t.orders/4 3->5', 'render t.orders/4']);
});

test('applied and stale are summed over the segments', async () => {
  const steps = new RecordedSteps([{ applied: 2, stale: 1, unchanged: 0, flags: '110' }, { applied: 0, stale: 3, unchanged: 0, flags: '000' }]);
  const total = await new Checkpoint(steps).commit(chunk([segment('a.x', [1, 2, 3], 4), segment('a.x', [5, 6, 7])]), 0n, 8n);
  assert.deepEqual(total, { applied: 2, stale: 4 });
});

test('a failing step stops every later one', async () => {
  const cases: [string, string[]][] = [
    ['dlq', ['dlq 90']],
    ['apply', ['dlq 90', 'apply a.x/1 0->2']],
    ['render', ['dlq 90', 'apply a.x/1 0->2', 'render a.x/1']],
    ['truncate', ['dlq 90', 'apply a.x/1 0->2', 'render a.x/1', 'truncate a.x 0:0:2']],
  ];
  for (const [failing, expected] of cases) {
    const steps = new RecordedSteps();
    steps.fail = failing;
    await assert.rejects(new Checkpoint(steps).commit(chunk([segment('a.x', [1], 2), segment('a.x', [3])], 1), 0n, 4n), new RegExp(`${failing} failed`));
    assert.deepEqual(steps.log, expected, failing);
  }
});
