/**
 * The one catalogue of cdc-views metrics (Prometheus, prom-client).
 *
 * Every metric is created once, on a registry passed in (as @platformatic/kafka
 * `src/clients/metrics.ts` does), so tests and several applications in one
 * process can each use their own registry. {@link METRIC_NAMES} is the
 * catalogue of names: dashboards and alerts refer to these and nothing else.
 *
 * Labels (snake_case, Prometheus convention):
 * - `application_id`: the applicationId (Kafka group id) of the topology;
 * - `topic`, `partition`: a source position (partition as a decimal string);
 * - `table`: `<schema>.<table>` of the table state;
 * - `sink`: a sink's `name` (src/sinks/sink.ts), e.g. `cache:customer`;
 * - `view`: a view name;
 * - `reason` / `code`: a {@link CdcViewsError} code (`DECODE_NOT_JSON`,
 *   `STATE_FENCED`, …), or `UNKNOWN` for an error without one ({@link errorCode}).
 */
import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';
import { CdcViewsError } from '../errors.ts';

/** Prefix of every cdc-views metric name, and of the default process metrics. */
export const METRIC_PREFIX = 'cdc_views_';

/** Every cdc-views metric name, as `handle → name`. The names are the public contract. */
export const METRIC_NAMES = {
  recordsConsumed: 'cdc_views_records_consumed_total',
  recordsApplied: 'cdc_views_records_applied_total',
  recordsStale: 'cdc_views_records_stale_total',
  recordsUnchanged: 'cdc_views_records_unchanged_total',
  backfillRows: 'cdc_views_backfill_rows_total',
  tombstones: 'cdc_views_tombstones_total',
  dlqRecords: 'cdc_views_dlq_records_total',
  lag: 'cdc_views_lag_records',
  lagSeconds: 'cdc_views_lag_seconds',
  rendersPending: 'cdc_views_renders_pending',
  endToEndLatency: 'cdc_views_end_to_end_latency_seconds',
  chunkSize: 'cdc_views_chunk_size_records',
  stateOperationDuration: 'cdc_views_state_operation_duration_seconds',
  stateOperationErrors: 'cdc_views_state_operation_errors_total',
  sinkWriteDuration: 'cdc_views_sink_write_duration_seconds',
  sinkWriteErrors: 'cdc_views_sink_write_errors_total',
  sinkDocumentsWritten: 'cdc_views_sink_documents_written_total',
  sinkDocumentsSkipped: 'cdc_views_sink_documents_skipped_total',
  renderDuration: 'cdc_views_render_duration_seconds',
  rebalances: 'cdc_views_rebalances_total',
  partitionsAssigned: 'cdc_views_partitions_assigned',
  partitionsPaused: 'cdc_views_partitions_paused',
  retries: 'cdc_views_retries_total',
  stateRollbacks: 'cdc_views_state_rollbacks_total',
  incompleteRows: 'cdc_views_incomplete_rows',
  snapshotDeletes: 'cdc_views_snapshot_deletes_total',
  deleteMarkersSwept: 'cdc_views_delete_markers_swept_total',
  renderFailures: 'cdc_views_render_failures_total',
  historyLost: 'cdc_views_history_lost_partitions',
} as const;
export type MetricName = (typeof METRIC_NAMES)[keyof typeof METRIC_NAMES];

/**
 * Operations of the state stores, the `op` label of the state-store metrics:
 * one per method of the metered stores (src/state/metered.ts), which wrap
 * every Redis call of the hot path.
 */
export const StateOp = {
  Acquire: 'acquire',
  AdvanceIncarnation: 'advance_incarnation',
  CurrentEpoch: 'current_epoch',
  ApplyChunk: 'apply_chunk',
  DeleteOlder: 'delete_older',
  RecordSnapshot: 'record_snapshot',
  StoredRows: 'stored_rows',
  Positions: 'positions',
  RecordLastEvent: 'record_last_event',
  IncrementStat: 'increment_stat',
  Propagate: 'propagate',
  ReadRoots: 'read_roots',
  RenderRead: 'render_read',
  DirtyTokens: 'dirty_tokens',
  ClearDirty: 'clear_dirty',
  FoldRead: 'fold_read',
  FoldCommit: 'fold_commit',
} as const;
export type StateOp = (typeof StateOp)[keyof typeof StateOp];

