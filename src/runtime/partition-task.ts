/**
 * The work of one assigned partition (Kafka Streams' StreamTask): ownership
 * (owner epoch and the position stored with the state), then per chunk:
 * decode, compact, and commit through the {@link Checkpoint} (DLQ, state
 * with position, views, truncates). Records are processed
 * strictly in offset order; partitions run concurrently, one task each.
 *
 * A task is created when its partition is first fetched after a group join
 * (eager rebalancing: every join is a fresh assignment) and dropped when the
 * partition is fenced, lost or re-assigned.
 */
import type { KafkaMessage } from 'kafkajs';
import type { RecordDecoder } from '../cdc/debezium-json.ts';
import type { ChangeEvent, DecodedRecord } from '../cdc/types.ts';
import { CdcViewsError, DecodeError, DecodeErrorCode, FencedError, PositionMismatchError } from '../errors.ts';
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics/catalogue.ts';
import type { ApplyResult, PartitionStateStore } from '../state/store.ts';
import type { Backpressure } from './backpressure.ts';
import { compactChunk, type PendingWrite, type Truncate } from './chunk.ts';
import { Checkpoint } from './checkpoint.ts';
import type { DeadLetter, DeadLetterQueue } from './dlq.ts';
import { RejoinGroupError } from './kafka-client.ts';
import type { TableChange, ViewEngine } from './view-engine.ts';

/** Counters since start, in records (chunks: in chunks). */
export interface ProcessingCounts {
  consumed: number;
  applied: number;
  stale: number;
  tombstones: number;
  dlq: number;
  chunks: number;
  /** View roots and stream events the topology's code threw on (in the DLQ as RENDER_FAILED). */
  renderFailures: number;
}

/** What a task needs of its application. */
export interface TaskContext {
  applicationId: string;
  store: PartitionStateStore;
  views: ViewEngine;
  decoder: RecordDecoder;
  dlq: DeadLetterQueue;
  metrics: Metrics;
  log: Logger;
  counts: ProcessingCounts;
  backpressure: Backpressure;
  /** Moves the consumer of this partition to `offset`: the current fetch is dropped. */
  seek(topic: string, partition: number, offset: bigint): void;
  /** The partition's first retained offset. */
  lowWatermark(topic: string, partition: number): Promise<bigint>;
  /** The end offset of every partition of a topic. */
  endOffsets(topic: string): Promise<Map<number, bigint>>;
}

/** Outcome of {@link PartitionTask.process}: the last offset handled, nothing to do, or a seek (stop this batch). */
export type ChunkOutcome = { kind: 'done'; lastOffset: string } | { kind: 'empty' } | { kind: 'seek' };

export class PartitionTask {
  /** Next offset to process, as stored with the state; null before this application stored one. */
  private position: bigint | null;
  /** True once a position is stored for this partition (the state-loss watch only looks at these). */
  private stored: boolean;
  private readonly checkpoint: Checkpoint;
  private readonly labels: { application_id: string; topic: string; partition: string };
  private readonly log: Logger;
  private heartbeat: () => Promise<void> = () => Promise.resolve();
  private processing = false;
  /** Whether the stored position was compared with the log end (once per task). */
  private endChecked = false;

  private constructor(
    private readonly ctx: TaskContext,
    readonly topic: string,
    readonly partition: number,
    readonly epoch: number,
    position: bigint | null,
    /** How many times the topic was found re-created: part of every origin this task writes. */
    private incarnation: number,
  ) {
    this.position = position;
    this.stored = position !== null;
    this.labels = { application_id: ctx.applicationId, topic, partition: String(partition) };
    this.log = ctx.log.child({ topic, partition });
    this.checkpoint = new Checkpoint({
      sendDeadLetters: (letters) => this.sendDeadLetters(letters),
      applyState: (writes, from, to, stamp, backfillReads) => this.applyState(writes, from, to, stamp, backfillReads),
      renderViews: (writes) => this.renderViews(writes),
      truncate: (truncate) => this.truncate(truncate),
    });
  }

  /** Takes ownership of a partition: bumps its owner epoch in Redis and reads the stored position. */
  static async acquire(ctx: TaskContext, topic: string, partition: number): Promise<PartitionTask> {
    const { epoch, position, incarnation } = await ctx.store.acquire(topic, partition);
    const task = new PartitionTask(ctx, topic, partition, epoch, position, incarnation);
    task.log.info({ epoch, position: position?.toString(), incarnation }, 'partition acquired');
    return task;
  }

