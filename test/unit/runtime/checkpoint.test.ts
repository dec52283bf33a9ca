/**
 * The commit order of a chunk (src/runtime/checkpoint.ts), recorded by a test
 * implementation of CheckpointSteps: DLQ, stream views, then per segment the
 * state step with its position, the renders and the truncate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ApplyResult } from '../../../src/state/store.ts';
import type { CompactedChunk, PendingWrite, Segment } from '../../../src/runtime/chunk.ts';
import { Checkpoint, type CheckpointSteps } from '../../../src/runtime/checkpoint.ts';
import { DecodeError } from '../../../src/errors.ts';
import { changeEvent, kafkaMessage } from './helpers.ts';

/** Records each step as a line; `fail` names a step that throws; applyState answers from `results` in turn. */
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
  writeStreamViews(events: readonly { position: { offset: string } }[]): Promise<void> {
    return this.record(`stream ${events.map((e) => e.position.offset).join(',')}`);
  }
  async applyState(writes: readonly PendingWrite[], position: bigint): Promise<ApplyResult> {
    await this.record(`apply ${keysOf(writes)} @${position}`);
    return this.results.shift() ?? { applied: writes.length, stale: 0 };
  }
  renderViews(writes: readonly PendingWrite[]): Promise<void> {
    return this.record(`render ${keysOf(writes)}`);
  }
  truncate(table: string): Promise<void> {
    return this.record(`truncate ${table}`);
  }
}

const keysOf = (writes: readonly PendingWrite[]): string => writes.map((w) => `${w.write.table}/${w.write.version}`).join(',');

function segment(table: string, versions: number[], truncate?: { table: string; offset: bigint }): Segment {
  const writes = new Map<string, PendingWrite>(versions.map((v) => [`${table}\u0000${v}`, { write: { table, keyString: `{"id":${v}}`, version: BigInt(v), row: {} }, tsMs: null }]));
  return truncate ? { writes, truncate } : { writes };
}

function chunk(segments: Segment[], letters = 0, stream = 0): CompactedChunk {
  return {
    segments,
    tombstones: 0,
    letters: Array.from({ length: letters }, (_, i) => ({ topic: 't', partition: 0, message: kafkaMessage(90 + i, null, null), error: new DecodeError('DECODE_NOT_JSON', 'bad') })),
    streamEvents: Array.from({ length: stream }, (_, i) => changeEvent('public.orders', { id: i }, 'c', {}, 80 + i)),
  };
}

test('steps run in the commit order; a segment ending in a truncate stores the truncate\'s offset, the last one `next`', async () => {
  const steps = new RecordedSteps();
  const total = await new Checkpoint(steps).commit(
    chunk([segment('public.orders', [1, 2], { table: 'public.orders', offset: 3n }), segment('public.lines', [4], { table: 'public.lines', offset: 5n }), segment('public.orders', [6])], 2, 1),
    7n,
  );
  assert.deepEqual(steps.log, [
    'dlq 90,91',
    'stream 80',
    'apply public.orders/1,public.orders/2 @3',
    'render public.orders/1,public.orders/2',
    'truncate public.orders',
    'apply public.lines/4 @5',
    'render public.lines/4',
    'truncate public.lines',
    'apply public.orders/6 @7',
    'render public.orders/6',
  ]);
  assert.deepEqual(total, { applied: 4, stale: 0 });
});

test('no DLQ or stream step without letters or stream events; an empty segment still stores its position', async () => {
  const steps = new RecordedSteps();
  await new Checkpoint(steps).commit(chunk([segment('public.orders', [])]), 12n);
  assert.deepEqual(steps.log, ['apply  @12', 'render ']);
});

test('applied and stale are summed over the segments', async () => {
  const steps = new RecordedSteps([{ applied: 2, stale: 1 }, { applied: 0, stale: 3 }]);
  const total = await new Checkpoint(steps).commit(chunk([segment('a.x', [1, 2, 3], { table: 'a.x', offset: 4n }), segment('a.x', [5, 6, 7])]), 8n);
  assert.deepEqual(total, { applied: 2, stale: 4 });
});

test('a failing step stops every later one', async () => {
  const cases: [string, string[]][] = [
    ['dlq', ['dlq 90']],
    ['stream', ['dlq 90', 'stream 80']],
    ['apply', ['dlq 90', 'stream 80', 'apply a.x/1 @2']],
    ['render', ['dlq 90', 'stream 80', 'apply a.x/1 @2', 'render a.x/1']],
    ['truncate', ['dlq 90', 'stream 80', 'apply a.x/1 @2', 'render a.x/1', 'truncate a.x']],
  ];
  for (const [failing, expected] of cases) {
    const steps = new RecordedSteps();
    steps.fail = failing;
    await assert.rejects(new Checkpoint(steps).commit(chunk([segment('a.x', [1], { table: 'a.x', offset: 2n }), segment('a.x', [3])], 1, 1), 4n), new RegExp(`${failing} failed`));
    assert.deepEqual(steps.log, expected, failing);
  }
});
