/**
 * Helpers of the integration tests. Every test makes its own pipeline (database,
 * connector, topics named after a unique id), its own applicationId and Redis
 * prefix, and removes them afterwards; nothing depends on another test's leftovers.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { dlqTopic } from '../../src/runtime/dlq.ts';
import pg from 'pg';
import { loadEnv } from '../../src/config.ts';
import { logger, type Logger } from '../../src/log.ts';
import { dropSamplePipeline, startSamplePipeline, type SamplePipeline, type SamplePipelineOptions } from '../support/sample-pipeline.ts';
import { Application, type ApplicationOptions } from '../../src/runtime/application.ts';
import { createKafka } from '../../src/runtime/kafka-client.ts';
import { StateKeys } from '../../src/state/keys.ts';
import { StateStore } from '../../src/state/store.ts';
import { mismatches, readCacheDocs, untilConverged, verifyTable, type Comparison } from '../support/verify/compare.ts';

export { untilConverged };

export const cfg = loadEnv();
export const brokers = cfg.CDCV_KAFKA_BROKERS.split(',');

/** A short unique id usable in database, topic and connector names. */
export const uniqueId = (prefix: string): string => `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 8)}`;

export const newRedis = (): Redis => new Redis(cfg.CDCV_REDIS_URL);

/** Starts a sample pipeline and returns it with a cleanup function. */
export async function pipeline(prefix: string, opts: Omit<SamplePipelineOptions, 'id'> = {}): Promise<SamplePipeline & { drop: () => Promise<void> }> {
  const p = await startSamplePipeline({ id: uniqueId(prefix), seedCustomers: 100, seedOrders: 150, ...opts });
  return { ...p, drop: () => dropSamplePipeline(p.id, p.connectUrl) };
}

/** An in-process processor with test defaults. */
export function processor(opts: Pick<ApplicationOptions, 'applicationId' | 'topics' | 'redis'> & Partial<ApplicationOptions>): Application {
  return new Application({ brokers, logger: logger.child({ test: true }, { level: 'warn' }), ...opts });
}

/** Runs the CLI's `run` command in a child process (so it can be killed with SIGKILL). */
export function spawnProcessor(app: string, topics: RegExp, extra: string[] = []): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', '--app', app, '--topics', topics.source, '--http-port', '0', ...extra], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, CDCV_LOG_LEVEL: 'warn' },
  });
}

/** Resolves when a child process has exited: its exit code, or null when a signal ended it (even before this call). */
export const exited = (child: ChildProcess): Promise<number | null> =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve(child.exitCode) : new Promise((r) => child.once('exit', (code) => r(code)));

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Positions stored with the state have reached the end offsets of every
 * partition of the pipeline's topics (read now).
 */
export async function waitForLagZero(store: StateStore, topics: RegExp, deadline: number): Promise<void> {
  const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const names = (await admin.listTopics()).filter((t) => topics.test(t));
    const ends: { topic: string; partition: number; end: bigint }[] = [];
    for (const topic of names) for (const o of await admin.fetchTopicOffsets(topic)) ends.push({ topic, partition: o.partition, end: BigInt(o.high) });
    for (;;) {
      const positions = await store.positions();
      const behind = ends.filter((e) => e.end > 0n && (positions.get(e.topic, e.partition) ?? -1n) < e.end);
      if (behind.length === 0) return;
      if (Date.now() > deadline) throw new Error(`not caught up: ${behind.map((e) => `${e.topic}:${e.partition} at ${positions.get(e.topic, e.partition) ?? 'none'} of ${e.end}`).join(', ')}`);
      await sleep(250);
    }
  } finally {
    await admin.disconnect();
  }
}

/** Compares every table of the pipeline with PostgreSQL. */
export async function verifyAll(p: SamplePipeline, store: StateStore): Promise<Map<string, Comparison>> {
  const client = new pg.Client({ connectionString: p.connectionString });
  await client.connect();
  try {
    const out = new Map<string, Comparison>();
    for (const t of p.tables) out.set(t, await verifyTable(client, store, t, `${p.topicPrefix}.${t}`));
    return out;
  } finally {
    await client.end();
  }
}

