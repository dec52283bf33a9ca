/**
 * The metered stores (src/state/metered.ts): each method forwards its
 * arguments and result, observes its duration under its own `op` label, and
 * counts failures by error code, as read from the prom-client registry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { FencedError } from '../../../src/errors.ts';
import { METRIC_NAMES, createMetrics, type Metrics } from '../../../src/metrics/catalogue.ts';
import { Positions } from '../../../src/state/encoding.ts';
import { MeteredStateStore, MeteredViewStore } from '../../../src/state/metered.ts';
import type { PartitionStateStore } from '../../../src/state/store.ts';
import type { ViewStateStore } from '../../../src/state/view-store.ts';
import { metricValue } from '../metrics/registry.ts';

const APP = 'metered-app';
const DURATION_COUNT = `${METRIC_NAMES.stateOperationDuration}_count`;

/** A store whose every method records its name and arguments and answers `reply`, or throws `failure` when set. */
function recording<T extends object>(reply: (method: string) => unknown): { store: T; calls: [string, unknown[]][]; fail: (err: Error) => void } {
  const calls: [string, unknown[]][] = [];
  let failure: Error | undefined;
  const store = new Proxy({} as T, {
    get: (_, method: string) => (...args: unknown[]) => {
      calls.push([method, args]);
      return failure === undefined ? Promise.resolve(reply(method)) : Promise.reject(failure);
    },
  });
  return { store, calls, fail: (err) => (failure = err) };
}

async function opCounts(metrics: Metrics, ops: readonly string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const op of ops) out[op] = await metricValue(metrics.registry, DURATION_COUNT, { application_id: APP, op });
  return out;
}

const STATE_OPS = ['acquire', 'advance_incarnation', 'current_epoch', 'apply_chunk', 'delete_older', 'record_snapshot', 'stored_rows', 'positions', 'record_last_event', 'increment_stat'] as const;
const VIEW_OPS = ['propagate', 'read_roots', 'render_read', 'dirty_tokens', 'clear_dirty'] as const;

test('MeteredStateStore: every method forwards its call and is timed under its own op', async () => {
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const positions = Positions.of([{ topic: 't', partition: 0, offset: 3n }]);
  const storedRows = [{ version: 'K00000000000000000005', origin: '0:0:5', row: { id: 1 }, deletedAtMs: null }, null];
  const replies: Record<string, unknown> = { acquire: { epoch: 4, position: 9n, incarnation: 1 }, advanceIncarnation: 2, currentEpoch: 4, applyChunk: { applied: 2, stale: 1, unchanged: 0, flags: '110' }, deleteOlderThan: 7, storedRows, positions, positionStamp: '1700000000009' };
  const inner = recording<PartitionStateStore>((m) => replies[m]);
  const store = new MeteredStateStore(inner.store, metrics, APP);
  const writes = [{ table: 'public.t', keyString: '{"id":1}', version: 'K00000000000000000005', origin: '0:0:5', row: null }];
  const dirty = new Set(['public.t']);
  const onPage = (): Promise<void> => Promise.resolve();
  const fence = { topic: 't', partition: 3, epoch: 4 };
  const ends = new Map([[0, 12n]]);
  const expectOps: Record<string, number> = Object.fromEntries(STATE_OPS.map((op) => [op, 0]));
  const step = async (op: (typeof STATE_OPS)[number], call: () => Promise<unknown>, expected: unknown, method: string, args: unknown[]): Promise<void> => {
    assert.deepEqual(await call(), expected, op);
    assert.deepEqual(inner.calls.at(-1), [method, args], op);
    expectOps[op] = (expectOps[op] ?? 0) + 1;
    assert.deepEqual(await opCounts(metrics, STATE_OPS), expectOps, `after ${method}`);
  };
  await step('acquire', () => store.acquire('t', 1), { epoch: 4, position: 9n, incarnation: 1 }, 'acquire', ['t', 1]);
  await step('advance_incarnation', () => store.advanceIncarnation('t', 1), 2, 'advanceIncarnation', ['t', 1]);
  await step('current_epoch', () => store.currentEpoch('t', 2), 4, 'currentEpoch', ['t', 2]);
  await step('apply_chunk', () => store.applyChunk('t', 3, 4, 9n, 10n, writes, dirty, '1700000000009', { 'backfill:t': 2 }), { applied: 2, stale: 1, unchanged: 0, flags: '110' }, 'applyChunk', ['t', 3, 4, 9n, 10n, writes, dirty, '1700000000009', { 'backfill:t': 2 }]);
  await step('delete_older', () => store.deleteOlderThan('public.t', 'K00000000000000000008', '0:0:8', true, fence, onPage), 7, 'deleteOlderThan', ['public.t', 'K00000000000000000008', '0:0:8', true, fence, onPage]);
  await step('record_snapshot', () => store.recordSnapshot('public.t', 'P1', 0, ends), undefined, 'recordSnapshot', ['public.t', 'P1', 0, ends]);
  await step('record_snapshot', () => store.recordSnapshotStart('public.t', 2, 0, 'P1', 40n), undefined, 'recordSnapshotStart', ['public.t', 2, 0, 'P1', 40n]);
  await step('record_snapshot', () => store.recordHistoryLost('t', 2, 17n), undefined, 'recordHistoryLost', ['t', 2, 17n]);
  await step('stored_rows', () => store.storedRows('public.t', ['{"id":1}', '{"id":2}']), storedRows, 'storedRows', ['public.t', ['{"id":1}', '{"id":2}']]);
  await step('positions', () => store.positions(), positions, 'positions', []);
  await step('positions', () => store.positionStamp('t', 3), '1700000000009', 'positionStamp', ['t', 3]);
  await step('record_last_event', () => store.recordLastEvent('t', 5, '1700000000000'), undefined, 'recordLastEvent', ['t', 5, '1700000000000']);
  await step('increment_stat', () => store.incrementStat('dlq', 3), undefined, 'incrementStat', ['dlq', 3]);
  assert.equal(inner.calls.length, 13, 'one call per method of PartitionStateStore');
  assert.equal(await metricValue(metrics.registry, METRIC_NAMES.stateOperationErrors, { application_id: APP }), 0);
});

