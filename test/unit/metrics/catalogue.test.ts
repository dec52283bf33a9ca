/**
 * The metric catalogue: every name unique and prefixed, created once per
 * registry, every handle registered under its catalogue name, and the
 * measure() helper counting failures by error code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counter, Registry } from 'prom-client';
import { CdcViewsError } from '../../../src/errors.ts';
import { METRIC_NAMES, METRIC_PREFIX, StateOp, createMetrics, errorCode, measure } from '../../../src/metrics/catalogue.ts';

const names = Object.values(METRIC_NAMES);

test('catalogue names are unique, prefixed and valid Prometheus names; counters end in _total', () => {
  assert.equal(new Set(names).size, names.length);
  for (const n of names) {
    assert.ok(n.startsWith(METRIC_PREFIX), n);
    assert.match(n, /^[a-z_][a-z0-9_]*$/);
  }
  const registry = new Registry();
  const m = createMetrics(registry, { defaultMetrics: false });
  for (const [handle, name] of Object.entries(METRIC_NAMES)) {
    const metric = m[handle as keyof typeof METRIC_NAMES];
    assert.equal((metric as unknown as { name: string }).name, name, handle);
    assert.equal(name.endsWith('_total'), metric instanceof Counter, `${name}: counters and only counters end in _total`);
  }
  assert.deepEqual(registry.getMetricsAsArray().map((x) => x.name).sort(), [...names].sort());
});

test('default process metrics carry the same prefix', async () => {
  const registry = new Registry();
  createMetrics(registry);
  const all = registry.getMetricsAsArray().map((x) => x.name);
  assert.ok(all.includes('cdc_views_process_resident_memory_bytes'), 'RSS is exported');
  assert.ok(all.includes('cdc_views_nodejs_eventloop_lag_seconds'));
  for (const n of all) assert.ok(n.startsWith(METRIC_PREFIX), n);
  const text = await registry.metrics();
  for (const n of names) assert.match(text, new RegExp(`^# TYPE ${n} `, 'm'));
});

test('creating the catalogue twice on one registry returns the same handles; other registries are independent', () => {
  const registry = new Registry();
  const a = createMetrics(registry);
  const b = createMetrics(registry);
  assert.equal(a, b);
  const other = createMetrics(new Registry(), { defaultMetrics: false });
  assert.notEqual(other.recordsConsumed, a.recordsConsumed);
  a.recordsConsumed.inc({ application_id: 'app', topic: 't', partition: '0' }, 5);
  // a foreign metric of a catalogue name on a registry is refused, not silently shared
  const foreign = new Registry();
  new Counter({ name: METRIC_NAMES.rebalances, help: 'x', registers: [foreign] });
  assert.throws(() => createMetrics(foreign, { defaultMetrics: false }), /already been registered/);
});

test('labels are checked and values are exported', async () => {
  const registry = new Registry();
  const m = createMetrics(registry, { defaultMetrics: false });
  m.recordsApplied.inc({ application_id: 'app', topic: 'demo.public.customers', partition: '2' }, 3);
  m.lag.set({ application_id: 'app', topic: 'demo.public.customers', partition: '2' }, 42);
  m.endToEndLatency.observe({ application_id: 'app', sink: 'state' }, 0.012);
  m.dlqRecords.inc({ application_id: 'app', topic: 't', reason: 'DECODE_NOT_JSON' });
  assert.throws(() => m.rebalances.inc({ nope: 'x' } as never), /label/);
  const text = await registry.metrics();
  assert.match(text, /^cdc_views_records_applied_total\{application_id="app",topic="demo.public.customers",partition="2"\} 3$/m);
  assert.match(text, /^cdc_views_lag_records\{application_id="app",topic="demo.public.customers",partition="2"\} 42$/m);
  assert.match(text, /^cdc_views_end_to_end_latency_seconds_bucket\{le="0.025",application_id="app",sink="state"\} 1$/m);
  assert.match(text, /^cdc_views_end_to_end_latency_seconds_bucket\{le="60",application_id="app",sink="state"\} 1$/m);
  assert.match(text, /^cdc_views_dlq_records_total\{application_id="app",topic="t",reason="DECODE_NOT_JSON"\} 1$/m);
});

test('measure() observes the duration and counts a failure by error code, rethrowing it', async () => {
  const registry = new Registry();
  const m = createMetrics(registry, { defaultMetrics: false });
  const labels = { application_id: 'app', op: StateOp.ApplyChunk };
  assert.equal(await measure(m.stateOperationDuration, m.stateOperationErrors, labels, () => Promise.resolve(7)), 7);
  const fenced = new CdcViewsError('STATE_FENCED', 'fenced');
  await assert.rejects(measure(m.stateOperationDuration, m.stateOperationErrors, labels, () => Promise.reject(fenced)), (e) => e === fenced);
  await assert.rejects(measure(m.stateOperationDuration, m.stateOperationErrors, labels, () => Promise.reject(new Error('ECONNRESET'))));
  const text = await registry.metrics();
  assert.match(text, /^cdc_views_state_operation_duration_seconds_count\{application_id="app",op="apply_chunk"\} 3$/m);
  assert.match(text, /^cdc_views_state_operation_errors_total\{application_id="app",op="apply_chunk",code="STATE_FENCED"\} 1$/m);
  assert.match(text, /^cdc_views_state_operation_errors_total\{application_id="app",op="apply_chunk",code="UNKNOWN"\} 1$/m);
  assert.equal(errorCode('x'), 'UNKNOWN');
});