/**
 * Buckets of the end-to-end latency, seconds: 1 ms to 60 s, about ×2–2.5 per
 * step, so both a caught-up pipeline (a few ms) and one draining a backlog
 * (tens of seconds) land inside the range rather than in +Inf.
 */
export const LATENCY_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60] as const;

/**
 * Buckets of one Redis or sink operation, seconds: 0.1 ms (a pipelined Redis
 * call on localhost) to 10 s (a sink under backpressure, close to the timeouts).
 */
export const OPERATION_BUCKETS_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

/** Buckets of the chunk size, records: 1 up to 10,000 (a 1 MiB fetch of small CDC records). */
export const CHUNK_SIZE_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000] as const;

type PositionLabels = 'application_id' | 'topic' | 'partition';

/** Typed handles of every cdc-views metric. Created by {@link createMetrics}. */
export interface Metrics {
  readonly registry: Registry;
  /**
   * Records taken from Kafka into a chunk (after skipping offsets below the
   * position stored with the state), unit: records. Incremented once per chunk
   * by the number of records processed.
   */
  readonly recordsConsumed: Counter<PositionLabels>;
  /**
   * Writes applied to table state (their version was newer than the stored
   * one), unit: records (compacted writes, not raw records). Incremented by
   * `ApplyResult.applied` after each `StateStore.applyChunk`.
   */
  readonly recordsApplied: Counter<PositionLabels>;
  /**
   * Writes skipped by the version guard because the stored version was as new
   * or newer (duplicates, rewinds, replays), unit: records. Incremented by
   * `ApplyResult.stale` after each `StateStore.applyChunk`.
   */
  readonly recordsStale: Counter<PositionLabels>;
  /**
   * Writes applied whose row equalled the stored row (an incremental-snapshot
   * read of a row already stored, an UPDATE that set the same values): the
   * version moved on, no view re-rendered; unit: records.
   */
  readonly recordsUnchanged: Counter<PositionLabels>;
  /**
   * Incremental-snapshot reads (backfill rows, `source.snapshot`
   * `incremental`) consumed, unit: records, by `topic` and `outcome`:
   * `applied` (the row changed state and views), `unchanged` (equal to the
   * stored row: nothing rendered), `stale` (the stored row is newer),
   * `superseded` (a later change of the key in the same chunk replaced it).
   * The sum over outcomes is the number of reads consumed.
   */
  readonly backfillRows: Counter<'application_id' | 'topic' | 'outcome'>;
  /** Tombstones (null-value records after a delete) seen, unit: records. Incremented per tombstone. */
  readonly tombstones: Counter<PositionLabels>;
  /**
   * Records sent to the dead-letter topic, unit: records, by `reason` (the
   * error code, e.g. `DECODE_NOT_JSON`). Incremented after the DLQ send is
   * acknowledged.
   */
  readonly dlqRecords: Counter<'application_id' | 'topic' | 'reason'>;
  /**
   * Lag of a partition: end offset − position stored with the state, unit:
   * records. Set on each lag poll (e.g. the /readyz readiness callback or a
   * periodic poll); reset to 0 for a partition that is revoked.
   */
  readonly lag: Gauge<PositionLabels>;
  /**
   * Lag of a partition in time: while it has a lag in records, now − the
   * source commit time (`source.ts_ms`) of the last event applied from it;
   * 0 when it has none. Unit: seconds. Set with {@link lag} (same polls);
   * a partition with a lag but no event applied yet is left unset.
   */
  readonly lagSeconds: Gauge<PositionLabels>;
  /**
   * View marks (table and view dirty marks of the topology) not rendered yet:
   * renders that wait for a sink, a retry or the render punctuator. Unit:
   * marks (≈ documents). Set with {@link lag}.
   */
  readonly rendersPending: Gauge<'application_id'>;
  /**
   * Time from the change's commit in the source database (Debezium
   * `source.ts_ms`) to the acknowledgement of its write, unit: seconds. Observed
   * once per applied write and `sink`, when that write is acknowledged; the
   * table state itself counts as the sink `state`. Snapshot reads (`op: r`)
   * measure the snapshot's age, not a latency: do not observe them.
   */
  readonly endToEndLatency: Histogram<'application_id' | 'sink'>;
  /** Records per processed chunk (consecutive records of one partition), unit: records. Observed once per chunk. */
  readonly chunkSize: Histogram<'application_id' | 'topic'>;
  /** Duration of one state-store operation, unit: seconds, by `op` ({@link StateOp}). Observed per call. */
  readonly stateOperationDuration: Histogram<'application_id' | 'op'>;
  /**
   * State-store operations that threw, unit: operations, by `op` and error
   * `code` (`STATE_FENCED` for a fenced write). Incremented per failed call.
   */
  readonly stateOperationErrors: Counter<'application_id' | 'op' | 'code'>;
  /** Duration of one `Sink.write` call, unit: seconds. Observed per call, failed ones included. */
  readonly sinkWriteDuration: Histogram<'application_id' | 'sink'>;
  /** `Sink.write` calls that threw, unit: calls, by error `code` (e.g. `SINK_UNAVAILABLE`). */
  readonly sinkWriteErrors: Counter<'application_id' | 'sink' | 'code'>;
  /** Documents written (or removed) by a sink, unit: documents. Incremented by `SinkWriteResult.written`. */
  readonly sinkDocumentsWritten: Counter<'application_id' | 'sink'>;
  /**
   * Documents a sink skipped because it already held a higher render sequence,
   * unit: documents. Incremented by `SinkWriteResult.skipped`.
   */
  readonly sinkDocumentsSkipped: Counter<'application_id' | 'sink'>;
  /**
   * Time to render one view for a set of dirty keys: read the inputs and take
   * sequence numbers, build the documents, write the sink, clear the marks;
   * unit: seconds. Observed per view per render call.
   */
  readonly renderDuration: Histogram<'application_id' | 'view'>;
  /** Group rebalances this instance took part in, unit: rebalances. Incremented per group join. */
  readonly rebalances: Counter<'application_id'>;
  /** Partitions currently assigned to this instance, unit: partitions. Set after each group join. */
  readonly partitionsAssigned: Gauge<'application_id' | 'topic'>;
  /**
   * Partitions currently paused (backpressure from a slow or failing sink, or
   * a dependency the decoder waits for), unit: partitions. Incremented on
   * pause, decremented on resume.
   */
  readonly partitionsPaused: Gauge<'application_id' | 'topic'>;
  /**
   * Retries taken by the retry helper (src/retry.ts), unit: retries, by
   * `operation` (the helper's `operation` option) and the failed attempt's
   * error `code`. Incremented from `onRetry`, before each wait.
   */
  readonly retries: Counter<'application_id' | 'operation' | 'code'>;
  /**
   * Times a partition found Redis holding another position than the one it
   * stored (Redis went back in time: a failover to a lagging replica, a
   * restart from an older AOF/RDB, or lost data), unit: detections. The
   * partition then resumed from Redis' position. Incremented per detection.
   */
  readonly stateRollbacks: Counter<PositionLabels>;
  /**
   * Rows of a table stored without some columns (unchanged TOASTed values
   * no older image held), unit: rows. Set by the state watch every few
   * seconds; a later full image of a row clears it.
   */
  readonly incompleteRows: Gauge<'application_id' | 'table'>;
  /**
   * Rows deleted when a new snapshot of their table ended without re-reading
   * them (deleted while no change was captured), unit: rows. Incremented by
   * the housekeeping punctuator.
   */
  readonly snapshotDeletes: Counter<'application_id' | 'table'>;
  /** Delete markers removed after their retention, unit: markers. Incremented by the housekeeping punctuator. */
  readonly deleteMarkersSwept: Counter<'application_id' | 'table'>;
  /**
   * View roots (or stream-view events) the topology's code threw on, sent to
   * the DLQ as RENDER_FAILED, unit: roots. Incremented after the DLQ write.
   */
  readonly renderFailures: Counter<'application_id' | 'view'>;
  /**
   * Partitions whose table state was built from a log whose older records
   * retention had already deleted (a new application or a lost Redis on a
   * topic that is not compacted): the store can miss rows. An alert: above 0
   * the store is incomplete until a backfill. Set by the state watch.
   */
  readonly historyLost: Gauge<'application_id'>;
}

