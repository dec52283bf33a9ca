/**
 * The slice writer: consumes the CDC topic of one table and writes its
 * changes as time-slice files (./slice-format.ts), one per stream partition
 * per interval, into the object store.
 *
 * Where it starts: per partition, at the `nextOffset` of the partition's last
 * slice in the store, else at the lake table's progress (the offset after
 * what `lake init` loaded), else at the partition's beginning (a partition
 * added later). The object store is the truth: a new consumer group's offsets
 * are set from it; the group's offsets are committed after each slice (so
 * they trail the stored slices by at most what a crash lost), and records
 * below the end of the last stored slice are skipped. Instances of one group
 * share the partitions; a restart after a crash waits for the dead member's
 * session (30 s) to end, then resumes.
 *
 * When a slice closes: when a record of a later interval arrives (it starts
 * the next slice), when the interval ended `graceMs` ago (a punctuator checks
 * every second), and at a graceful stop. A record whose interval has closed
 * goes into the partition's open slice (slices are offset ranges; the
 * interval in a name is that of the slice's first record).
 *
 * Exactly once per slice: slices are written put-if-absent under a key made
 * of the partition and the first offset, so a re-run after a crash rewrites a
 * slice that was not stored and never a second copy of one that was; a writer
 * that finds its key taken continues after the stored slice.
 */
