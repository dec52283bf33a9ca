/**
 * Shared by the version tests (test/integration/versions): the test-local
 * topology's application, comparisons of every table and view with SQL,
 * reading CDC topics with a plain kafkajs consumer (independently of
 * cdc-views' decoders), clean-up and duration reports.
 */
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import type { Application, ApplicationOptions } from '../../../src/runtime/application.ts';
import { resolveSinkPlan } from '../../../src/sinks/index.ts';
import { unlinkMatching } from '../../../src/state/scan.ts';
import { StateStore } from '../../../src/state/store.ts';
import type { TopologyPlan } from '../../../src/topology/plan.ts';
import { awaitWatermark, type SamplePipeline, type SamplePipelineOptions } from '../../support/sample-pipeline.ts';
import { mismatches, verifyCacheView, verifySearchView, verifyTable, type Comparison } from '../../support/verify/compare.ts';
import { ConnectWorker, type ConnectWorkerOptions } from '../../support/connect-worker.ts';
import { brokers, cfg, describeMismatches, newRedis, pipeline, processor, MIN_WATCHER_READS, RevWatcher, sleep, stateTables, uniqueId, untilConverged, waitForLagZero } from '../helpers.ts';
import shopViews from './shop-views.ts';

export { shopViews };

/** The resolved cache prefixes of a topology's views for an application. */
export function cachePrefixes(app: string, topology: TopologyPlan = shopViews): string[] {
  return topology.views.flatMap((v) => v.sinks.map((s) => resolveSinkPlan(s, app))).flatMap((s) => (s.kind === 'cache' ? [s.prefix] : []));
}

/** Where a view of `topology` writes for an application: its cache prefix and search index ('' when it has none). */
export function sinksOf(app: string, view: string, topology: TopologyPlan = shopViews): { cache: string; search: string } {
  const plan = topology.views.find((v) => v.name === view);
  if (!plan) throw new Error(`no view ${view} in topology ${topology.name}`);
  const out = { cache: '', search: '' };
  for (const s of plan.sinks.map((x) => resolveSinkPlan(x, app))) {
    if (s.kind === 'cache') out.cache = s.prefix;
    else out.search = s.index;
  }
  return out;
}

/** An in-process application of the shop-views topology over every table of the pipeline (tables it has no view of are mirrored). */
export function viewsApp(p: SamplePipeline, app: string, redis: Redis, extra: Partial<ApplicationOptions> = {}): Application {
  return processor({ applicationId: app, redis, topics: p.topics, topology: shopViews, ...extra });
}

/**
 * Compares every table of the pipeline (its state, per topic) and every sink
 * of every view of `topology` with PostgreSQL: `SELECT *` and each view's SQL.
 */
export async function verifyTablesAndViews(p: SamplePipeline, store: StateStore, redis: Redis, app: string, topology: TopologyPlan | undefined = shopViews): Promise<{ total: number; detail: string; results: Map<string, Comparison> }> {
  const client = new pg.Client({ connectionString: p.connectionString });
  await client.connect();
  try {
    const results = new Map<string, Comparison>();
    for (const t of p.tables) results.set(`table ${t}`, await verifyTable(client, store, t, `${p.topicPrefix}.${t}`));
    for (const view of topology?.views ?? []) {
      for (const sink of view.sinks) {
        const plan = resolveSinkPlan(sink, app);
        if (plan.kind === 'cache') results.set(`view ${view.name} (cache)`, await verifyCacheView(client, redis, view, plan.prefix));
        else results.set(`view ${view.name} (search)`, await verifySearchView(client, cfg.CDCV_OPENSEARCH_URL, view, plan.index));
      }
    }
    return { ...describeMismatches(results), results };
  } finally {
    await client.end();
  }
}

/** The outcome of {@link waitConverged}. */
export interface Convergence {
  total: number;
  detail: string;
  results: Map<string, Comparison>;
  /** Seconds from the call until converged (or until the deadline). */
  seconds: number;
}

/**
 * Waits until the source's changes are applied (a fresh watermark, then lag 0
 * on every partition) and every table and view equals its SQL, or the
 * deadline passes, and returns the last comparison (not asserted: tests first
 * check that their fault happened, then {@link assertConvergence}).
 * @param timeoutMs @defaultValue 60000
 */
