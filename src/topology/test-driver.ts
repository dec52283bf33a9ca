/**
 * A broker-free topology test driver, in the spirit of Kafka Streams'
 * TopologyTestDriver: pipe changes in, read documents out, synchronously.
 *
 * It runs the same view code as production — the topology's own functions,
 * `renderView`, the join keys and the dependency rules of ./plan.ts — over
 * in-memory table state instead of Redis. What it does not exercise (atomic
 * Redis steps, sequences, sinks, Kafka) is covered by the integration tests.
 *
 * ```ts
 * const driver = new TopologyTestDriver(plan);
 * driver.upsert('public.customers', { id: 1 }, { id: 1, name: 'Ada' });
 * driver.document('customer-cache', { id: 1 }); // → { id: 1, name: 'Ada', … }
 * ```
 */
import { canonicalKeyString } from '../cdc/keys.ts';
import type { ChangeEvent, Row } from '../cdc/types.ts';
import { dependenciesOf, joinKeyString, keyStringOf, renderStreamEvent, renderView, type Dependency, type RenderInputs, type StreamEvent, type TopologyPlan, type ViewPlan } from './plan.ts';

/** One document write the driver observed, in order. */
export interface DriverOutput {
  view: string;
  keyString: string;
  /** null: the document was removed. */
  doc: Record<string, unknown> | null;
}

export class TopologyTestDriver {
  private readonly tables = new Map<string, Map<string, Row>>();
  private readonly deps: Map<string, Dependency[]>;
  private readonly views = new Map<string, ViewPlan>();
  private readonly docs = new Map<string, Map<string, Record<string, unknown>>>();
  /** join op → root → the key it read; reverse: op → key → roots. */
  private readonly fkOf = new Map<string, Map<string, string>>();
  private readonly rev = new Map<string, Map<string, Set<string>>>();
  /** roll-up/group op → member → its root; reverse: op → root → members. */
  private readonly parentOf = new Map<string, Map<string, string>>();
  private readonly members = new Map<string, Map<string, Set<string>>>();
  /** Every document write, in order. */
  readonly outputs: DriverOutput[] = [];

  constructor(readonly plan: TopologyPlan) {
    this.deps = dependenciesOf(plan);
    for (const v of plan.views) {
      this.views.set(v.name, v);
      this.docs.set(v.name, new Map());
    }
  }

  /** Applies a decoded change event (tombstones and truncates included). */
  pipe(event: ChangeEvent): void {
    if (event.op === 't') {
      for (const key of [...(this.tables.get(event.table)?.keys() ?? [])]) this.change(event.table, key, null);
      return;
    }
    if (event.keyString === null || event.key === null || event.op === 'm') return;
    this.change(event.table, event.keyString, event.op === 'd' ? null : event.after, { op: event.op, key: event.key, before: event.before, after: event.after, tsMs: event.source.tsMs });
  }

  /** Inserts or updates a row: `key` holds the primary-key columns. */
  upsert(table: string, key: Row, row: Row): void {
    this.change(table, canonicalKeyString(key), row);
  }

  delete(table: string, key: Row): void {
    this.change(table, canonicalKeyString(key), null);
  }

  /** The current document of a view for a key (columns of the root key, or the group key). */
  document(view: string, key: Row): Record<string, unknown> | undefined {
    return this.documents(view).get(canonicalKeyString(key));
  }

  /** All current documents of a view: key string → document. */
  documents(view: string): ReadonlyMap<string, Record<string, unknown>> {
    const docs = this.docs.get(view);
    if (!docs) throw new Error(`no view named ${view} in topology ${this.plan.name}`);
    return docs;
  }

  private table(name: string): Map<string, Row> {
    let t = this.tables.get(name);
    if (!t) {
      t = new Map();
      this.tables.set(name, t);
    }
    return t;
  }

