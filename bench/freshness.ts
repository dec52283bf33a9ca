/**
 * The freshness scenario: single-row UPDATEs paced at a rate through the real
 * pipeline (PostgreSQL → Debezium → Kafka → cdc-views `customer-cache` view →
 * Redis cache), each change timed from its COMMIT acknowledgement to the
 * first GET of the cache key that shows it, and split in two at the Kafka
 * record's timestamp (CreateTime, stamped by Kafka Connect's producer when it
 * sends the record, on the same machine clock):
 * - capture: COMMIT acknowledged → record stamped (Debezium's share);
 * - processing: record stamped → visible in the cache (cdc-views' share,
 *   including the broker's append and the fetch).
 * The record timestamps are read by an observer consumer of the source topic
 * (its own group), independent of cdc-views.
 */
import { spawn } from 'node:child_process';
import type { Redis } from 'ioredis';
import type { Admin } from 'kafkajs';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { awaitWatermark, dropSamplePipeline, startSamplePipeline } from '../test/support/sample-pipeline.ts';
import { StateStore } from '../src/state/store.ts';
import { procKb } from './child.ts';
import { median } from './stats.ts';

export interface FreshnessOptions {
  id: string;
  redis: Redis;
  admin: Admin;
  brokers: string;
  /** Connector settings over schemas/connectors/shop.json. */
  connector: Record<string, string>;
  /** Row changes per second. */
  rate: number;
  durationSeconds: number;
  runs: number;
  /** The cdc-views command before its arguments, e.g. `[node, 'dist/src/cli/main.js']`. */
  command: string[];
  env: Record<string, string>;
  cwd: string;
  say: (s: string) => void;
}

/** A change issued by the writer: its sequence number and when COMMIT was acknowledged (epoch ms). */
interface Change {
  seq: number;
  committedAt: number;
}

const quantile = (sorted: readonly number[], f: number): number => Number((sorted[Math.min(sorted.length - 1, Math.floor(f * sorted.length))] ?? NaN).toFixed(1));
const sortNum = (xs: readonly number[]): number[] => [...xs].sort((a, b) => a - b);