test('MeteredViewStore: every method forwards its call and is timed under its own op', async () => {
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const marked = new Map([['v', new Set(['{"id":1}'])]]);
  const replies: Record<string, unknown> = { propagate: marked, readRoots: [{ version: '1', row: null }], readForRender: [{ retry: true }], dirtyTokens: ['2'], clearDirty: 1 };
  const inner = recording<ViewStateStore>((m) => replies[m]);
  const store = new MeteredViewStore(inner.store, metrics, APP);
  const deps = [{ kind: 'r', view: 'v', op: '' }] as const;
  const changes = [{ keyString: '{"id":1}', version: '1', parents: [''] }];
  const shape = { view: 'v', rootTable: 'public.t', hasRoot: true, joins: [], rollups: [] };
  const requests = [{ root: '{"id":1}', expectedVersion: '*', joinKeys: [] }];
  const marks: [string, string][] = [['{"id":1}', '2']];
  const expectOps: Record<string, number> = Object.fromEntries(VIEW_OPS.map((op) => [op, 0]));
  const step = async (op: (typeof VIEW_OPS)[number], call: () => Promise<unknown>, method: string, args: unknown[]): Promise<void> => {
    assert.deepEqual(await call(), replies[method], op);
    assert.deepEqual(inner.calls.at(-1), [method, args], op);
    expectOps[op] = 1;
    assert.deepEqual(await opCounts(metrics, VIEW_OPS), expectOps, `after ${op}`);
  };
  await step('propagate', () => store.propagate('public.t', deps, changes), 'propagate', ['public.t', deps, changes]);
  await step('read_roots', () => store.readRoots('public.t', ['{"id":1}']), 'readRoots', ['public.t', ['{"id":1}']]);
  await step('render_read', () => store.readForRender(shape, requests), 'readForRender', [shape, requests]);
  await step('dirty_tokens', () => store.dirtyTokens('v', ['{"id":1}']), 'dirtyTokens', ['v', ['{"id":1}']]);
  await step('clear_dirty', () => store.clearDirty('v', marks), 'clearDirty', ['v', marks]);
});

test('a failed call is rethrown, timed, and counted under its op and the error code', async () => {
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const inner = recording<PartitionStateStore>(() => undefined);
  const store = new MeteredStateStore(inner.store, metrics, APP);
  const fenced = new FencedError('t', 0, 1, 2);
  inner.fail(fenced);
  await assert.rejects(store.applyChunk('t', 0, 1, null, 2n, []), (err) => err === fenced);
  await assert.rejects(store.applyChunk('t', 0, 1, null, 2n, []), FencedError);
  const plain = new Error('connection reset');
  inner.fail(plain);
  await assert.rejects(store.positions(), (err) => err === plain);
  const errors = (op: string, code: string): Promise<number> => metricValue(metrics.registry, METRIC_NAMES.stateOperationErrors, { application_id: APP, op, code });
  assert.equal(await errors('apply_chunk', 'STATE_FENCED'), 2);
  assert.equal(await errors('positions', 'UNKNOWN'), 1);
  assert.equal(await errors('apply_chunk', 'UNKNOWN'), 0);
  assert.equal(await errors('positions', 'STATE_FENCED'), 0);
  assert.equal(await metricValue(metrics.registry, DURATION_COUNT, { application_id: APP, op: 'apply_chunk' }), 2, 'failed calls are timed too');

  const viewMetrics = createMetrics(new Registry(), { defaultMetrics: false });
  const viewInner = recording<ViewStateStore>(() => undefined);
  viewInner.fail(fenced);
  await assert.rejects(new MeteredViewStore(viewInner.store, viewMetrics, APP).clearDirty('v', []), (err) => err === fenced);
  assert.equal(await metricValue(viewMetrics.registry, METRIC_NAMES.stateOperationErrors, { application_id: APP, op: 'clear_dirty', code: 'STATE_FENCED' }), 1);
});
