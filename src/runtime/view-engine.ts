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
 *     atomically; for an incremental aggregate it marks the changed members
 *     instead, and the fold step (./aggregate-step.ts) folds them into their
 *     groups' stored aggregates and marks those groups, atomically;
 *  3. {@link ViewEngine.render} reads each root's inputs and takes its render
 *     sequence atomically, renders with the view's code (plan.renderView),
 *     writes every sink, and clears the root's mark only if no change
 *     re-marked it meanwhile.
 * A crash anywhere leaves marks that {@link ViewEngine.drain} finishes. Sinks
 * keep the highest sequence per document, so concurrent or repeated renders
 * are harmless.
 */
import type { ChangeEvent, Row } from '../cdc/types.ts';
import type { StateWrite } from '../state/store.ts';
import { CdcViewsError } from '../errors.ts';
import type { Logger } from '../log.ts';
import { measure, type Metrics } from '../metrics/catalogue.ts';
import { DocumentsRejectedError, type Sink, type SinkWrite, type SinkWriteResult } from '../sinks/sink.ts';
import type { RenderFailure } from './dlq.ts';
import { FOLD_MARK, type RenderRead, type RenderRequest, type RenderShape, type ViewDependency, type ViewStateStore } from '../state/view-store.ts';
import { dependenciesOf, isIncremental, joinKeyString, keyStringOf, renderStreamEvent, renderView, type Dependency, type JoinOp, type RenderInputs, type TopologyPlan, type ViewPlan } from '../topology/plan.ts';
import { foldMembers, type FoldTarget } from './aggregate-step.ts';

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

/** Receives view roots whose rendering threw (the runtime writes them to the DLQ). */
export type RenderFailedHandler = (view: string, failures: readonly RenderFailure[]) => Promise<void>;

/**
 * The topology's code threw while rendering one root (or mapping one event
 * of a stream view): that root goes to the DLQ, the others are written. A fix
 * of the topology, then rewind or replay, renders it again.
 */