  /** True once a position is stored for the partition, by this task or before it. */
  get hasStoredPosition(): boolean {
    return this.stored;
  }

  /** True while a chunk is being processed. */
  get busy(): boolean {
    return this.processing;
  }

  /**
   * Processes consecutive records of the partition (one chunk).
   * Before the first chunk: when no position is stored with the state (a new
   * application, or Redis lost its data), the state is built from the start of
   * the log whatever offset Kafka committed, so the task seeks there; when the
   * stored position is behind the fetched records (state restored or
   * rewound), it seeks back to it. Records before the position are skipped.
   * @param heartbeat called between slow steps; throws when a rebalance revoked the partition
   * @throws {RejoinGroupError} when another instance took the partition (fenced)
   */
  async process(chunk: readonly KafkaMessage[], heartbeat: () => Promise<void>): Promise<ChunkOutcome> {
    this.processing = true;
    try {
      return await this.processChunk(chunk, heartbeat);
    } catch (err) {
      if (err instanceof FencedError) return await this.fenced(err);
      if (err instanceof PositionMismatchError) return await this.resync(err.expected, err.found);
      throw err;
    } finally {
      this.processing = false;
    }
  }

  private async processChunk(chunk: readonly KafkaMessage[], heartbeat: () => Promise<void>): Promise<ChunkOutcome> {
    if (chunk.length === 0) return { kind: 'empty' };
    this.heartbeat = heartbeat;
    const first = BigInt(chunk[0]!.offset);
    if (this.position === null) {
      const low = await this.ctx.lowWatermark(this.topic, this.partition);
      if (low > 0n) {
        await this.ctx.store.recordHistoryLost(this.topic, this.partition, low);
        this.log.error({ logStart: low.toString() }, `building ${this.topic}[${this.partition}] from offset ${low}: retention deleted the records before it, so rows no later change re-sent are missing; backfill the table (a snapshot), or clone a live version`);
      }
      if (first > low) {
        this.log.warn({ offset: first.toString(), earliest: low.toString() }, 'no position stored with the state: rebuilding this partition from the earliest offset');
        this.position = low;
        this.ctx.seek(this.topic, this.partition, low);
        return { kind: 'seek' };
      }
    } else if (first < this.position && !this.endChecked) {
      // Fetched records before the stored position: normal after Kafka's offsets were reset back, but the
      // topic may have been re-created (offsets start again at 0): then the position is beyond the log's
      // end, or the record just before it is not the one processed (another timestamp).
      const recreated = await this.recreated(chunk);
      if (recreated !== null) {
        const low = await this.ctx.lowWatermark(this.topic, this.partition);
        this.incarnation = await this.ctx.store.advanceIncarnation(this.topic, this.incarnation);
        this.log.warn({ position: this.position.toString(), incarnation: this.incarnation }, `${this.topic}[${this.partition}] was re-created (${recreated}); consuming it from ${low}`);
        await this.ctx.store.applyChunk(this.topic, this.partition, this.epoch, this.position, low, [], this.ctx.views.dirtyTables);
        this.position = low;
        if (first > low) {
          this.ctx.seek(this.topic, this.partition, low);
          return { kind: 'seek' };
        }
      }
    }
    if (this.position !== null && first > this.position) {
      // Kafka's committed offset is ahead of the state's position: the state wins.
      this.log.info({ offset: first.toString(), position: this.position.toString() }, 'seeking to the position stored with the state');
      this.ctx.seek(this.topic, this.partition, this.position);
      return { kind: 'seek' };
    }
    const start = this.position;
    const messages = start === null ? chunk : chunk.filter((m) => BigInt(m.offset) >= start);
    const lastOffset = chunk[chunk.length - 1]!.offset;
    if (messages.length === 0) return { kind: 'done', lastOffset };

    const { counts, metrics } = this.ctx;
    counts.consumed += messages.length;
    counts.chunks += 1;
    metrics.recordsConsumed.inc(this.labels, messages.length);
    metrics.chunkSize.observe({ application_id: this.ctx.applicationId, topic: this.topic }, messages.length);

    const undecodable: DeadLetter[] = [];
    const decoded = await this.decodeAll(messages, undecodable);
    const views = this.ctx.views;
    const streamWrites = views.streamTables.has(this.topic) ? (e: ChangeEvent, version: string, origin: string) => views.streamWrites(this.topic, e, version, origin) : undefined;
    const compacted = compactChunk(this.topic, this.partition, this.incarnation, messages, decoded, streamWrites);
    compacted.letters.unshift(...undecodable);
    if (compacted.tombstones > 0) {
      counts.tombstones += compacted.tombstones;
      metrics.tombstones.inc(this.labels, compacted.tombstones);
    }
    const next = BigInt(messages[messages.length - 1]!.offset) + 1n;
    await this.checkpoint.commit(compacted, this.stored ? this.position : null, next, messages[messages.length - 1]!.timestamp);
    this.position = next;
    // Only source versions order rows of different partitions; Kafka-offset versions (K…) cannot.
    const { snapshotStart, snapshotCompleted } = compacted;
    if (snapshotStart !== undefined && !snapshotStart.version.startsWith('K')) await this.ctx.store.recordSnapshotStart(this.topic, this.partition, this.incarnation, snapshotStart.version, snapshotStart.offset);
    if (snapshotCompleted !== undefined && !snapshotCompleted.startsWith('K')) await this.ctx.store.recordSnapshot(this.topic, snapshotCompleted, this.incarnation, await this.ctx.endOffsets(this.topic));
    await this.ctx.store.recordLastEvent(this.topic, this.partition, messages[messages.length - 1]!.timestamp);
    return { kind: 'done', lastOffset };
  }

