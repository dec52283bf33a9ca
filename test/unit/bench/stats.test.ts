/**
 * The benchmark's summaries (bench/stats.ts): warm-up and profiled runs are
 * never counted, min / median / max per system, ratios of medians, and the
 * rotation that gives every system each place in the order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { median, ratio, rotation, spread, summarize, type Measured } from '../../../bench/stats.ts';

const run = (system: string, n: number, rps: number, more: Partial<Measured> = {}): Measured => ({ system, run: n, records: 1000, seconds: 1000 / rps, recordsPerSecond: rps, peakRssMiB: rps / 10, ...more });

test('median of odd and even counts; spread rounds to the digits asked', () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  assert.deepEqual(spread([2.345, 1.111, 9.999], 2), { min: 1.11, median: 2.35, max: 10 });
});

test('summarize counts neither warm-up nor profiled runs, and gives min / median / max per system', () => {
  const runs = [
    run('a', 0, 10, { warmup: true }),
    run('a', 1, 100),
    run('a', 2, 300),
    run('a', 3, 200),
    run('a', 0, 5000, { profiled: true }),
    run('b', 1, 50, { redisPeakRssMiB: 7 }),
    run('b', 2, 70, { redisPeakRssMiB: 9 }),
  ];
  const s = summarize(runs);
  assert.deepEqual(s.a!.recordsPerSecond, { min: 100, median: 200, max: 300 });
  assert.equal(s.a!.runs, 3);
  assert.equal(s.a!.peakRssMiB, 30, 'the highest peak of the counted runs (the profiled one held 500)');
  assert.equal(s.a!.redisPeakRssMiB, undefined);
  assert.deepEqual(s.b!.recordsPerSecond, { min: 50, median: 60, max: 70 });
  assert.equal(s.b!.redisPeakRssMiB, 9);
  assert.equal(ratio(s, 'a', 'b'), 3.33);
  assert.equal(ratio(s, 'a', 'missing'), null);
});

test('rotation: run k starts with the k-th system, and over n runs each system holds each place once', () => {
  const systems = ['cdc-views', 'kafka-streams', 'kafkajs'];
  assert.deepEqual(rotation(systems, 1), systems);
  assert.deepEqual(rotation(systems, 2), ['kafka-streams', 'kafkajs', 'cdc-views']);
  assert.deepEqual(rotation(systems, 4), systems);
  for (let place = 0; place < 3; place++) {
    assert.deepEqual(new Set([1, 2, 3].map((r) => rotation(systems, r)[place])), new Set(systems));
  }
  assert.deepEqual(rotation([], 3), []);
});