/** Options of {@link createMetrics}. */
export interface CreateMetricsOptions {
  /**
   * Also collect prom-client's default process metrics (CPU, RSS, heap, event
   * loop lag, GC), named with the same prefix, e.g. `cdc_views_process_resident_memory_bytes`.
   * @defaultValue true
   */
  defaultMetrics?: boolean;
}

const created = new WeakMap<Registry, Metrics>();

/**
 * Creates every cdc-views metric on `registry` and returns typed handles.
 * Idempotent per registry: a second call on the same registry returns the
 * handles of the first (prom-client would otherwise throw "already registered").
 * @throws {Error} when `registry` already holds a metric of the same name that
 *   was not created here.
 */
export function createMetrics(registry: Registry, options: CreateMetricsOptions = {}): Metrics {
  const existing = created.get(registry);
  if (existing) return existing;
  const registers = [registry];
  const app = 'application_id';
  const position = [app, 'topic', 'partition'] as const;
  const metrics: Metrics = {
    registry,
    recordsConsumed: new Counter({ name: METRIC_NAMES.recordsConsumed, help: 'Records taken from Kafka into a chunk (records).', labelNames: position, registers }),
    recordsApplied: new Counter({ name: METRIC_NAMES.recordsApplied, help: 'Compacted writes applied to table state because their version was newer (records).', labelNames: position, registers }),
    recordsStale: new Counter({ name: METRIC_NAMES.recordsStale, help: 'Writes skipped by the version guard as not newer than the stored version (records).', labelNames: position, registers }),
    recordsUnchanged: new Counter({ name: METRIC_NAMES.recordsUnchanged, help: 'Writes applied with a row equal to the stored row: nothing re-rendered (records).', labelNames: position, registers }),
    backfillRows: new Counter({ name: METRIC_NAMES.backfillRows, help: 'Incremental-snapshot reads (backfill rows) consumed, by outcome: applied, unchanged, stale, superseded (records).', labelNames: [app, 'topic', 'outcome'], registers }),
    tombstones: new Counter({ name: METRIC_NAMES.tombstones, help: 'Tombstone records seen (records).', labelNames: position, registers }),
    dlqRecords: new Counter({ name: METRIC_NAMES.dlqRecords, help: 'Records sent to the dead-letter topic, by reason code (records).', labelNames: [app, 'topic', 'reason'], registers }),
    lag: new Gauge({ name: METRIC_NAMES.lag, help: 'End offset minus the position stored with the state (records).', labelNames: position, registers }),
    lagSeconds: new Gauge({ name: METRIC_NAMES.lagSeconds, help: 'While a partition lags: now minus the source commit time of the last event applied from it (seconds); 0 without lag.', labelNames: position, registers }),
    rendersPending: new Gauge({ name: METRIC_NAMES.rendersPending, help: 'Table and view marks of the topology not rendered yet (marks).', labelNames: [app], registers }),
    endToEndLatency: new Histogram({
      name: METRIC_NAMES.endToEndLatency,
      help: 'Source commit time to write acknowledged by the sink; sink "state" is the table state (seconds).',
      labelNames: [app, 'sink'],
      buckets: [...LATENCY_BUCKETS_SECONDS],
      registers,
    }),
    chunkSize: new Histogram({ name: METRIC_NAMES.chunkSize, help: 'Records per processed chunk of one partition (records).', labelNames: [app, 'topic'], buckets: [...CHUNK_SIZE_BUCKETS], registers }),
    stateOperationDuration: new Histogram({
      name: METRIC_NAMES.stateOperationDuration,
      help: 'Duration of one state-store (Redis) operation, by op (seconds).',
      labelNames: [app, 'op'],
      buckets: [...OPERATION_BUCKETS_SECONDS],
      registers,
    }),
    stateOperationErrors: new Counter({ name: METRIC_NAMES.stateOperationErrors, help: 'State-store operations that failed, by op and error code (operations).', labelNames: [app, 'op', 'code'], registers }),
    sinkWriteDuration: new Histogram({
      name: METRIC_NAMES.sinkWriteDuration,
      help: 'Duration of one sink write call (seconds).',
      labelNames: [app, 'sink'],
      buckets: [...OPERATION_BUCKETS_SECONDS],
      registers,
    }),
    sinkWriteErrors: new Counter({ name: METRIC_NAMES.sinkWriteErrors, help: 'Sink write calls that failed, by error code (calls).', labelNames: [app, 'sink', 'code'], registers }),
    sinkDocumentsWritten: new Counter({ name: METRIC_NAMES.sinkDocumentsWritten, help: 'Documents written or removed by a sink (documents).', labelNames: [app, 'sink'], registers }),
    sinkDocumentsSkipped: new Counter({ name: METRIC_NAMES.sinkDocumentsSkipped, help: 'Documents a sink skipped because it held a higher render sequence (documents).', labelNames: [app, 'sink'], registers }),
    renderDuration: new Histogram({
      name: METRIC_NAMES.renderDuration,
      help: 'Duration of rendering one view for a set of dirty keys, sink write included (seconds).',
      labelNames: [app, 'view'],
      buckets: [...OPERATION_BUCKETS_SECONDS],
      registers,
    }),
    rebalances: new Counter({ name: METRIC_NAMES.rebalances, help: 'Consumer group rebalances (group joins) of this instance (rebalances).', labelNames: [app], registers }),
    partitionsAssigned: new Gauge({ name: METRIC_NAMES.partitionsAssigned, help: 'Partitions assigned to this instance (partitions).', labelNames: [app, 'topic'], registers }),
    partitionsPaused: new Gauge({ name: METRIC_NAMES.partitionsPaused, help: 'Partitions paused by backpressure (partitions).', labelNames: [app, 'topic'], registers }),
    retries: new Counter({ name: METRIC_NAMES.retries, help: 'Retries taken by the retry helper, by operation and error code (retries).', labelNames: [app, 'operation', 'code'], registers }),
    snapshotDeletes: new Counter({ name: METRIC_NAMES.snapshotDeletes, help: 'Rows deleted because a new snapshot of their table did not re-read them (rows).', labelNames: [app, 'table'], registers }),
    historyLost: new Gauge({ name: METRIC_NAMES.historyLost, help: 'Partitions whose state was built without history retention had deleted: the store may miss rows (partitions).', labelNames: [app], registers }),
    renderFailures: new Counter({ name: METRIC_NAMES.renderFailures, help: 'View roots or stream events the topology code threw on, sent to the DLQ (roots).', labelNames: [app, 'view'], registers }),
    deleteMarkersSwept: new Counter({ name: METRIC_NAMES.deleteMarkersSwept, help: 'Delete markers removed after their retention (markers).', labelNames: [app, 'table'], registers }),
    incompleteRows: new Gauge({ name: METRIC_NAMES.incompleteRows, help: 'Rows stored without some columns: unchanged TOASTed values no older image held (rows).', labelNames: [app, 'table'], registers }),
    stateRollbacks: new Counter({ name: METRIC_NAMES.stateRollbacks, help: 'Partitions that found Redis holding an older or no position than they stored, and resumed from it (detections).', labelNames: position, registers }),
  };
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  created.set(registry, metrics);
  return metrics;
}

/** The code of an error for the `code`/`reason` labels: its CdcViewsError code, else `UNKNOWN`. */
export function errorCode(err: unknown): string {
  return err instanceof CdcViewsError ? err.code : 'UNKNOWN';
}

/**
 * Runs `fn`, observing its duration on `duration` and counting a failure on
 * `errors` with the error's {@link errorCode}; the error is rethrown. Meant for
 * the state-store and sink metrics, e.g.
 * `measure(m.stateOperationDuration, m.stateOperationErrors, { application_id, op: StateOp.ApplyChunk }, () => store.applyChunk(…))`.
 */
export async function measure<L extends string, T>(
  duration: Histogram<L>,
  errors: Counter<L | 'code'>,
  labels: Partial<Record<L, string | number>>,
  fn: () => Promise<T>,
): Promise<T> {
  const end = duration.startTimer(labels);
  try {
    return await fn();
  } catch (err) {
    errors.inc({ ...labels, code: errorCode(err) } as Partial<Record<L | 'code', string | number>>);
    throw err;
  } finally {
    end();
  }
}
