/**
 * Following an incremental snapshot: Debezium's notifications (the sink
 * channel's Kafka topic) folded into a {@link SnapshotProgress}, and the rows
 * the application consumed from the stats counters `backfill:<topic>` that the
 * processors increment with each chunk they apply (src/state/lua/apply-chunk.lua).
 *
 * Upstream: Debezium 3.1 "Debezium notifications": `aggregate_type`
 * `Incremental Snapshot`, `id` = the signal's id, `type` STARTED, PAUSED,
 * RESUMED, ABORTED, IN_PROGRESS (`additional_data`: `data_collections`,
 * `current_collection_in_progress`, `maximum_key`, `last_processed_key`),
 * TABLE_SCAN_COMPLETED (`scanned_collection`, `total_rows_scanned`, `status`:
 * SUCCEEDED, EMPTY, NO_PRIMARY_KEY, SKIPPED, SQL_EXCEPTION, UNKNOWN_SCHEMA),
 * COMPLETED. `total_rows_scanned` counts the rows SELECTed, before the
 * DBLog window drops rows changed meanwhile, so it can exceed the `r` events
 * emitted.
 */

/** One Debezium notification. */
export interface Notification {
  id: string;
  aggregateType: string;
  type: string;
  data: Record<string, string>;
  timestamp: number | null;
}

/**
 * Parses a notification record's value: Debezium JSON with or without the
 * `{schema, payload}` envelope of JsonConverter. Null for anything else (a
 * record that is not JSON, or not a notification).
 */
export function parseNotification(value: Buffer | string | null): Notification | null {
  if (value === null) return null;
  let doc: unknown;
  try {
    doc = JSON.parse(value.toString());
  } catch {
    return null;
  }
  const inner: unknown = doc !== null && typeof doc === 'object' && 'payload' in doc ? doc.payload : doc;
  if (inner === null || typeof inner !== 'object') return null;
  const body = inner as Record<string, unknown>;
  if (typeof body.type !== 'string' || typeof body.aggregate_type !== 'string') return null;
  const raw = (body.additional_data ?? {}) as Record<string, unknown>;
  const data = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, String(v)]));
  return { id: typeof body.id === 'string' ? body.id : '', aggregateType: body.aggregate_type, type: body.type, data, timestamp: typeof body.timestamp === 'number' ? body.timestamp : null };
}

/** Where an incremental snapshot stands, from its notifications. */
export interface SnapshotProgress {
  status: 'waiting' | 'running' | 'paused' | 'completed' | 'aborted';
  /** IN_PROGRESS notifications: one per chunk read. */
  chunks: number;
  /** Per table (`schema.table`): rows Debezium read (TABLE_SCAN_COMPLETED's `total_rows_scanned`) and the scan status. */
  scanned: Record<string, { rows: number; status: string }>;
  /** The table being read and the last key of the last chunk (Debezium's text, e.g. `[50000]`). */
  current: { table: string; lastKey: string; maximumKey: string } | null;
}

/** The progress before any notification. */
export const NO_PROGRESS: SnapshotProgress = { status: 'waiting', chunks: 0, scanned: {}, current: null };

/** The scan statuses that end a table without reading it all. */
export const FAILED_SCANS = new Set(['NO_PRIMARY_KEY', 'SKIPPED', 'SQL_EXCEPTION', 'UNKNOWN_SCHEMA']);

/**
 * Folds one notification into the progress of the snapshot started by signal
 * `snapshotId` (null: any snapshot — stop, pause and resume signals get
 * notifications under the running snapshot's id, not their own);
 * notifications of other snapshots or other kinds change nothing.
 */
export function foldNotification(p: SnapshotProgress, n: Notification, snapshotId: string | null): SnapshotProgress {
  if (n.aggregateType !== 'Incremental Snapshot' || (snapshotId !== null && n.id !== snapshotId)) return p;
  switch (n.type) {
    case 'STARTED':
    case 'RESUMED':
      return { ...p, status: 'running' };
    case 'PAUSED':
      return { ...p, status: 'paused' };
    case 'ABORTED':
      return { ...p, status: 'aborted' };
    case 'COMPLETED':
      return { ...p, status: 'completed', current: null };
    case 'IN_PROGRESS':
      return {
        ...p,
        status: p.status === 'paused' ? 'paused' : 'running',
        chunks: p.chunks + 1,
        current: { table: n.data.current_collection_in_progress ?? '', lastKey: n.data.last_processed_key ?? '', maximumKey: n.data.maximum_key ?? '' },
      };
    case 'TABLE_SCAN_COMPLETED': {
      const table = n.data.scanned_collection ?? n.data.data_collections ?? '';
      return { ...p, scanned: { ...p.scanned, [table]: { rows: Number(n.data.total_rows_scanned ?? 0), status: n.data.status ?? 'UNKNOWN' } } };
    }
    default:
      return p;
  }
}

/** The stats counter of `backfill` rows consumed from a table's topic. */
export const backfillStat = (topic: string): string => `backfill:${topic}`;

/**
 * Rows consumed since the start: the counters now minus the counters before
 * the signal was sent, summed over the topics.
 */
export function consumedSince(before: Readonly<Record<string, string>>, now: Readonly<Record<string, string>>, topics: readonly string[]): number {
  let n = 0;
  for (const t of topics) n += Number(now[backfillStat(t)] ?? 0) - Number(before[backfillStat(t)] ?? 0);
  return n;
}
