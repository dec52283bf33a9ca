/**
 * The compiled form of a topology: what the DSL (./dsl.ts) builds and what the
 * runtime (src/runtime/views.ts) and the test driver (./test-driver.ts) run.
 *
 * A view has a root and renders one document per root key:
 * - a table root: one document per row of the table;
 * - a group root (`groupBy`): one document per group key, aggregated from the
 *   group's member rows, in one of two forms:
 *   - recompute: folded from all members on every change (cost grows with the
 *     group; the fold sees the whole member list);
 *   - incremental (Kafka Streams' adder and subtractor): each applied change
 *     of a member subtracts the member's counted row from its old group and
 *     adds the new row to its new group, exactly once per applied change (see
 *     src/runtime/aggregate-step.ts); cost per change independent of the
 *     group's size.
 * Its operations run in order on the root value: joins add the row another
 * table holds at a key computed from the root row (same key, or a foreign
 * key: many → one), roll-ups add every row of a child table whose parent key
 * is the root key (one → many), mapValues and filter transform it. A value
 * that becomes null removes the document.
 */
import { canonicalKeyString } from '../cdc/keys.ts';
import type { Row } from '../cdc/types.ts';

/** Computes a key (primary-key columns of another table) from a row; null when there is none. */
export type KeyFn = (row: Row) => Row | null;

export interface JoinOp {
  op: 'join';
  /** Unique within the view: names the node in errors, `describe` and Redis keys. */
  name: string;
  table: string;
  /** `same`: the other table's row with the root's key. A function: a foreign key computed from the root row. */
  key: 'same' | KeyFn;
  /** inner: no document while the other row is missing. left: rendered with null. */
  kind: 'inner' | 'left';
  joiner: (value: unknown, other: Row | null) => unknown;
}

export interface RollupOp {
  op: 'rollup';
  name: string;
  table: string;
  /** The root key a child row belongs to (e.g. an order line → its order's key); null for none. */
  parentKey: KeyFn;
  /** Recompute form: combines the value so far with every child row (exactly one of `aggregator` and `incremental` is set). */
  aggregator?: (value: unknown, children: Row[]) => unknown;
  /** Incremental form: the children folded per root with an adder and a subtractor, then combined with the value so far. */
  incremental?: Aggregator & { combine: (value: unknown, aggregate: unknown) => unknown };
}

export interface MapOp {
  op: 'mapValues';
  name: string;
  fn: (value: unknown) => unknown;
}

export interface FilterOp {
  op: 'filter';
  name: string;
  predicate: (value: unknown) => boolean;
}

export type ViewOp = JoinOp | RollupOp | MapOp | FilterOp;

/**
 * An incremental aggregator, with the semantics of Kafka Streams'
 * `KGroupedTable.aggregate(initializer, adder, subtractor)`: a member row
 * entering a group is added, a member row leaving it (deleted, changed, or
 * moved to another group) is subtracted; an update is a subtraction of the old
 * row then an addition of the new one. The aggregate must be a JSON value
 * (it is stored in Redis between changes).
 */
export interface Aggregator {
  /** The aggregate of a group before its first member. */
  initializer: () => unknown;
  /** The aggregate with one more member row. */
  adder: (aggregate: unknown, member: Row) => unknown;
  /** The aggregate with one member row less (the row as it was counted). */
  subtractor: (aggregate: unknown, member: Row) => unknown;
}

export interface GroupRoot {
  kind: 'group';
  table: string;
  /** The group key of a member row; null keeps the row out of every group. */
  key: KeyFn;
  /** Recompute form: folds the group's member rows (in key order) into the group's value. */
  aggregate?: (members: Row[]) => unknown;
  /** Incremental form (exactly one of `aggregate` and `incremental` is set). */
  incremental?: Aggregator;
}

/** True for a group root aggregated incrementally (its aggregates are stored per group). */
export function isIncremental(root: ViewPlan['root']): root is GroupRoot & { incremental: Aggregator } {
  return root.kind === 'group' && root.incremental !== undefined;
}

