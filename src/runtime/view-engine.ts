/**
 * Renders a topology's views from table state and writes them to their sinks.
 * It decides what to propagate and render; every Redis read and write goes
 * through the view state store (src/state/view-store.ts). The production
 * runtime and the TopologyTestDriver both run this engine.
 *
 * Two outboxes make every step redoable after a crash:
 *  1. apply-chunk marks changed keys of tables that views depend on,
 *     atomically with the state write;
 *  2. {@link ViewEngine.propagate} turns them into dirty view roots,
 *     maintaining roll-up and group membership, and clears the table marks,
 *     atomically;
 *  3. {@link ViewEngine.render} reads each root's inputs and takes its render
 *     sequence atomically, renders with the view's code (plan.renderView),
 *     writes every sink, and clears the root's mark only if no change
 *     re-marked it meanwhile.
 * A crash anywhere leaves marks that {@link ViewEngine.drain} finishes. Sinks
 * keep the highest sequence per document, so concurrent or repeated renders
 * are harmless.
 */
import type { ChangeEvent, Row } from '../cdc/types.ts';
import { CdcViewsError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { measure, type Metrics } from '../metrics/catalogue.ts';
import { DocumentsRejectedError, type Sink, type SinkWrite, type SinkWriteResult } from '../sinks/sink.ts';
import type { RenderRead, RenderShape, ViewDependency, ViewStateStore } from '../state/view-store.ts';
import { dependenciesOf, joinKeyString, keyStringOf, renderStreamEvent, renderView, type Dependency, type JoinOp, type RenderInputs, type TopologyPlan, type ViewPlan } from '../topology/plan.ts';

/** A changed key of a table, as applied: its version and row (null = deleted). */
export interface TableChange {
  keyString: string;
  version: string;
  row: Row | null;
}

/** View roots rendered and documents written / skipped as older, since start. */
export interface RenderCounts {
  rendered: number;
  written: number;
  skipped: number;
}

/** Receives documents a sink refused for good, with the rendered documents (the runtime writes them to the DLQ). */
export type RejectedHandler = (view: string, err: DocumentsRejectedError, docs: readonly SinkWrite[]) => Promise<void>;

/** Options of a {@link ViewEngine}. */
export interface ViewEngineOptions {
  applicationId: string;
  store: ViewStateStore;
  /** The topology; none: tables only (nothing to render). */
  plan: TopologyPlan | undefined;
  /** The sinks of each view, by view name. */
  sinks: ReadonlyMap<string, readonly Sink[]>;
  log: Logger;
  /** Render and sink metrics. @defaultValue none */
  metrics?: Metrics;
  /** Documents a sink refused for good. @defaultValue rethrow (the render fails) */
  onRejected?: RejectedHandler;
  /**
   * The state table of each table the topology names (`<schema>.<table>` →
   * the table's id in the state store, e.g. its topic). Every method of the
   * engine takes and returns state table ids. @defaultValue the name itself
   */
  tableIds?: ReadonlyMap<string, string>;
}

/** Attempts at rendering roots that keep changing between the two reads of a render. */
const MAX_RENDER_ATTEMPTS = 10;

interface CompiledView {
  plan: ViewPlan;
  shape: RenderShape;
  joins: JoinOp[];
}

export class ViewEngine {
  readonly counts: RenderCounts = { rendered: 0, written: 0, skipped: 0 };
  private readonly store: ViewStateStore;
  private readonly deps: Map<string, Dependency[]>;
  private readonly views = new Map<string, CompiledView>();
  private readonly app: { application_id: string };

  constructor(private readonly opts: ViewEngineOptions) {
    this.store = opts.store;
    this.app = { application_id: opts.applicationId };
    const id = (table: string): string => opts.tableIds?.get(table) ?? table;
    for (const view of opts.plan?.views ?? []) this.views.set(view.name, compile(view, id));
    this.deps = new Map([...dependenciesOf(opts.plan)].map(([table, deps]) => [id(table), deps]));
  }

  /** Tables with dependent views: apply-chunk marks their changed keys. */
  get dirtyTables(): ReadonlySet<string> {
    return new Set(this.deps.keys());
  }

  /** Tables read by stream views (their events are written before the chunk's state step). */
  get streamTables(): ReadonlySet<string> {
    return new Set([...this.views.values()].filter((v) => v.plan.root.kind === 'stream').map((v) => v.shape.rootTable));
  }

  /**
   * Propagates a table's applied changes to the views and renders the roots they touched.
   * @returns the names of the sinks written (for the end-to-end latency metric)
   * @throws {SinkUnavailableError} (retriable) when a sink is down; the marks stay
   */
  async process(table: string, changes: readonly TableChange[]): Promise<Set<string>> {
    const dirty = await this.propagate(table, changes);
    const written = new Set<string>();
    for (const [view, roots] of dirty) {
      await this.render(view, [...roots]);
      for (const sink of this.opts.sinks.get(view) ?? []) written.add(sink.name);
    }
    return written;
  }

  /** Marks the view roots that depend on the changed keys; returns them per view. */
  async propagate(table: string, changes: readonly TableChange[]): Promise<Map<string, Set<string>>> {
    const deps = this.deps.get(table);
    if (!deps || changes.length === 0) return new Map();
    const viewDeps: ViewDependency[] = deps.map((d) => ({ kind: d.kind, view: d.view, op: d.kind === 'r' ? '' : d.op }));
    return this.store.propagate(
      table,
      viewDeps,
      changes.map((c) => ({
        keyString: c.keyString,
        version: c.version,
        parents: deps.map((d) => (d.kind === 'm' && c.row !== null ? keyStringOf(d.parent(c.row)) : '')),
      })),
    );
  }

  /**
   * Renders some roots of a view and writes them to its sinks.
   * @throws {SinkUnavailableError} (retriable) when a sink is down; the roots stay marked
   * @throws {CdcViewsError} RENDER_CONTENDED (retriable) when roots kept changing while rendering
   */
  async render(viewName: string, roots: readonly string[]): Promise<void> {
    const view = this.views.get(viewName);
    if (!view || roots.length === 0) return;
    const end = this.opts.metrics?.renderDuration.startTimer({ ...this.app, view: viewName });
    try {
      await this.renderRoots(view, roots);
    } finally {
      end?.();
    }
  }

  private async renderRoots(view: CompiledView, roots: readonly string[]): Promise<void> {
    const { plan, shape } = view;
    const tokens = await this.store.dirtyTokens(plan.name, roots);
    const docs: SinkWrite[] = [];
    let pending = [...roots];
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= MAX_RENDER_ATTEMPTS) throw new CdcViewsError('RENDER_CONTENDED', `view ${plan.name}: roots kept changing while rendering (${pending.length} left)`, { retriable: true });
      // Phase 1: the root rows give the join keys (not atomic: phase 2 checks the root version).
      const stored = shape.hasRoot ? await this.store.readRoots(shape.rootTable, pending) : pending.map(() => ({ version: '*', row: null }));
      const requests = pending.map((root, n) => ({
        root,
        expectedVersion: stored[n]!.version,
        joinKeys: view.joins.map((op) => joinKeyString(op, root, stored[n]!.row)),
      }));
      const reads = await this.store.readForRender(shape, requests);
      const retry: string[] = [];
      reads.forEach((read, n) => {
        const root = pending[n]!;
        if (read.retry) retry.push(root);
        else docs.push({ keyString: root, seq: read.seq, doc: renderView(plan, renderInputs(view, read)) });
      });
      pending = retry;
    }

    await this.writeSinks(plan.name, docs);
    this.counts.rendered += docs.length;
    const marks: [string, string][] = [];
    roots.forEach((root, n) => {
      const token = tokens[n];
      if (token !== null && token !== undefined) marks.push([root, token]);
    });
    await this.store.clearDirty(plan.name, marks);
  }

  /** Writes documents to every sink of a view; documents refused for good go to `onRejected`. */
  private async writeSinks(viewName: string, docs: readonly SinkWrite[]): Promise<void> {
    const { metrics, onRejected } = this.opts;
    for (const sink of this.opts.sinks.get(viewName) ?? []) {
      const labels = { ...this.app, sink: sink.name };
      let r: SinkWriteResult;
      try {
        r = metrics ? await measure(metrics.sinkWriteDuration, metrics.sinkWriteErrors, labels, () => sink.write(docs)) : await sink.write(docs);
      } catch (err) {
        // Refused for good (e.g. a mapping error): to the DLQ, and the other documents stand. Retrying cannot help.
        if (!(err instanceof DocumentsRejectedError) || !onRejected) throw err;
        await onRejected(viewName, err, docs);
        r = { written: err.written, skipped: err.skipped };
      }
      this.counts.written += r.written;
      this.counts.skipped += r.skipped;
      metrics?.sinkDocumentsWritten.inc(labels, r.written);
      metrics?.sinkDocumentsSkipped.inc(labels, r.skipped);
    }
  }

  /**
   * Renders the stream views of a chunk's change events of one table (in offset order) and
   * writes each key's last passing event to the sinks, with the source offset
   * as its sequence: a stream document is a pure function of one event, so a
   * chunk re-processed after a crash writes the same documents and the sinks
   * skip them. The runtime calls this BEFORE the chunk's atomic state step
   * (at-least-once into sinks that deduplicate).
   * @returns the names of the sinks written
   * @throws {SinkUnavailableError} (retriable) when a sink is down
   */
  async writeStreams(table: string, events: readonly ChangeEvent[]): Promise<string[]> {
    const byView = new Map<string, Map<string, SinkWrite>>();
    for (const { plan: view, shape } of this.views.values()) {
      if (view.root.kind !== 'stream' || shape.rootTable !== table) continue;
      const docs = new Map<string, SinkWrite>();
      for (const e of events) {
        if (e.keyString === null || e.key === null || !(e.op === 'c' || e.op === 'u' || e.op === 'd' || e.op === 'r')) continue;
        const r = renderStreamEvent(view, { op: e.op, key: e.key, before: e.before, after: e.after, tsMs: e.source.tsMs });
        if (r.skip) continue;
        // offset + 1: sinks keep sequences above 0 (a record at offset 0 must be written too).
        docs.set(e.keyString, { keyString: e.keyString, seq: Number(e.position.offset) + 1, doc: r.doc });
      }
      if (docs.size > 0) byView.set(view.name, docs);
    }
    const sinks: string[] = [];
    for (const [viewName, docs] of byView) {
      await this.writeSinks(viewName, [...docs.values()]);
      this.counts.rendered += docs.size;
      for (const sink of this.opts.sinks.get(viewName) ?? []) sinks.push(sink.name);
    }
    return sinks;
  }

  /**
   * Finishes work left by an earlier run or a failed render: propagates every
   * table mark and renders every dirty root.
   * @param marks where the marks are read from (the view store's pages)
   * @returns the number of roots rendered
   */
  async drain(marks: DrainSource): Promise<number> {
    for (const table of this.deps.keys()) {
      for await (const page of marks.tableMarks(table)) {
        const stored = await this.store.readRoots(table, page.map(([k]) => k));
        await this.propagate(
          table,
          page.map(([keyString, version], n): TableChange => ({ keyString, version, row: stored[n]!.row })),
        );
      }
    }
    let rendered = 0;
    for (const view of this.views.keys()) {
      for await (const page of marks.viewMarks(view)) {
        await this.render(view, page.map(([k]) => k));
        rendered += page.length;
      }
    }
    if (rendered > 0) this.opts.log.info({ rendered }, 'rendered view roots left dirty');
    return rendered;
  }
}