export class RenderFailedError extends CdcViewsError {
  constructor(view: string, keyString: string, cause: unknown) {
    super('RENDER_FAILED', `view ${view}, key ${keyString}: the topology's code threw: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

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
  /** View roots whose rendering threw. @defaultValue rethrow (the render fails) */
  onRenderFailed?: RenderFailedHandler;
  /**
   * The state table of each table the topology names (`<schema>.<table>` →
   * the table's id in the state store, e.g. its topic). Every method of the
   * engine takes and returns state table ids. @defaultValue the name itself
   */
  tableIds?: ReadonlyMap<string, string>;
}

/** Roots rendered per render-view call (and per sink write) when a change marks more. */
export const RENDER_PAGE = 500;

/** Attempts at rendering roots that keep changing between the two reads of a render. */
const MAX_RENDER_ATTEMPTS = 10;

interface CompiledView {
  plan: ViewPlan;
  shape: RenderShape;
  joins: JoinOp[];
  /** The state table id of the view's root table (for a stream view: the table whose events it maps; for a group: its members). */
  source: string;
  /** The fold step of each incremental aggregate, by op (`g` a group root, or a roll-up op index). */
  folds: Map<string, FoldTarget>;
}

/**
 * The state table a view keeps its own rows in: for a stream view one row
 * per key (the mapped last event that passed), for an incremental aggregate
 * one row per group (the stored aggregate).
 */
export function viewTableId(view: string): string {
  return `view:${view}`;
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
    // A stream view keeps its documents as the rows of its own table: each is a root of the view.
    for (const view of this.views.values()) {
      if (view.plan.root.kind === 'stream') this.deps.set(view.shape.rootTable, [{ kind: 'r', view: view.plan.name }]);
    }
  }

  /** Tables with dependent views: apply-chunk marks their changed keys. */
  get dirtyTables(): ReadonlySet<string> {
    return new Set(this.deps.keys());
  }

  /** Marks of this topology's tables and views not yet propagated or rendered. */
  pendingMarks(store: { pendingMarksOf(tables: Iterable<string>, views: Iterable<string>, folds: Iterable<readonly [string, string]>): Promise<number> }): Promise<number> {
    const folds = [...this.views.values()].flatMap((v) => [...v.folds.keys()].map((op) => [v.plan.name, op] as const));
    return store.pendingMarksOf(this.deps.keys(), this.views.keys(), folds);
  }

  /**
   * Marks the members of every incremental aggregate that was never built
   * (its members are stored, its aggregates are not: state built before the
   * view became incremental), so the drain folds them (ViewStore.seedFolds).
   * @returns the members marked
   */
  async seedFolds(store: { seedFolds(target: FoldTarget): Promise<number> }): Promise<number> {
    let marked = 0;
    for (const view of this.views.values()) {
      for (const target of view.folds.values()) {
        const n = await store.seedFolds(target);
        if (n > 0) this.opts.log.warn({ view: target.view, op: target.op, members: n }, 'incremental aggregate never built over stored members (state from before the view or before it became incremental): every member marked to be folded');
        marked += n;
      }
    }
    return marked;
  }

  /** Tables read by stream views. */
  get streamTables(): ReadonlySet<string> {
    return new Set([...this.views.values()].filter((v) => v.plan.root.kind === 'stream').map((v) => v.source));
  }

  /**
   * The stream-view documents of one change event of a table, as writes of
   * each view's own table (key = the event's key, version and origin = the
   * event's): an event a view's filters reject writes nothing (the document
   * keeps the last event that passed); a mapped value of null removes it.
   * These writes go through the same version-guarded apply step as table
   * writes, so a re-sent older event never replaces a newer document. An
   * event a view's code throws on is returned in `failed` (RENDER_FAILED).
   */
  streamWrites(table: string, event: ChangeEvent, version: string, origin: string): { writes: StateWrite[]; failed: { view: string; error: RenderFailedError }[] } {
    const out: { writes: StateWrite[]; failed: { view: string; error: RenderFailedError }[] } = { writes: [], failed: [] };
    if (event.keyString === null || event.key === null || !(event.op === 'c' || event.op === 'u' || event.op === 'd' || event.op === 'r')) return out;
    for (const { plan: view, shape, source } of this.views.values()) {
      if (view.root.kind !== 'stream' || source !== table) continue;
      let r: ReturnType<typeof renderStreamEvent>;
      try {
        r = renderStreamEvent(view, { op: event.op, key: event.key, before: event.before, after: event.after, tsMs: event.source.tsMs });
      } catch (err) {
        // Contained per event: the record goes to the DLQ for this view, the rest of the chunk goes on.
        out.failed.push({ view: view.name, error: new RenderFailedError(view.name, event.keyString, err) });
        continue;
      }
      if (!r.skip) out.writes.push({ table: shape.rootTable, keyString: event.keyString, version, origin, row: r.doc });
    }
    return out;
  }

  /**
   * Propagates a table's applied changes to the views and renders the roots they touched.
   * @returns the names of the sinks written (for the end-to-end latency metric)
   * @throws {SinkUnavailableError} (retriable) when a sink is down; the marks stay
   */
  async process(table: string, changes: readonly TableChange[]): Promise<Set<string>> {
    const dirty = await this.propagate(table, changes);
    for (const [mark, members] of [...dirty]) {
      if (!mark.startsWith(FOLD_MARK)) continue;
      dirty.delete(mark);
      // `+<op>:<view>`: members of an incremental aggregate, folded; the groups (roots) they changed are rendered.
      const [op = '', view = ''] = mark.slice(FOLD_MARK.length).split(':');
      const roots = dirty.get(view) ?? new Set<string>();
      for (const group of await this.fold(view, op, [...members])) roots.add(group);
      dirty.set(view, roots);
    }
    const written = new Set<string>();
    for (const [view, roots] of dirty) {
      // In pages, so a hot joined key's thousands of readers never make one render-view call.
      const all = [...roots];
      for (let i = 0; i < all.length; i += RENDER_PAGE) await this.render(view, all.slice(i, i + RENDER_PAGE));
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
   * Folds changed members of an incremental aggregate (op `g`: the view's
   * groups; a roll-up op: its roots) into their aggregates (./aggregate-step.ts).
   * @returns the groups or roots marked for render
   * @throws {CdcViewsError} RENDER_CONTENDED (retriable) when the members kept changing
   */
  async fold(viewName: string, op: string, members: readonly string[]): Promise<string[]> {
    const target = this.views.get(viewName)?.folds.get(op);
    if (!target || members.length === 0) return [];
    const { groups, failed } = await foldMembers(this.store, target, members);
    if (failed.length > 0) {
      if (!this.opts.onRenderFailed) throw failed[0]!.error;
      await this.opts.onRenderFailed(viewName, failed);
      this.opts.metrics?.renderFailures.inc({ ...this.app, view: viewName }, failed.length);
      this.opts.log.warn({ view: viewName, members: failed.length, first: failed[0]!.error.message }, 'members whose fold threw sent to the DLQ (RENDER_FAILED); they stay counted as before');
    }
    return groups;
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
    const failed: RenderFailure[] = [];
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
        if (read.retry) {
          retry.push(root);
          return;
        }
        // A stream view's stored row is its document, rendered from its event when applied.
        if (plan.root.kind === 'stream') {
          docs.push({ keyString: root, seq: read.seq, doc: read.row });
          return;
        }
        try {
          docs.push({ keyString: root, seq: read.seq, doc: renderView(plan, renderInputs(view, read)) });
        } catch (err) {
          if (!this.opts.onRenderFailed) throw err;
          failed.push({ keyString: root, error: new RenderFailedError(plan.name, root, err), inputs: describeInputs(view, requests[n]!, read) });
        }
      });
      pending = retry;
    }

    if (failed.length > 0) {
      await this.opts.onRenderFailed!(plan.name, failed);
      this.opts.metrics?.renderFailures.inc({ ...this.app, view: plan.name }, failed.length);
      this.opts.log.warn({ view: plan.name, roots: failed.length, first: failed[0]!.error.message }, 'view roots whose rendering threw sent to the DLQ (RENDER_FAILED); the other documents are written');
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
   * Finishes work left by an earlier run or a failed render: propagates every
   * table mark and renders every dirty root, stopping after the page that
   * passes `options.deadline` (ms since the epoch) when given.
   * @param marks where the marks are read from (the view store's pages)
   * @returns the number of roots rendered
   */
  async drain(marks: DrainSource, options: { deadline?: number } = {}): Promise<number> {
    const late = (): boolean => options.deadline !== undefined && Date.now() > options.deadline;
    for (const table of this.deps.keys()) {
      for await (const page of marks.tableMarks(table)) {
        const stored = await this.store.readRoots(table, page.map(([k]) => k));
        await this.propagate(
          table,
          page.map(([keyString, version], n): TableChange => ({ keyString, version, row: stored[n]!.row })),
        );
        if (late()) return 0;
      }
    }
    for (const [name, view] of this.views) {
      for (const op of view.folds.keys()) {
        for await (const page of marks.foldMarks(name, op)) {
          await this.fold(name, op, page.map(([k]) => k));
          if (late()) return 0;
        }
      }
    }
    let rendered = 0;
    for (const view of this.views.keys()) {
      for await (const page of marks.viewMarks(view)) {
        await this.render(view, page.map(([k]) => k));
        rendered += page.length;
        if (late()) break;
      }
      if (late()) break;
    }
    if (rendered > 0) this.opts.log.info({ rendered }, 'rendered view roots left dirty');
    return rendered;
  }
}

/** Pages of marks not yet propagated (per table), folded (per incremental aggregate) or rendered (per view). */
export interface DrainSource {
  tableMarks(table: string): AsyncIterable<[string, string][]>;
  foldMarks(view: string, op: string): AsyncIterable<[string, string][]>;
  viewMarks(view: string): AsyncIterable<[string, string][]>;
}

/** The render shape of a view, with state table ids (`id` maps a table name of the plan to its id). */
function compile(plan: ViewPlan, id: (table: string) => string): CompiledView {
  const joins: JoinOp[] = [];
  const shapeJoins: { op: string; table: string }[] = [];
  const folds = new Map<string, FoldTarget>();
  // A group root's members are read like a roll-up, first, as op `g` (an incremental aggregate reads its stored aggregate instead).
  const rollups = plan.root.kind === 'group' && !isIncremental(plan.root) ? [{ op: 'g', table: id(plan.root.table) }] : [];
  plan.ops.forEach((op, i) => {
    if (op.op === 'join') {
      joins.push(op);
      shapeJoins.push({ op: String(i), table: id(op.table) });
    } else if (op.op === 'rollup' && op.incremental) {
      // An incremental roll-up's aggregate is stored per root, and read like a join on the root's own key.
      const aggregateTable = `${viewTableId(plan.name)}.${i}`;
      joins.push({ op: 'join', name: op.name, table: aggregateTable, key: 'same', kind: 'left', joiner: (value) => value });
      shapeJoins.push({ op: String(i), table: aggregateTable });
      folds.set(String(i), { view: plan.name, op: String(i), key: op.parentKey, aggregator: op.incremental, memberTable: id(op.table), aggregateTable });
    } else if (op.op === 'rollup') {
      rollups.push({ op: String(i), table: id(op.table) });
    }
  });
  const incremental = isIncremental(plan.root);
  const rootTable = plan.root.kind === 'stream' || incremental ? viewTableId(plan.name) : id(plan.root.table);
  if (isIncremental(plan.root)) folds.set('g', { view: plan.name, op: 'g', key: plan.root.key, aggregator: plan.root.incremental, memberTable: id(plan.root.table), aggregateTable: rootTable });
  const shape: RenderShape = { view: plan.name, rootTable, hasRoot: plan.root.kind !== 'group' || incremental, joins: shapeJoins, rollups };
  return { plan, joins, shape, source: id(plan.root.table), folds };
}

/** The render inputs of one root from what render-view read: members in key order, absent rows left out. */
function renderInputs(view: CompiledView, read: Extract<RenderRead, { retry: false }>): RenderInputs {
  const inputs: RenderInputs = { row: read.row, joined: {}, children: {} };
  view.joins.forEach((op, j) => (inputs.joined[op.name] = read.joined[j] ?? null));
  read.members.forEach((pairs, r) => {
    const rows = pairs
      .filter((p): p is [string, Row] => p[1] !== null)
      .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([, row]) => row);
    const op = view.shape.rollups[r]!.op;
    if (op === 'g') inputs.members = rows;
    else inputs.children[view.plan.ops[Number(op)]!.name] = rows;
  });
  return inputs;
}

/** The keys and stored versions a failed render read: enough to find the rows that made the topology's code throw. */
function describeInputs(view: CompiledView, request: RenderRequest, read: Extract<RenderRead, { retry: false }>): Record<string, unknown> {
  return {
    root: { table: view.shape.rootTable, key: request.root, version: request.expectedVersion },
    joined: Object.fromEntries(view.joins.map((op, j) => [op.name, { table: view.shape.joins[j]!.table, key: request.joinKeys[j] ?? '', found: read.joined[j] !== null }])),
    members: Object.fromEntries(view.shape.rollups.map((r, i) => [r.op === 'g' ? 'group' : r.op, { table: r.table, count: read.members[i]?.length ?? 0 }])),
  };
}