export interface TableRoot {
  kind: 'table';
  table: string;
}

/**
 * A stream root (KStream): every change event of the table, in offset order.
 * The document of a key is the last event that passed the view's filters,
 * mapped; a mapped value of null removes it. Sinks keep the highest source
 * offset per key.
 */
export interface StreamRoot {
  kind: 'stream';
  table: string;
}

/** The value a stream view starts from: one change event. `R` is the table's row type. */
export interface StreamEvent<R extends Row = Row> {
  op: 'c' | 'u' | 'd' | 'r';
  /** Primary-key columns. */
  key: Row;
  before: R | null;
  after: R | null;
  /** Commit time in the database, ms since the epoch. */
  tsMs: number;
}

export interface CacheSinkPlan {
  kind: 'cache';
  /** Redis key prefix; `{app}` is replaced by the applicationId. */
  prefix: string;
  /** Expiry of each document, seconds; 0 for none. */
  ttlSeconds: number;
}

export interface SearchSinkPlan {
  kind: 'search';
  /** Index name; `{app}` is replaced by the applicationId. */
  index: string;
  /** Index mappings (the `mappings` body of the create-index request). */
  mappings?: Record<string, unknown>;
}

export type SinkPlan = CacheSinkPlan | SearchSinkPlan;

export interface ViewPlan {
  name: string;
  root: TableRoot | GroupRoot | StreamRoot;
  ops: ViewOp[];
  sinks: SinkPlan[];
  /**
   * The view's definition in SQL on the source database: one row per document
   * with the document's fields as columns plus `_key`, the document key as a
   * JSON object. Used to verify the view (demo, tests).
   */
  sql?: string;
}

export interface TopologyPlan {
  name: string;
  /** The module the topology was loaded from, for error messages. */
  file?: string;
  views: ViewPlan[];
}

/** Every table a topology reads. */
export function tablesOf(plan: TopologyPlan): string[] {
  const out = new Set<string>();
  for (const v of plan.views) {
    out.add(v.root.table);
    for (const op of v.ops) if (op.op === 'join' || op.op === 'rollup') out.add(op.table);
  }
  return [...out].sort();
}

/**
 * How a change of one table reaches the views:
 * - `r`: the changed key is a root of the view;
 * - `j`: the view joins the table at op index `op`: the roots that read the
 *   changed key are re-rendered (reverse index);
 * - `m`: the changed row is a member of a root (roll-up child, or group member
 *   at op `g`), whose key `parent` computes from the row;
 * - `a`: the changed row is a member of an incremental aggregate (op `g` a
 *   group, or an incremental roll-up op) whose group or root key `key`
 *   computes from the row: it is marked to be folded (subtracted from its old
 *   group, added to its new one).
 */
export type Dependency =
  | { kind: 'r'; view: string }
  | { kind: 'j'; view: string; op: string }
  | { kind: 'm'; view: string; op: string; parent: KeyFn }
  | { kind: 'a'; view: string; op: string; key: KeyFn };

/** Dependencies per source table. Shared by the Redis view engine and the test driver. */
export function dependenciesOf(plan: TopologyPlan | undefined): Map<string, Dependency[]> {
  const deps = new Map<string, Dependency[]>();
  const add = (table: string, d: Dependency): void => {
    const list = deps.get(table) ?? [];
    list.push(d);
    deps.set(table, list);
  };
  for (const view of plan?.views ?? []) {
    if (view.root.kind === 'stream') continue; // rendered from the events themselves, not from state
    if (view.root.kind === 'table') add(view.root.table, { kind: 'r', view: view.name });
    else if (view.root.incremental) add(view.root.table, { kind: 'a', view: view.name, op: 'g', key: view.root.key });
    else add(view.root.table, { kind: 'm', view: view.name, op: 'g', parent: view.root.key });
    view.ops.forEach((op, i) => {
      if (op.op === 'join') add(op.table, { kind: 'j', view: view.name, op: String(i) });
      if (op.op === 'rollup') add(op.table, op.incremental ? { kind: 'a', view: view.name, op: String(i), key: op.parentKey } : { kind: 'm', view: view.name, op: String(i), parent: op.parentKey });
    });
  }
  return deps;
}

