/**
 * What Backpressure (src/runtime/backpressure.ts) logs: each retry a warning
 * naming topic, partition, operation, attempt, code and reason — an error
 * instead when a sink says only an operator can fix it (needsOperator) —
 * and, when the partition was paused, one "partition resumed" at the end;
 * nothing at all for a step that succeeds at once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { CdcViewsError } from '../../../src/errors.ts';
import type { Logger } from '../../../src/log.ts';
import { createMetrics } from '../../../src/metrics/catalogue.ts';
import { Backpressure } from '../../../src/runtime/backpressure.ts';
import { SinkUnavailableError } from '../../../src/sinks/sink.ts';

type Line = [level: string, fields: unknown, message: string];

function setUp(): { bp: Backpressure; lines: Line[] } {
  const lines: Line[] = [];
  const at = (level: string) => (fields: unknown, message: string) => void lines.push([level, fields, message]);
  const log = { warn: at('warn'), error: at('error'), info: at('info'), debug: at('debug') } as unknown as Logger;
  return { bp: new Backpressure('bp-app', createMetrics(new Registry(), { defaultMetrics: false }), log, new AbortController().signal), lines };
}

/** A step failing with `errors` in turn, then answering 'ok'. */
function failing(...errors: Error[]): () => Promise<string> {
  let n = 0;
  return () => (n < errors.length ? Promise.reject(errors[n++]!) : Promise.resolve('ok'));
}

test('a step that succeeds at once logs nothing', async () => {
  const { bp, lines } = setUp();
  assert.equal(await bp.whilePaused('render', 't', 0, () => Promise.resolve(), failing()), 'ok');
  assert.deepEqual(lines, []);
});

test('an unavailable dependency: a warning per retry with its fields, then "partition resumed"', async () => {
  const { bp, lines } = setUp();
  const down = new SinkUnavailableError('search:orders', 'connect ECONNREFUSED', 1);
  const contended = new CdcViewsError('RENDER_CONTENDED', 'contended', { retriable: true });
  assert.equal(await bp.whilePaused('sink', 'demo.public.orders', 4, () => Promise.resolve(), failing(down, contended)), 'ok');
  const warning = 'partition paused: a dependency is unavailable, retrying';
  assert.deepEqual(lines, [
    ['warn', { topic: 'demo.public.orders', partition: 4, operation: 'sink', attempt: 1, code: 'SINK_UNAVAILABLE', reason: 'sink search:orders unavailable: connect ECONNREFUSED' }, warning],
    ['warn', { topic: 'demo.public.orders', partition: 4, operation: 'sink', attempt: 2, code: 'RENDER_CONTENDED', reason: 'contended' }, warning],
    ['info', { topic: 'demo.public.orders', partition: 4, operation: 'sink' }, 'partition resumed'],
  ]);
});

test('a sink needing an operator is logged as an error; a retriable error with a needsOperator field that is no sink error is a warning', async () => {
  const { bp, lines } = setUp();
  const refused = new SinkUnavailableError('search:orders', 'security_exception', 1, { needsOperator: true });
  const lookalike = Object.assign(new CdcViewsError('X_DOWN', 'x', { retriable: true }), { needsOperator: true });
  await bp.whilePaused('sink', 't', 0, () => Promise.resolve(), failing(refused, lookalike));
  assert.deepEqual(
    lines.map(([level, , message]) => [level, message]),
    [
      ['error', 'partition paused: a sink refuses this application until an operator fixes it; retrying'],
      ['warn', 'partition paused: a dependency is unavailable, retrying'],
      ['info', 'partition resumed'],
    ],
  );
});
