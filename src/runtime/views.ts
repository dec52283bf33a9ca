/**
 * Renders a topology's views from table state in Redis.
 *
 * Two outboxes make every step redoable after a crash:
 *  1. apply-batch marks changed keys of tables that views depend on
 *     (`dirty:<table>`), atomically with the state write;
 *  2. {@link ViewEngine.propagate} turns them into dirty view roots
 *     (`v:<view>:dirty`), maintaining roll-up and group membership, and clears
 *     the table marks, atomically (lua/propagate.lua);
 *  3. {@link ViewEngine.render} reads each root's inputs and takes its render
 *     sequence atomically (lua/render-view.lua), renders with the view's code
 *     (plan.renderView, shared with the test driver), writes every sink, and
 *     clears the root's mark only if no change re-marked it meanwhile.
 * A crash anywhere leaves marks that {@link ViewEngine.drain} finishes on the
 * next start. Sinks keep the highest sequence per document, so concurrent or
 * repeated renders are harmless.
 */
import type { Redis } from 'ioredis';
import type { ChangeEvent, Row } from '../cdc/types.ts';
import type { Logger } from '../log.ts';
import { CdcViewsError } from '../errors.ts';
import { measure, type Metrics } from '../metrics/catalogue.ts';
import { DocumentsRejectedError, type Sink, type SinkWrite, type SinkWriteResult } from '../sinks/sink.ts';
import { StateKeys } from '../state/keys.ts';
import { parseStored, withScripts } from '../state/store.ts';
import { dependenciesOf, joinKeyString, keyStringOf, renderStreamEvent, renderView, type Dependency, type JoinOp, type RenderInputs, type TopologyPlan, type ViewPlan } from '../topology/plan.ts';

/** A changed key of a table, as applied: its version and row (null = deleted). */
export interface TableChange {
  keyString: string;
  version: string;
  row: Row | null;
}

/** Documents written and skipped per view since start. */
export interface RenderCounts {
  rendered: number;
  written: number;
  skipped: number;
}

const MAX_RETRIES = 10;

export class ViewEngine {
  private readonly redis;
  private readonly keys: StateKeys;
  private readonly deps: Map<string, Dependency[]>;
  private readonly views = new Map<string, ViewPlan>();
  readonly counts: RenderCounts = { rendered: 0, written: 0, skipped: 0 };
  private readonly app: { application_id: string };

  constructor(
    redis: Redis,
    applicationId: string,
    plan: TopologyPlan | undefined,
    private readonly sinks: ReadonlyMap<string, readonly Sink[]>,
    private readonly log: Logger,
    /** Render and sink metrics (src/metrics/catalogue.ts). @defaultValue none */
    private readonly metrics?: Metrics,
    /**
     * Receives documents a sink refused for good, with the rendered documents;
     * the runtime writes them to the DLQ. @defaultValue rethrow (the batch fails)
     */
    private readonly onRejected?: (view: string, err: DocumentsRejectedError, docs: readonly SinkWrite[]) => Promise<void>,
  ) {
    this.redis = withScripts(redis);
    this.keys = new StateKeys(applicationId);
    this.app = { application_id: applicationId };
    for (const view of plan?.views ?? []) this.views.set(view.name, view);
    this.deps = dependenciesOf(plan);
  }

  /** Tables with dependent views: apply-batch marks their changed keys. */
  get dirtyTables(): ReadonlySet<string> {
    return new Set(this.deps.keys());
  }

  /**
   * Propagates a table's changes to the views and renders the roots they touched.
   * @returns the names of the sinks written (for the end-to-end latency metric).
   */
  async process(table: string, changes: readonly TableChange[]): Promise<Set<string>> {
    const dirty = await this.propagate(table, changes);
    const written = new Set<string>();
    for (const [view, roots] of dirty) {
      await this.render(view, [...roots]);
      for (const sink of this.sinks.get(view) ?? []) written.add(sink.name);
    }
    return written;
  }

  /** Marks the view roots that depend on the changed keys; returns them per view. */
  async propagate(table: string, changes: readonly TableChange[]): Promise<Map<string, Set<string>>> {
    const deps = this.deps.get(table);
    const out = new Map<string, Set<string>>();
    if (!deps || changes.length === 0) return out;
    const args: (string | number)[] = [this.keys.viewPrefix, changes.length];
    for (const c of changes) {
      args.push(c.keyString, c.version, deps.length);
      for (const d of deps) {
        const parent = d.kind === 'm' && c.row !== null ? keyStringOf(d.parent(c.row)) : '';
        args.push(d.kind, d.view, d.kind === 'r' ? '' : d.op, parent);
      }
    }
    const flat = await this.redis.cdcvPropagate(1, this.keys.dirty(table), ...args);
    for (let i = 0; i < flat.length; i += 2) {
      const view = flat[i] as string;
      const set = out.get(view) ?? new Set<string>();
      set.add(flat[i + 1] as string);
      out.set(view, set);
    }
    return out;
  }

