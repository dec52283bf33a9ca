/**
 * Metrics of the lake orchestrator (`cdc-views lake orchestrate`), served on
 * /metrics with /healthz and /readyz (src/metrics/server.ts) at httpHost:httpPort.
 *
 * | metric | type | labels | unit |
 * | --- | --- | --- | --- |
 * | `cdc_views_lake_slices_pending` | gauge | table | slices stored and not applied |
 * | `cdc_views_lake_lag_seconds` | gauge | table | from the oldest pending slice's interval start to the newest one's end |
 * | `cdc_views_lake_rows_total` | counter | table, outcome (upserted, deleted, stale) | rows |
 * | `cdc_views_lake_commit_duration_seconds` | histogram | table | seconds from a pass's first write to its log entry |
 * | `cdc_views_lake_table_version` | gauge | table | the Delta table version |
 * | `cdc_views_lake_gap_partitions` | gauge | table | stream partitions waiting on a missing slice |
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { startHttpServer } from '../metrics/server.ts';
import type { LakeStatus, WorkResult } from './orchestrator.ts';

/** The lake metric names: a public contract like src/metrics/catalogue.ts's. */
export const LAKE_METRIC_NAMES = {
  slicesPending: 'cdc_views_lake_slices_pending',
  lagSeconds: 'cdc_views_lake_lag_seconds',
  rows: 'cdc_views_lake_rows_total',
  commitDuration: 'cdc_views_lake_commit_duration_seconds',
  tableVersion: 'cdc_views_lake_table_version',
  gapPartitions: 'cdc_views_lake_gap_partitions',
} as const;

/** The lake metrics on a registry, and how a check updates them. */
export class LakeMetrics {
  readonly slicesPending: Gauge<'table'>;
  readonly lagSeconds: Gauge<'table'>;
  readonly rows: Counter<'table' | 'outcome'>;
  readonly commitDuration: Histogram<'table'>;
  readonly tableVersion: Gauge<'table'>;
  readonly gapPartitions: Gauge<'table'>;

  constructor(readonly registry: Registry) {
    const registers = [registry];
    const labelNames = ['table'] as const;
    this.slicesPending = new Gauge({ name: LAKE_METRIC_NAMES.slicesPending, help: 'Slices stored and not applied to the lake table (slices).', labelNames, registers });
    this.lagSeconds = new Gauge({ name: LAKE_METRIC_NAMES.lagSeconds, help: "Slice-to-table lag: from the oldest pending slice's interval start to the newest one's end (seconds); 0 when none is pending.", labelNames, registers });
    this.rows = new Counter({ name: LAKE_METRIC_NAMES.rows, help: 'Rows merged into the lake table by outcome: upserted, deleted, stale (rows).', labelNames: ['table', 'outcome'], registers });
    this.commitDuration = new Histogram({ name: LAKE_METRIC_NAMES.commitDuration, help: "Duration of a worker pass from its first write to its log entry (seconds).", labelNames, buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120], registers });
    this.tableVersion = new Gauge({ name: LAKE_METRIC_NAMES.tableVersion, help: 'The Delta table version (versions).', labelNames, registers });
    this.gapPartitions = new Gauge({ name: LAKE_METRIC_NAMES.gapPartitions, help: 'Stream partitions whose next slice is missing while later ones exist (partitions).', labelNames, registers });
  }

  /** Records a check of the orchestrator. */
  record(status: LakeStatus, work: WorkResult | null): void {
    const table = { table: status.table };
    this.slicesPending.set(table, status.pending);
    this.lagSeconds.set(table, status.lagMs / 1000);
    this.tableVersion.set(table, status.version);
    this.gapPartitions.set(table, status.gaps.length);
    for (const pass of work?.passes ?? []) {
      this.rows.inc({ ...table, outcome: 'upserted' }, pass.upserted);
      this.rows.inc({ ...table, outcome: 'deleted' }, pass.deleted);
      this.rows.inc({ ...table, outcome: 'stale' }, pass.stale);
      this.commitDuration.observe(table, pass.commitMs / 1000);
    }
  }
}

/**
 * Serves the lake metrics on httpHost:httpPort until closed.
 * @throws {Error} when the port is taken
 */
export async function serveLakeMetrics(config: Pick<Config, 'httpHost' | 'httpPort'>, log: Logger): Promise<LakeMetrics & { close: () => Promise<void> }> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'cdc_views_' });
  const metrics = new LakeMetrics(registry);
  const server = await startHttpServer({ registry, health: { live: () => true, readiness: () => Promise.resolve({ assigned: 0, lag: 0, joined: true }) }, host: config.httpHost, port: config.httpPort, logger: log });
  log.info({ url: server.url }, `lake orchestrate: /metrics on ${server.url}`);
  return Object.assign(metrics, { close: () => server.close() });
}
