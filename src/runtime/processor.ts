/**
 * The consumer-group runner of one application (applicationId = Kafka group id).
 *
 * Per chunk of one partition's fetched batch (at most `maxBatchRecords`), in
 * this order:
 *  1. decode records; undecodable ones go to the DLQ (acknowledged first);
 *  2. compact: keep only the newest event per key;
 *  3. apply the writes and the partition's new position in one atomic Redis
 *     step, version-guarded and fenced by the partition's owner epoch;
 *  4. render the views of changed keys and write their sinks (see views.ts);
 *  5. resolve and commit the Kafka offset (for standard lag tooling;
 *     correctness rests on the positions stored in Redis, not on it).
 * Partitions are processed concurrently, each strictly in offset order.
 *
 * Nothing is buffered across chunks: when a rebalance revokes a partition,
 * every acknowledged chunk already has its state, sink writes and position
 * stored, so there is nothing to flush; a chunk still in flight on a revoked
 * instance is refused by the owner-epoch fence (FencedError → rejoin).
 */
import { randomUUID } from 'node:crypto';
import { Kafka, Partitioners, logLevel, type Admin, type Consumer, type EachBatchPayload, type KafkaMessage, type Producer } from 'kafkajs';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { autoDecoder } from '../cdc/avro.ts';
import type { RecordDecoder } from '../cdc/debezium-json.ts';
import type { ChangeEvent, DecodedRecord } from '../cdc/types.ts';
import { CdcViewsError, DecodeError, DecodeErrorCode, FencedError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { StateOp, createMetrics, errorCode, measure, type Metrics } from '../metrics/catalogue.ts';
import type { HealthSource, Readiness } from '../metrics/server.ts';
import { retry } from '../retry.ts';
import { StateKeys } from '../state/keys.ts';
import { StateStore, type ApplyResult, type StateWrite } from '../state/store.ts';
import { createSink } from '../sinks/index.ts';
import type { DocumentsRejectedError, Sink, SinkWrite } from '../sinks/sink.ts';
import { checkTopologyTopics } from '../topology/dsl.ts';
import type { TopologyPlan } from '../topology/plan.ts';
import { DeadLetterQueue, type DeadLetter } from './dlq.ts';
import { ViewEngine, type TableChange } from './views.ts';

/** Options of a {@link Processor}. */
export interface ProcessorOptions {
  /** Names the application: Kafka group id and Redis key prefix. */
  applicationId: string;
  /** Kafka bootstrap servers. */
  brokers: string[];
  redis: Redis;
  /** Topics to consume: a regex matched against the broker's topic list at start. */
  topics: RegExp;
  /** The topology whose views are rendered from the tables. @defaultValue none: tables only (mirror) */
  topology?: TopologyPlan;
  /** Confluent-compatible schema registry for Avro records. @defaultValue `http://localhost:8081/apis/ccompat/v7` */
  registryUrl?: string;
  /** Search engine URL for search-index sinks. @defaultValue `http://localhost:9200` */
  searchUrl?: string;
  logger: Logger;
  /**
   * Record decoder. @defaultValue per record: Confluent-framed Avro (magic byte 0) through the schema
   * registry at `registryUrl`, anything else as Debezium JSON (with or without schemas)
   */
  decoder?: RecordDecoder;
  /**
   * Metric handles (src/metrics/catalogue.ts), on the registry that `/metrics` serves.
   * @defaultValue a private registry without the process metrics
   */
  metrics?: Metrics;
  /** Partitions processed at the same time. @defaultValue 3 */
  partitionsConsumedConcurrently?: number;
  /** Upper bound of bytes fetched per partition per request. @defaultValue 1048576 (1 MiB) */
  maxBytesPerPartition?: number;
  /** Upper bound of bytes of one fetch response over all partitions. @defaultValue 10485760 (10 MiB) */
  maxBytes?: number;
  /**
   * Records decoded, applied and rendered at a time: a fetched batch is split
   * into chunks of this size, each stored with its position and followed by a
   * heartbeat. Bounds the decoded objects held per partition. @defaultValue 2000
   */
  maxBatchRecords?: number;
}

/** Counters since start, in records. */
export interface ProcessorCounts {
  consumed: number;
  applied: number;
  stale: number;
  tombstones: number;
  dlq: number;
  batches: number;
}

interface Ownership {
  epoch: number;
  /** Next offset to process, as stored with the state; null before the first batch stored one. */
  position: bigint | null;
  /** True once this instance stored a position itself (the state-loss watch only looks at these). */
  stored: boolean;
}

/** A compacted write and the source commit time of its event (null for snapshot reads). */
interface PendingWrite {
  write: StateWrite;
  tsMs: number | null;
}

const GAP_SEEK = Symbol('gap');

/**
 * Makes KafkaJS rejoin the group: its runner rejoins on errors of these types
 * (`isRebalancing` in kafkajs/src/errors.js), as Kafka Streams rejoins on
 * TaskMigratedException. Thrown after this instance was fenced out of a partition.
 */
class RejoinGroupError extends CdcViewsError {
  readonly type = 'REBALANCE_IN_PROGRESS';
  constructor(message: string, cause: unknown) {
    super('GROUP_REJOIN', message, { cause, retriable: true });
  }
}

/** True for errors after which KafkaJS may restart the consumer (transient ones); a bug stops it. */
function restartable(err: unknown): boolean {
  let e: unknown = err;
  while (e instanceof Error && e.cause !== undefined && e.name === 'KafkaJSNumberOfRetriesExceeded') e = e.cause;
  if (e instanceof CdcViewsError) return e.retriable || e instanceof FencedError;
  if (!(e instanceof Error)) return false;
  if (e.name.startsWith('KafkaJS')) return true;
  // ioredis while Redis is down or restarting.
  return e.name === 'MaxRetriesPerRequestError' || /ECONNREFUSED|ECONNRESET|Connection is closed|LOADING|READONLY/.test(e.message);
}

export class Processor implements HealthSource {
  readonly store: StateStore;
  readonly counts: ProcessorCounts = { consumed: 0, applied: 0, stale: 0, tombstones: 0, dlq: 0, batches: 0 };
  readonly metrics: Metrics;
  private readonly kafka: Kafka;
  private readonly views: ViewEngine;
  private readonly decoder: RecordDecoder;
  private readonly sinks: Sink[] = [];
  private readonly log: Logger;
  private readonly app: { application_id: string };
  private consumer?: Consumer;
  private producer?: Producer;
  private admin?: Admin;
  private dlq?: DeadLetterQueue;
  private readonly owned = new Map<string, Ownership>();
  /** Partitions assigned at the last group join, per topic. */
  private assignment = new Map<string, number[]>();
  private topicList: string[] = [];
  private crashed?: Error;
  private running = false;
  private readonly stopping = new AbortController();
  /** Chunks being processed (state write, then renders and sink writes). */
  private inFlight = 0;
  private stateWatch?: NodeJS.Timeout;

  constructor(private readonly opts: ProcessorOptions) {
    this.kafka = new Kafka({
      clientId: `cdc-views-${opts.applicationId}`,
      brokers: opts.brokers,
      logLevel: logLevel.WARN,
      logCreator: () => (entry) => {
        if (entry.level <= logLevel.WARN) this.log.warn({ kafkajs: entry.namespace }, entry.log.message);
      },
    });
    this.store = new StateStore(opts.redis, opts.applicationId);
    this.log = opts.logger.child({ applicationId: opts.applicationId });
    this.metrics = opts.metrics ?? createMetrics(new Registry(), { defaultMetrics: false });
    this.app = { application_id: opts.applicationId };
    const sinksByView = new Map<string, Sink[]>();
    for (const view of opts.topology?.views ?? []) {
      const ctx = { applicationId: opts.applicationId, redis: opts.redis, searchUrl: opts.searchUrl ?? 'http://localhost:9200' };
      const list = view.sinks.map((plan) => createSink(plan, ctx));
      sinksByView.set(view.name, list);
      this.sinks.push(...list);
    }
    this.decoder = opts.decoder ?? autoDecoder({ registryUrl: opts.registryUrl ?? 'http://localhost:8081/apis/ccompat/v7' });
    this.views = new ViewEngine(opts.redis, opts.applicationId, opts.topology, sinksByView, this.log, this.metrics, (view, err, docs) => this.deadLetterDocuments(view, err, docs));
  }

  /** Topics matched at start. */
  get topics(): readonly string[] {
    return this.topicList;
  }

  /** The error that stopped the consumer for good (not restarted), if any. */
  get failure(): Error | undefined {
    return this.crashed;
  }

  /** Liveness (/healthz): the consumer runs and has not crashed for good. */
  live(): boolean {
    return this.running && !this.crashed;
  }

  /**
   * Readiness (/readyz): partitions assigned at the last group join and their
   * total lag (end offset − position stored with the state). Sets the lag gauge.
   */
  async readiness(): Promise<Readiness> {
    let assigned = 0;
    for (const parts of this.assignment.values()) assigned += parts.length;
    const mine = new Set([...this.assignment].flatMap(([t, ps]) => ps.map((p) => StateKeys.partitionField(t, p))));
    let lag = 0n;
    for (const l of await this.lag([...this.assignment.keys()])) {
      if (!mine.has(StateKeys.partitionField(l.topic, l.partition))) continue;
      lag += l.lag;
    }
    return { assigned, lag: Number(lag) };
  }

  /**
   * Connects, renders views left dirty by an earlier crash, joins the group and
   * starts consuming. Resolves once the consumer is running.
   * @throws {CdcViewsError} CONFIG_NO_TOPICS when no topic matches.
   */
  async start(): Promise<void> {
    const { applicationId } = this.opts;
    this.admin = this.kafka.admin();
    await this.admin.connect();
    const existing = await this.admin.listTopics();
    this.topicList = existing.filter((t) => this.opts.topics.test(t)).sort();
    if (this.topicList.length === 0) {
      throw new CdcViewsError('CONFIG_NO_TOPICS', `no topic matches ${String(this.opts.topics)}; is the connector registered and has it written any change?`);
    }
    this.checkTables();
    this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    await this.producer.connect();
    this.dlq = new DeadLetterQueue(this.producer, applicationId);
    if (!existing.includes(this.dlq.topic)) await this.admin.createTopics({ topics: [{ topic: this.dlq.topic, numPartitions: 1 }], waitForLeaders: true });

    for (const sink of this.sinks) await sink.init();
    await this.views.drain();

    const consumer = this.kafka.consumer({
      groupId: applicationId,
      // The in-flight budget: at most maxBytes fetched at once (maxBytesPerPartition each), processed
      // by partitionsConsumedConcurrently workers in chunks of maxBatchRecords decoded records.
      maxBytesPerPartition: this.opts.maxBytesPerPartition ?? 1_048_576,
      maxBytes: this.opts.maxBytes ?? 10_485_760,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      retry: { retries: 10, restartOnFailure: (e) => Promise.resolve(restartable(e)) },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      // Eager rebalancing: every join is a fresh assignment; ownership is re-acquired lazily per partition.
      this.owned.clear();
      const before = this.assignment;
      this.assignment = new Map(Object.entries(e.payload.memberAssignment).map(([t, ps]) => [t, [...ps].sort((a, b) => a - b)]));
      this.metrics.rebalances.inc(this.app);
      for (const topic of this.topicList) this.metrics.partitionsAssigned.set({ ...this.app, topic }, this.assignment.get(topic)?.length ?? 0);
      for (const [topic, parts] of before) {
        const now = new Set(this.assignment.get(topic) ?? []);
        for (const p of parts) if (!now.has(p)) this.metrics.lag.set({ ...this.app, topic, partition: String(p) }, 0);
      }
      this.log.info({ memberId: e.payload.memberId, generationId: e.payload.groupId, assignment: e.payload.memberAssignment }, 'joined group');
    });
    consumer.on(consumer.events.CRASH, (e) => {
      if (e.payload.restart) {
        this.log.warn({ err: e.payload.error }, 'consumer failed with a transient error; KafkaJS restarts it');
        return;
      }
      this.crashed = e.payload.error;
      this.log.error({ err: e.payload.error }, 'consumer crashed');
    });
    await consumer.connect();
    await consumer.subscribe({ topics: this.topicList, fromBeginning: true });
    await consumer.run({
      autoCommit: true,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently ?? 3,
      eachBatch: (payload) => this.eachBatch(payload),
    });
    this.running = true;
    this.stateWatch = setInterval(() => void this.watchState().catch((err: unknown) => this.log.debug({ err }, 'state watch skipped')), 5_000);
    this.stateWatch.unref();
    this.log.info({ topics: this.topicList }, 'processor started');
  }

  /** Every table of the topology must be fed by one of the subscribed topics. @throws {TopologyError} */
  private checkTables(): void {
    if (this.opts.topology) checkTopologyTopics(this.opts.topology, this.topicList, String(this.opts.topics));
  }

  /**
   * One fetched batch of one partition, in chunks. A timer heartbeats while a
   * chunk runs (a slow sink write or a long Redis step must not look like a
   * dead consumer); a rebalance it reports stops the batch at the next chunk.
   */
  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const maxRecords = Math.max(1, this.opts.maxBatchRecords ?? 2000);
    let rebalance: Error | undefined;
    const heartbeat = async (): Promise<void> => {
      if (rebalance) throw rebalance;
      await payload.heartbeat();
    };
    const ticker = setInterval(() => {
      payload.heartbeat().catch((err: unknown) => (rebalance ??= err instanceof Error ? err : new Error(String(err))));
    }, 3_000);
    try {
      for (let i = 0; i < batch.messages.length; i += maxRecords) {
        if (!payload.isRunning() || payload.isStale()) return;
        this.inFlight += 1;
        let last: Awaited<ReturnType<Processor['processChunk']>>;
        try {
          last = await this.processChunk(batch.topic, batch.partition, batch.messages.slice(i, i + maxRecords), heartbeat);
        } finally {
          this.inFlight -= 1;
        }
        if (last === GAP_SEEK) return;
        if (last !== null) payload.resolveOffset(last);
        await heartbeat();
      }
      await payload.commitOffsetsIfNecessary();
    } finally {
      clearInterval(ticker);
    }
  }

  /** Processes consecutive records of one partition; returns the last offset handled, or null when there was nothing to do. */
  private async processChunk(topic: string, partition: number, chunk: KafkaMessage[], heartbeat: () => Promise<void>): Promise<string | null | typeof GAP_SEEK> {
    if (chunk.length === 0) return null;
    const field = StateKeys.partitionField(topic, partition);
    const where = { topic, partition };
    let own = this.owned.get(field);
    if (!own) {
      const acquired = await measure(this.metrics.stateOperationDuration, this.metrics.stateOperationErrors, { ...this.app, op: StateOp.Acquire }, () => this.store.acquire(topic, partition));
      own = { ...acquired, stored: acquired.position !== null };
      if (own.position === null) {
        // No position stored with the state (a new application, or Redis lost its data): the state
        // must be built from the start of the log, whatever offset Kafka has committed for the group.
        const low = await this.lowWatermark(topic, partition);
        if (BigInt(chunk[0]!.offset) > low) {
          this.log.warn({ ...where, offset: chunk[0]!.offset, earliest: low.toString() }, 'no position stored with the state: rebuilding this partition from the earliest offset');
          own.position = low;
          this.owned.set(field, own);
          this.consumer?.seek({ topic, partition, offset: low.toString() });
          return GAP_SEEK;
        }
      }
      this.owned.set(field, own);
      this.log.info({ ...where, epoch: own.epoch, position: own.position?.toString() }, 'partition acquired');
    }
    let messages = chunk;
    if (own.position !== null) {
      const start = own.position;
      if (BigInt(chunk[0]!.offset) > start) {
        // Kafka's committed offset is ahead of the state's position (e.g. state restored or rewound): the state wins.
        this.log.info({ ...where, offset: chunk[0]!.offset, position: start.toString() }, 'seeking to the position stored with the state');
        this.consumer?.seek({ topic, partition, offset: start.toString() });
        return GAP_SEEK;
      }
      messages = messages.filter((m) => BigInt(m.offset) >= start);
    }
    if (messages.length === 0) return chunk[chunk.length - 1]!.offset;

    const labels = { ...this.app, topic, partition: String(partition) };
    this.counts.consumed += messages.length;
    this.counts.batches += 1;
    this.metrics.recordsConsumed.inc(labels, messages.length);
    this.metrics.batchSize.observe({ ...this.app, topic }, messages.length);
    const letters: DeadLetter[] = [];
    // Segments split at truncates so that writes before a truncate are applied before it.
    const segments: { writes: Map<string, PendingWrite>; truncate?: string }[] = [{ writes: new Map() }];
    const decoded = await this.decodeAll(topic, partition, messages, letters, heartbeat);
    let tombstones = 0;
    for (const [i, message] of messages.entries()) {
      const event = decoded[i] ?? null;
      if (event === null) continue;
      if (event.kind === 'tombstone') {
        tombstones += 1;
        continue;
      }
      if (event.op === 't') {
        segments[segments.length - 1]!.truncate = event.table;
        segments.push({ writes: new Map() });
        continue;
      }
      if (event.op === 'm') continue;
      if (event.keyString === null) {
        letters.push({ topic, partition, message, error: new DecodeError(DecodeErrorCode.NoKey, `table ${event.table} has no primary key; set REPLICA IDENTITY FULL and message.key.columns, or exclude it`) });
        continue;
      }
      const writes = segments[segments.length - 1]!.writes;
      const id = `${event.table}\u0000${event.keyString}`;
      writes.delete(id); // re-insert so Map order follows the newest event
      writes.set(id, {
        write: { table: event.table, keyString: event.keyString, version: BigInt(message.offset), row: event.op === 'd' ? null : event.after },
        // A snapshot read's ts_ms is the snapshot's time, not a commit time: no latency for it.
        tsMs: event.op === 'r' ? null : event.source.tsMs,
      });
    }
    if (tombstones > 0) {
      this.counts.tombstones += tombstones;
      this.metrics.tombstones.inc(labels, tombstones);
    }

    if (letters.length > 0) {
      await this.dlq!.send(letters);
      this.counts.dlq += letters.length;
      for (const l of letters) this.metrics.dlqRecords.inc({ ...this.app, topic, reason: l.error.code });
      await measure(this.metrics.stateOperationDuration, this.metrics.stateOperationErrors, { ...this.app, op: StateOp.IncrementStat }, () => this.store.incrementStat('dlq', letters.length));
      for (const l of letters) this.log.warn({ ...where, offset: l.message.offset, code: l.error.code }, `record sent to DLQ: ${l.error.message}`);
    }

    // Stream views are written before the state step: a crash in between re-processes the chunk, and the
    // sinks skip what they already hold (sequence = source offset).
    const streamTables = this.views.streamTables;
    const streamEvents = streamTables.size === 0 ? [] : decoded.filter((e): e is ChangeEvent => e !== null && e.kind === 'change' && streamTables.has(e.table));
    if (streamEvents.length > 0) {
      await this.whilePaused('render', topic, partition, heartbeat, async () => {
        const sinks = await this.views.writeStreams(streamEvents);
        const tsMs = streamEvents.filter((e) => e.op !== 'r').map((e) => e.source.tsMs);
        for (const sink of sinks) this.observeLatency(sink, tsMs);
      });
    }

    const lastOffset = messages[messages.length - 1]!.offset;
    const next = BigInt(lastOffset) + 1n;
    const dirtyTables = this.views.dirtyTables;
    for (const segment of segments) {
      const pending = [...segment.writes.values()];
      const writes = pending.map((p) => p.write);
      let r: ApplyResult;
      try {
        r = await measure(this.metrics.stateOperationDuration, this.metrics.stateOperationErrors, { ...this.app, op: StateOp.ApplyBatch }, () =>
          this.store.applyBatch(topic, partition, own.epoch, next, writes, dirtyTables),
        );
      } catch (err) {
        if (err instanceof FencedError) return this.fenced(topic, partition, own, err, heartbeat);
        throw err;
      }
      own.stored = true;
      this.counts.applied += r.applied;
      this.counts.stale += r.stale;
      this.metrics.recordsApplied.inc(labels, r.applied);
      this.metrics.recordsStale.inc(labels, r.stale);
      // applyBatch reports counts, not which writes applied: latency is observed only when all did.
      const latencies = r.stale === 0 ? pending.filter((p) => p.tsMs !== null).map((p) => p.tsMs!) : [];
      this.observeLatency('state', latencies);
      await this.renderWrites(topic, partition, pending, heartbeat);
      if (segment.truncate) {
        const table = segment.truncate;
        await measure(this.metrics.stateOperationDuration, this.metrics.stateOperationErrors, { ...this.app, op: StateOp.Truncate }, () => this.store.truncate(table));
        this.log.warn({ ...where, offset: lastOffset, table }, 'truncate: table state emptied');
      }
    }
    own.position = next;
    // Last event time per partition (record timestamp, ms), for `cdc-views status`.
    await this.store.redis.hset(this.store.keys.stats, `lastEvent:${field}`, messages[messages.length - 1]!.timestamp);
    return lastOffset;
  }

  /** Observes end-to-end latency (now − source commit time) for one sink. */
  private observeLatency(sink: string, tsMs: readonly number[]): void {
    if (tsMs.length === 0) return;
    const now = Date.now();
    // One labelled child per chunk: observe(labels, v) validates and hashes the labels for every record.
    const histogram = this.metrics.endToEndLatency.labels({ ...this.app, sink });
    for (const t of tsMs) histogram.observe(Math.max(0, now - t) / 1000);
  }

  /**
   * A write was refused by the owner-epoch fence. Either another instance took
   * the partition (this one is a zombie from an older group generation: rejoin
   * the group, never write again with this epoch), or Redis lost its data (no
   * stored epoch: re-acquire and rebuild from the earliest offset).
   */
  private async fenced(topic: string, partition: number, own: Ownership, err: FencedError, heartbeat: () => Promise<void>): Promise<typeof GAP_SEEK> {
    const field = StateKeys.partitionField(topic, partition);
    if (this.owned.get(field) === own) this.owned.delete(field);
    const stored = await this.opts.redis.hget(this.store.keys.epochs, field);
    if (stored === null) {
      const low = await this.lowWatermark(topic, partition);
      this.log.warn({ topic, partition, earliest: low.toString() }, 'state lost (no owner epoch in Redis): rebuilding this partition from the earliest offset');
      this.consumer?.seek({ topic, partition, offset: low.toString() });
      return GAP_SEEK;
    }
    this.log.warn({ topic, partition, epoch: own.epoch, storedEpoch: stored }, 'fenced: another instance owns this partition; the in-flight batch is dropped, rejoining the group');
    await heartbeat(); // throws when the group is already rebalancing (KafkaJS then rejoins)
    throw new RejoinGroupError(`fenced out of ${topic}[${partition}]: rejoining the group`, err);
  }

  /**
   * Detects lost state while running: a partition this instance stored a
   * position for has none any more (Redis restarted empty). Its ownership is
   * dropped and it is rebuilt from the earliest offset, even if no new record arrives.
   */
  private async watchState(): Promise<void> {
    const mine = [...this.owned].filter(([, o]) => o.stored);
    if (mine.length === 0) return;
    const positions = await this.store.positions();
    for (const [field, own] of mine) {
      if (positions.has(field) || this.owned.get(field) !== own) continue;
      const sep = field.lastIndexOf(':');
      const topic = field.slice(0, sep);
      const partition = Number(field.slice(sep + 1));
      if (!(this.assignment.get(topic) ?? []).includes(partition)) continue;
      this.owned.delete(field);
      const low = await this.lowWatermark(topic, partition);
      this.log.warn({ topic, partition, earliest: low.toString() }, 'state lost (position gone from Redis): rebuilding this partition from the earliest offset');
      this.consumer?.seek({ topic, partition, offset: low.toString() });
    }
  }

  private async lowWatermark(topic: string, partition: number): Promise<bigint> {
    const offsets = await this.admin!.fetchTopicOffsets(topic);
    return BigInt(offsets.find((o) => o.partition === partition)?.low ?? '0');
  }

  /**
   * Retries a step of a partition that waits for a dependency (a schema
   * registry, a sink) — backpressure: the partition pauses, heartbeating
   * between attempts so it stays in the group, while other partitions go on.
   * Only errors marked retriable are retried; shutdown aborts the wait.
   */
  /** Documents a sink refused for good go to the DLQ, counted like undecodable records. */
  private async deadLetterDocuments(view: string, err: DocumentsRejectedError, docs: readonly SinkWrite[]): Promise<void> {
    await this.dlq!.sendRejected(view, err, docs);
    this.counts.dlq += err.rejected.length;
    this.metrics.dlqRecords.inc({ ...this.app, topic: err.sink, reason: err.code }, err.rejected.length);
    await this.store.incrementStat('dlq', err.rejected.length);
    this.log.warn({ view, sink: err.sink, documents: err.rejected.length, code: err.code }, `documents sent to DLQ: ${err.message}`);
  }

  private async whilePaused<T>(operation: string, topic: string, partition: number, heartbeat: () => Promise<void>, fn: () => Promise<T>): Promise<T> {
    let paused = false;
    try {
      const result = await retry(fn, {
        attempts: Infinity,
        operation,
        signal: this.stopping.signal,
        onRetry: async ({ error, attempt }) => {
          const code = errorCode(error);
          this.metrics.retries.inc({ ...this.app, operation, code });
          if (!paused) {
            paused = true;
            this.metrics.partitionsPaused.inc({ ...this.app, topic });
          }
          this.log.warn({ topic, partition, operation, attempt, code, reason: error instanceof Error ? error.message : String(error) }, 'partition paused: a dependency is unavailable, retrying');
          await heartbeat(); // stay in the group while waiting (throws when a rebalance revokes the partition)
        },
      });
      if (paused) this.log.info({ topic, partition, operation }, 'partition resumed');
      return result;
    } finally {
      if (paused) this.metrics.partitionsPaused.dec({ ...this.app, topic });
    }
  }

  /**
   * Decodes records; undecodable ones are added to `letters` (null in the
   * result). A retriable error (e.g. the schema registry is briefly down) is
   * not a bad record: the whole chunk is retried with backoff while the
   * partition waits, and nothing goes to the DLQ.
   */
  private async decodeAll(topic: string, partition: number, messages: KafkaMessage[], letters: DeadLetter[], heartbeat: () => Promise<void>): Promise<(DecodedRecord | null)[]> {
    const decoder = this.decoder;
    const { out, failed } = await this.whilePaused('decode', topic, partition, heartbeat, async () => {
      const out: (DecodedRecord | null)[] = [];
      const failed: DeadLetter[] = [];
      for (const message of messages) {
        try {
          out.push(await decoder.decode({ topic, partition, offset: message.offset, timestamp: message.timestamp, key: message.key, value: message.value }));
        } catch (err) {
          if (err instanceof CdcViewsError && err.retriable) throw err;
          const error = err instanceof CdcViewsError ? err : new DecodeError(DecodeErrorCode.BadEnvelope, String(err), { cause: err });
          failed.push({ topic, partition, message, error });
          out.push(null);
        }
      }
      return { out, failed };
    });
    letters.push(...failed);
    return out;
  }

  /**
   * Renders the views that depend on the chunk's writes. A sink that is down
   * (a retriable error) pauses this partition with backoff and heartbeats
   * until it recovers; the writes' dirty marks make every retry complete, and
   * other partitions go on.
   */
  private async renderWrites(topic: string, partition: number, pending: readonly PendingWrite[], heartbeat: () => Promise<void>): Promise<void> {
    const byTable = new Map<string, { changes: TableChange[]; tsMs: number[] }>();
    for (const { write: w, tsMs } of pending) {
      if (!this.views.dirtyTables.has(w.table)) continue;
      const entry = byTable.get(w.table) ?? { changes: [], tsMs: [] };
      entry.changes.push({ keyString: w.keyString, version: w.version.toString(), row: w.row });
      if (tsMs !== null) entry.tsMs.push(tsMs);
      byTable.set(w.table, entry);
    }
    if (byTable.size === 0) return;
    await this.whilePaused('render', topic, partition, heartbeat, async () => {
      for (const [table, { changes, tsMs }] of byTable) {
        const sinks = await this.views.process(table, changes);
        for (const sink of sinks) this.observeLatency(sink, tsMs);
      }
    });
  }

  /** View roots rendered and documents written / skipped as older, since start. */
  get renderCounts(): { rendered: number; written: number; skipped: number } {
    return this.views.counts;
  }

  /**
   * Lag per partition against the broker's current end offsets: end offset −
   * position stored with the state (the whole log when none is stored yet).
   * Sets the lag gauge of the partitions assigned to this instance.
   * @param topics @defaultValue every subscribed topic
   */
  async lag(topics: readonly string[] = this.topicList): Promise<{ topic: string; partition: number; position: bigint | null; end: bigint; lag: bigint }[]> {
    const positions = await measure(this.metrics.stateOperationDuration, this.metrics.stateOperationErrors, { ...this.app, op: StateOp.Positions }, () => this.store.positions());
    const out = [];
    for (const topic of topics) {
      const assigned = new Set(this.assignment.get(topic) ?? []);
      for (const p of await this.admin!.fetchTopicOffsets(topic)) {
        const end = BigInt(p.high);
        const low = BigInt(p.low);
        const position = positions.get(StateKeys.partitionField(topic, p.partition)) ?? null;
        const from = position === null || position < low ? low : position;
        const lag = end > from ? end - from : 0n;
        if (assigned.has(p.partition)) this.metrics.lag.set({ ...this.app, topic, partition: String(p.partition) }, Number(lag));
        out.push({ topic, partition: p.partition, position, end, lag });
      }
    }
    return out;
  }

  /**
   * Resolves when every partition's stored position has reached the end offset
   * it had when this was called and no chunk is still rendering its views (the
   * `--until-caught-up` rule). A partition whose log is empty counts as caught up.
   * @param pollMs how often positions are compared. @defaultValue 250
   */
  async waitUntilCaughtUp(options: { pollMs?: number; onProgress?: (lag: bigint) => void; signal?: AbortSignal } = {}): Promise<void> {
    const targets = await this.lag();
    for (;;) {
      if (this.crashed) throw this.crashed;
      options.signal?.throwIfAborted();
      let positions: Map<string, bigint>;
      try {
        positions = await this.store.positions();
      } catch (err) {
        // Redis restarting: keep waiting (the consumer retries on its own).
        this.log.warn({ err }, 'cannot read positions; retrying');
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      let remaining = 0n;
      for (const t of targets) {
        const pos = positions.get(StateKeys.partitionField(t.topic, t.partition)) ?? null;
        const from = pos ?? (t.end - t.lag); // no position yet: nothing processed since the low watermark
        if (from < t.end) remaining += t.end - from;
      }
      options.onProgress?.(remaining);
      // A chunk stores its position before it renders its views: caught up also means no chunk is still rendering.
      if (remaining === 0n && this.inFlight === 0) return;
      await new Promise((r) => setTimeout(r, options.pollMs ?? 250));
    }
  }

  /**
   * Stops consuming: in-flight chunks finish (their state, sink writes and
   * positions are stored; a partition waiting for a dependency stops waiting),
   * then disconnects everything.
   */
  async stop(): Promise<void> {
    this.stopping.abort(new CdcViewsError('SHUTDOWN', 'shutting down'));
    clearInterval(this.stateWatch);
    await this.consumer?.disconnect();
    this.running = false;
    await this.producer?.disconnect();
    await this.admin?.disconnect();
    for (const sink of this.sinks) await sink.close();
    this.log.info({ counts: this.counts }, 'processor stopped');
  }
}

/** A fresh random suffix for test and demo application ids. */
export const uniqueSuffix = (): string => randomUUID().slice(0, 8);
