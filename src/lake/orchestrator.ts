/**
 * Scheduling of the lake worker: `cdc-views lake work` runs {@link workTable}
 * once; `cdc-views lake orchestrate` checks every N seconds whether slices
 * are due for each table ({@link lakeStatus}) and runs the worker for those
 * that have some, as a Kubernetes CronJob or a Deployment would.
 */
import { CdcViewsError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { LakeLease } from './lease.ts';
import type { ObjectStore } from './object-store.ts';
import { readSliceInfo } from './slice-writer.ts';
import { partitionColumnOf } from './table-spec.ts';
import { openLakeTable, runWorkerPass, sliceBacklog, type PassResult, type WorkerOptions } from './worker.ts';

/** A table's state for `lake status` and the orchestrator's metrics. */
export interface LakeStatus {
  table: string;
  topic: string;
  /** The Delta table version. */
  version: number;
  /** Slices stored and not applied yet. */
  pending: number;
  /** Stream partitions whose next slice is missing. */
  gaps: number[];
  /**
   * Slice-to-table lag, ms: from the start of the oldest pending slice's
   * interval to the end of the newest one's (0 when none is pending).
   */
  lagMs: number;
  /** Per stream partition, the offset the table continues at. */
  progress: Record<string, string | null>;
  /** Data files per data partition (partition value, `null` as `__null__`). */
  files: Record<string, number>;
  rows: number | null;
}

/** Reads where a lake table stands. @throws {CdcViewsError} LAKE_NO_TABLE when it was not initialised */
export async function lakeStatus(store: ObjectStore, table: string): Promise<LakeStatus> {
  const { snapshot, spec } = await openLakeTable(store, table);
  const backlog = await sliceBacklog(store, spec, snapshot);
  const pending = [...backlog.pending.values()].flat();
  const starts = pending.map((s) => s.intervalStart);
  const intervalMs = pending.length > 0 ? await intervalOf(store, pending[0]!.key) : 0;
  const files: Record<string, number> = {};
  let rows: number | null = 0;
  for (const f of snapshot.files.values()) {
    const p = f.partitionValues[partitionColumnOf(spec)] ?? '__null__';
    files[p] = (files[p] ?? 0) + 1;
    const n = f.stats ? (JSON.parse(f.stats) as { numRecords?: number }).numRecords : undefined;
    rows = rows === null || n === undefined ? null : rows + n;
  }
  return {
    table,
    topic: spec.topic,
    version: snapshot.version,
    pending: pending.length,
    gaps: backlog.gaps,
    lagMs: pending.length === 0 ? 0 : Math.max(...starts) + intervalMs - Math.min(...starts),
    progress: Object.fromEntries([...backlog.progress].sort((a, b) => a[0] - b[0]).map(([p, o]) => [String(p), o === null ? null : o.toString()])),
    files,
    rows,
  };
}

/** The interval length of a slice (its footer's `intervalMs`), ms; 0 when unreadable. */
async function intervalOf(store: ObjectStore, key: string): Promise<number> {
  return (await readSliceInfo(store, key))?.intervalMs ?? 0;
}

/** What {@link workTable} did. */
export interface WorkResult {
  table: string;
  /** False when another worker held the lease: nothing was done. */
  leased: boolean;
  passes: PassResult[];
}

/**
 * Takes the table's lease and applies every slice that is due, one commit per
 * pass, until none is left; releases the lease. Returns `leased: false` at
 * once when another worker holds the lease.
 * @param maxPasses stop after this many commits @defaultValue 100
 * @param leaseTtlMs how long the lease lasts without renewal (renewed before each pass's writes and before its commit), ms; a worker that dies holds the table this long @defaultValue 60000
 * @throws {CdcViewsError} from the passes (LAKE_LEASE_LOST, LAKE_COMMIT_CONFLICT, object store errors)
 */
export async function workTable(o: Omit<WorkerOptions, 'table'>, table: string, maxPasses = 100, leaseTtlMs = 60_000): Promise<WorkResult> {
  const lease = await LakeLease.take(o.redis, table, leaseTtlMs);
  if (!lease) return { table, leased: false, passes: [] };
  const passes: PassResult[] = [];
  try {
    for (let i = 0; i < maxPasses; i++) {
      const pass = await runWorkerPass({ ...o, table }, lease);
      if (pass.version === null) break;
      passes.push(pass);
    }
  } finally {
    await lease.release();
  }
  return { table, leased: true, passes };
}

/** Options of {@link orchestrate}. */
export interface OrchestrateOptions extends Omit<WorkerOptions, 'table'> {
  tables: readonly string[];
  /** Time between checks, ms. */
  everyMs: number;
  /** Lease of a worker run, ms (see {@link workTable}). @defaultValue 60000 */
  leaseTtlMs?: number;
  signal: AbortSignal;
  /** After each check of a table. */
  onCheck?: (status: LakeStatus, work: WorkResult | null) => void;
}

/** Checks every `everyMs` and runs the worker where slices are due, until `signal` aborts. Errors of one table are logged; the loop goes on. */
export async function orchestrate(o: OrchestrateOptions): Promise<void> {
  const log: Logger = o.log;
  while (!o.signal.aborted) {
    for (const table of o.tables) {
      try {
        const before = await lakeStatus(o.store, table);
        // Partitions behind a gap are skipped by the passes; the others proceed.
        const work = before.pending > 0 ? await workTable(o, table, 100, o.leaseTtlMs) : null;
        if (work && !work.leased) log.info({ table }, 'lake orchestrate: another worker holds the lease; next check later');
        o.onCheck?.(work && work.passes.length > 0 ? await lakeStatus(o.store, table) : before, work);
      } catch (err) {
        log.error({ table, code: err instanceof CdcViewsError ? err.code : 'INTERNAL' }, `lake orchestrate: ${table}: ${(err as Error).message}`);
      }
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, o.everyMs);
      o.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    });
  }
}