/** Pages of marks not yet propagated (per table) or rendered (per view). */
export interface DrainSource {
  tableMarks(table: string): AsyncIterable<[string, string][]>;
  viewMarks(view: string): AsyncIterable<[string, string][]>;
}

/** The render shape of a view, with state table ids (`id` maps a table name of the plan to its id). */
function compile(plan: ViewPlan, id: (table: string) => string): CompiledView {
  const joins: JoinOp[] = [];
  const shapeJoins: { op: string; table: string }[] = [];
  // A group root's members are read like a roll-up, first, as op `g`.
  const rollups = plan.root.kind === 'group' ? [{ op: 'g', table: id(plan.root.table) }] : [];
  plan.ops.forEach((op, i) => {
    if (op.op === 'join') {
      joins.push(op);
      shapeJoins.push({ op: String(i), table: id(op.table) });
    } else if (op.op === 'rollup') {
      rollups.push({ op: String(i), table: id(op.table) });
    }
  });
  const shape: RenderShape = { view: plan.name, rootTable: id(plan.root.table), hasRoot: plan.root.kind === 'table', joins: shapeJoins, rollups };
  return { plan, joins, shape };
}

/** The render inputs of one root from what render-view read: members in key order, absent rows left out. */
function renderInputs(view: CompiledView, read: Extract<RenderRead, { retry: false }>): RenderInputs {
  const inputs: RenderInputs = { row: read.row, joined: {}, children: {} };
  view.joins.forEach((op, j) => (inputs.joined[op.name] = read.joined[j] ?? null));
  const rollupOps = view.plan.ops.filter((op) => op.op === 'rollup');
  const isGroup = view.plan.root.kind === 'group';
  read.members.forEach((pairs, r) => {
    const rows = pairs
      .filter((p): p is [string, Row] => p[1] !== null)
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([, row]) => row);
    if (isGroup && r === 0) inputs.members = rows;
    else inputs.children[rollupOps[isGroup ? r - 1 : r]!.name] = rows;
  });
  return inputs;
}