/** Sum of mismatches over tables, with the first few keys for a readable failure. */
export function describeMismatches(results: Map<string, Comparison>): { total: number; detail: string } {
  let total = 0;
  const lines: string[] = [];
  for (const [t, c] of results) {
    total += mismatches(c);
    if (mismatches(c) > 0) lines.push(`${t}: missing ${c.missing.slice(0, 3).join(' ')} extra ${c.extra.slice(0, 3).join(' ')} different ${c.different.slice(0, 3).join(' ')}`);
    if (c.firstDifference) lines.push(`  ${c.firstDifference.key}: expected ${JSON.stringify(c.firstDifference.expected).slice(0, 300)}, got ${JSON.stringify(c.firstDifference.actual).slice(0, 300)}`);
  }
  return { total, detail: lines.join('\n') };
}

/** The state table ids (topics) of a pipeline's tables: table state is kept per topic. */
export const stateTables = (p: SamplePipeline): string[] => p.tables.map((t) => `${p.topicPrefix}.${t}`);

/** The row of a stored table-state value, read by its content: the last line is the row JSON (anything else is a delete marker). */
function storedRowContent(value: string): Record<string, unknown> | null {
  const last = value.slice(value.lastIndexOf('\n') + 1);
  return last.startsWith('{') ? (JSON.parse(last) as Record<string, unknown>) : null;
}

/**
 * Watches row CONTENT for invariant 2 (no regression) without trusting
 * cdc-views' own versions: polls every row of the given table states and every
 * document under the given cache prefixes, reads the `rev` the workload keeps
 * per key (schemas/shop.sql: it only grows) and records any key whose rev went
 * down between two reads. Rows and documents without an integer `rev` are
 * ignored; a deleted row keeps its last rev in the watcher, so a key brought
 * back older than it was is caught too. Tolerates Redis being down (failed
 * reads are counted). A Redis that comes back empty, or another server after
 * a failover (the server's run_id or replication id changed), starts a new
 * epoch: what was seen before no longer exists there; those resets are
 * counted (`redisRestarts`).
 */
/**
 * Fewest reads a {@link RevWatcher} must have made for a test to count it as
 * having watched. A fixed count, not a rate: one poll reads every watched
 * table and cache document, and under CI load (a 2-core machine shared with the
 * stack) a poll took ~600 ms, so a 7 s test got 11 reads where an idle machine
 * gives 40. Tests pair it with `increases > 0` (revs seen to grow between two
 * reads) where their data changes while watched.
 */
export const MIN_WATCHER_READS = 5;

export class RevWatcher {
  readonly regressions: string[] = [];
  reads = 0;
  failedReads = 0;
  redisRestarts = 0;
  /** Times a key's rev was seen to grow between two reads: the watcher really saw the workload. */
  increases = 0;
  /** Reads discarded because the server changed while they ran. */
  tornReads = 0;
  private readonly seen = new Map<string, number>();
  private epochId?: string;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  /**
   * @param sources `tables`: state table ids (topics, see {@link stateTables}); `cachePrefixes`: resolved cache sink prefixes
   */
  constructor(
    private readonly redis: Redis,
    private readonly app: string,
    private readonly sources: { tables?: readonly string[]; cachePrefixes?: readonly string[] },
  ) {}

  private see(id: string, doc: Record<string, unknown> | null): void {
    const rev = doc?.rev;
    if (typeof rev !== 'number' || !Number.isInteger(rev)) return;
    const before = this.seen.get(id);
    if (before !== undefined && rev < before) this.regressions.push(`${id}: rev ${before} → ${rev}`);
    if (before !== undefined && rev > before) this.increases += 1;
    this.seen.set(id, rev);
  }

  /**
   * Which data the server holds: its run_id (a restart) and replication id (a
   * failover promotes a replica under a new one; a demoted primary takes the
   * new primary's when it resyncs). Read around every poll.
   */
  private async epoch(): Promise<string> {
    const info = await this.redis.info();
    return `${/run_id:(\w+)/.exec(info)?.[1]}/${/master_replid:(\w+)/.exec(info)?.[1]}`;
  }