export async function waitConverged(p: SamplePipeline, store: StateStore, redis: Redis, app: string, timeoutMs = 60_000, topology: TopologyPlan | undefined = shopViews): Promise<Convergence> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  try {
    await awaitWatermark(p, store, timeoutMs);
    const last = await untilConverged(async () => {
      await waitForLagZero(store, p.topics, deadline);
      return verifyTablesAndViews(p, store, redis, app, topology);
    }, deadline);
    return { ...last, seconds: (Date.now() - started) / 1000 };
  } catch (err) {
    // Not even caught up: report it as a mismatch with the reason.
    return { total: -1, detail: String(err), results: new Map(), seconds: (Date.now() - started) / 1000 };
  }
}

/** Asserts that {@link waitConverged} found every table and view equal to its SQL (and that there were rows to compare). */
export function assertConvergence(c: Convergence): void {
  assert.equal(c.total, 0, `tables and views differ from their SQL after ${c.seconds.toFixed(0)} s:\n${c.detail}`);
  for (const [name, r] of c.results) if (!name.startsWith('table public.cdcv_watermark')) assert.ok(r.expected > 0, `${name}: compared ${r.expected} rows`);
}

/** {@link waitConverged}, then {@link assertConvergence}. */
export async function assertConverged(p: SamplePipeline, store: StateStore, redis: Redis, app: string, timeoutMs?: number, topology: TopologyPlan | undefined = shopViews): Promise<Map<string, Comparison>> {
  const c = await waitConverged(p, store, redis, app, timeoutMs, topology);
  assertConvergence(c);
  return c.results;
}

/** Asserts that the watcher really watched (reads, and revs seen to grow) and saw no row or document go back. */
export function assertNoRegression(t: TestContext, watcher: RevWatcher): void {
  t.diagnostic(`watcher: ${watcher.reads} reads, ${watcher.increases} rev increases, ${watcher.redisRestarts} Redis epochs, ${watcher.regressions.length} regressions: ${watcher.regressions.slice(0, 5).join('; ')}`);
  assert.ok(watcher.reads >= MIN_WATCHER_READS && watcher.increases > 0, `the watcher saw the changes (${watcher.reads} reads, ${watcher.increases} increases)`);
  assert.deepEqual(watcher.regressions.slice(0, 10), [], "no row's or document's rev went back");
}

/** Sum of compared rows, for reports. */
export const comparedRows = (c: Convergence): number => [...c.results.values()].reduce((n, r) => n + r.expected, 0);

/** One record of a CDC topic as Kafka holds it (key and value as text). */
export interface TopicRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
}

/**
 * Reads every record of the topics matching `topics`, from the beginning to
 * the end offsets they have now, with a plain kafkajs consumer of its own group
 * (removed afterwards).
 * @param timeoutMs @defaultValue 60000
 */
export async function readTopics(topics: RegExp, timeoutMs = 60_000): Promise<TopicRecord[]> {
  const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const groupId = `cdcv-test-reader-${randomUUID().slice(0, 8)}`;
  try {
    const names = (await admin.listTopics()).filter((t) => topics.test(t));
    const ends = new Map<string, bigint>();
    for (const topic of names) for (const o of await admin.fetchTopicOffsets(topic)) if (BigInt(o.high) > BigInt(o.low)) ends.set(`${topic}:${o.partition}`, BigInt(o.high));
    const records: TopicRecord[] = [];
    if (ends.size === 0) return records;
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 200 });
    await consumer.connect();
    try {
      const done = new Set<string>();
      await consumer.subscribe({ topics: names, fromBeginning: true });
      await consumer.run({
        eachMessage: ({ topic, partition, message }) => {
          const tp = `${topic}:${partition}`;
          const end = ends.get(tp);
          if (end !== undefined && BigInt(message.offset) < end) {
            records.push({ topic, partition, offset: message.offset, key: message.key?.toString() ?? null, value: message.value?.toString() ?? null });
            if (BigInt(message.offset) + 1n >= end) done.add(tp);
          }
          return Promise.resolve();
        },
      });
      const deadline = Date.now() + timeoutMs;
      while (done.size < ends.size) {
        if (Date.now() > deadline) throw new Error(`read only ${done.size} of ${ends.size} partitions of ${topics.source} to their end within ${timeoutMs} ms`);
        await sleep(100);
      }
      return records;
    } finally {
      await consumer.disconnect();
    }
  } finally {
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
}

/** The Debezium envelope of a record value (with or without the JSON converter's schema wrapper); null for a tombstone. */
export function envelope(value: string | null): { op?: string; before?: Record<string, unknown> | null; after?: Record<string, unknown> | null; source?: Record<string, unknown> } | null {
  if (value === null) return null;
  const parsed = JSON.parse(value) as Record<string, unknown>;
  return (parsed.payload !== undefined && parsed.schema !== undefined ? parsed.payload : parsed);
}

/**
 * Removes what an application left: its Redis keys (state, bookkeeping, the
 * cache documents of `topology`), its search indexes and its consumer group.
 */
