/**
 * The consumer-group runner of one application (applicationId = Kafka group id).
 *
 * Per batch of one partition, in this order:
 *  1. decode records; undecodable ones go to the DLQ (acknowledged first);
 *  2. compact: keep only the newest event per key;
 *  3. apply the writes and the partition's new position in one atomic Redis
 *     step, version-guarded and fenced by the partition's owner epoch;
 *  4. render the views of changed keys and write their sinks (see renderer.ts);
 *  5. commit the Kafka offset (for standard lag tooling; correctness rests on
 *     the positions stored in Redis, not on it).
 * Partitions are processed concurrently, each strictly in offset order.
 */
import { randomUUID } from 'node:crypto';
import { Kafka, Partitioners, logLevel, type Admin, type Batch, type Consumer, type KafkaMessage, type Producer } from 'kafkajs';
import type { Redis } from 'ioredis';
import { jsonDecoder, type RecordDecoder } from '../cdc/debezium-json.ts';
import type { DecodedRecord } from '../cdc/types.ts';
import { CdcViewsError, DecodeError, DecodeErrorCode, FencedError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { StateKeys } from '../state/keys.ts';
import { StateStore, type StateWrite } from '../state/store.ts';
import { createSink } from '../sinks/index.ts';
import type { Sink } from '../sinks/sink.ts';
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
  /** Search engine URL for search-index sinks. @defaultValue `http://localhost:9200` */
  searchUrl?: string;
  logger: Logger;
  /** Record decoder. @defaultValue the JSON decoder (JsonConverter with or without schemas) */
  decoder?: RecordDecoder;
  /** Partitions processed at the same time. @defaultValue 3 */
  partitionsConsumedConcurrently?: number;
  /** Upper bound of bytes fetched per partition per request. @defaultValue 1048576 (1 MiB) */
  maxBytesPerPartition?: number;
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
}

const GAP_SEEK = Symbol('gap');

