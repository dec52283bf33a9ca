/**
 * Housekeeping, a punctuator of the application (work done on a timer, not
 * per record). One instance at a time runs it (a lock in Redis that expires):
 *
 * - Snapshot reconciliation. When Debezium snapshots a table again (a topic
 *   re-created, a connector re-created with a new slot), rows deleted while
 *   nothing was captured never get a delete event. The partition task records
 *   the snapshot when it processes the table's last snapshot read; once every
 *   partition of the topic has passed the topic's end offsets as they were
 *   then (so every snapshot read is applied), the rows still older than the
 *   snapshot were not re-read by it: they are deleted, and their views render.
 * - Delete-marker retention. A delete marker keeps a deleted row's version so
 *   that an older replayed event cannot resurrect it; markers of rows deleted
 *   longer ago than the retention are removed (as Kafka's `delete.retention.ms`
 *   bounds tombstones), page by page, never blocking Redis.
 */
import type { Logger } from '../log.ts';
import type { Metrics } from '../metrics/catalogue.ts';
import { parseOrigin, type StoredRow } from '../state/encoding.ts';
import { HousekeepingStore, type RecordedSnapshot } from '../state/housekeeping-store.ts';
import type { StateStore } from '../state/store.ts';
import type { DrainSource, ViewEngine } from './view-engine.ts';

/** Options of {@link Housekeeping}. */
export interface HousekeepingOptions {
  /** How often housekeeping runs, ms. @defaultValue 10000 */
  intervalMs?: number;
  /** How long a delete marker is kept after the delete, ms. @defaultValue 86400000 (1 day) */
  deleteMarkerRetentionMs?: number;
}

export class Housekeeping {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private lastMarkerSweep = 0;
  private readonly intervalMs: number;
  private readonly retentionMs: number;
  private readonly app: { application_id: string };
  private readonly housekeeping: HousekeepingStore;

  constructor(
    private readonly store: StateStore,
    private readonly views: ViewEngine,
    private readonly marks: DrainSource,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    options: HousekeepingOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 10_000;
    this.retentionMs = options.deleteMarkerRetentionMs ?? 86_400_000;
    this.app = { application_id: store.applicationId };
    this.housekeeping = new HousekeepingStore(store.redis, store.applicationId);
  }

  /** Runs on a timer until {@link stop}. */
  start(): void {
    this.timer = setInterval(() => {
      this.running ??= this.runOnce()
        .then(() => undefined)
        .catch((err: unknown) => this.log.warn({ err }, 'housekeeping failed; retrying at the next interval'))
        .finally(() => (this.running = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a run in progress. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /**
   * One run, when this instance holds the lock: reconciles the snapshots whose
   * reads every partition has applied, sweeps old delete markers when due, and
   * renders the views of what it deleted.
   * @returns whether this instance ran (false: another one holds the lock)
   */
  async runOnce(now = Date.now()): Promise<boolean> {
    if (!(await this.housekeeping.tryLock(this.store.keys.housekeepingLock, Math.max(1000, this.intervalMs - 100)))) return false;
    let deleted = 0;
    const positions = await this.store.positions();
    for (const [table, snapshot] of await this.housekeeping.snapshots()) {
      const applied = [...snapshot.ends].every(([partition, end]) => end === 0n || (positions.get(table, partition) ?? -1n) >= end);
      if (!applied) continue;
      const starts = await this.housekeeping.snapshotStarts(table, snapshot.version, snapshot.ends.keys());
      const n = await this.store.deleteSelected(table, snapshot.version, 'snapshot', this.views.dirtyTables.has(table), (_key, stored) => notReread(stored, snapshot, starts));
      deleted += n;
      this.metrics.snapshotDeletes.inc({ ...this.app, table }, n);
      if (n > 0) this.log.warn({ table, deleted: n }, 'snapshot reconciled: rows it did not re-read were deleted while no change was captured, and are removed');
      await this.housekeeping.forgetSnapshot(table, snapshot.raw);
      await this.housekeeping.forgetSnapshotStarts(table, snapshot.version, snapshot.ends.keys());
    }
    // Each sweep reads every table: at most ten per retention period.
    if (now - this.lastMarkerSweep >= this.retentionMs / 10) {
      this.lastMarkerSweep = now;
      for (const table of await this.store.tables()) {
        const n = await this.housekeeping.sweepDeleteMarkers(table, now - this.retentionMs);
        this.metrics.deleteMarkersSwept.inc({ ...this.app, table }, n);
      }
    }
    if (deleted > 0) await this.views.drain(this.marks);
    return true;
  }
}

/**
 * Whether a live row was not re-read by a snapshot, so was deleted while
 * nothing was captured: its version is older than the snapshot's, and it was
 * not written after the snapshot's reads began in its partition (which only
 * the snapshot's reads and the changes streamed after them are). A change
 * older than the snapshot by version but written after its reads began is a
 * transaction that was open when the snapshot started: it stays.
 */
export function notReread(stored: StoredRow, snapshot: Pick<RecordedSnapshot, 'version' | 'incarnation'>, starts: ReadonlyMap<number, { incarnation: number; offset: bigint }>): boolean {
  if (stored.version >= snapshot.version) return false;
  const origin = parseOrigin(stored.origin);
  if (origin === null) return true;
  if (origin.incarnation !== snapshot.incarnation) return origin.incarnation < snapshot.incarnation;
  const start = starts.get(origin.partition);
  return !(start !== undefined && start.incarnation === origin.incarnation && origin.offset >= start.offset);
}
