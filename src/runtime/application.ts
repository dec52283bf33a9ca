/**
 * One running application (Kafka Streams' `KafkaStreams`): its applicationId
 * is the Kafka consumer group and the prefix of its Redis keys. It owns the
 * lifecycle (start, graceful stop), the group membership (assignment, one
 * {@link PartitionTask} per assigned partition), the clients (Kafka consumer,
 * producer and admin; sinks) and what operators watch: lag, readiness,
 * liveness, `--until-caught-up`.
 *
 * Per fetched batch of one partition, its task processes chunks of at most
 * `maxChunkRecords` records in offset order (src/runtime/checkpoint.ts states
 * the commit order of a chunk), heartbeating between chunks; partitions run
 * concurrently. Nothing is buffered across chunks: when a rebalance revokes a
 * partition, every finished chunk already has its state, sink writes and
 * position stored, so there is nothing to flush; a chunk still in flight on a
 * revoked instance is refused by the owner-epoch fence.
 */
import kafkajs, { Partitioners, type Admin, type Consumer, type EachBatchPayload, type Kafka, type Producer } from 'kafkajs';
import { Registry } from 'prom-client';
import { autoDecoder } from '../cdc/avro.ts';
import type { RecordDecoder } from '../cdc/debezium-json.ts';
import { CdcViewsError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { createMetrics, type Metrics } from '../metrics/catalogue.ts';
import type { HealthSource, Readiness } from '../metrics/server.ts';
import { createSink } from '../sinks/index.ts';
import type { ApplicationOptions } from './application-options.ts';
export type { ApplicationOptions } from './application-options.ts';
import type { DocumentsRejectedError, Sink, SinkWrite } from '../sinks/sink.ts';
import type { Positions } from '../state/encoding.ts';
import { MeteredStateStore, MeteredViewStore } from '../state/metered.ts';
import { StateStore } from '../state/store.ts';
import { ViewStore } from '../state/view-store.ts';
import { resolveTopologyTables } from '../topology/dsl.ts';
import { Backpressure } from './backpressure.ts';
import { Housekeeping } from './housekeeping.ts';
import { RenderPunctuator } from './render-punctuator.ts';
import { HousekeepingStore } from '../state/housekeeping-store.ts';
import { DeadLetterQueue, DEFAULT_MAX_MESSAGE_BYTES, dlqTopic, type RenderFailure } from './dlq.ts';
import { createKafka, restartable } from './kafka-client.ts';
import { PartitionTask, type ProcessingCounts, type TaskContext } from './partition-task.ts';
import { partitionLag, remainingToTargets, totalToTargets, type PartitionLag } from './progress.ts';
import { ViewEngine, type RenderCounts } from './view-engine.ts';

/** How often the state-loss watch looks at the stored positions, ms. */
const STATE_WATCH_MS = 5_000;

const taskId = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

export class Application implements HealthSource {
  /** The application's table state (for reads: queries, comparisons). */
  readonly store: StateStore;
  readonly counts: ProcessingCounts = { consumed: 0, applied: 0, stale: 0, tombstones: 0, dlq: 0, chunks: 0, renderFailures: 0 };
  readonly metrics: Metrics;
  private readonly kafka: Kafka;
  /** Created at start, once the topics (and so the state table of each topology table) are known. */
  private views?: ViewEngine;
  private readonly sinksByView = new Map<string, Sink[]>();
  private readonly viewStore: ViewStore;
  private readonly meteredStore: MeteredStateStore;
  private readonly decoder: RecordDecoder;
  private readonly sinks: Sink[] = [];
  private readonly log: Logger;
  private readonly app: { application_id: string };
  private readonly stopping = new AbortController();
  private readonly backpressure: Backpressure;
  private consumer?: Consumer;
  private producer?: Producer;
  private admin?: Admin;
  private dlq?: DeadLetterQueue;
  private readonly tasks = new Map<string, PartitionTask>();
  /** Partitions assigned at the last group join, per topic. */
  private assignment = new Map<string, number[]>();
  /** Whether this instance has joined the group (its assignment may be empty). */
  private joined = false;
  private topicList: string[] = [];
  /** The lag of every partition just before consuming began: where a progress bar's total counts from. */
  private startLag: PartitionLag[] = [];
  private crashed?: Error;
  private running = false;
  /** Chunks being processed (state write, then renders and sink writes). */
  private inFlight = 0;
  private stateWatch?: NodeJS.Timeout;
  private housekeeping?: Housekeeping;
  private renders?: RenderPunctuator;
  private stopped?: Promise<void>;

  constructor(private readonly opts: ApplicationOptions) {
    this.log = opts.logger.child({ applicationId: opts.applicationId });
    this.kafka = opts.kafka ?? createKafka(opts.applicationId, opts.brokers, this.log);
    this.metrics = opts.metrics ?? createMetrics(new Registry(), { defaultMetrics: false });
    this.app = { application_id: opts.applicationId };
    this.store = new StateStore(opts.redis, opts.applicationId);
    this.meteredStore = new MeteredStateStore(this.store, this.metrics, opts.applicationId);
    this.viewStore = new ViewStore(opts.redis, opts.applicationId);
    this.backpressure = new Backpressure(opts.applicationId, this.metrics, this.log, this.stopping.signal);
    const sinkContext = { applicationId: opts.applicationId, redis: opts.redis, searchUrl: opts.searchUrl ?? 'http://localhost:9200' };
    for (const view of opts.topology?.views ?? []) {
      const list = view.sinks.map((plan) => createSink(plan, sinkContext));
      this.sinksByView.set(view.name, list);
      this.sinks.push(...list);
    }
    this.decoder = opts.decoder ?? autoDecoder({ registryUrl: opts.registryUrl ?? 'http://localhost:8081/apis/ccompat/v7', ...(opts.registryCredentials ? { credentials: opts.registryCredentials } : {}) });
  }

  /** Topics matched at start. */
  get topics(): readonly string[] {
    return this.topicList;
  }

  /** The error that stopped the consumer for good (not restarted), if any. */
  get failure(): Error | undefined {
    return this.crashed;
  }

  /** View roots rendered and documents written / skipped as older, since start. */
  get renderCounts(): RenderCounts {
    return this.views?.counts ?? { rendered: 0, written: 0, skipped: 0 };
  }

  /** Liveness (/healthz): the consumer runs and has not crashed for good. */
  live(): boolean {
    return this.running && !this.crashed;
  }

  /**
   * Readiness (/readyz): partitions assigned at the last group join, their
   * total lag (end offset − position stored with the state) and whether the
   * instance has joined the group at all. Sets the lag gauge.
   */
  async readiness(): Promise<Readiness> {
    let assigned = 0;
    for (const parts of this.assignment.values()) assigned += parts.length;
    let lag = 0n;
    for (const l of await this.lag([...this.assignment.keys()])) {
      if (this.assignment.get(l.topic)?.includes(l.partition)) lag += l.lag;
    }
    return { assigned, lag: Number(lag), joined: this.joined };
  }

  /**
   * Connects, renders views left dirty by an earlier run, joins the group and
   * starts consuming. Resolves once the consumer is running.
   * @throws {CdcViewsError} CONFIG_NO_TOPICS when no topic matches
   * @throws {TopologyError} when a table of the topology is fed by none of the topics, or by several
   */
  async start(): Promise<void> {
    const { applicationId } = this.opts;
    this.admin = this.kafka.admin();
    await this.admin.connect();
    await this.store.checkFormat();
    const existing = await this.admin.listTopics();
    this.topicList = existing.filter((t) => this.opts.topics.test(t)).sort();
    if (this.topicList.length === 0) {
      throw new CdcViewsError('CONFIG_NO_TOPICS', `no topic matches ${String(this.opts.topics)}; is the connector registered and has it written any change? (With Kafka ACLs, a topic is listed only to a user with Describe on it.)`);
    }
    const tableIds = this.opts.topology ? resolveTopologyTables(this.opts.topology, this.topicList, String(this.opts.topics)) : new Map<string, string>();
    const views = new ViewEngine({
      applicationId,
      store: new MeteredViewStore(this.viewStore, this.metrics, applicationId),
      plan: this.opts.topology,
      sinks: this.sinksByView,
      log: this.log,
      metrics: this.metrics,
      onRejected: (view, err, docs) => this.deadLetterDocuments(view, err, docs),
      onRenderFailed: (view, failures) => this.deadLetterRenders(view, failures),
      tableIds,
    });
    this.views = views;
    this.producer = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner });
    await this.producer.connect();
    const dlq = dlqTopic(applicationId);
    if (!existing.includes(dlq)) await this.admin.createTopics({ topics: [{ topic: dlq, numPartitions: 1 }], waitForLeaders: true });
    this.dlq = new DeadLetterQueue(this.producer, applicationId, await maxMessageBytes(this.admin, dlq));

    // A sink that is down at start (its index must exist before the first write) delays the start, never fails it.
    for (const sink of this.sinks) await this.backpressure.whilePaused(`init ${sink.name}`, '', -1, () => Promise.resolve(), () => sink.init());

    const consumer = this.kafka.consumer({
      groupId: applicationId,
      // The in-flight budget: at most maxBytes fetched at once (maxBytesPerPartition each), processed
      // by partitionsConsumedConcurrently tasks in chunks of maxChunkRecords decoded records.
      maxBytesPerPartition: this.opts.maxBytesPerPartition ?? 1_048_576,
      maxBytes: this.opts.maxBytes ?? 10_485_760,
      metadataMaxAge: this.opts.metadataMaxAgeMs ?? 300_000,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
      // How long an idle fetch waits for records (a busy one returns at once): bounds the wait of a
      // graceful stop for the fetch in flight (KafkaJS' default is 5 s).
      maxWaitTimeInMs: 1000,
      retry: { retries: 10, restartOnFailure: (e) => Promise.resolve(restartable(e)) },
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      // Eager rebalancing: every join is a fresh assignment; tasks are re-created lazily per partition.
      this.tasks.clear();
      const before = this.assignment;
      this.assignment = new Map(Object.entries(e.payload.memberAssignment).map(([t, ps]) => [t, [...ps].sort((a, b) => a - b)]));
      this.joined = true;
      this.metrics.rebalances.inc(this.app);
      for (const topic of this.topicList) this.metrics.partitionsAssigned.set({ ...this.app, topic }, this.assignment.get(topic)?.length ?? 0);
      for (const [topic, parts] of before) {
        const now = new Set(this.assignment.get(topic) ?? []);
        for (const p of parts) {
          if (now.has(p)) continue;
          this.metrics.lag.set({ ...this.app, topic, partition: String(p) }, 0);
          this.metrics.lagSeconds.set({ ...this.app, topic, partition: String(p) }, 0);
        }
      }
      this.log.info({ memberId: e.payload.memberId, generationId: e.payload.groupId, assignment: e.payload.memberAssignment }, 'joined group');
      // Renders the previous owner of a partition left unfinished (a sink outage during a rebalance).
      this.renders?.trigger();
    });
    consumer.on(consumer.events.CRASH, (e) => {
      // A partition that waited for a dependency when stop() aborted the wait: a graceful stop, not a crash.
      if (this.stopping.signal.aborted) {
        this.log.info('a waiting partition stopped with the application');
        return;
      }
      if (e.payload.restart) {
        this.log.warn({ err: e.payload.error }, 'consumer failed with a transient error; KafkaJS restarts it');
        return;
      }
      this.crashed = e.payload.error;
      this.log.error({ err: e.payload.error }, 'consumer crashed');
    });
    // Incremental aggregates over state that predates them: marked here, folded by the drain below.
    await views.seedFolds(this.viewStore);
    await consumer.connect();
    await consumer.subscribe({ topics: this.topicList, fromBeginning: true });
    this.startLag = await this.lag();
    await consumer.run({
      autoCommit: true,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.opts.partitionsConsumedConcurrently ?? 3,
      eachBatch: (payload) => this.eachBatch(payload),
    });
    this.running = true;
    this.stateWatch = setInterval(() => void this.watchState().catch((err: unknown) => this.log.debug({ err }, 'state watch skipped')), STATE_WATCH_MS);
    this.stateWatch.unref();
    this.housekeeping = new Housekeeping(this.store, views, this.viewStore, this.metrics, this.log, this.opts.housekeeping);
    this.housekeeping.start();
    const locks = new HousekeepingStore(this.opts.redis, applicationId);
    this.renders = new RenderPunctuator(views, this.viewStore, (ttlMs) => locks.tryLock(this.store.keys.renderLock, ttlMs), this.log, this.opts.renderPunctuator);
    this.renders.start();
    // Renders left by an earlier run: drained in the background (it used to block the start, and a sink down then failed it).
    this.renders.trigger();
    this.log.info({ topics: this.topicList }, 'application started');
  }

  private taskContext(): TaskContext {
    return {
      applicationId: this.opts.applicationId,
      store: this.meteredStore,
      views: this.views!,
      decoder: this.decoder,
      dlq: this.dlq!,
      metrics: this.metrics,
      log: this.log,
      counts: this.counts,
      backpressure: this.backpressure,
      seek: (topic, partition, offset) => this.consumer?.seek({ topic, partition, offset: offset.toString() }),
      lowWatermark: (topic, partition) => this.lowWatermark(topic, partition),
      endOffsets: async (topic) => new Map((await this.admin!.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.high)])),
    };
  }

  /**
   * One fetched batch of one partition, in chunks. A timer heartbeats while a
   * chunk runs (a slow sink write or a long Redis step must not look like a
   * dead consumer); a rebalance it reports stops the batch at the next chunk.
   */
  private async eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const maxRecords = Math.max(1, this.opts.maxChunkRecords ?? 2000);
    let rebalance: Error | undefined;
    const heartbeat = async (): Promise<void> => {
      if (rebalance) throw rebalance;
      await payload.heartbeat();
    };
    const ticker = setInterval(() => {
      payload.heartbeat().catch((err: unknown) => (rebalance ??= err instanceof Error ? err : new Error(String(err))));
    }, 3_000);
    const id = taskId(batch.topic, batch.partition);
    try {
      for (let i = 0; i < batch.messages.length; i += maxRecords) {
        if (!payload.isRunning() || payload.isStale()) return;
        this.inFlight += 1;
        let task: PartitionTask | undefined;
        let outcome;
        try {
          task = this.tasks.get(id);
          if (!task) {
            task = await PartitionTask.acquire(this.taskContext(), batch.topic, batch.partition);
            this.tasks.set(id, task);
          }
          outcome = await task.process(batch.messages.slice(i, i + maxRecords), heartbeat);
        } finally {
          this.inFlight -= 1;
          if (task?.retired && this.tasks.get(id) === task) this.tasks.delete(id);
        }
        if (outcome.kind === 'seek') return;
        if (outcome.kind === 'done') payload.resolveOffset(outcome.lastOffset);
        await heartbeat();
      }
      await payload.commitOffsetsIfNecessary();
    } finally {
      clearInterval(ticker);
    }
  }

  /**
   * The state watch (a punctuator): detects, while partitions are idle, that
   * Redis no longer holds the position a task stored — it restarted empty,
   * failed over to a lagging replica, or was restored from an older file. The
   * task retires and its partition resumes from what Redis holds, even if no
   * new record arrives.
   */
  private async watchState(): Promise<void> {
    for (const [id, task] of [...this.tasks]) {
      if (task.busy || !task.hasStoredPosition) continue;
      if (!(this.assignment.get(task.topic) ?? []).includes(task.partition)) continue;
      if (!(await task.checkPosition()) && this.tasks.get(id) === task) this.tasks.delete(id);
    }
    for (const table of this.topicList) this.metrics.incompleteRows.set({ ...this.app, table }, await this.store.incompleteCount(table));
    this.metrics.historyLost.set(this.app, (await this.store.historyLost()).size);
  }

  private async lowWatermark(topic: string, partition: number): Promise<bigint> {
    const offsets = await this.admin!.fetchTopicOffsets(topic);
    return BigInt(offsets.find((o) => o.partition === partition)?.low ?? '0');
  }

  /** Documents a sink refused for good go to the DLQ, counted like undecodable records. */
  private async deadLetterDocuments(view: string, err: DocumentsRejectedError, docs: readonly SinkWrite[]): Promise<void> {
    await this.dlq!.sendRejected(view, err, docs);
    this.counts.dlq += err.rejected.length;
    this.metrics.dlqRecords.inc({ ...this.app, topic: err.sink, reason: err.code }, err.rejected.length);
    await this.meteredStore.incrementStat('dlq', err.rejected.length);
    this.log.warn({ view, sink: err.sink, documents: err.rejected.length, code: err.code }, `documents sent to DLQ: ${err.message}`);
  }

  /** View roots whose rendering threw go to the DLQ (RENDER_FAILED), counted like undecodable records. */
  private async deadLetterRenders(view: string, failures: readonly RenderFailure[]): Promise<void> {
    await this.dlq!.sendRenderFailures(view, failures);
    this.counts.dlq += failures.length;
    this.counts.renderFailures += failures.length;
    this.metrics.dlqRecords.inc({ ...this.app, topic: `view:${view}`, reason: 'RENDER_FAILED' }, failures.length);
    await this.meteredStore.incrementStat('dlq', failures.length);
  }

  /**
   * Lag per partition against the broker's current end offsets: end offset −
   * position stored with the state (the whole log when none is stored yet).
   * Sets the lag gauge of the partitions assigned to this instance.
   * @param topics @defaultValue every subscribed topic
   */
  async lag(topics: readonly string[] = this.topicList): Promise<PartitionLag[]> {
    const positions = await this.meteredStore.positions();
    const stats = await this.store.stats();
    const now = Date.now();
    const out: PartitionLag[] = [];
    for (const topic of topics) {
      const assigned = new Set(this.assignment.get(topic) ?? []);
      for (const p of await this.admin!.fetchTopicOffsets(topic)) {
        const l = partitionLag(topic, p.partition, positions.get(topic, p.partition), BigInt(p.low), BigInt(p.high));
        if (assigned.has(p.partition)) {
          const labels = { ...this.app, topic, partition: String(p.partition) };
          this.metrics.lag.set(labels, Number(l.lag));
          const lastEventMs = stats[StateStore.lastEventStat(topic, p.partition)];
          if (l.lag === 0n) this.metrics.lagSeconds.set(labels, 0);
          else if (lastEventMs !== undefined) this.metrics.lagSeconds.set(labels, Math.max(0, now - lastEventMs) / 1000);
        }
        out.push(l);
      }
    }
    if (this.views) this.metrics.rendersPending.set(this.app, await this.views.pendingMarks(this.viewStore));
    return out;
  }

  /**
   * Resolves when every partition's stored position has reached the end offset
   * it had when this was called, no chunk is still rendering its views and no
   * view mark waits for a render (the `--until-caught-up` rule). A partition whose log is empty counts as caught up.
   * @param options.pollMs how often positions are compared. @defaultValue 250
   * @param options.onProgress called every poll with the records left and the total (records from where the partitions stood when consuming began to the targets)
   * @throws the consumer's failure when it crashed for good; the signal's reason when aborted
   */
  async waitUntilCaughtUp(options: { pollMs?: number; onProgress?: (lag: bigint, total: bigint) => void; signal?: AbortSignal } = {}): Promise<void> {
    const targets = await this.lag();
    const total = totalToTargets(targets, this.startLag);
    for (;;) {
      if (this.crashed) throw this.crashed;
      options.signal?.throwIfAborted();
      let positions: Positions;
      try {
        positions = await this.store.positions();
      } catch (err) {
        // Redis restarting: keep waiting (the consumer retries on its own).
        this.log.warn({ err }, 'cannot read positions; retrying');
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      const remaining = remainingToTargets(targets, positions);
      options.onProgress?.(remaining, remaining > total ? remaining : total);
      // A chunk stores its position before it renders its views: caught up also means no chunk is still
      // rendering, and no mark left for the render punctuator (a render that waits for a sink).
      if (remaining === 0n && this.inFlight === 0 && (await this.views!.pendingMarks(this.viewStore)) === 0) return;
      await new Promise((r) => setTimeout(r, options.pollMs ?? 250));
    }
  }

  /**
   * Stops consuming: in-flight chunks finish (their state, sink writes and
   * positions are stored; a partition waiting for a dependency stops waiting),
   * then disconnects everything.
   */
  stop(): Promise<void> {
    // A second call (a signal during shutdown, a test's clean-up) waits for the first.
    this.stopped ??= this.shutdown();
    return this.stopped;
  }

  private async shutdown(): Promise<void> {
    this.stopping.abort(new CdcViewsError('SHUTDOWN', 'shutting down'));
    clearInterval(this.stateWatch);
    await this.housekeeping?.stop();
    await this.renders?.stop();
    await this.consumer?.disconnect();
    this.running = false;
    await this.producer?.disconnect();
    await this.admin?.disconnect();
    for (const sink of this.sinks) await sink.close();
    this.log.info({ counts: this.counts }, 'application stopped');
  }
}

/** A topic's `max.message.bytes` (the largest record batch the broker accepts for it). */
async function maxMessageBytes(admin: Admin, topic: string): Promise<number> {
  // kafkajs is CommonJS: its enums are reachable through the default export only.
  const { resources } = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic, configNames: ['max.message.bytes'] }] });
  const value = Number(resources[0]?.configEntries.find((e) => e.configName === 'max.message.bytes')?.configValue);
  return Number.isFinite(value) && value > 0 ? value : DEFAULT_MAX_MESSAGE_BYTES;
}