  /**
   * Renders some roots of a view and writes them to its sinks.
   * @throws {SinkUnavailableError} (retriable) when a sink is down; the roots stay marked.
   */
  async render(viewName: string, roots: readonly string[]): Promise<void> {
    const view = this.views.get(viewName);
    if (!view || roots.length === 0) return;
    const end = this.metrics?.renderDuration.startTimer({ ...this.app, view: viewName });
    try {
      await this.renderRoots(view, roots);
    } finally {
      end?.();
    }
  }

  private async renderRoots(view: ViewPlan, roots: readonly string[]): Promise<void> {
    const viewName = view.name;
    const tokens = await this.redis.hmget(this.keys.viewDirty(viewName), ...roots);
    const joins = view.ops.map((op, i) => [op, i] as const).filter((e): e is readonly [JoinOp, number] => e[0].op === 'join');
    const rollups: [string, string][] = view.ops.flatMap((op, i): [string, string][] => (op.op === 'rollup' ? [[this.keys.table(op.table), String(i)]] : []));
    if (view.root.kind === 'group') rollups.unshift([this.keys.table(view.root.table), 'g']);
    const rootTable = view.root.kind === 'table' ? this.keys.table(view.root.table) : '';

    const docs: { keyString: string; seq: number; doc: Record<string, unknown> | null }[] = [];
    let pending = [...roots];
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= MAX_RETRIES) throw new CdcViewsError('RENDER_CONTENDED', `view ${viewName}: roots kept changing while rendering (${pending.length} left)`, { retriable: true });
      // Phase 1: read the root rows to compute the join keys (not atomic; checked by version in phase 2).
      const stored = rootTable ? await this.redis.hmget(rootTable, ...pending) : pending.map(() => null);
      const args: (string | number)[] = [`${this.keys.viewPrefix}${viewName}:`, this.keys.seq(viewName), rootTable, joins.length];
      for (const [op] of joins) args.push(this.keys.table(op.table));
      args.push(rollups.length);
      for (const [t, i] of rollups) args.push(t, i);
      args.push(pending.length);
      pending.forEach((root, n) => {
        const raw = stored[n] ?? null;
        const row = raw === null ? null : parseStored(raw).row;
        args.push(root, rootTable ? (raw === null ? '' : raw.slice(0, raw.indexOf('\n'))) : '*');
        for (const [op, i] of joins) args.push(String(i), joinKeyString(op, root, row));
      });
      const replies = await this.redis.cdcvRenderView(0, ...args);
      const retry: string[] = [];
      replies.forEach((reply, n) => {
        const root = pending[n]!;
        if (reply[0] === 0) {
          retry.push(root);
          return;
        }
        const [, seq, ...rest] = reply;
        const inputs = this.decodeReply(view, joins, rollups.length, rest);
        docs.push({ keyString: root, seq, doc: renderView(view, inputs) });
      });
      pending = retry;
    }

    await this.writeSinks(viewName, docs);
    this.counts.rendered += docs.length;
    const marks: string[] = [];
    roots.forEach((root, n) => {
      const token = tokens[n];
      if (token !== null && token !== undefined) marks.push(root, token);
    });
    if (marks.length > 0) await this.redis.cdcvClearDirty(1, this.keys.viewDirty(viewName), ...marks);
  }

  /** Writes documents to every sink of a view; documents refused for good go to `onRejected`. */
  private async writeSinks(viewName: string, docs: readonly SinkWrite[]): Promise<void> {
    for (const sink of this.sinks.get(viewName) ?? []) {
      const labels = { ...this.app, sink: sink.name };
      let r: SinkWriteResult;
      try {
        r = this.metrics ? await measure(this.metrics.sinkWriteDuration, this.metrics.sinkWriteErrors, labels, () => sink.write(docs)) : await sink.write(docs);
      } catch (err) {
        // Refused for good (e.g. a mapping error): to the DLQ, and the other documents stand. Retrying cannot help.
        if (!(err instanceof DocumentsRejectedError) || !this.onRejected) throw err;
        await this.onRejected(viewName, err, docs);
        r = { written: err.written, skipped: err.skipped };
      }
      this.counts.written += r.written;
      this.counts.skipped += r.skipped;
      this.metrics?.sinkDocumentsWritten.inc(labels, r.written);
      this.metrics?.sinkDocumentsSkipped.inc(labels, r.skipped);
    }
  }

  /** Tables read by stream views (their events are written before the chunk's state step). */
  get streamTables(): ReadonlySet<string> {
    return new Set([...this.views.values()].filter((v) => v.root.kind === 'stream').map((v) => v.root.table));
  }

  /**
   * Renders the stream views of a chunk's change events (in offset order) and
   * writes each key's last passing event to the sinks, with the source offset
   * as its sequence: a stream document is a pure function of one event, so a
   * chunk re-processed after a crash writes the same documents and the sinks
   * skip them. The runtime calls this BEFORE the chunk's atomic state step
   * (at-least-once into sinks that deduplicate).
   * @throws {SinkUnavailableError} (retriable) when a sink is down.
   */
  async writeStreams(events: readonly ChangeEvent[]): Promise<string[]> {
    const byView = new Map<string, Map<string, SinkWrite>>();
    for (const view of this.views.values()) {
      if (view.root.kind !== 'stream') continue;
      const docs = new Map<string, SinkWrite>();
      for (const e of events) {
        if (e.table !== view.root.table || e.keyString === null || e.key === null || !(e.op === 'c' || e.op === 'u' || e.op === 'd' || e.op === 'r')) continue;
        const r = renderStreamEvent(view, { op: e.op, key: e.key, before: e.before, after: e.after, tsMs: e.source.tsMs });
        if (r.skip) continue;
        docs.set(e.keyString, { keyString: e.keyString, seq: Number(e.position.offset), doc: r.doc });
      }
      if (docs.size > 0) byView.set(view.name, docs);
    }
    const sinks: string[] = [];
    for (const [viewName, docs] of byView) {
      await this.writeSinks(viewName, [...docs.values()]);
      this.counts.rendered += docs.size;
      for (const sink of this.sinks.get(viewName) ?? []) sinks.push(sink.name);
    }
    return sinks;
  }

  private decodeReply(view: ViewPlan, joins: readonly (readonly [JoinOp, number])[], nRollups: number, rest: (string | number | null)[]): RenderInputs {
    const row = (v: string | number | null | undefined): Row | null => (typeof v === 'string' ? parseStored(v).row : null);
    let i = 0;
    const inputs: RenderInputs = { row: row(rest[i++]), joined: {}, children: {} };
    for (const [op] of joins) inputs.joined[op.name] = row(rest[i++]);
    const rollupOps = view.ops.filter((op) => op.op === 'rollup');
    for (let r = 0; r < nRollups; r++) {
      const count = Number(rest[i++]);
      const children: [string, Row][] = [];
      for (let c = 0; c < count; c++) {
        const key = rest[i++] as string;
        const value = row(rest[i++]);
        if (value !== null) children.push([key, value]);
      }
      children.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      const rows = children.map(([, v]) => v);
      if (view.root.kind === 'group' && r === 0) inputs.members = rows;
      else inputs.children[rollupOps[view.root.kind === 'group' ? r - 1 : r]!.name] = rows;
    }
    return inputs;
  }

  /**
   * Finishes work left by an earlier run: propagates every table mark and
   * renders every dirty root. Called at start, before consuming.
   * @returns the number of roots rendered.
   */
  async drain(batchSize = 500): Promise<number> {
    for (const table of this.deps.keys()) {
      await this.scanHash(this.keys.dirty(table), batchSize, async (entries) => {
        const rows = await this.redis.hmget(this.keys.table(table), ...entries.map(([k]) => k));
        const changes = entries.map(([keyString, version], n): TableChange => {
          const raw = rows[n];
          return { keyString, version, row: raw ? parseStored(raw).row : null };
        });
        await this.propagate(table, changes);
      });
    }
    let rendered = 0;
    for (const view of this.views.keys()) {
      await this.scanHash(this.keys.viewDirty(view), batchSize, async (entries) => {
        await this.render(view, entries.map(([k]) => k));
        rendered += entries.length;
      });
    }
    if (rendered > 0) this.log.info({ rendered }, 'rendered view roots left dirty by an earlier run');
    return rendered;
  }

  private async scanHash(key: string, count: number, fn: (entries: [string, string][]) => Promise<void>): Promise<void> {
    let cursor = '0';
    do {
      const [next, flat] = await this.redis.hscan(key, cursor, 'COUNT', count);
      cursor = next;
      const entries: [string, string][] = [];
      for (let i = 0; i < flat.length; i += 2) entries.push([flat[i] as string, flat[i + 1] as string]);
      if (entries.length > 0) await fn(entries);
    } while (cursor !== '0');
  }
}
