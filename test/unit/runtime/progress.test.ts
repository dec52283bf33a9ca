/**
 * The lag arithmetic (src/runtime/progress.ts), pure: one partition's lag
 * from its stored position and log bounds, and what is left before every
 * partition reaches the end offsets a wait started with.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { partitionLag, remainingToTargets, totalToTargets } from '../../../src/runtime/progress.ts';
import { Positions } from '../../../src/state/encoding.ts';

const T = 'demo.public.orders';

test('partitionLag: end − position, from the log start when no position is stored or it is below the start; never negative', () => {
  // [position, low, end, lag]
  const cases: [bigint | null, bigint, bigint, bigint][] = [
    [7n, 2n, 10n, 3n],
    [null, 2n, 10n, 8n], // nothing stored: the whole retained log
    [1n, 5n, 12n, 7n], // retention deleted records past the position: they cannot be read
    [10n, 2n, 10n, 0n],
    [50n, 0n, 3n, 0n], // beyond the end: a re-created topic, not a negative lag
    [null, 4n, 4n, 0n], // an empty log
    [0n, 0n, 9007199254740993n, 9007199254740993n],
  ];
  for (const [position, low, end, lag] of cases) {
    assert.deepEqual(partitionLag(T, 3, position, low, end), { topic: T, partition: 3, position, end, lag }, `position ${position}, log ${low}..${end}`);
  }
});

test('remainingToTargets: records left to each target end, from the stored position or where the target\'s lag started', () => {
  const targets = [partitionLag(T, 0, 7n, 2n, 10n), partitionLag(T, 1, null, 2n, 10n), partitionLag(T, 2, null, 4n, 4n), partitionLag('demo.public.lines', 0, 1n, 0n, 5n)];
  assert.equal(remainingToTargets(targets, Positions.of([])), 3n + 8n + 0n + 4n, 'none stored: from where each target\'s lag started (its position then, else the log start)');
  const positions = Positions.of([
    { topic: T, partition: 0, offset: 9n },
    { topic: T, partition: 1, offset: 12n }, // past its target: counts 0, not −2
    { topic: 'demo.public.lines', partition: 0, offset: 5n },
  ]);
  assert.equal(remainingToTargets(targets, positions), 1n);
  // Redis went back: the position is below where the wait started, and the records count again.
  assert.equal(remainingToTargets(targets, Positions.of([{ topic: T, partition: 0, offset: 3n }, { topic: T, partition: 1, offset: 10n }, { topic: 'demo.public.lines', partition: 0, offset: 5n }])), 7n);
  assert.equal(remainingToTargets([], positions), 0n);
});

test('totalToTargets: records from where each partition stood when consuming began to its target end, even when all were processed before the first poll', () => {
  // At start: p0 at 7 of 2..10, p1 nothing stored (log 2..10), p2 beyond its end (a re-created topic).
  const start = [partitionLag(T, 0, 7n, 2n, 10n), partitionLag(T, 1, null, 2n, 10n), partitionLag(T, 2, 50n, 0n, 3n)];
  // Asked later: everything processed up to the end offsets then, and 4 more records arrived on p0.
  const targets = [partitionLag(T, 0, 10n, 2n, 14n), partitionLag(T, 1, 10n, 2n, 10n), partitionLag(T, 2, 50n, 0n, 3n)];
  assert.equal(totalToTargets(targets, start), 7n + 8n + 0n, 'p0 7→14, p1 from the log start 2→10, p2 nothing');
  assert.equal(remainingToTargets(targets, Positions.of(targets.map((t) => ({ topic: t.topic, partition: t.partition, offset: t.position! })))), 4n);
  // A partition added after the start counts from where its target's lag started.
  assert.equal(totalToTargets([...targets, partitionLag(T, 3, null, 0n, 6n)], start), 15n + 6n);
  assert.equal(totalToTargets(targets, []), 4n + 0n + 0n, 'no start recorded: the targets\' own lag');
});
