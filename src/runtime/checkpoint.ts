/**
 * The commit order of one chunk, written once, as code (in the manner of
 * Quix Streams' `Checkpoint`). Every step is acknowledged before the next
 * starts, and the Kafka offset is resolved only after the last one:
 *
 *  1. dead letters → the DLQ topic (acks=all), so that no record is skipped
 *     before it is kept somewhere;
 *  2. per segment (writes between two truncates; stream views' documents are
 *     writes of their own tables):
 *     a. the segment's writes and the partition's new position, in ONE atomic
 *        Redis step: version-guarded, fenced by the owner epoch, and refused
 *        unless the stored position is still the one the segment starts from
 *        (Redis did not go back in time). The new position is the chunk's end,
 *        or for a segment ending in a truncate the truncate record's own
 *        offset, so a crash before the truncate re-reads it;
 *     b. the views of the writes that applied (not the stale ones: a replayed
 *        or re-sent event must not move roll-up or group membership) rendered
 *        and written to their sinks (the marks set in 2a make this redoable
 *        after a crash);
 *     c. the truncate: every row older than it becomes a delete marker (rows
 *        of other partitions written after it stay), and their views render;
 *  3. the caller resolves the Kafka offset (KafkaJS commits it), for lag
 *     tooling only: correctness rests on the positions stored in 2a.
 */
import type { ApplyResult } from '../state/store.ts';
import type { CompactedChunk, PendingWrite, Truncate } from './chunk.ts';
import type { DeadLetter } from './dlq.ts';

/** The work of each step, supplied by the partition task. */
export interface CheckpointSteps {
  sendDeadLetters(letters: readonly DeadLetter[]): Promise<void>;
  /**
   * Applies writes and moves the stored position from `from` to `to` atomically.
   * `backfillReads`: the chunk's incremental-snapshot reads, counted with the
   * first segment (0 for the others).
   * @throws {FencedError} when fenced; {PositionMismatchError} when the stored position is not `from` (nothing written)
   */
  applyState(writes: readonly PendingWrite[], from: bigint | null, to: bigint, stamp: string, backfillReads: number): Promise<ApplyResult>;
  renderViews(writes: readonly PendingWrite[]): Promise<void>;
  truncate(truncate: Truncate): Promise<void>;
}

/** Commits chunks in the order above. */
export class Checkpoint {
  constructor(private readonly steps: CheckpointSteps) {}

  /**
   * Commits one compacted chunk that starts at the stored position `from`
   * (null: none stored yet) and whose records end before offset `next`;
   * `stamp` is the Kafka timestamp of its last record (stored with the
   * final position, to recognise a re-created topic later).
   * @returns writes applied and skipped as stale, over all segments
   * @throws whatever a step throws; the steps already done stay done and are idempotent on retry
   */
  async commit(chunk: CompactedChunk, from: bigint | null, next: bigint, stamp = ''): Promise<{ applied: number; stale: number }> {
    const total = { applied: 0, stale: 0 };
    if (chunk.letters.length > 0) await this.steps.sendDeadLetters(chunk.letters);
    let position = from;
    let backfillReads = chunk.incrementalReads;
    for (const segment of chunk.segments) {
      const writes = [...segment.writes.values()];
      const to = segment.truncate?.offset ?? next;
      const r = await this.steps.applyState(writes, position, to, segment.truncate ? '' : stamp, backfillReads);
      backfillReads = 0;
      position = to;
      total.applied += r.applied;
      total.stale += r.stale;
      await this.steps.renderViews(writes.filter((_, i) => r.flags[i] === '1'));
      if (segment.truncate) await this.steps.truncate(segment.truncate);
    }
    return total;
  }
}
