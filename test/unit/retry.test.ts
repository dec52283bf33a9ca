/**
 * The retry helper: not retriable unless marked, bail, backoff bounds,
 * RetriesExhaustedError with the last error as cause, abort.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CdcViewsError, DecodeError, DecodeErrorCode } from '../../src/errors.ts';
import { RetriesExhaustedError, isRetriable, retry, type RetryEvent } from '../../src/retry.ts';

const transient = (n: number): CdcViewsError => new CdcViewsError('TEST_TRANSIENT', `transient ${n}`, { retriable: true });
const fast = { minDelayMs: 1, maxDelayMs: 5 };

test('resolves with the first successful result', async () => {
  let calls = 0;
  const v = await retry(({ attempt }) => {
    calls++;
    if (attempt < 3) throw transient(attempt);
    return 'ok';
  }, fast);
  assert.equal(v, 'ok');
  assert.equal(calls, 3);
});

test('an error not marked retriable fails at once, rethrown as is', async () => {
  for (const thrown of [new Error('plain'), new DecodeError(DecodeErrorCode.NotJson, 'bad'), new TypeError('type'), 'a string']) {
    let calls = 0;
    const retries: RetryEvent[] = [];
    await assert.rejects(
      retry(() => {
        calls++;
        throw thrown as unknown; // a non-Error value on purpose
      }, { ...fast, onRetry: (e) => void retries.push(e) }),
      (err) => err === thrown,
    );
    assert.equal(calls, 1, String(thrown));
    assert.equal(retries.length, 0);
  }
  assert.equal(isRetriable(new CdcViewsError('X', 'x')), false);
  assert.equal(isRetriable(transient(1)), true);
  assert.equal(isRetriable(Object.assign(new Error('e'), { retriable: true })), false);
});

test('bail() stops at once with the given error, even for a retriable one', async () => {
  let calls = 0;
  const reason = transient(0);
  await assert.rejects(
    retry(({ bail }) => {
      calls++;
      bail(reason);
    }, fast),
    (err) => err === reason,
  );
  assert.equal(calls, 1);
});

test('a retriable error is retried, then RetriesExhaustedError keeps the last error as cause', async () => {
  let calls = 0;
  const events: RetryEvent[] = [];
  const last = { error: undefined as unknown };
  await assert.rejects(
    retry(
      ({ attempt }) => {
        calls++;
        last.error = transient(attempt);
        throw last.error;
      },
      { ...fast, attempts: 4, operation: 'apply batch', onRetry: (e) => void events.push(e) },
    ),
    (err) => {
      assert.ok(err instanceof RetriesExhaustedError);
      assert.ok(err instanceof CdcViewsError);
      assert.equal(err.code, 'RETRIES_EXHAUSTED');
      assert.equal(err.retriable, false);
      assert.equal(err.attempts, 4);
      assert.equal(err.operation, 'apply batch');
      assert.equal(err.cause, last.error);
      assert.match(err.message, /^apply batch failed after 4 attempts: transient 4$/);
      return true;
    },
  );
  assert.equal(calls, 4);
  assert.deepEqual(events.map((e) => [e.attempt, e.attemptsLeft, (e.error as Error).message]), [
    [1, 3, 'transient 1'],
    [2, 2, 'transient 2'],
    [3, 1, 'transient 3'],
  ]);
});

test('the retriable predicate replaces the default rule (e.g. a TypeError or a connection error)', async () => {
  let calls = 0;
  const v = await retry(({ attempt }) => {
    calls++;
    if (attempt === 1) throw new TypeError('fetch failed');
    if (attempt === 2) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    return attempt;
  }, { ...fast, retriable: (e) => e instanceof TypeError || (e as { code?: string }).code === 'ECONNREFUSED' });
  assert.equal(v, 3);
  assert.equal(calls, 3);
  // …and a marked CdcViewsError is then not retried unless the predicate says so
  await assert.rejects(retry(() => { throw transient(1); }, { ...fast, retriable: () => false }), /transient 1/);
});

test('waits grow exponentially, stay within [min·f^(n−1), 2·min·f^(n−1)) and are capped', async () => {
  const stamps: number[] = [];
  await assert.rejects(
    retry(() => {
      stamps.push(performance.now());
      throw transient(0);
    }, { attempts: 5, minDelayMs: 20, maxDelayMs: 100, factor: 2 }),
    RetriesExhaustedError,
  );
  const waits = stamps.slice(1).map((t, i) => t - stamps[i]!);
  const bounds: [number, number][] = [[20, 40], [40, 80], [80, 100], [100, 100]];
  for (const [i, w] of waits.entries()) {
    const [lo, hi] = bounds[i]!;
    assert.ok(w >= lo - 2 && w <= hi + 60, `wait ${i + 1} was ${w.toFixed(1)} ms, expected ${lo}–${hi}`);
  }
  const noJitter: number[] = [];
  await assert.rejects(retry(() => { noJitter.push(performance.now()); throw transient(0); }, { attempts: 2, minDelayMs: 30, jitter: false }), RetriesExhaustedError);
  assert.ok(noJitter[1]! - noJitter[0]! >= 28);
});

test('abort during a wait rejects at once with the signal reason; an aborted signal prevents any attempt', async () => {
  const controller = new AbortController();
  let calls = 0;
  const started = performance.now();
  const p = retry(() => {
    calls++;
    throw transient(calls);
  }, { attempts: Infinity, minDelayMs: 10_000, signal: controller.signal, onRetry: () => controller.abort(new Error('shutting down')) });
  await assert.rejects(p, /shutting down/);
  assert.equal(calls, 1);
  assert.ok(performance.now() - started < 1000, 'the 10 s wait was cut short');

  let called = false;
  await assert.rejects(retry(() => { called = true; }, { signal: AbortSignal.abort() }), { name: 'AbortError' });
  assert.equal(called, false);

  await assert.rejects(retry(() => { throw transient(0); }, { attempts: Infinity, minDelayMs: 5, maxDelayMs: 5, signal: AbortSignal.timeout(50) }), { name: 'TimeoutError' });
});

test('the attempt sees the signal; a non-retriable error thrown after abort is kept', async () => {
  const controller = new AbortController();
  const fatal = new CdcViewsError('STATE_FENCED', 'fenced');
  await assert.rejects(
    retry(({ signal }) => {
      assert.equal(signal, controller.signal);
      controller.abort();
      throw fatal;
    }, { signal: controller.signal }),
    (err) => err === fatal,
  );
});

test('onRetry throwing stops retrying with that error', async () => {
  const boom = new Error('onRetry failed');
  let calls = 0;
  await assert.rejects(retry(() => { calls++; throw transient(0); }, { ...fast, onRetry: () => { throw boom; } }), (err) => err === boom);
  assert.equal(calls, 1);
});

test('invalid attempts are refused', async () => {
  for (const attempts of [0, -1, 1.5, Number.NaN]) await assert.rejects(retry(() => 1, { attempts }), RangeError);
  assert.equal(await retry(() => 7, { attempts: 1 }), 7);
  await assert.rejects(retry(() => { throw transient(0); }, { attempts: 1 }), (e) => e instanceof RetriesExhaustedError && e.attempts === 1 && /after 1 attempt:/.test(e.message));
});
