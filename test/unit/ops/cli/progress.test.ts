/** The progress reporter (src/cli/progress.ts) without a terminal: plain lines, their rate and ETA. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProgressReporter, progressLine, rateAndEta } from '../../../../src/cli/progress.ts';

/** A reporter on a fake non-TTY stream with a settable clock. */
function reporter(options: { intervalMs?: number; windowMs?: number; mode?: 'lines' | 'off' } = {}): { p: ProgressReporter; lines: string[]; at: (ms: number) => void } {
  let now = 1_000_000;
  const lines: string[] = [];
  const p = new ProgressReporter({ label: 'replay shop-v2', stream: { write: (s: string) => lines.push(s) > 0, isTTY: false }, now: () => now, ...options });
  return { p, lines, at: (ms) => (now = 1_000_000 + ms) };
}

test('rateAndEta: rate over the window, ETA = left / rate, 0 when done, unknown without a rate', () => {
  assert.deepEqual(rateAndEta([], 100), { ratePerSecond: 0, etaMs: null });
  assert.deepEqual(rateAndEta([{ t: 0, done: 10 }], 100), { ratePerSecond: 0, etaMs: null });
  assert.deepEqual(rateAndEta([{ t: 0, done: 0 }, { t: 2000, done: 400 }], 1000), { ratePerSecond: 200, etaMs: 3000 });
  assert.deepEqual(rateAndEta([{ t: 0, done: 0 }, { t: 1000, done: 50 }, { t: 4000, done: 200 }], 1000), { ratePerSecond: 50, etaMs: 16_000 });
  assert.deepEqual(rateAndEta([{ t: 0, done: 0 }, { t: 1000, done: 1000 }], 1000), { ratePerSecond: 1000, etaMs: 0 });
  assert.deepEqual(rateAndEta([{ t: 0, done: 5 }, { t: 1000, done: 5 }], 10), { ratePerSecond: 0, etaMs: null });
});

test('progressLine: count, percentage, rate, ETA and elapsed for people', () => {
  assert.equal(progressLine('replay shop-v2', 'records', { done: 5087, total: 16873, ratePerSecond: 1234.4, etaMs: 9_548, elapsedMs: 4_100 }), 'replay shop-v2: 5087/16873 records (30.1%), 1234 records/s, ETA 10s, elapsed 4s');
  assert.equal(progressLine('rewind a', 'rows', { done: 0, total: 0, ratePerSecond: 0, etaMs: 0, elapsedMs: 0 }), 'rewind a: 0/0 rows (100.0%), 0 rows/s, ETA 0s, elapsed 0s');
  assert.equal(progressLine('x', 'records', { done: 1, total: 4, ratePerSecond: 0, etaMs: null, elapsedMs: 3_725_000 }), 'x: 1/4 records (25.0%), 0 records/s, ETA unknown, elapsed 1h 2m 5s');
});

test('lines mode: the first update, then one line per interval with the rate and ETA of the window, and a last line at stop', () => {
  const { p, lines, at } = reporter({ intervalMs: 5000 });
  assert.equal(p.mode, 'lines');
  at(0);
  p.update(0, 10_000);
  at(1000);
  p.update(1000, 10_000); // within the interval: no line
  at(5000);
  p.update(5000, 10_000);
  at(7000);
  p.update(6000, 10_000);
  at(8000);
  p.stop();
  p.update(9999, 10_000); // after stop: nothing
  p.stop();
  assert.deepEqual(lines, [
    'replay shop-v2: 0/10000 records (0.0%), 0 records/s, ETA unknown, elapsed 0s\n',
    'replay shop-v2: 5000/10000 records (50.0%), 1000 records/s, ETA 5s, elapsed 5s\n',
    // At stop the last measurement (t 7 s, 6000) over the window from t 0: 6000/7 s.
    'replay shop-v2: 6000/10000 records (60.0%), 857 records/s, ETA 5s, elapsed 8s\n',
  ]);
});

test('the rate follows a slow-down: measurements older than the window are dropped', () => {
  const { p, at } = reporter({ windowMs: 10_000 });
  at(0);
  p.update(0, 100_000);
  at(10_000);
  p.update(50_000, 100_000); // 5000/s
  at(20_000);
  p.update(51_000, 100_000); // 100/s since t 10 s
  at(30_000);
  p.update(52_000, 100_000);
  const s = p.snapshot();
  assert.equal(s.ratePerSecond, 100, 'the window holds t 20–30 s only');
  assert.equal(s.etaMs, 480_000);
});

test('a growing total and a done count beyond it stay consistent', () => {
  const { p, at } = reporter();
  at(0);
  p.update(0, 100);
  at(1000);
  p.update(150, 100);
  assert.deepEqual([p.snapshot().done, p.snapshot().total, p.snapshot().etaMs], [150, 150, 0]);
  p.update(150, 300);
  assert.equal(p.snapshot().total, 300);
});

test('mode off prints nothing', () => {
  const { p, lines, at } = reporter({ mode: 'off' });
  at(0);
  p.update(0, 10);
  at(60_000);
  p.update(10, 10);
  p.stop();
  assert.deepEqual(lines, []);
});

test('bar mode on a terminal: the cli-progress bar with the count, the rate and the ETA of the window', () => {
  let now = 0;
  const out: string[] = [];
  const stream = { write: (s: string) => out.push(s) > 0, isTTY: true, columns: 160 };
  const p = new ProgressReporter({ label: 'replay shop-v2', stream, now: () => now });
  assert.equal(p.mode, 'bar');
  p.update(0, 1000);
  now = 2000;
  p.update(400, 1000);
  p.stop();
  const ESC = String.fromCharCode(27);
  const frames = out.join('').split(ESC).join('\n');
  assert.match(frames, /replay shop-v2 \[=+-+\] 40% \| 400\/1000 records \| 200 records\/s \| ETA 3s/);
});