  /**
   * Whether the topic was re-created under this partition's stored position
   * (and why), from the log's end and the record just before the position;
   * null when it was not, or when the chunk does not reach that record yet
   * (the next chunk checks again).
   */
  private async recreated(chunk: readonly KafkaMessage[]): Promise<string | null> {
    const position = this.position!;
    const end = (await this.ctx.endOffsets(this.topic)).get(this.partition) ?? 0n;
    if (position > end) {
      this.endChecked = true;
      return `the stored position ${position} is beyond the log end ${end}`;
    }
    const before = chunk.find((m) => BigInt(m.offset) === position - 1n);
    if (before === undefined) return null;
    this.endChecked = true;
    const stamp = await this.ctx.store.positionStamp(this.topic, this.partition);
    if (stamp === null || stamp === before.timestamp) return null;
    return `the record at offset ${position - 1n} has the timestamp ${before.timestamp}, the one processed had ${stamp}`;
  }

  /**
   * Decodes records; undecodable ones are added to `letters` (null in the
   * result). A retriable error (e.g. the schema registry is briefly down) is
   * not a bad record: the whole chunk is retried with backoff while the
   * partition waits, and nothing goes to the DLQ.
   */
  private async decodeAll(messages: readonly KafkaMessage[], letters: DeadLetter[]): Promise<(DecodedRecord | null)[]> {
    const { topic, partition } = this;
    const { out, failed } = await this.ctx.backpressure.whilePaused('decode', topic, partition, this.heartbeat, async () => {
      const out: (DecodedRecord | null)[] = [];
      const failed: DeadLetter[] = [];
      for (const message of messages) {
        try {
          out.push(await this.ctx.decoder.decode({ topic, partition, offset: message.offset, timestamp: message.timestamp, key: message.key, value: message.value }));
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

  /** Dead letters first: a DLQ that does not answer pauses the partition like a sink outage (DLQ_UNAVAILABLE). */
  private async sendDeadLetters(letters: readonly DeadLetter[]): Promise<void> {
    const { counts, metrics, store } = this.ctx;
    await this.ctx.backpressure.whilePaused('dlq', this.topic, this.partition, this.heartbeat, () => this.ctx.dlq.send(letters));
    counts.dlq += letters.length;
    for (const l of letters) {
      metrics.dlqRecords.inc({ application_id: this.ctx.applicationId, topic: this.topic, reason: l.error.code });
      if (l.view !== undefined) {
        metrics.renderFailures.inc({ application_id: this.ctx.applicationId, view: l.view });
        counts.renderFailures += 1;
      }
    }
    await store.incrementStat('dlq', letters.length);
    for (const l of letters) this.log.warn({ offset: l.message.offset, code: l.error.code }, `record sent to DLQ: ${l.error.message}`);
  }

  private async applyState(pending: readonly PendingWrite[], from: bigint | null, to: bigint, stamp: string, backfillReads: number): Promise<ApplyResult> {
    await this.completeRows(pending);
    const { store, views } = this.ctx;
    const stats = backfillReads > 0 ? { [`backfill:${this.topic}`]: backfillReads } : {};
    const r = await store.applyChunk(this.topic, this.partition, this.epoch, from, to, pending.map((p) => p.write), views.dirtyTables, stamp, stats);
    this.stored = true;
    // A write completed from a stored row that changed meanwhile (`b`): complete it again from the new one.
    for (let attempt = 0; attempt < 3 && r.flags.includes('b'); attempt++) {
      const again = pending.flatMap((p, i) => (r.flags[i] === 'b' ? [i] : []));
      await this.completeRows(again.map((i) => pending[i]!));
      const retry = await store.applyChunk(this.topic, this.partition, this.epoch, to, to, again.map((i) => pending[i]!.write), views.dirtyTables, stamp);
      const flags = [...r.flags];
      again.forEach((i, n) => (flags[i] = retry.flags[n]!));
      r.flags = flags.join('');
      r.applied += retry.applied;
      r.stale += retry.stale;
      r.unchanged += retry.unchanged;
    }
    const { counts, metrics } = this.ctx;
    counts.applied += r.applied;
    counts.stale += r.stale;
    metrics.recordsApplied.inc(this.labels, r.applied);
    metrics.recordsStale.inc(this.labels, r.stale);
    metrics.recordsUnchanged.inc(this.labels, r.unchanged);
    if (backfillReads > 0) this.countBackfill(pending, r.flags, backfillReads);
    this.observeLatency('state', pending.filter((p, i) => r.flags[i] === '1' && p.tsMs !== null).map((p) => p.tsMs!));
    return r;
  }

  /** `cdc_views_backfill_rows_total` by outcome for a chunk's incremental-snapshot reads (see the metric). */
  private countBackfill(pending: readonly PendingWrite[], flags: string, reads: number): void {
    const outcomes = { applied: 0, unchanged: 0, stale: 0, superseded: reads };
    pending.forEach((p, i) => {
      if (!p.incremental) return;
      outcomes.superseded -= 1;
      if (flags[i] === '1') outcomes.applied += 1;
      else if (flags[i] === '=') outcomes.unchanged += 1;
      else outcomes.stale += 1;
    });
    for (const [outcome, n] of Object.entries(outcomes)) {
      if (n > 0) this.ctx.metrics.backfillRows.inc({ application_id: this.ctx.applicationId, topic: this.topic, outcome }, n);
    }
  }

  /**
   * Fills the columns Debezium could not send (unchanged TOASTed values) from
   * the stored row — the key's older image — and makes the write conditional
   * on that stored version; what the stored row lacks too stays out of the
   * row, which is stored as incomplete (counted, listed by `status`).
   */
  private async completeRows(pending: readonly PendingWrite[]): Promise<void> {
    const todo = pending.filter((p) => p.unavailable !== undefined && p.write.row !== null);
    if (todo.length === 0) return;
    const stored = await this.ctx.store.storedRows(this.topic, todo.map((p) => p.write.keyString));
    todo.forEach((p, n) => {
      const older = stored[n] ?? null;
      const row = { ...p.write.row };
      const missing: string[] = [];
      for (const column of p.unavailable!) {
        if (older?.row && Object.hasOwn(older.row, column)) row[column] = older.row[column];
        else missing.push(column);
      }
      p.write.row = row;
      p.write.basis = older?.version ?? '';
      p.write.incomplete = missing;
      if (missing.length > 0) this.log.warn({ key: p.write.keyString, columns: missing }, 'row stored without unchanged TOASTed columns that no older image holds (set REPLICA IDENTITY FULL on the table to avoid it)');
    });
  }

  /**
   * Renders the views that depend on the writes. A sink that is down (a
   * retriable error) pauses this partition with backoff until it recovers;
   * the writes' dirty marks make every retry complete.
   */
  private async renderViews(pending: readonly PendingWrite[]): Promise<void> {
    const dirtyTables = this.ctx.views.dirtyTables;
    const byTable = new Map<string, { changes: TableChange[]; tsMs: number[] }>();
    for (const { write: w, tsMs } of pending) {
      if (!dirtyTables.has(w.table)) continue;
      const entry = byTable.get(w.table) ?? { changes: [], tsMs: [] };
      entry.changes.push({ keyString: w.keyString, version: w.version.toString(), row: w.row });
      if (tsMs !== null) entry.tsMs.push(tsMs);
      byTable.set(w.table, entry);
    }
    if (byTable.size === 0) return;
    await this.ctx.backpressure.whilePaused('render', this.topic, this.partition, this.heartbeat, async () => {
      for (const [table, { changes, tsMs }] of byTable) {
        const sinks = await this.ctx.views.process(table, changes);
        for (const sink of sinks) this.observeLatency(sink, tsMs);
      }
    });
  }

  /**
   * A truncate: every row older than it (by version, whichever partition
   * wrote it) becomes a delete marker, page by page, and the views of the
   * deleted rows render as for any delete. Repeating it (a crash before the
   * position moved past it) changes nothing.
   */
  private async truncate(t: Truncate): Promise<void> {
    const { store, views } = this.ctx;
    const rendered = views.dirtyTables.has(t.table);
    const fence = { topic: this.topic, partition: this.partition, epoch: this.epoch };
    const deleted = await store.deleteOlderThan(t.table, t.version, t.origin, rendered, fence, async (keys) => {
      if (!rendered) return;
      await this.ctx.backpressure.whilePaused('render', this.topic, this.partition, this.heartbeat, () => views.process(t.table, keys.map((keyString) => ({ keyString, version: t.version, row: null }))));
    });
    this.log.warn({ table: t.table, deleted }, 'truncate: rows older than the truncate deleted');
  }

  /** Observes end-to-end latency (now − source commit time) for one sink. */
  private observeLatency(sink: string, tsMs: readonly number[]): void {
    if (tsMs.length === 0) return;
    const now = Date.now();
    // One labelled child per chunk: observe(labels, v) validates and hashes the labels for every record.
    const histogram = this.ctx.metrics.endToEndLatency.labels({ application_id: this.ctx.applicationId, sink });
    for (const t of tsMs) histogram.observe(Math.max(0, now - t) / 1000);
  }

  /**
   * A write was refused by the owner-epoch fence. When Redis holds a newer
   * epoch, another instance took the partition: this one is a zombie from an
   * older group generation; it rejoins the group and never writes again with
   * this epoch. When Redis holds an older epoch or none, Redis went back in
   * time or lost its data: the partition resumes from what Redis holds.
   */
  private async fenced(err: FencedError): Promise<ChunkOutcome> {
    this.retired = true;
    if (err.storedEpoch === null || err.storedEpoch < this.epoch) {
      return this.resync(this.position, await this.storedPosition());
    }
    this.log.warn({ epoch: this.epoch, storedEpoch: err.storedEpoch }, 'fenced: another instance owns this partition; the in-flight chunk is dropped, rejoining the group');
    await this.heartbeat(); // throws when the group is already rebalancing (KafkaJS then rejoins)
    throw new RejoinGroupError(`fenced out of ${this.topic}[${this.partition}]: rejoining the group`, err);
  }

  private async storedPosition(): Promise<bigint | null> {
    return (await this.ctx.store.positions()).get(this.topic, this.partition);
  }

  /**
   * Redis does not hold the position this task last stored (a failover to a
   * lagging replica, a restart from an older AOF or RDB, or lost data):
   * nothing of the chunk was written. The task retires; the partition resumes
   * from the position Redis holds (the log start when none), re-acquired with
   * a new owner epoch, so the records between that position and this task's
   * are processed again and nothing is lost.
   */
  private async resync(expected: bigint | null, found: bigint | null): Promise<ChunkOutcome> {
    this.retired = true;
    const resume = found ?? (await this.ctx.lowWatermark(this.topic, this.partition));
    this.ctx.metrics.stateRollbacks.inc(this.labels);
    this.log.warn(
      { expected: expected?.toString() ?? null, found: found?.toString() ?? null, resume: resume.toString() },
      `state went back in time on ${this.topic}[${this.partition}]: Redis holds position ${found ?? 'none'}, this instance stored ${expected ?? 'none'}; resuming from ${resume}`,
    );
    this.ctx.seek(this.topic, this.partition, resume);
    return { kind: 'seek' };
  }

  /**
   * Checks that Redis still holds the position this task last stored (the
   * state watch calls it while the task is idle).
   * @returns whether the task is still in step with Redis; when not, it retired and the partition was moved to Redis' position
   */
  async checkPosition(): Promise<boolean> {
    if (!this.stored || this.retired) return true;
    const found = await this.storedPosition();
    if (found === this.position) return true;
    await this.resync(this.position, found);
    return false;
  }

  /** True once the task must not write again: the application drops it and the next chunk acquires the partition anew. */
  retired = false;
}