  /**
   * One read of everything watched. A read that spans a change of server
   * (a Sentinel client switching over) is discarded, as it mixes two servers.
   */
  async poll(): Promise<void> {
    const before = await this.epoch();
    const read: [string, Record<string, unknown> | null][] = [];
    const keys = new StateKeys(this.app);
    for (const t of this.sources.tables ?? []) {
      for (const [k, v] of Object.entries(await this.redis.hgetall(keys.table(t)))) read.push([`${t} ${k}`, storedRowContent(v)]);
    }
    for (const prefix of this.sources.cachePrefixes ?? []) {
      for (const [k, doc] of await readCacheDocs(this.redis, prefix)) read.push([`${prefix}${k}`, doc]);
    }
    if ((await this.epoch()) !== before) {
      this.tornReads += 1;
      return;
    }
    if (this.epochId !== undefined && before !== this.epochId) {
      this.redisRestarts += 1;
      this.seen.clear();
    }
    this.epochId = before;
    for (const [id, doc] of read) this.see(id, doc);
    this.reads += 1;
  }

  start(intervalMs = 100): void {
    this.timer = setInterval(() => {
      this.running ??= this.poll()
        .catch(() => void (this.failedReads += 1))
        .finally(() => (this.running = undefined));
    }, intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}

/** Reads an application's DLQ from the beginning until `count` records arrived (or 10 s passed). */
export async function readDeadLetters(app: string, count: number): Promise<KafkaMessage[]> {
  const consumer = new Kafka({ brokers, logLevel: logLevel.NOTHING }).consumer({ groupId: `${app}-dlq-reader-${randomUUID().slice(0, 8)}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: dlqTopic(app), fromBeginning: true });
    const letters: KafkaMessage[] = [];
    await consumer.run({
      eachMessage: ({ message }) => {
        letters.push(message);
        return Promise.resolve();
      },
    });
    for (let i = 0; i < 100 && letters.length < count; i++) await sleep(100);
    return letters;
  } finally {
    await consumer.disconnect();
  }
}

/** A header of a Kafka message as a string ('' when absent). */
export const header = (m: KafkaMessage, name: string): string => m.headers?.[name]?.toString() ?? '';

export { StateStore };

/**
 * Every record of a one-partition topic (a DLQ) up to its end offset at the
 * call, read with a consumer group of its own.
 * @param timeoutMs longest wait for the last record, ms @defaultValue 90000
 */
export async function readWholeTopic(topic: string, kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING }), timeoutMs = 90_000): Promise<KafkaMessage[]> {
  const admin = kafka.admin();
  await admin.connect();
  const end = BigInt((await admin.fetchTopicOffsets(topic)).find((o) => o.partition === 0)!.high);
  await admin.disconnect();
  const out: KafkaMessage[] = [];
  if (end === 0n) return out;
  const consumer = kafka.consumer({ groupId: `dlq-check-${randomUUID().slice(0, 8)}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    let last = -1n;
    await consumer.run({
      eachMessage: ({ message }) => {
        out.push(message);
        last = BigInt(message.offset);
        return Promise.resolve();
      },
    });
    const deadline = Date.now() + timeoutMs;
    while (last < end - 1n && Date.now() < deadline) await sleep(100);
    assert.ok(last >= end - 1n, `read ${topic} up to offset ${last} of ${end}`);
    return out.filter((m) => BigInt(m.offset) < end);
  } finally {
    await consumer.disconnect();
  }
}

/**
 * The application's own Kafka client, watched: every consumer it creates
 * reports its CRASH events into `crashes` (`<error name>: <message> (restart <bool>)`).
 */
export function watchedKafka(applicationId: string, log: Logger): { kafka: ReturnType<typeof createKafka>; crashes: string[] } {
  const kafka = createKafka(applicationId, brokers, log);
  const crashes: string[] = [];
  const consumerOf = kafka.consumer.bind(kafka);
  kafka.consumer = (config) => {
    const consumer = consumerOf(config);
    consumer.on(consumer.events.CRASH, (e) => crashes.push(`${e.payload.error.name}: ${e.payload.error.message} (restart ${String(e.payload.restart)})`));
    return consumer;
  };
  return { kafka, crashes };
}