export async function dropApp(redis: Redis, app: string, topology: TopologyPlan | undefined = shopViews): Promise<void> {
  await new StateStore(redis, app).destroy().catch(() => undefined);
  for (const prefix of topology ? cachePrefixes(app, topology) : []) await unlinkMatching(redis, `${prefix}*`);
  await fetch(`${cfg.CDCV_OPENSEARCH_URL}/${app}-*`, { method: 'DELETE' }).catch(() => undefined);
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect().then(() => admin.deleteGroups([app])).catch(() => undefined).finally(() => admin.disconnect());
}

/** What {@link scenario} gives a test body. */
export interface Scenario {
  p: SamplePipeline;
  app: string;
  redis: Redis;
  /** The latest application {@link Scenario.startApp} started. */
  proc: Application;
  /** The application's table state (readable while it is stopped). */
  store: StateStore;
  /** Watches table state and the cache documents of shop-views for a `rev` going back; started with the application. */
  watcher: RevWatcher;
  /** The test's own Connect worker, when asked for. */
  worker?: ConnectWorker;
  /** Adds a timed diagnostic. */
  lap: (what: string) => void;
  /** Stops the running application (if any) and starts a new one of the same applicationId with these options. */
  startApp: (extra?: Partial<ApplicationOptions>) => Promise<Application>;
  /** Stops the running application (once; an application is never stopped twice). */
  stopApp: () => Promise<void>;
}

/**
 * Runs a version test on its own pipeline (on a Connect worker of its own with
 * `worker`) with a shop-views application and a {@link RevWatcher} started,
 * and removes everything afterwards (watcher, application and its stores,
 * pipeline, worker), reporting the duration.
 */
export async function scenario(
  t: TestContext,
  opts: { name: string; worker?: ConnectWorkerOptions; pipeline?: Omit<SamplePipelineOptions, 'id'>; app?: Partial<ApplicationOptions> },
  body: (s: Scenario) => Promise<void>,
): Promise<void> {
  const started = Date.now();
  const lap = laps(t, started);
  const redis = newRedis();
  const app = uniqueId(opts.name);
  const worker = opts.worker ? await ConnectWorker.start(opts.worker) : undefined;
  let p: (SamplePipeline & { drop: () => Promise<void> }) | undefined;
  let proc: Application | undefined;
  let running = false;
  let watcher: RevWatcher | undefined;
  const stopApp = async (): Promise<void> => {
    if (!running) return;
    running = false;
    await proc?.stop();
  };
  try {
    if (worker) lap(`Connect worker ${worker.name} started`);
    p = await pipeline(opts.name, { ...opts.pipeline, ...(worker ? { connectUrl: worker.url } : {}) });
    lap('pipeline snapshot done');
    const pipe = p;
    const startApp = async (extra: Partial<ApplicationOptions> = {}): Promise<Application> => {
      await stopApp();
      proc = viewsApp(pipe, app, redis, { ...opts.app, ...extra });
      running = true;
      await proc.start();
      return proc;
    };
    await startApp();
    watcher = new RevWatcher(redis, app, { tables: stateTables(pipe), cachePrefixes: cachePrefixes(app) });
    watcher.start(100);
    await body({
      p: pipe, app, redis, watcher, lap, startApp, stopApp,
      store: new StateStore(redis, app),
      get proc(): Application {
        return proc!;
      },
      ...(worker ? { worker } : {}),
    });
  } finally {
    await watcher?.stop();
    await stopApp().catch(() => undefined);
    await dropApp(redis, app);
    await p?.drop().catch((err: unknown) => t.diagnostic(`drop: ${String(err)}`));
    await worker?.stop();
    redis.disconnect();
    reportDuration(t, started);
  }
}

/**
 * A phase logger: `lap('snapshot done')` prints the seconds since `started`
 * at once (so a test that hangs still shows how far it got) and adds it to
 * the test's diagnostics.
 */
export function laps(t: TestContext, started = Date.now()): (what: string) => void {
  return (what) => {
    const line = `${((Date.now() - started) / 1000).toFixed(1)} s: ${what}`;
    console.log(`[${t.name.slice(0, 40)}] ${line}`);
    t.diagnostic(line);
  };
}

/** Reports how long a test took (test diagnostics and a `VERSIONS-DURATION` line for CI logs). */
export function reportDuration(t: TestContext, started: number): void {
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  t.diagnostic(`duration ${seconds} s`);
  console.log(`VERSIONS-DURATION ${JSON.stringify({ test: t.name, seconds })}`);
}

export { mismatches };
