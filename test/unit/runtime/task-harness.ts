/**
 * A partition task's context with the production collaborators on a test
 * Redis: the state store (metered), the view engine with cache sinks, the
 * Debezium JSON decoder and backpressure. Only the Kafka side is recorded:
 * seek, the low watermark and end offsets of partition 0, and the producer's
 * `send` behind the real DeadLetterQueue.
 */
import type { TestContext } from 'node:test';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { jsonDecoder, type RecordDecoder } from '../../../src/cdc/debezium-json.ts';
import { createMetrics, type Metrics } from '../../../src/metrics/catalogue.ts';
import { Backpressure } from '../../../src/runtime/backpressure.ts';
import { DeadLetterQueue } from '../../../src/runtime/dlq.ts';
import { PartitionTask, type TaskContext } from '../../../src/runtime/partition-task.ts';
import { ViewEngine } from '../../../src/runtime/view-engine.ts';
import { createSink } from '../../../src/sinks/index.ts';
import type { Sink } from '../../../src/sinks/sink.ts';
import { CacheStore } from '../../../src/state/cache-store.ts';
import { MeteredStateStore, MeteredViewStore } from '../../../src/state/metered.ts';
import type { PartitionStateStore } from '../../../src/state/store.ts';
import type { TopologyPlan } from '../../../src/topology/plan.ts';
import { metricValue } from '../metrics/registry.ts';
import { key, newApp, type TestApp } from '../state/helpers.ts';
import { RecordingProducer, silentLog } from './helpers.ts';

/** The topic of the tasks, and the state table it feeds. */
export const TOPIC = 'demo.public.customers';
/** The table as a topology names it. */
export const CUSTOMERS = 'public.customers';

export interface Harness {
  app: TestApp;
  ctx: TaskContext;
  metrics: Metrics;
  producer: RecordingProducer;
  seeks: [string, number, bigint][];
  /** The partition's first retained offset, as lowWatermark answers it. */
  low: { offset: bigint };
  /** The partition's end offset (high watermark), as endOffsets answers it. */
  end: { offset: bigint };
  /** A cache document of a view of the plan. */
  doc(view: string, id: number): Promise<Record<string, unknown> | null>;
  /** A new task on partition 0 (acquires it: bumps the epoch). */
  task(): Promise<PartitionTask>;
  /** A metric of partition 0 of the topic (more labels may be given). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** The position stored for partition 0. */
  position(): Promise<bigint | null>;
}

export interface HarnessOptions {
  plan?: TopologyPlan;
  decoder?: RecordDecoder;
  /** Wraps the (metered) state store the task uses, e.g. to stage another writer between two calls. */
  store?: (store: PartitionStateStore) => PartitionStateStore;
}

/** A task context on a fresh application (its keys and cache removed after the test); `plan` adds views with cache sinks. */
export function taskHarness(t: TestContext, redis: Redis, options: HarnessOptions = {}): Harness {
  const app = newApp(t, redis);
  const metrics = createMetrics(new Registry(), { defaultMetrics: false });
  const producer = new RecordingProducer();
  const seeks: [string, number, bigint][] = [];
  const low = { offset: 0n };
  const end = { offset: 1_000n };
  const sinks = new Map<string, Sink[]>();
  for (const view of options.plan?.views ?? []) sinks.set(view.name, view.sinks.map((s) => createSink(s, { applicationId: app.id, redis, searchUrl: 'http://127.0.0.1:1' })));
  t.after(() => new CacheStore(redis, `cache:${app.id}:`).destroy());
  const metered = new MeteredStateStore(app.state, metrics, app.id);
  const partition0 = <T>(topic: string, partition: number, value: () => T): Promise<T> =>
    topic === TOPIC && partition === 0 ? Promise.resolve(value()) : Promise.reject(new Error(`unexpected ${topic}[${partition}]`));
  const ctx: TaskContext = {
    applicationId: app.id,
    store: options.store ? options.store(metered) : metered,
    views: new ViewEngine({ applicationId: app.id, store: new MeteredViewStore(app.views, metrics, app.id), plan: options.plan, sinks, log: silentLog, metrics, tableIds: new Map([[CUSTOMERS, TOPIC]]) }),
    decoder: options.decoder ?? jsonDecoder,
    dlq: new DeadLetterQueue(producer.producer, app.id),
    metrics,
    log: silentLog,
    counts: { consumed: 0, applied: 0, stale: 0, tombstones: 0, dlq: 0, chunks: 0, renderFailures: 0 },
    backpressure: new Backpressure(app.id, metrics, silentLog, new AbortController().signal),
    seek: (topic, partition, offset) => void seeks.push([topic, partition, offset]),
    lowWatermark: (topic, partition) => partition0(topic, partition, () => low.offset),
    endOffsets: (topic) => partition0(topic, 0, () => new Map([[0, end.offset]])),
  };
  const labels = { application_id: app.id, topic: TOPIC, partition: '0' };
  return {
    app,
    ctx,
    metrics,
    producer,
    seeks,
    low,
    end,
    doc: (view, id) => new CacheStore(redis, `cache:${app.id}:${view}:`).read(key(id)),
    task: () => PartitionTask.acquire(ctx, TOPIC, 0),
    metric: (name, extra = {}) => metricValue(metrics.registry, name, { ...labels, ...extra }),
    position: async () => (await app.state.positions()).get(TOPIC, 0),
  };
}