export async function measureFreshness(o: FreshnessOptions): Promise<Record<string, unknown>> {
  const pid = `bfresh${o.id}`;
  const customers = Math.max(5000, o.rate * 2);
  o.say(`  freshness: sample pipeline ${pid} (${customers} customers), real Debezium, customer-cache view; ${o.rate} changes/s for ${o.durationSeconds} s per run\n`);
  const p = await startSamplePipeline({ id: pid, seedCustomers: customers, seedOrders: 10, connector: o.connector });
  const app = `bench_${o.id}_fresh`;
  const [cmd, ...args] = o.command;
  const child = spawn(cmd!, [...args, 'run', '--app', app, '--topics', p.topics.source, '--topology', 'topologies/customer-cache.ts', '--http-port', '0'], { cwd: o.cwd, env: { ...process.env, ...o.env }, stdio: ['ignore', 'ignore', 'inherit'] });
  let childPeak = 0;
  const childTimer = setInterval(() => (childPeak = Math.max(childPeak, child.pid ? (procKb(child.pid, 'VmHWM') ?? 0) : 0)), 500);
  const store = new StateStore(o.redis, app);
  const runs: Record<string, unknown>[] = [];
  const pool = new pg.Pool({ connectionString: p.connectionString, max: 16 });
  // The observer: record timestamps of the changes, by the sequence number in the new name.
  const stamps = new Map<number, number>();
  const observer = new Kafka({ clientId: `${app}-observer`, brokers: o.brokers.split(','), logLevel: logLevel.NOTHING }).consumer({ groupId: `${app}-observer`, maxWaitTimeInMs: 100 });
  try {
    await awaitWatermark(p, store, 300_000);
    await observer.connect();
    await observer.subscribe({ topics: [`${p.topicPrefix}.public.customers`], fromBeginning: false });
    await observer.run({
      eachMessage: ({ message }) => {
        // The new name in the after image (the before image, when present, holds the previous change's).
        const value = message.value?.toString('utf8') ?? '';
        const m = /"name":"fresh-(\d+)"/.exec(value.slice(Math.max(0, value.indexOf('"after":'))));
        if (m && !stamps.has(Number(m[1]))) stamps.set(Number(m[1]), Number(message.timestamp));
        return Promise.resolve();
      },
    });
    const cachePrefix = `cache:${app}:customer-cache:`;
    for (let run = 1; run <= o.runs; run++) runs.push(await oneRun(o, run, pool, customers, cachePrefix, stamps));
  } finally {
    await observer.disconnect().catch(() => undefined);
    await pool.end();
    clearInterval(childTimer);
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await store.destroy();
    let cursor = '0';
    do {
      const [next, keys] = await o.redis.scan(cursor, 'MATCH', `cache:${app}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await o.redis.unlink(...keys);
    } while (cursor !== '0');
    await o.admin.deleteGroups([app, `${app}-observer`]).catch(() => undefined);
    await o.admin.deleteTopics({ topics: [`cdcv.${app}.dlq`] }).catch(() => undefined);
    await dropSamplePipeline(pid).catch((e: unknown) => o.say(`    warning: dropSamplePipeline: ${String(e)}\n`));
  }
  const m = (k: string): number => median(runs.map((r) => r[k] as number));
  return {
    rate: o.rate,
    durationSeconds: o.durationSeconds,
    connectorOverrides: o.connector,
    pipeline: 'PostgreSQL → Debezium (Kafka Connect, JSON with schemas) → cdc-views customer-cache view → Redis cache',
    clock: 'end to end: from the UPDATE’s COMMIT acknowledgement (autocommit) to the first GET of the cache key that shows it (GET every 5 ms); split at the Kafka record timestamp (CreateTime from Connect’s producer): capture = commit → record, processing = record → visible',
    median: { achievedRate: m('achievedRate'), p50Ms: m('p50Ms'), p99Ms: m('p99Ms'), maxMs: m('maxMs'), captureP50Ms: m('captureP50Ms'), captureP99Ms: m('captureP99Ms'), processingP50Ms: m('processingP50Ms'), processingP99Ms: m('processingP99Ms') },
    cdcViewsPeakRssMiB: Math.round(childPeak / 1024),
    runs,
  };
}

async function oneRun(o: FreshnessOptions, run: number, pool: pg.Pool, customers: number, cachePrefix: string, stamps: Map<number, number>): Promise<Record<string, unknown>> {
  const pending = new Map<number, Change[]>();
  const seen: (Change & { seenAt: number })[] = [];
  let seq = run * 10_000_000;
  let issued = 0;
  let failed = 0;
  const t0 = performance.now();
  let writing = true;
  const inflight = new Set<Promise<void>>();
  // Reader: every 5 ms, GET the cache document of each key with a change not yet seen.
  const reader = (async () => {
    while (writing || pending.size > 0) {
      const ids = [...pending.keys()];
      if (ids.length > 0) {
        const docs = await o.redis.mget(...ids.map((k) => `${cachePrefix}{"id":${k}}`));
        const now = Date.now();
        ids.forEach((k, i) => {
          const shown = Number(/"name":"fresh-(\d+)"/.exec(docs[i] ?? '')?.[1] ?? NaN);
          if (Number.isNaN(shown)) return;
          const rest = pending.get(k)!.filter((c) => {
            if (c.seq > shown) return true;
            seen.push({ ...c, seenAt: now });
            return false;
          });
          if (rest.length === 0) pending.delete(k);
          else pending.set(k, rest);
        });
      }
      if (!writing && performance.now() - t0 > (o.durationSeconds + 30) * 1000) break;
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  // Writer: paced to `rate` single-row autocommit UPDATEs per second; the clock starts when COMMIT is acknowledged.
  while (performance.now() - t0 < o.durationSeconds * 1000) {
    const due = Math.floor(((performance.now() - t0) / 1000) * o.rate);
    while (issued < due) {
      issued += 1;
      seq += 1;
      const s = seq;
      const key = 1 + (issued % customers);
      const q = pool.query('UPDATE public.customers SET name = $1 WHERE id = $2', [`fresh-${s}`, key]).then(
        () => {
          const list = pending.get(key) ?? [];
          list.push({ seq: s, committedAt: Date.now() });
          pending.set(key, list);
        },
        () => void (failed += 1),
      );
      inflight.add(q);
      void q.finally(() => inflight.delete(q));
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  await Promise.all(inflight);
  const writeSecs = (performance.now() - t0) / 1000;
  writing = false;
  await reader;
  // The observer may trail the reader: give it up to 10 s to have every stamp.
  for (let i = 0; i < 100 && seen.some((c) => !stamps.has(c.seq)); i++) await new Promise((r) => setTimeout(r, 100));
  const stamped = seen.filter((c) => stamps.has(c.seq));
  const e = sortNum(seen.map((c) => c.seenAt - c.committedAt));
  const c = sortNum(stamped.map((x) => stamps.get(x.seq)! - x.committedAt));
  const pr = sortNum(stamped.map((x) => x.seenAt - stamps.get(x.seq)!));
  const r = {
    run,
    changes: issued,
    failed,
    achievedRate: Math.round(issued / writeSecs),
    observed: e.length,
    neverSeen: issued - failed - e.length,
    p50Ms: quantile(e, 0.5),
    p99Ms: quantile(e, 0.99),
    maxMs: Number((e[e.length - 1] ?? NaN).toFixed(1)),
    stamped: c.length,
    captureP50Ms: quantile(c, 0.5),
    captureP99Ms: quantile(c, 0.99),
    processingP50Ms: quantile(pr, 0.5),
    processingP99Ms: quantile(pr, 0.99),
  };
  o.say(`    freshness run ${run}: ${JSON.stringify(r)}\n`);
  return r;
}
