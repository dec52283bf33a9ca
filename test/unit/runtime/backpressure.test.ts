/**
 * Backpressure (src/runtime/backpressure.ts): only retriable errors are
 * retried, the partition counts as paused while retrying, each retry is
 * counted by code, the heartbeat runs between attempts, abort stops waiting.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { CdcViewsError, DecodeError } from '../../../src/errors.ts';
import { METRIC_NAMES, createMetrics, type Metrics } from '../../../src/metrics/catalogue.ts';
import { Backpressure } from '../../../src/runtime/backpressure.ts';
import { SinkUnavailableError } from '../../../src/sinks/sink.ts';
import { metricValue } from '../metrics/registry.ts';
import { silentLog, until } from './helpers.ts';

const APP = 'bp-app';

/** A step that is down (retriable) on every call up to `limit`, then fails for good, so no test can wait forever. */
function down(calls: { n: number }, limit = 3): () => Promise<never> {
  return () => Promise.reject(++calls.n > limit ? new Error(`still called after ${limit} attempts`) : new SinkUnavailableError('s', 'down', 1));
}
const TOPIC = 'demo.public.orders';

function setUp(signal = new AbortController().signal): { bp: Backpressure; metrics: Metrics; paused: () => Promise<number>; retries: (operation: string, code: string) => Promise<number> } {
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  return {
    bp: new Backpressure(APP, metrics, silentLog, signal),
    metrics,
    paused: () => metricValue(metrics.registry, METRIC_NAMES.partitionsPaused, { application_id: APP, topic: TOPIC }),
    retries: (operation, code) => metricValue(metrics.registry, METRIC_NAMES.retries, { application_id: APP, operation, code }),
  };
}

test('a step that succeeds at once: no retry, no pause, no heartbeat', async () => {
  const { bp, paused, retries } = setUp();
  let beats = 0;
  assert.equal(await bp.whilePaused('render', TOPIC, 0, () => Promise.resolve(void beats++), () => Promise.resolve('done')), 'done');
  assert.equal(beats, 0);
  assert.equal(await paused(), 0);
  assert.equal(await retries('render', 'SINK_UNAVAILABLE'), 0);
});

test('retriable failures are retried with a heartbeat in between, counted by code, while the partition is paused', async () => {
  const { bp, paused, retries } = setUp();
  const pausedDuring: number[] = [];
  let beats = 0;
  let attempt = 0;
  const result = await bp.whilePaused('render', TOPIC, 2, () => Promise.resolve(void beats++), async () => {
    attempt++;
    pausedDuring.push(await paused());
    if (attempt === 1) throw new SinkUnavailableError('cache:x', 'down', 10);
    if (attempt === 2) throw new CdcViewsError('RENDER_CONTENDED', 'contended', { retriable: true });
    return attempt;
  });
  assert.equal(result, 3);
  assert.deepEqual(pausedDuring, [0, 1, 1], 'paused from the first retry on');
  assert.equal(beats, 2);
  assert.equal(await retries('render', 'SINK_UNAVAILABLE'), 1);
  assert.equal(await retries('render', 'RENDER_CONTENDED'), 1);
  assert.equal(await paused(), 0, 'resumed');
});

test('a non-retriable error is thrown at once, as it is', async () => {
  const { bp, paused, retries } = setUp();
  const bad = new DecodeError('DECODE_NOT_JSON', 'bad');
  let calls = 0;
  await assert.rejects(bp.whilePaused('decode', TOPIC, 0, () => Promise.resolve(), () => (calls++, Promise.reject(bad))), (err) => err === bad);
  assert.equal(calls, 1);
  assert.equal(await paused(), 0);
  assert.equal(await retries('decode', 'DECODE_NOT_JSON'), 0);
});

test('a non-retriable error after retries ends the pause', async () => {
  const { bp, paused } = setUp();
  let attempt = 0;
  const bad = new Error('bug');
  await assert.rejects(bp.whilePaused('render', TOPIC, 0, () => Promise.resolve(), () => Promise.reject(++attempt === 1 ? new SinkUnavailableError('s', 'down', 1) : bad)), (err) => err === bad);
  assert.equal(attempt, 2);
  assert.equal(await paused(), 0);
});

test('a heartbeat that throws (partition revoked) ends the wait with its error', async () => {
  const { bp, paused } = setUp();
  const revoked = new Error('The group is rebalancing, so a rejoin is needed');
  const calls = { n: 0 };
  await assert.rejects(bp.whilePaused('render', TOPIC, 0, () => Promise.reject(revoked), down(calls, 1)), (err) => err === revoked);
  assert.equal(calls.n, 1);
  assert.equal(await paused(), 0);
});

test('shutdown aborts the wait with its reason and resumes the partition', async () => {
  const stopping = new AbortController();
  const { bp, paused } = setUp(stopping.signal);
  const reason = new CdcViewsError('SHUTDOWN', 'shutting down');
  const calls = { n: 0 };
  const waiting = bp.whilePaused('render', TOPIC, 0, () => Promise.resolve(), down(calls, 1));
  await until(async () => (await paused()) === 1, 'the partition to pause');
  stopping.abort(reason);
  // Were the backoff not aborted, the next attempt would fail for good instead.
  await assert.rejects(waiting, (err) => err === reason);
  assert.equal(calls.n, 1);
  assert.equal(await paused(), 0);
});
