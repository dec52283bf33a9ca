/**
 * Metered state stores, in the manner of Kafka Streams' `MeteredKeyValueStore`:
 * decorators that time every call of the hot path and count its failures by
 * error code (`cdc_views_state_operation_duration_seconds` and
 * `cdc_views_state_operation_errors_total`, label `op`), so the stores
 * themselves carry no metrics code. The runtime only talks to these.
 */
import { measure, StateOp, type Metrics } from '../metrics/catalogue.ts';
import type { Positions, StoredRow } from './encoding.ts';
import type { Acquired, ApplyResult, Fence, PartitionStateStore, StateWrite } from './store.ts';
import type { FoldCommit, FoldKeys, FoldRead, PropagatedChange, RenderRead, RenderRequest, RenderShape, StoredRoot, ViewDependency, ViewStateStore } from './view-store.ts';

type Op = (typeof StateOp)[keyof typeof StateOp];

/** Times calls on the state-operation metrics of one application. */
class Meter {
  constructor(
    private readonly metrics: Metrics,
    private readonly applicationId: string,
  ) {}

  run<T>(op: Op, fn: () => Promise<T>): Promise<T> {
    return measure(this.metrics.stateOperationDuration, this.metrics.stateOperationErrors, { application_id: this.applicationId, op }, fn);
  }
}

/** A {@link PartitionStateStore} whose every call is metered. */
export class MeteredStateStore implements PartitionStateStore {
  private readonly meter: Meter;

  constructor(
    private readonly inner: PartitionStateStore,
    metrics: Metrics,
    applicationId: string,
  ) {
    this.meter = new Meter(metrics, applicationId);
  }

  acquire(topic: string, partition: number): Promise<Acquired> {
    return this.meter.run(StateOp.Acquire, () => this.inner.acquire(topic, partition));
  }
  advanceIncarnation(topic: string, known: number): Promise<number> {
    return this.meter.run(StateOp.AdvanceIncarnation, () => this.inner.advanceIncarnation(topic, known));
  }
  currentEpoch(topic: string, partition: number): Promise<number | null> {
    return this.meter.run(StateOp.CurrentEpoch, () => this.inner.currentEpoch(topic, partition));
  }
  applyChunk(topic: string, partition: number, epoch: number, from: bigint | null, next: bigint, writes: readonly StateWrite[], dirtyTables?: ReadonlySet<string>, stamp?: string, stats?: Readonly<Record<string, number>>): Promise<ApplyResult> {
    return this.meter.run(StateOp.ApplyChunk, () => this.inner.applyChunk(topic, partition, epoch, from, next, writes, dirtyTables, stamp, stats));
  }
  positionStamp(topic: string, partition: number): Promise<string | null> {
    return this.meter.run(StateOp.Positions, () => this.inner.positionStamp(topic, partition));
  }
  deleteOlderThan(table: string, version: string, origin: string, markDirty: boolean, fence: Fence, onPage?: (keys: string[]) => Promise<void>): Promise<number> {
    return this.meter.run(StateOp.DeleteOlder, () => this.inner.deleteOlderThan(table, version, origin, markDirty, fence, onPage));
  }
  recordSnapshot(table: string, version: string, incarnation: number, ends: ReadonlyMap<number, bigint>): Promise<void> {
    return this.meter.run(StateOp.RecordSnapshot, () => this.inner.recordSnapshot(table, version, incarnation, ends));
  }
  recordHistoryLost(topic: string, partition: number, logStart: bigint): Promise<void> {
    return this.meter.run(StateOp.RecordSnapshot, () => this.inner.recordHistoryLost(topic, partition, logStart));
  }
  recordSnapshotStart(table: string, partition: number, incarnation: number, version: string, offset: bigint): Promise<void> {
    return this.meter.run(StateOp.RecordSnapshot, () => this.inner.recordSnapshotStart(table, partition, incarnation, version, offset));
  }
  storedRows(table: string, keyStrings: readonly string[]): Promise<(StoredRow | null)[]> {
    return this.meter.run(StateOp.StoredRows, () => this.inner.storedRows(table, keyStrings));
  }
  positions(): Promise<Positions> {
    return this.meter.run(StateOp.Positions, () => this.inner.positions());
  }
  recordLastEvent(topic: string, partition: number, timestampMs: string): Promise<void> {
    return this.meter.run(StateOp.RecordLastEvent, () => this.inner.recordLastEvent(topic, partition, timestampMs));
  }
  incrementStat(name: string, by?: number): Promise<void> {
    return this.meter.run(StateOp.IncrementStat, () => this.inner.incrementStat(name, by));
  }
}

/** A {@link ViewStateStore} whose every call is metered. */
export class MeteredViewStore implements ViewStateStore {
  private readonly meter: Meter;

  constructor(
    private readonly inner: ViewStateStore,
    metrics: Metrics,
    applicationId: string,
  ) {
    this.meter = new Meter(metrics, applicationId);
  }

  propagate(table: string, deps: readonly ViewDependency[], changes: readonly PropagatedChange[]): Promise<Map<string, Set<string>>> {
    return this.meter.run(StateOp.Propagate, () => this.inner.propagate(table, deps, changes));
  }
  readFold(target: FoldKeys, members: readonly string[]): Promise<FoldRead[]> {
    return this.meter.run(StateOp.FoldRead, () => this.inner.readFold(target, members));
  }
  readAggregates(aggregateTable: string, groups: readonly string[]): Promise<(string | null)[]> {
    return this.meter.run(StateOp.FoldRead, () => this.inner.readAggregates(aggregateTable, groups));
  }
  commitFold(target: FoldKeys, fold: FoldCommit): Promise<boolean> {
    return this.meter.run(StateOp.FoldCommit, () => this.inner.commitFold(target, fold));
  }
  readRoots(table: string, roots: readonly string[]): Promise<StoredRoot[]> {
    return this.meter.run(StateOp.ReadRoots, () => this.inner.readRoots(table, roots));
  }
  readForRender(shape: RenderShape, requests: readonly RenderRequest[]): Promise<RenderRead[]> {
    return this.meter.run(StateOp.RenderRead, () => this.inner.readForRender(shape, requests));
  }
  dirtyTokens(view: string, roots: readonly string[]): Promise<(string | null)[]> {
    return this.meter.run(StateOp.DirtyTokens, () => this.inner.dirtyTokens(view, roots));
  }
  clearDirty(view: string, marks: readonly [root: string, token: string][]): Promise<number> {
    return this.meter.run(StateOp.ClearDirty, () => this.inner.clearDirty(view, marks));
  }
}
