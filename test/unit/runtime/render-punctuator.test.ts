/**
 * The render punctuator (src/runtime/render-punctuator.ts): runs on a timer
 * (every intervalMs, default 5000) and on trigger(); one run at a time, a
 * trigger during a run queues exactly one more run; a run takes the drain
 * lock for budgetMs + 5000 ms and drains with the deadline now + budgetMs
 * (default 10000), or does nothing when the lock is held elsewhere; a failed
 * run is logged as a warning; stop() ends the timer and waits for the run in
 * progress without starting the queued one. Timers and Date are mocked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Logger } from '../../../src/log.ts';
import { RenderPunctuator, type RenderPunctuatorOptions } from '../../../src/runtime/render-punctuator.ts';
import type { DrainSource, ViewEngine } from '../../../src/runtime/view-engine.ts';

const marks: DrainSource = {
  tableMarks: async function* () {},
  foldMarks: async function* () {},
  viewMarks: async function* () {},
};

interface Rig {
  punctuator: RenderPunctuator;
  /** ttlMs of every lock call. */
  locks: number[];
  /** The options of every drain call. */
  drains: { deadline?: number }[];
  /** Arguments of every log.warn call. */
  warnings: unknown[][];
  /** What the next lock calls answer; a function to answer later or throw. */
  answer: () => Promise<boolean>;
}

function rig(options?: RenderPunctuatorOptions, rendered = 3): Rig {
  const r = { locks: [], drains: [], warnings: [], answer: () => Promise.resolve(true) } as unknown as Rig;
  const views = {
    drain: (source: DrainSource, opts: { deadline?: number }) => {
      assert.equal(source, marks);
      r.drains.push(opts);
      return Promise.resolve(rendered);
    },
  } as unknown as ViewEngine;
  const log = { warn: (...args: unknown[]) => r.warnings.push(args) } as unknown as Logger;
  r.punctuator = new RenderPunctuator(views, marks, (ttl) => (r.locks.push(ttl), r.answer()), log, options);
  return r;
}

/** Lets every settled promise chain run to its end (only microtasks are pending in these tests). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A lock answer the test releases. */
function held(): { answer: () => Promise<boolean>; release: (v?: boolean) => void; fail: (e: Error) => void } {
  let release!: (v?: boolean) => void;
  let fail!: (e: Error) => void;
  const p = new Promise<boolean>((res, rej) => {
    release = (v = true) => res(v);
    fail = rej;
  });
  return { answer: () => p, release, fail };
}

test('runOnce: takes the lock for budget + 5 s and drains with deadline now + budget; returns what drain rendered', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const r = rig({ budgetMs: 2_000 }, 7);
  assert.equal(await r.punctuator.runOnce(), 7);
  assert.deepEqual(r.locks, [7_000]);
  assert.deepEqual(r.drains, [{ deadline: 1_002_000 }]);
});

test('runOnce: defaults to a 10 s budget (lock 15 s)', async (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 50 });
  const r = rig();
  await r.punctuator.runOnce();
  assert.deepEqual(r.locks, [15_000]);
  assert.deepEqual(r.drains, [{ deadline: 10_050 }]);
});

test('runOnce: when another instance holds the lock it renders nothing and returns 0', async () => {
  const r = rig({}, 7);
  r.answer = () => Promise.resolve(false);
  assert.equal(await r.punctuator.runOnce(), 0);
  assert.equal(r.drains.length, 0);
});

test('start: runs every intervalMs', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const r = rig({ intervalMs: 100 });
  r.punctuator.start();
  t.mock.timers.tick(99);
  await settle();
  assert.equal(r.locks.length, 0);
  t.mock.timers.tick(1);
  await settle();
  assert.equal(r.locks.length, 1);
  t.mock.timers.tick(100);
  await settle();
  assert.equal(r.locks.length, 2);
  await r.punctuator.stop();
});

test('start: the interval defaults to 5 s', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const r = rig();
  r.punctuator.start();
  t.mock.timers.tick(4_999);
  await settle();
  assert.equal(r.locks.length, 0);
  t.mock.timers.tick(1);
  await settle();
  assert.equal(r.locks.length, 1);
  await r.punctuator.stop();
});

test('stop: no run after it', async (t) => {
  t.mock.timers.enable({ apis: ['setInterval'] });
  const r = rig({ intervalMs: 100 });
  r.punctuator.start();
  await r.punctuator.stop();
  t.mock.timers.tick(1_000);
  await settle();
  assert.equal(r.locks.length, 0);
});

test('trigger: one run; a later trigger runs again', async () => {
  const r = rig();
  r.punctuator.trigger();
  await settle();
  assert.equal(r.locks.length, 1, 'exactly one run for one trigger');
  assert.equal(r.drains.length, 1);
  r.punctuator.trigger();
  await settle();
  assert.equal(r.locks.length, 2);
});

test('trigger during a run: no second run at once, exactly one more after it', async () => {
  const r = rig();
  const lock = held();
  r.answer = lock.answer;
  r.punctuator.trigger();
  r.punctuator.trigger();
  r.punctuator.trigger();
  await settle();
  assert.equal(r.locks.length, 1, 'one run at a time');
  r.answer = () => Promise.resolve(true);
  lock.release();
  await settle();
  assert.equal(r.locks.length, 2, 'the triggers during the run queued one more run');
  assert.equal(r.drains.length, 2);
  await settle();
  assert.equal(r.locks.length, 2, 'and no more');
});

test('a failed run is logged as a warning with the error, and the next trigger runs', async () => {
  const r = rig();
  const boom = new Error('redis down');
  r.answer = () => Promise.reject(boom);
  r.punctuator.trigger();
  await settle();
  assert.deepEqual(r.warnings, [[{ err: boom }, 'draining view marks failed; retrying at the next run']]);
  r.answer = () => Promise.resolve(true);
  r.punctuator.trigger();
  await settle();
  assert.equal(r.drains.length, 1);
});

test('stop: waits for the run in progress and drops a queued run', async () => {
  const r = rig();
  const lock = held();
  r.answer = lock.answer;
  r.punctuator.trigger();
  r.punctuator.trigger();
  let stopped = false;
  const stopping = r.punctuator.stop().then(() => (stopped = true));
  await settle();
  assert.equal(stopped, false, 'the run is still in progress');
  lock.release();
  await stopping;
  assert.equal(r.drains.length, 1);
  await settle();
  assert.equal(r.locks.length, 1, 'the queued run is not started');
});