  private change(table: string, keyString: string, row: Row | null, event?: StreamEvent): void {
    const previous = this.table(table).get(keyString) ?? null;
    // upsert()/delete() synthesize the event a stream view sees (commit time 0).
    const e: StreamEvent = event ?? { op: row === null ? 'd' : previous === null ? 'c' : 'u', key: JSON.parse(keyString) as Row, before: previous, after: row, tsMs: 0 };
    for (const view of this.views.values()) {
      if (view.root.kind !== 'stream' || view.root.table !== table) continue;
      const r = renderStreamEvent(view, e);
      if (r.skip) continue;
      const docs = this.docs.get(view.name)!;
      if (r.doc === null) docs.delete(keyString);
      else docs.set(keyString, r.doc);
      this.outputs.push({ view: view.name, keyString, doc: r.doc });
    }
    if (row === null) this.table(table).delete(keyString);
    else this.table(table).set(keyString, row);
    const dirty = new Map<string, Set<string>>();
    const mark = (view: string, root: string): void => {
      const set = dirty.get(view) ?? new Set();
      set.add(root);
      dirty.set(view, set);
    };
    for (const d of this.deps.get(table) ?? []) {
      const id = `${d.view}\u0000${d.kind === 'r' ? '' : d.op}`;
      if (d.kind === 'r') mark(d.view, keyString);
      else if (d.kind === 'j') for (const root of this.rev.get(id)?.get(keyString) ?? []) mark(d.view, root);
      else {
        const parent = row === null ? '' : keyStringOf(d.parent(row));
        const parents = mapOf(this.parentOf, id);
        const old = parents.get(keyString);
        if (old !== undefined && old !== parent) {
          mapOf(this.members, id).get(old)?.delete(keyString);
          mark(d.view, old);
        }
        if (parent !== '') {
          setOf(mapOf(this.members, id), parent).add(keyString);
          parents.set(keyString, parent);
          mark(d.view, parent);
        } else {
          parents.delete(keyString);
        }
      }
    }
    for (const [view, roots] of dirty) for (const root of roots) this.render(this.views.get(view)!, root);
  }

  private render(view: ViewPlan, root: string): void {
    const row = view.root.kind === 'table' ? (this.table(view.root.table).get(root) ?? null) : null;
    const inputs: RenderInputs = { row, joined: {}, children: {} };
    view.ops.forEach((op, i) => {
      const id = `${view.name}\u0000${i}`;
      if (op.op === 'join') {
        const fk = joinKeyString(op, root, row);
        const fks = mapOf(this.fkOf, id);
        const old = fks.get(root);
        if (old !== undefined && old !== fk) mapOf(this.rev, id).get(old)?.delete(root);
        if (fk !== '') {
          fks.set(root, fk);
          setOf(mapOf(this.rev, id), fk).add(root);
        } else {
          fks.delete(root);
        }
        inputs.joined[op.name] = fk === '' ? null : (this.table(op.table).get(fk) ?? null);
      } else if (op.op === 'rollup') {
        inputs.children[op.name] = this.rowsOf(op.table, mapOf(this.members, id).get(root));
      }
    });
    if (view.root.kind === 'group') inputs.members = this.rowsOf(view.root.table, mapOf(this.members, `${view.name}\u0000g`).get(root));
    const doc = renderView(view, inputs);
    const docs = this.docs.get(view.name)!;
    if (doc === null) docs.delete(root);
    else docs.set(root, doc);
    this.outputs.push({ view: view.name, keyString: root, doc });
  }

  /** Member rows in key order (as the runtime sorts them). */
  private rowsOf(table: string, keys: ReadonlySet<string> | undefined): Row[] {
    const t = this.table(table);
    return [...(keys ?? [])].sort().flatMap((k) => {
      const r = t.get(k);
      return r ? [r] : [];
    });
  }
}

function mapOf<V>(outer: Map<string, Map<string, V>>, id: string): Map<string, V> {
  let m = outer.get(id);
  if (!m) {
    m = new Map();
    outer.set(id, m);
  }
  return m;
}

function setOf(m: Map<string, Set<string>>, key: string): Set<string> {
  let s = m.get(key);
  if (!s) {
    s = new Set();
    m.set(key, s);
  }
  return s;
}
