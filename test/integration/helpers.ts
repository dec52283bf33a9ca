/**
 * Helpers of the integration tests. Every test makes its own pipeline (database,
 * connector, topics named after a unique id), its own applicationId and Redis
 * prefix, and removes them afterwards; nothing depends on another test's leftovers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { dlqTopic } from '../../src/runtime/dlq.ts';
import pg from 'pg';
import { loadEnv } from '../../src/config.ts';
import { logger } from '../../src/log.ts';
import { dropSamplePipeline, startSamplePipeline, type SamplePipeline, type SamplePipelineOptions } from '../support/sample-pipeline.ts';
import { Application, type ApplicationOptions } from '../../src/runtime/application.ts';
import { StateKeys } from '../../src/state/keys.ts';
import { StateStore } from '../../src/state/store.ts';
import { mismatches, untilConverged, verifyTable, type Comparison } from '../support/verify/compare.ts';

export { untilConverged };

export const cfg = loadEnv();
export const brokers = cfg.CDCV_KAFKA_BROKERS.split(',');

/** A short unique id usable in database, topic and connector names. */
export const uniqueId = (prefix: string): string => `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 8)}`;

export const newRedis = (): Redis => new Redis(cfg.CDCV_REDIS_URL);

/** Starts a sample pipeline and returns it with a cleanup function. */
export async function pipeline(prefix: string, opts: Omit<SamplePipelineOptions, 'id'> = {}): Promise<SamplePipeline & { drop: () => Promise<void> }> {
  const p = await startSamplePipeline({ id: uniqueId(prefix), seedCustomers: 100, seedOrders: 150, ...opts });
  return { ...p, drop: () => dropSamplePipeline(p.id) };
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

/** Resolves when a child process has exited. */
export const exited = (child: ChildProcess): Promise<number | null> =>
  child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((r) => child.once('exit', (code) => r(code)));

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Compares every table of the pipeline with PostgreSQL. */
export async function verifyAll(p: SamplePipeline, store: StateStore): Promise<Map<string, Comparison>> {
  const client = new pg.Client({ connectionString: p.connectionString });
  await client.connect();
  try {
    const out = new Map<string, Comparison>();
    for (const t of p.tables) out.set(t, await verifyTable(client, store, t));
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
  }
  return { total, detail: lines.join('\n') };
}

/**
 * Polls every stored version of the pipeline's tables and records any key
 * whose version went backwards between two reads (invariant 2). Tolerates
 * Redis being down. A Redis restart without persistence empties the state: the
 * watcher then starts a new epoch (the server's run_id changed), as the old
 * versions no longer exist anywhere; it counts those resets.
 */
export class VersionWatcher {
  readonly regressions: string[] = [];
  reads = 0;
  failedReads = 0;
  redisRestarts = 0;
  private readonly seen = new Map<string, string>();
  private runId?: string;
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly redis: Redis,
    private readonly app: string,
    private readonly tables: readonly string[],
  ) {}

  start(intervalMs = 100): void {
    const keys = new StateKeys(this.app);
    const store = new StateStore(this.redis, this.app);
    const poll = async (): Promise<void> => {
      const info = await this.redis.info('server');
      const runId = /run_id:(\w+)/.exec(info)?.[1];
      if (this.runId !== undefined && runId !== this.runId) {
        this.redisRestarts += 1;
        this.seen.clear();
      }
      this.runId = runId;
      for (const t of this.tables) {
        const all = await this.redis.hgetall(keys.table(await store.resolveTable(t)));
        for (const [k, v] of Object.entries(all)) {
          const version = v.slice(0, v.indexOf('\n'));
          const id = `${t} ${k}`;
          const before = this.seen.get(id);
          if (before !== undefined && version < before) this.regressions.push(`${id}: ${before} → ${version}`);
          this.seen.set(id, version);
        }
      }
      this.reads += 1;
    };
    this.timer = setInterval(() => {
      this.running ??= poll()
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