import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { RecordDecoder } from '../cdc/debezium-json.ts';
import type { ChangeEvent } from '../cdc/types.ts';
import { CdcViewsError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { committedOffsets, groupMembers, setGroupOffsets, watermarks } from '../ops/kafka.ts';
import type { DeadLetterQueue } from '../runtime/dlq.ts';
import { toLakeValue } from './columns.ts';
import { ObjectExistsError, type ObjectStore } from './object-store.ts';
import { readParquetKv, writeParquet } from './parquet.ts';
import { META_COLUMNS, SLICE_KV_KEY, intervalStartOf, sliceInfoOf, parseSliceKey, sliceKey, slicePartitionPrefix, type SliceInfo } from './slice-format.ts';
import type { LakeTableSpec } from './table-spec.ts';
import type { LakeColumn, LakeRow } from './types.ts';

/** Column listing the columns whose value Debezium could not send (unchanged TOAST), comma-separated; null when none. */
export const UNAVAILABLE_COLUMN = '_cdcv_unavailable';

/** Options of {@link SliceWriter}. */
export interface SliceWriterOptions {
  store: ObjectStore;
  kafka: Kafka;
  admin: Admin;
  spec: LakeTableSpec;
  /** Progress of the lake table per stream partition: the offset after what it holds. */
  progress: ReadonlyMap<number, bigint>;
  /** Slice interval, ms. */
  intervalMs: number;
  /** How long after an interval's end an open slice waits for late records before it is written, ms. @defaultValue 2000 */
  graceMs?: number;
  /** Consumer group (committed offsets mirror the slices). */
  groupId: string;
  decoder: RecordDecoder;
  /** Where records that cannot become rows go; without it they are logged and counted only. */
  dlq?: DeadLetterQueue;
  log: Logger;
  /** Called after each slice is stored. */
  onSlice?: (info: SliceInfo, key: string) => void;
  /** Called when the consumer stopped for good (KafkaJS gave up restarting it): the writer writes nothing more. */
  onFatal?: (error: Error) => void;
  /** @defaultValue Date.now */
  now?: () => number;
}

interface OpenSlice {
  partition: number;
  intervalStart: number;
  firstOffset: bigint;
  nextOffset: bigint;
  rows: LakeRow[];
  records: number;
  deletes: number;
}

/** The columns of a slice file: the table's (all nullable), then the cdc-views ones. */
export function sliceColumns(spec: LakeTableSpec): LakeColumn[] {
  return [...spec.columns.map((c) => ({ ...c, nullable: true })), ...META_COLUMNS, { name: UNAVAILABLE_COLUMN, type: 'string', nullable: true }];
}

/**
 * The slice row of a change: the new row (`c`, `u`, `r`) or the old row or
 * key of a delete (`d`, a delete marker), with the cdc-views columns; null
 * for changes that are not row changes (truncate, logical messages).
 * @throws {Error} when a value does not fit its column's type
 */
export function sliceRow(spec: LakeTableSpec, event: ChangeEvent): LakeRow | null {
  if (event.op === 't' || event.op === 'm') return null;
  const image = event.op === 'd' ? (event.before ?? event.key ?? {}) : (event.after ?? {});
  const source = event.op === 'd' ? { ...event.key, ...image } : image;
  const row: LakeRow = {};
  for (const c of spec.columns) row[c.name] = source[c.name] === undefined ? null : toLakeValue(source[c.name], c.type);
  row._cdcv_op = event.op;
  row._cdcv_version = event.version;
  row._cdcv_offset = BigInt(event.position.offset);
  row._cdcv_ts_ms = BigInt(event.source.tsMs);
  row[UNAVAILABLE_COLUMN] = event.unavailable && event.unavailable.length > 0 ? event.unavailable.join(',') : null;
  return row;
}

/** The slice info of a stored slice file, from its footer. */
export async function readSliceInfo(store: ObjectStore, key: string): Promise<SliceInfo | undefined> {
  const body = await store.get(key);
  if (!body) return undefined;
  return sliceInfoOf(readParquetKv(body), `${store.url}/${key}`);
}

/**
 * Where the slices of each partition continue: after the partition's last
 * stored slice, else at the table's progress, else at `low` (its first offset).
 */
export async function resumeOffsets(store: ObjectStore, spec: LakeTableSpec, partitions: readonly { partition: number; low: bigint }[], progress: ReadonlyMap<number, bigint>): Promise<Map<number, bigint>> {
  const out = new Map<number, bigint>();
  for (const { partition, low } of partitions) {
    const keys = (await store.list(slicePartitionPrefix(spec.table, partition))).map((o) => ({ key: o.key, parts: parseSliceKey(o.key) })).filter((k) => k.parts !== null);
    keys.sort((a, b) => (a.parts!.firstOffset < b.parts!.firstOffset ? -1 : 1));
    const last = keys.at(-1);
    const info = last ? await readSliceInfo(store, last.key) : undefined;
    const fromTable = progress.get(partition);
    let next = fromTable ?? low;
    if (info && BigInt(info.nextOffset) > next) next = BigInt(info.nextOffset);
    out.set(partition, next);
  }
  return out;
}

/** Writes a table's change stream as slice files until stopped. */
export class SliceWriter {
  private consumer?: Consumer;
  private readonly open = new Map<number, OpenSlice>();
  /**
   * Per partition, after a lost put-if-absent: where the stored slice ended
   * (the writer seeks there) and the batch that found it; the rest of that
   * batch and records below the offset are skipped.
   */
  private readonly resumeAt = new Map<number, { offset: bigint; batch: number }>();
  private batchNo = 0;
  /** Per partition, the end of the last stored slice known: records below it are in a slice already. */
  private readonly floor = new Map<number, bigint>();
  private currentBatch = 0;
  private queue: Promise<void> = Promise.resolve();
  private timer?: NodeJS.Timeout;
  private readonly columns: LakeColumn[];
  /** Slices stored by this writer. */
  slicesWritten = 0;
  /** Records sent to the DLQ (or, without one, skipped). */
  deadLettered = 0;

  constructor(private readonly o: SliceWriterOptions) {
    this.columns = sliceColumns(o.spec);
  }

  private get now(): number {
    return (this.o.now ?? Date.now)();
  }

  /** Runs `fn` after everything queued before it: batches and the punctuator never interleave. */
  private serial(fn: () => Promise<void>): Promise<void> {
    const next = this.queue.then(fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Sets the group's offsets from the store, then consumes.
   * @throws {CdcViewsError} when Kafka or the object store cannot be reached
   */
  async start(): Promise<void> {
    const { admin, spec, groupId } = this.o;
    const marks = await watermarks(admin, spec.topic);
    const starts = await resumeOffsets(this.o.store, spec, marks, this.o.progress);
    for (const [partition, offset] of starts) this.floor.set(partition, offset);
    // A new group starts where the store says (rather than reading the topic from its beginning and skipping);
    // an existing one resumes at its committed offsets, which trail the stored slices at most by a crash's worth.
    const committed = await committedOffsets(admin, groupId, spec.topic);
    if ([...committed.values()].every((o) => o === null) && (await groupMembers(admin, groupId)).members.length === 0) {
      await setGroupOffsets(this.o.kafka, groupId, [...starts].map(([partition, offset]) => ({ topic: spec.topic, partition, offset })));
    }
    this.o.log.info({ table: spec.table, starts: Object.fromEntries([...starts].map(([p, o]) => [p, o.toString()])) }, 'lake slices: starting');
    const consumer = this.o.kafka.consumer({ groupId, maxWaitTimeInMs: 500, sessionTimeout: 30_000, heartbeatInterval: 3_000 });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, () => {
      // A new assignment restarts every partition at its committed offset (the end of a slice); records
      // below the floor are in stored slices and are skipped.
      void this.serial(() => {
        this.open.clear();
        this.resumeAt.clear();
        return Promise.resolve();
      });
    });
    consumer.on(consumer.events.CRASH, (e) => {
      if (!e.payload.restart) this.o.onFatal?.(e.payload.error);
    });
    await consumer.connect();
    // Partitions without a committed offset (added to the topic later) start at their beginning.
    await consumer.subscribe({ topic: spec.topic, fromBeginning: true });
    await consumer.run({ autoCommit: false, eachBatch: (payload) => this.serial(() => this.batch(payload)) });
    this.timer = setInterval(() => void this.serial(() => this.punctuate()).catch((err: unknown) => this.o.log.error({ err }, 'lake slices: writing a slice failed')), 1000);
  }

  /**
   * Writes the open slices and stops consuming: fetching pauses first, so the
   * slices are stored and their offsets committed while this member is still
   * in the group; records after them are read again by the next writer.
   */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.consumer?.pause([{ topic: this.o.spec.topic }]);
    try {
      await this.serial(async () => {
        for (const slice of [...this.open.values()]) await this.close(slice);
      });
    } finally {
      await this.consumer?.stop();
      await this.consumer?.disconnect();
    }
  }

  private async batch(payload: EachBatchPayload): Promise<void> {
    const { batch } = payload;
    const partition = batch.partition;
    this.currentBatch = ++this.batchNo;
    for (const message of batch.messages) {
      const offset = BigInt(message.offset);
      if (offset < (this.floor.get(partition) ?? 0n)) continue;
      const resume = this.resumeAt.get(partition);
      if (resume && (resume.batch === this.currentBatch || offset < resume.offset)) continue;
      this.resumeAt.delete(partition);
      const interval = intervalStartOf(Number(message.timestamp), this.o.intervalMs);
      let slice = this.open.get(partition);
      if (slice && interval > slice.intervalStart) {
        await this.close(slice);
        slice = undefined;
      }
      slice ??= this.begin(partition, interval, offset);
      slice.records += 1;
      slice.nextOffset = offset + 1n;
      await this.append(slice, batch.topic, message);
    }
    this.currentBatch = 0;
    await payload.heartbeat();
  }

  private begin(partition: number, intervalStart: number, firstOffset: bigint): OpenSlice {
    const slice: OpenSlice = { partition, intervalStart, firstOffset, nextOffset: firstOffset, rows: [], records: 0, deletes: 0 };
    this.open.set(partition, slice);
    return slice;
  }

  private async append(slice: OpenSlice, topic: string, message: KafkaMessage): Promise<void> {
    try {
      const decoded = await this.o.decoder.decode({ topic, partition: slice.partition, offset: message.offset, timestamp: message.timestamp, key: message.key, value: message.value });
      if (decoded.kind !== 'change') return;
      const row = sliceRow(this.o.spec, decoded);
      if (!row) return;
      slice.rows.push(row);
      if (decoded.op === 'd') slice.deletes += 1;
    } catch (err) {
      const error = err instanceof CdcViewsError ? err : new CdcViewsError('LAKE_BAD_VALUE', `the record cannot become a lake row: ${(err as Error).message}`, { cause: err });
      this.deadLettered += 1;
      this.o.log.warn({ topic, partition: slice.partition, offset: message.offset, code: error.code }, `lake slices: record skipped to the DLQ: ${error.message}`);
      await this.o.dlq?.send([{ topic, partition: slice.partition, message, error }]);
    }
  }

  private async punctuate(): Promise<void> {
    for (const slice of [...this.open.values()]) {
      if (this.now >= slice.intervalStart + this.o.intervalMs + (this.o.graceMs ?? 2000)) await this.close(slice);
    }
  }

  /** Stores a slice (put-if-absent) and commits its end as the group's offset. */
  private async close(slice: OpenSlice): Promise<void> {
    this.open.delete(slice.partition);
    const { spec, store } = this.o;
    const versions = slice.rows.map((r) => r._cdcv_version as string).sort();
    const ts = slice.rows.map((r) => Number(r._cdcv_ts_ms));
    const info: SliceInfo = {
      table: spec.table,
      topic: spec.topic,
      partition: slice.partition,
      intervalStart: slice.intervalStart,
      intervalMs: this.o.intervalMs,
      firstOffset: slice.firstOffset.toString(),
      nextOffset: slice.nextOffset.toString(),
      records: slice.records,
      rows: slice.rows.length,
      deletes: slice.deletes,
      versions: versions.length > 0 ? { min: versions[0]!, max: versions.at(-1)! } : null,
      sourceTsMs: ts.length > 0 ? { min: Math.min(...ts), max: Math.max(...ts) } : null,
      writtenAt: this.now,
    };
    const key = sliceKey(spec.table, slice.partition, slice.intervalStart, slice.firstOffset);
    let next = slice.nextOffset;
    try {
      await store.put(key, writeParquet(this.columns, slice.rows, { [SLICE_KV_KEY]: JSON.stringify(info) }), { ifAbsent: true });
      this.slicesWritten += 1;
      this.o.onSlice?.(info, key);
    } catch (err) {
      if (!(err instanceof ObjectExistsError)) throw err;
      // Another writer (or this one before a crash) stored the slice: continue after it.
      const stored = await readSliceInfo(store, key);
      next = stored ? BigInt(stored.nextOffset) : next;
      this.o.log.warn({ key, next: next.toString() }, 'lake slices: the slice exists already; continuing after it');
      if (next !== slice.nextOffset) {
        this.resumeAt.set(slice.partition, { offset: next, batch: this.currentBatch });
        this.consumer?.seek({ topic: spec.topic, partition: slice.partition, offset: next.toString() });
      }
    }
    if (next > (this.floor.get(slice.partition) ?? 0n)) this.floor.set(slice.partition, next);
    await this.consumer?.commitOffsets([{ topic: spec.topic, partition: slice.partition, offset: next.toString() }]);
  }
}
