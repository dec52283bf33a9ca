/**
 * How far an application is: the lag arithmetic behind `/readyz`, the lag
 * gauge and `--until-caught-up`, as pure functions.
 */
import type { Positions } from '../state/encoding.ts';

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
