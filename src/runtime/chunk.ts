/**
 * What a chunk of one partition's records turns into before anything is
 * written: the decisions of the partition task, as a pure function (unit-tested
 * without Kafka or Redis).
 *
 * A chunk is a run of consecutive records of one partition (at most
 * `maxChunkRecords`): KafkaJS delivers a fetched *batch*, the task processes it
 * in *chunks*, each stored with its position.
 */
import type { KafkaMessage } from 'kafkajs';
import type { ChangeEvent, DecodedRecord } from '../cdc/types.ts';
import { DecodeError, DecodeErrorCode, type CdcViewsError } from '../errors.ts';
import { encodeOrigin } from '../state/encoding.ts';
import type { StateWrite } from '../state/store.ts';
import type { DeadLetter } from './dlq.ts';

/** A compacted write and the source commit time of its event (null for snapshot reads: no latency). */
export interface PendingWrite {
  write: StateWrite;
  tsMs: number | null;
  /**
   * Columns Debezium could not send (unchanged TOASTed values) that no
   * earlier event of the chunk could fill: the task fills them from the
   * stored row before applying. Absent when none.
   */
  unavailable?: string[];
  /** The event is an incremental-snapshot read (`source.snapshot` `incremental`): a backfill row. */
  incremental?: true;
}

/**
 * Writes between two truncates of the chunk: a segment's writes are applied,
 * then its truncate (if any), then the next segment's writes.
 */
export interface Segment {
  /** The newest write per (table, key), in the order of their newest event. */
  writes: Map<string, PendingWrite>;
  /** Table truncated after this segment's writes. */
  truncate?: Truncate;
}

/** A truncate of a table: rows older than its version go. */
export interface Truncate {
  /** The table's state id (its topic). */
  table: string;
  /** The truncate record's offset. */
  offset: bigint;
  version: string;
  origin: string;
}

/** A chunk after decoding and compaction. */
export interface CompactedChunk {
  segments: Segment[];
  /** Tombstones seen (Kafka null values after deletes; nothing to apply). */
  tombstones: number;
  /** Records that cannot be applied, for the DLQ (undecodable ones are added by the caller). */
  letters: DeadLetter[];
  /**
   * The version of the snapshot whose last read of this table the chunk holds
   * (Debezium `source.snapshot` `last` or `last_in_data_collection`): once
   * every partition has passed it, rows older than it were deleted while no
   * change could be captured.
   */
  snapshotCompleted?: string;
  /** The first snapshot read of the chunk (its snapshot's version and its offset): where the snapshot's reads start in this partition. */
  snapshotStart?: { version: string; offset: bigint };
  /**
   * Incremental-snapshot reads (backfill rows) in the chunk, before
   * compaction: counted with the chunk's position (stats `backfill:<table>`).
   */
  incrementalReads: number;
}

/**
 * The writes of the stream views of one change event (ViewEngine.streamWrites):
 * each view's document as a row of its own table, and the views whose code
 * threw on the event.
 */
export type StreamWrites = (event: ChangeEvent, version: string, origin: string) => { writes: StateWrite[]; failed: { view: string; error: CdcViewsError }[] };

/**
 * Compacts a decoded chunk: per (table, key) only the newest event is kept
 * (a later event of the same key replaces the earlier one), split at truncates
 * so that writes before a truncate are applied before it. Logical decoding
 * messages (`op: m`) are skipped; an event without a key (a table without a
 * primary key) becomes a dead letter `DECODE_NO_KEY`.
 *
 * A change's write goes to the topic's table (the state table id: one topic
 * carries one table of one connector); the documents of the stream views of
 * its table go to each view's own table (`streamWrites`), so a key's stream
 * document is its last event that passed the view's filters. The version of
 * a write is its event's source version; its origin names the record (topic
 * incarnation, partition, offset).
 * @param decoded one entry per message, null where decoding failed (already a dead letter)
 * @param streamWrites the stream-view writes of an event. @defaultValue none
 */
export function compactChunk(
  topic: string,
  partition: number,
  incarnation: number,
  messages: readonly KafkaMessage[],
  decoded: readonly (DecodedRecord | null)[],
  streamWrites?: StreamWrites,
): CompactedChunk {
  const out: CompactedChunk = { segments: [{ writes: new Map() }], tombstones: 0, letters: [], incrementalReads: 0 };
  messages.forEach((message, i) => {
    const event = decoded[i] ?? null;
    if (event === null) return;
    if (event.kind === 'tombstone') {
      out.tombstones += 1;
      return;
    }
    if (event.op === 't') {
      const offset = BigInt(message.offset);
      out.segments[out.segments.length - 1]!.truncate = { table: topic, offset, version: event.version, origin: encodeOrigin(incarnation, partition, offset) };
      out.segments.push({ writes: new Map() });
      return;
    }
    if (event.op === 'm') return;
    if (event.op === 'r' && event.source.snapshot !== false && event.source.snapshot !== 'incremental') {
      out.snapshotStart ??= { version: event.version, offset: BigInt(message.offset) };
      if (event.source.snapshot === 'last' || event.source.snapshot === 'last_in_data_collection') out.snapshotCompleted = event.version;
    }
    if (event.keyString === null) {
      const error = new DecodeError(DecodeErrorCode.NoKey, `table ${event.table} has no primary key; set REPLICA IDENTITY FULL and message.key.columns, or exclude it`);
      out.letters.push({ topic, partition, message, error });
      return;
    }
    const writes = out.segments[out.segments.length - 1]!.writes;
    const version = event.version;
    const origin = encodeOrigin(incarnation, partition, message.offset);
    // A snapshot read's ts_ms is the snapshot's time, not a commit time.
    const tsMs = event.op === 'r' ? null : event.source.tsMs;
    const pending: PendingWrite = { write: { table: topic, keyString: event.keyString, version, origin, row: event.op === 'd' ? null : event.after }, tsMs };
    if (event.op === 'r' && event.source.snapshot === 'incremental') {
      out.incrementalReads += 1;
      pending.incremental = true;
    }
    if (event.op !== 'd' && event.unavailable) fillUnavailable(pending, event.unavailable, writes.get(writeId(pending.write)));
    keepNewest(writes, pending);
    if (streamWrites) {
      const stream = streamWrites(event, version, origin);
      for (const write of stream.writes) keepNewest(writes, { write, tsMs });
      for (const { view, error } of stream.failed) out.letters.push({ topic, partition, message, error, view });
    }
  });
  return out;
}

const writeId = (w: StateWrite): string => `${w.table}\u0000${w.keyString}`;

/** Keeps a write as its key's newest; re-inserted so the Map's order follows the newest events. */
function keepNewest(writes: Map<string, PendingWrite>, pending: PendingWrite): void {
  const id = writeId(pending.write);
  writes.delete(id);
  writes.set(id, pending);
}

/**
 * Takes the values of unavailable columns from the previous event of the same
 * key in the chunk (the immediately older image); what it lacks stays
 * `unavailable` for the task to fill from the stored row.
 */
function fillUnavailable(pending: PendingWrite, unavailable: readonly string[], previous: PendingWrite | undefined): void {
  const row = { ...pending.write.row };
  const missing: string[] = [];
  const older = previous?.write.row ?? null;
  for (const column of unavailable) {
    if (older !== null && Object.hasOwn(older, column) && !previous?.unavailable?.includes(column)) row[column] = older[column];
    else missing.push(column);
  }
  pending.write.row = row;
  if (missing.length > 0) pending.unavailable = missing;
}