export class Processor {
  readonly store: StateStore;
  readonly counts: ProcessorCounts = { consumed: 0, applied: 0, stale: 0, tombstones: 0, dlq: 0, batches: 0 };
  private readonly kafka: Kafka;
  private readonly views: ViewEngine;
  private readonly sinks: Sink[] = [];
  private readonly log: Logger;
  private consumer?: Consumer;
  private producer?: Producer;
  private admin?: Admin;
  private dlq?: DeadLetterQueue;
  private readonly owned = new Map<string, Ownership>();
  private topicList: string[] = [];
  private crashed?: Error;

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
    const sinksByView = new Map<string, Sink[]>();
    for (const view of opts.topology?.views ?? []) {
      const ctx = { applicationId: opts.applicationId, redis: opts.redis, searchUrl: opts.searchUrl ?? 'http://localhost:9200' };
      const list = view.sinks.map((plan) => createSink(plan, ctx));
      sinksByView.set(view.name, list);
      this.sinks.push(...list);
    }
    this.views = new ViewEngine(opts.redis, opts.applicationId, opts.topology, sinksByView, this.log);
  }

  /** Topics matched at start. */
  get topics(): readonly string[] {
    return this.topicList;
  }

  /** The error that stopped the consumer, if any. */
  get failure(): Error | undefined {
    return this.crashed;
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
    this.topicList = (await this.admin.listTopics()).filter((t) => this.opts.topics.test(t)).sort();
    if (this.topicList.length === 0) {
      throw new CdcViewsError('CONFIG_NO_TOPICS', `no topic matches ${String(this.opts.topics)}; is the connector registered and has it written any change?`);
    }
    this.checkTables();
    this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    await this.producer.connect();
    this.dlq = new DeadLetterQueue(this.producer, applicationId);
    await this.admin.createTopics({ topics: [{ topic: this.dlq.topic, numPartitions: 1 }], waitForLeaders: true });

    for (const sink of this.sinks) await sink.init();
    await this.views.drain();

    const consumer = this.kafka.consumer({
      groupId: applicationId,
      maxBytesPerPartition: this.opts.maxBytesPerPartition ?? 1_048_576,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      retry: { retries: 10 },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      // Eager rebalancing: every join is a fresh assignment; ownership is re-acquired lazily per partition.
      this.owned.clear();
      this.log.info({ memberId: e.payload.memberId, assignment: e.payload.memberAssignment }, 'joined group');
    });
    consumer.on(consumer.events.CRASH, (e) => {
      this.crashed = e.payload.error;
      this.log.error({ err: e.payload.error, restart: e.payload.restart }, 'consumer crashed');
    });
    await consumer.connect();
    await consumer.subscribe({ topics: this.topicList, fromBeginning: true });
    await consumer.run({
      autoCommit: true,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently ?? 3,
      eachBatch: async (payload) => {
        if (payload.isStale()) return;
        const last = await this.processBatch(payload.batch, () => payload.heartbeat());
        if (last === GAP_SEEK || last === null) return;
        payload.resolveOffset(last);
        await payload.commitOffsetsIfNecessary();
        await payload.heartbeat();
      },
    });
    this.log.info({ topics: this.topicList }, 'processor started');
  }

  /** Every table of the topology must be fed by one of the subscribed topics. @throws {TopologyError} */
  private checkTables(): void {
    if (this.opts.topology) checkTopologyTopics(this.opts.topology, this.topicList, String(this.opts.topics));
  }

  /** Processes one partition's batch; returns the last offset handled, or null when there was nothing to do. */
  private async processBatch(batch: Batch, heartbeat: () => Promise<void>): Promise<string | null | typeof GAP_SEEK> {
    const { topic, partition } = batch;
    const field = StateKeys.partitionField(topic, partition);
    let own = this.owned.get(field);
    if (!own) {
      own = await this.store.acquire(topic, partition);
      this.owned.set(field, own);
      this.log.info({ topic, partition, epoch: own.epoch, position: own.position?.toString() }, 'partition acquired');
    }
    let messages = batch.messages;
    if (own.position !== null && messages.length > 0) {
      const start = own.position;
      if (BigInt(batch.firstOffset() ?? '0') > start) {
        // Kafka's committed offset is ahead of the state's position (e.g. state restored or rewound): the state wins.
        this.log.info({ topic, partition, from: batch.firstOffset(), to: start.toString() }, 'seeking to the position stored with the state');
        this.consumer?.seek({ topic, partition, offset: start.toString() });
        return GAP_SEEK;
      }
      messages = messages.filter((m) => BigInt(m.offset) >= start);
    }
    if (messages.length === 0) return batch.messages.length > 0 ? batch.lastOffset() : null;

    this.counts.consumed += messages.length;
    this.counts.batches += 1;
    const letters: DeadLetter[] = [];
    // Segments split at truncates so that writes before a truncate are applied before it.
    const segments: { writes: Map<string, StateWrite>; truncate?: string }[] = [{ writes: new Map() }];
    const decoded = await this.decodeAll(topic, partition, messages, letters, heartbeat);
    for (const [i, message] of messages.entries()) {
      const event = decoded[i] ?? null;
      if (event === null) continue;
      if (event.kind === 'tombstone') {
        this.counts.tombstones += 1;
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
      writes.set(id, { table: event.table, keyString: event.keyString, version: BigInt(message.offset), row: event.op === 'd' ? null : event.after });
    }

    if (letters.length > 0) {
      await this.dlq!.send(letters);
      this.counts.dlq += letters.length;
      await this.store.incrementStat('dlq', letters.length);
      for (const l of letters) this.log.warn({ topic, partition, offset: l.message.offset, code: l.error.code }, `record sent to DLQ: ${l.error.message}`);
    }

    const lastOffset = messages[messages.length - 1]!.offset;
    const next = BigInt(lastOffset) + 1n;
    const dirtyTables = this.views.dirtyTables;
    for (const segment of segments) {
      const writes = [...segment.writes.values()];
      try {
        const r = await this.store.applyBatch(topic, partition, own.epoch, next, writes, dirtyTables);
        this.counts.applied += r.applied;
        this.counts.stale += r.stale;
      } catch (err) {
        if (err instanceof FencedError) this.owned.delete(field);
        throw err;
      }
      await this.renderWrites(topic, partition, writes, heartbeat);
      if (segment.truncate) await this.store.truncate(segment.truncate);
    }
    own.position = next;
    return lastOffset;
  }

  /**
   * Decodes a batch's records; undecodable ones are added to `letters` (null
   * in the result). A retriable error (e.g. the schema registry is briefly
   * down) is not a bad record: the whole batch is retried with backoff while
   * the partition waits, and nothing goes to the DLQ.
   */
  private async decodeAll(topic: string, partition: number, messages: KafkaMessage[], letters: DeadLetter[], heartbeat: () => Promise<void>): Promise<(DecodedRecord | null)[]> {
    const decoder = this.opts.decoder ?? jsonDecoder;
    for (let attempt = 0; ; attempt++) {
      const out: (DecodedRecord | null)[] = [];
      const failed: DeadLetter[] = [];
      try {
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
        letters.push(...failed);
        return out;
      } catch (err) {
        // Exponential backoff with jitter, capped at 10 s: 0.2, 0.4, 0.8 … s.
        const delay = Math.min(10_000, 200 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random() / 2);
        this.log.warn({ topic, partition, attempt, delayMs: Math.round(delay), err }, 'decoding paused: a dependency is unavailable, retrying');
        await new Promise((r) => setTimeout(r, delay));
        await heartbeat(); // stay in the group while waiting (throws when a rebalance revokes the partition)
      }
    }
  }

  /**
   * Renders the views that depend on the batch's writes. A sink that is down
   * (a retriable error) blocks this partition — backpressure — with backoff
   * and heartbeats until it recovers; the writes' dirty marks make every retry
   * complete, and other partitions go on.
   */
  private async renderWrites(topic: string, partition: number, writes: readonly StateWrite[], heartbeat: () => Promise<void>): Promise<void> {
    const byTable = new Map<string, TableChange[]>();
    for (const w of writes) {
      if (!this.views.dirtyTables.has(w.table)) continue;
      const list = byTable.get(w.table) ?? [];
      list.push({ keyString: w.keyString, version: w.version.toString(), row: w.row });
      byTable.set(w.table, list);
    }
    for (let attempt = 0; ; attempt++) {
      try {
        for (const [table, changes] of byTable) await this.views.process(table, changes);
        if (attempt > 0) this.log.info({ topic, partition, attempts: attempt + 1 }, 'views rendered again: partition resumed');
        return;
      } catch (err) {
        if (!(err instanceof CdcViewsError && err.retriable)) throw err;
        const delay = Math.min(10_000, 200 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random() / 2);
        this.log.warn({ topic, partition, attempt, delayMs: Math.round(delay), code: err.code, msg: err.message }, 'partition paused: a sink is unavailable');
        await new Promise((r) => setTimeout(r, delay));
        await heartbeat();
      }
    }
  }

  /** View roots rendered and documents written / skipped as older, since start. */
  get renderCounts(): { rendered: number; written: number; skipped: number } {
    return this.views.counts;
  }

  /**
   * Lag per partition against the broker's current end offsets: end offset −
   * position stored with the state (the whole log when none is stored yet).
   */
  async lag(): Promise<{ topic: string; partition: number; position: bigint | null; end: bigint; lag: bigint }[]> {
    const positions = await this.store.positions();
    const out = [];
    for (const topic of this.topicList) {
      for (const p of await this.admin!.fetchTopicOffsets(topic)) {
        const end = BigInt(p.high);
        const low = BigInt(p.low);
        const position = positions.get(StateKeys.partitionField(topic, p.partition)) ?? null;
        const from = position === null || position < low ? low : position;
        out.push({ topic, partition: p.partition, position, end, lag: end > from ? end - from : 0n });
      }
    }
    return out;
  }

  /**
   * Resolves when every partition's stored position has reached the end offset
   * it had when this was called (the `--until-caught-up` rule). A partition
   * whose log is empty counts as caught up.
   * @param pollMs how often positions are compared. @defaultValue 250
   */
  async waitUntilCaughtUp(options: { pollMs?: number; onProgress?: (lag: bigint) => void; signal?: AbortSignal } = {}): Promise<void> {
    const targets = await this.lag();
    for (;;) {
      if (this.crashed) throw this.crashed;
      options.signal?.throwIfAborted();
      const positions = await this.store.positions();
      let remaining = 0n;
      for (const t of targets) {
        const pos = positions.get(StateKeys.partitionField(t.topic, t.partition)) ?? null;
        const from = pos ?? (t.end - t.lag); // no position yet: nothing processed since the low watermark
        if (from < t.end) remaining += t.end - from;
      }
      options.onProgress?.(remaining);
      if (remaining === 0n) return;
      await new Promise((r) => setTimeout(r, options.pollMs ?? 250));
    }
  }

  /** Stops consuming (waits for in-flight batches), then disconnects everything. */
  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    await this.producer?.disconnect();
    await this.admin?.disconnect();
    for (const sink of this.sinks) await sink.close();
    this.log.info({ counts: this.counts }, 'processor stopped');
  }
}

/** A fresh random suffix for test and demo application ids. */
export const uniqueSuffix = (): string => randomUUID().slice(0, 8);