/** A regex matching exactly the topics `<prefix>.<schema>.<table>` of the given tables. */
export function topicsFor(prefix: string, tables: readonly string[]): RegExp {
  const esc = (x: string): string => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${esc(prefix)}\\.(${tables.map(esc).join('|')})$`);
}

/** The canonical key string of a computed key, or '' for none. */
export function keyStringOf(key: Row | null): string {
  return key === null ? '' : canonicalKeyString(key);
}

/** What a view needs to render one root key, read from state. */
export interface RenderInputs {
  /** Root row (table root), absent/null when deleted. */
  row: Row | null;
  /** Group members (group root, recompute form). */
  members?: Row[];
  /** Per join op name: the joined row or null. */
  joined: Record<string, Row | null>;
  /** Per roll-up op name: the child rows. */
  children: Record<string, Row[]>;
}

/**
 * Renders a view's document from its inputs: the root value, then each
 * operation in order. Returns null when the document must not exist (no root
 * row, empty group, an inner join without a match, a filter rejecting it, or
 * an operation returning null). Shared by the runtime and the test driver.
 */
export function renderView(view: ViewPlan, inputs: RenderInputs): Record<string, unknown> | null {
  let value: unknown;
  if (view.root.kind === 'stream') throw new Error(`view ${view.name} is a stream view: use renderStreamEvent`);
  if (view.root.kind === 'table') {
    if (inputs.row === null) return null;
    value = inputs.row;
  } else if (view.root.incremental) {
    // The stored aggregate of the group: absent once the group has no member.
    if (inputs.row === null) return null;
    value = inputs.row;
  } else {
    if (!inputs.members || inputs.members.length === 0 || !view.root.aggregate) return null;
    value = view.root.aggregate(inputs.members);
  }
  for (const op of view.ops) {
    if (value === null || value === undefined) return null;
    switch (op.op) {
      case 'join': {
        const other = inputs.joined[op.name] ?? null;
        if (other === null && op.kind === 'inner') return null;
        value = op.joiner(value, other);
        break;
      }
      case 'rollup':
        // Incremental: the root's stored aggregate (read like a join), or the initializer's value for a root without children.
        if (op.incremental) value = op.incremental.combine(value, inputs.joined[op.name] ?? op.incremental.initializer());
        else if (op.aggregator) value = op.aggregator(value, inputs.children[op.name] ?? []);
        break;
      case 'mapValues':
        value = op.fn(value);
        break;
      case 'filter':
        if (!op.predicate(value)) return null;
        break;
    }
  }
  if (value === null || value === undefined) return null;
  if (typeof value !== 'object' || Array.isArray(value)) return { value };
  return value as Record<string, unknown>;
}

/**
 * Renders a stream view for one change event: `skip` when a filter rejects
 * it (the document keeps its last value), else the document (null removes it).
 * Shared by the runtime and the test driver.
 */
export function renderStreamEvent(view: ViewPlan, event: StreamEvent): { skip: true } | { skip: false; doc: Record<string, unknown> | null } {
  let value: unknown = event;
  for (const op of view.ops) {
    if (op.op === 'filter') {
      if (!op.predicate(value)) return { skip: true };
    } else if (op.op === 'mapValues') {
      value = op.fn(value);
      if (value === null || value === undefined) return { skip: false, doc: null };
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { skip: false, doc: value === null || value === undefined ? null : { value } };
  return { skip: false, doc: value as Record<string, unknown> };
}

/** The join key string of a join op for a root row ('' when none). */
export function joinKeyString(op: JoinOp, rootKeyString: string, row: Row | null): string {
  if (row === null) return '';
  return op.key === 'same' ? rootKeyString : keyStringOf(op.key(row));
}
