/**
 * How far an application is: the lag arithmetic behind `/readyz`, the lag
 * gauge and `--until-caught-up`, as pure functions.
 */
import { Positions } from '../state/encoding.ts';

/** One partition's lag: end offset − position stored with the state. */
export interface PartitionLag {
  topic: string;
  partition: number;
  /** The stored position; null when none is stored. */
  position: bigint | null;
  /** The end offset (high watermark). */
  end: bigint;
  /** Records left: the whole retained log when no position is stored, 0 when the position is at or past the end. */
  lag: bigint;
}

/** The lag of one partition from its stored position and its log start and end offsets. */
export function partitionLag(topic: string, partition: number, position: bigint | null, low: bigint, end: bigint): PartitionLag {
  const from = position === null || position < low ? low : position;
  return { topic, partition, position, end, lag: end > from ? end - from : 0n };
}

/**
 * Records still to process before every partition reaches the end offset it
 * had in `targets`; a partition without a stored position counts from where
 * its target's lag started (the log start).
 */
export function remainingToTargets(targets: readonly PartitionLag[], positions: Positions): bigint {
  let remaining = 0n;
  for (const t of targets) {
    const from = positions.get(t.topic, t.partition) ?? t.end - t.lag;
    if (from < t.end) remaining += t.end - from;
  }
  return remaining;
}

/**
 * Records to process from where each partition stood at `start` (the lag
 * measured before consuming began) to the end offset it has in `targets`:
 * the total of a progress bar whose `done` is total − {@link remainingToTargets}.
 * Measured from the start, not from when the caller first asked, so a short
 * catch-up that finished before the first poll still shows its records.
 */
export function totalToTargets(targets: readonly PartitionLag[], start: readonly PartitionLag[]): bigint {
  return remainingToTargets(targets, Positions.of(start.map((s) => ({ topic: s.topic, partition: s.partition, offset: s.end - s.lag }))));
}
