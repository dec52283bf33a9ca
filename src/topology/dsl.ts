/**
 * The topology DSL, in the spirit of Kafka Streams' StreamsBuilder:
 *
 * ```ts
 * const builder = new StreamsBuilder('order-search');
 * const orders = builder.table('public.orders');
 * orders
 *   .join(builder.table('public.customers'), {
 *     name: 'customer', key: (order) => ({ id: order.customer_id }), kind: 'left',
 *     joiner: (order, customer) => ({ ...order, customerName: customer?.name ?? null }),
 *   })
 *   .rollup(builder.table('public.order_lines'), {
 *     name: 'lines', parentKey: (line) => ({ id: line.order_id }),
 *     aggregator: (order, lines) => ({ ...order, lineCount: lines.length }),
 *   })
 *   .toSearchIndex({ index: '{app}-orders' });
 * export default builder.build();
 * ```
 *
 * Rows are typed: `builder.table<Order>('public.orders')` types the rows of
 * that table (e.g. with the types `cdc-views types generate` writes from the
 * PostgreSQL catalog), and the types flow through joins, roll-ups, mapValues
 * and aggregates, so `order.customer_idd` does not compile. Without a type
 * argument a row is a {@link Row} (`Record<string, unknown>`).
 *
 * Tables are named `<schema>.<table>`; which topics feed them is chosen when
 * the topology runs (`cdc-views run --topics`), so one topology runs on any
 * connector's topic prefix. Key extractors of joins receive the ROOT row.
 * See ./plan.ts for the semantics.
 */
import type { Row } from '../cdc/types.ts';
import { ConfigError } from '../errors.ts';
import { decimalSum, negateDecimal } from './decimal.ts';
import type { CacheOptions, IncrementalRollupOptions, JoinOptions, RollupOptions, SearchIndexOptions, TypedKeyFn } from './options.ts';

export type { CacheOptions, IncrementalRollupOptions, JoinOptions, RollupOptions, SearchIndexOptions, TypedKeyFn } from './options.ts';
import { tablesOf, type Aggregator, type GroupRoot, type RollupOp, type KeyFn, type SinkPlan, type StreamEvent, type StreamRoot, type TableRoot, type TopologyPlan, type ViewOp, type ViewPlan } from './plan.ts';

/** A topology that cannot run. Names the topology file (when known) and the node. */
export class TopologyError extends ConfigError {
  readonly node: string;
  constructor(topology: string, node: string, message: string, file?: string) {
    super(`topology ${topology}${file ? ` (${file})` : ''}`, `${node}: ${message}`);
    this.node = node;
  }
}

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_$]*\.[A-Za-z_][A-Za-z0-9_$]*$/;
const VIEW_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/**
 * A view being built.
 * @typeParam V - the value type at this point of the chain
 * @typeParam Root - the root row type (what join key extractors receive)
 */
export class ViewBuilder<V, Root extends Row = Row> {
  /** @internal */
  constructor(
    private readonly builder: StreamsBuilder,
    private readonly draft: ViewDraft,
  ) {}

  /** Names the view (Redis keys, metrics, sink defaults) and gives its SQL definition. */
  as(name: string, options: { sql?: string } = {}): this {
    this.draft.name = name;
    if (options.sql !== undefined) this.draft.sql = options.sql;
    return this;
  }

  /** Adds the row another table holds at a key computed from the root row (many → one). */
  join<O extends Row, R>(table: KTable<O>, options: JoinOptions<V, O, R, Root>): ViewBuilder<R, Root> {
    const name = options.name ?? table.name;
    this.draft.ops.push({
      op: 'join',
      name,
      table: table.name,
      key: options.key as 'same' | KeyFn,
      kind: options.kind ?? 'inner',
      joiner: options.joiner as (v: unknown, o: Row | null) => unknown,
    });
    return this as unknown as ViewBuilder<R, Root>;
  }

  /** Adds an aggregate of the child rows whose parent key is the root key, maintained incrementally (one → many). */
  rollup<C extends Row, A, R>(table: KTable<C>, options: IncrementalRollupOptions<V, C, A, R>): ViewBuilder<R, Root>;
  /** Adds every row of a child table whose parent key is the root key (one → many), all read on every change of one. */
  rollup<C extends Row, R>(table: KTable<C>, options: RollupOptions<V, C, R>): ViewBuilder<R, Root>;
  rollup<C extends Row, A, R>(table: KTable<C>, options: RollupOptions<V, C, R> | IncrementalRollupOptions<V, C, A, R>): ViewBuilder<R, Root> {
    const base = { op: 'rollup' as const, name: options.name ?? table.name, table: table.name, parentKey: options.parentKey as KeyFn };
    if ('aggregator' in options) this.draft.ops.push({ ...base, aggregator: options.aggregator as (v: unknown, c: Row[]) => unknown });
    else this.draft.ops.push({ ...base, incremental: options as unknown as NonNullable<RollupOp['incremental']> });
    return this as unknown as ViewBuilder<R, Root>;
  }

  /** Maps the value; a null result removes the document. */
  mapValues<R>(fn: (value: V) => R, name = 'mapValues'): ViewBuilder<R, Root> {
    this.draft.ops.push({ op: 'mapValues', name, fn: fn as (v: unknown) => unknown });
    return this as unknown as ViewBuilder<R, Root>;
  }

  /** Keeps the document only while the predicate holds (else it is removed). */
  filter(predicate: (value: V) => boolean, name = 'filter'): ViewBuilder<V, Root> {
    this.draft.ops.push({ op: 'filter', name, predicate: predicate as (v: unknown) => boolean });
    return this;
  }

  /** Writes the documents to Redis keys `<prefix><key>` (compare-and-set on the render sequence). */
  toCache(options: CacheOptions = {}): this {
    this.draft.sinks.push({ kind: 'cache', prefix: options.prefix ?? '', ttlSeconds: options.ttlSeconds ?? 0 });
    return this;
  }

  /** Writes the documents to a search index (external versioning with the render sequence). */
  toSearchIndex(options: SearchIndexOptions = {}): this {
    this.draft.sinks.push({ kind: 'search', index: options.index ?? '', ...(options.mappings ? { mappings: options.mappings } : {}) });
    return this;
  }
}

/**
 * A table (KTable): the latest row per primary key of a source table.
 * @typeParam R - the row type. @defaultValue {@link Row}
 */
export class KTable<R extends Row = Row> {
  /** @internal */
  constructor(
    private readonly builder: StreamsBuilder,
    readonly name: string,
  ) {}

  /** Starts a view with one document per row of this table. */
  view(name?: string): ViewBuilder<R, R> {
    return this.builder.startView({ kind: 'table', table: this.name }, name) as unknown as ViewBuilder<R, R>;
  }

  /** `view().join(…)`: a view of this table joined with another. */
  join<O extends Row, V>(table: KTable<O>, options: JoinOptions<R, O, V, R>): ViewBuilder<V, R> {
    return this.view().join(table, options);
  }

  /** `view().rollup(…)`: a view of this table with a child table rolled up, incrementally. */
  rollup<C extends Row, A, V>(table: KTable<C>, options: IncrementalRollupOptions<R, C, A, V>): ViewBuilder<V, R>;
  /** `view().rollup(…)`: a view of this table with a child table rolled up (every child read). */
  rollup<C extends Row, V>(table: KTable<C>, options: RollupOptions<R, C, V>): ViewBuilder<V, R>;
  rollup<C extends Row, A, V>(table: KTable<C>, options: RollupOptions<R, C, V> | IncrementalRollupOptions<R, C, A, V>): ViewBuilder<V, R> {
    return 'aggregator' in options ? this.view().rollup(table, options) : this.view().rollup(table, options);
  }

  /** `view().mapValues(…)`. */
  mapValues<V>(fn: (row: R) => V): ViewBuilder<V, R> {
    return this.view().mapValues(fn);
  }

  /** `view().filter(…)`. */
  filter(predicate: (row: R) => boolean): ViewBuilder<R, R> {
    return this.view().filter(predicate);
  }

  /** Groups rows by a key computed from each row (e.g. order lines by sku). */
  groupBy(key: TypedKeyFn<R>): KGroupedTable<R> {
    return new KGroupedTable<R>(this.builder, this.name, key as KeyFn);
  }
}

/**
 * A stream (KStream): every change event of a table, in offset order, as a
 * {@link StreamEvent} `{ op, key, before, after, tsMs }`. `filter` drops
 * events (a key's document keeps the last event that passed), `mapValues`
 * maps them; the document of a key is the last event that passed, mapped.
 * Joins and roll-ups need tables: use `builder.table()` for those.
 */
export class KStream<R extends Row = Row> {
  /** @internal */
  constructor(
    private readonly builder: StreamsBuilder,
    readonly name: string,
  ) {}

  /** Starts a view with one document per key: its last change event that passed. */
  view(name?: string): ViewBuilder<StreamEvent<R>> {
    return this.builder.startView({ kind: 'stream', table: this.name }, name) as unknown as ViewBuilder<StreamEvent<R>>;
  }

  /** `view().filter(…)`. */
  filter(predicate: (event: StreamEvent<R>) => boolean): ViewBuilder<StreamEvent<R>> {
    return this.view().filter(predicate);
  }

  /** `view().mapValues(…)`. */
  mapValues<V>(fn: (event: StreamEvent<R>) => V): ViewBuilder<V> {
    return this.view().mapValues(fn);
  }
}

/**
 * A grouped table, to aggregate into one document per group.
 * @typeParam R - the member row type
 */
export class KGroupedTable<R extends Row = Row> {
  /** @internal */
  constructor(
    private readonly builder: StreamsBuilder,
    private readonly table: string,
    private readonly key: KeyFn,
  ) {}

  /** `{ count }`: the number of rows in the group, maintained incrementally. */
  count(): ViewBuilder<{ count: number }> {
    return this.aggregate<{ count: number }>({
      initializer: () => ({ count: 0 }),
      adder: (agg) => ({ count: agg.count + 1 }),
      subtractor: (agg) => ({ count: agg.count - 1 }),
    });
  }

  /**
   * `{ count, sum }`: the sum of `value(row)` over the group, exact and
   * maintained incrementally: values are numbers or decimal strings (null
   * counts as a member but adds nothing), and the sum is a decimal string with
   * the largest scale among the values.
   * @throws {Error} (a render failure, to the DLQ) when a value is not a decimal
   */
  sum(value: (row: R) => number | string | null): ViewBuilder<{ count: number; sum: string }> {
    return this.aggregate<{ count: number; sum: string }>({
      initializer: () => ({ count: 0, sum: '0' }),
      adder: (agg, row) => ({ count: agg.count + 1, sum: decimalSum([agg.sum, value(row)]) }),
      subtractor: (agg, row) => ({ count: agg.count - 1, sum: decimalSum([agg.sum, negateDecimal(value(row))]) }),
    });
  }

  /**
   * Incremental form (Kafka Streams' `aggregate(initializer, adder,
   * subtractor)`): each applied change of a member subtracts the row counted
   * before from its old group and adds the new row to its new group, exactly
   * once (replayed and re-sent changes are skipped by the version guard), at a
   * cost independent of the group's size. The aggregate is stored between
   * changes: it must be a JSON value (decimals as strings, not Decimal
   * objects). The document exists while the group has members.
   */
  aggregate<A>(aggregator: { initializer: () => A; adder: (aggregate: A, member: R) => A; subtractor: (aggregate: A, member: R) => A }): ViewBuilder<A>;
  /**
   * Recompute form: a value folded from the group's member rows (ordered by
   * key), recomputed from every member on every change of the group. Cost per
   * change grows with the group's size (every member is read); use it when the
   * document needs the whole member list, the incremental form otherwise.
   */
  aggregate<A>(fold: (members: R[]) => A): ViewBuilder<A>;
  aggregate<A>(how: ((members: R[]) => A) | { initializer: () => A; adder: (aggregate: A, member: R) => A; subtractor: (aggregate: A, member: R) => A }): ViewBuilder<A> {
    const root: GroupRoot =
      typeof how === 'function'
        ? { kind: 'group', table: this.table, key: this.key, aggregate: how as (members: Row[]) => unknown }
        : { kind: 'group', table: this.table, key: this.key, incremental: how as unknown as Aggregator };
    return this.builder.startView(root) as unknown as ViewBuilder<A>;
  }
}

/** Draft of a view while the chain is being built. */
interface ViewDraft {
  name?: string;
  sql?: string;
  root: TableRoot | GroupRoot | StreamRoot;
  ops: ViewOp[];
  sinks: SinkPlan[];
}

/** Builds a topology; `build()` validates it. */
export class StreamsBuilder {
  private readonly tables = new Map<string, KTable>();
  private readonly drafts: ViewDraft[] = [];

  constructor(readonly name: string) {}

  /**
   * The table fed by the CDC topic of `<schema>.<table>`, e.g. `public.customers`.
   * @typeParam R - its row type, e.g. a type from `cdc-views types generate`. @defaultValue {@link Row}
   * @throws {TopologyError} when the name is not `<schema>.<table>`
   */
  table<R extends Row = Row>(name: string): KTable<R> {
    if (!TABLE_NAME.test(name)) throw new TopologyError(this.name, `table(${JSON.stringify(name)})`, 'a table is named <schema>.<table>, e.g. public.customers');
    let t = this.tables.get(name);
    if (!t) {
      t = new KTable(this, name);
      this.tables.set(name, t);
    }
    return t as unknown as KTable<R>;
  }

  /**
   * The stream of change events of `<schema>.<table>` (KStream).
   * @typeParam R - its row type (of `before` and `after`). @defaultValue {@link Row}
   */
  stream<R extends Row = Row>(name: string): KStream<R> {
    this.table(name); // same naming rule
    return new KStream<R>(this, name);
  }

  /** @internal */
  startView(root: TableRoot | GroupRoot | StreamRoot, name?: string): ViewBuilder<Row> {
    const draft: ViewDraft = { root, ops: [], sinks: [], ...(name ? { name } : {}) };
    this.drafts.push(draft);
    return new ViewBuilder<Row>(this, draft);
  }

  /**
   * Validates and returns the topology.
   * @throws {TopologyError} naming the node: a view without a name or sink, a
   *   name clash, a join without a key, a roll-up without a parent key.
   */
  build(file?: string): TopologyPlan {
    const views: ViewPlan[] = [];
    const names = new Set<string>();
    for (const [i, d] of this.drafts.entries()) {
      const node = `view #${i + 1} (${d.name ?? `from ${d.root.table}`})`;
      const fail = (what: string, msg: string): never => {
        throw new TopologyError(this.name, what, msg, file);
      };
      if (!d.name) fail(node, 'has no name: call .as("<name>") on it');
      const name = d.name!;
      if (!VIEW_NAME.test(name)) fail(`view ${name}`, 'a view name uses letters, digits, - and _ and starts with a letter or digit');
      if (names.has(name)) fail(`view ${name}`, 'name clash: another view has the same name');
      names.add(name);
      if (d.sinks.length === 0) fail(`view ${name}`, 'has no sink: add .toCache() or .toSearchIndex()');
      if (d.root.kind === 'group' && typeof d.root.key !== 'function') fail(`view ${name} groupBy`, 'groupBy needs a key function');
      if (d.root.kind === 'group' && d.root.incremental) {
        const agg = d.root.incremental;
        for (const fn of ['initializer', 'adder', 'subtractor'] as const) {
          if (typeof agg[fn] !== 'function') fail(`view ${name} aggregate`, `an incremental aggregate needs ${fn}: give { initializer, adder, subtractor }, or a function of the members for the recompute form`);
        }
      }
      const opNames = new Set<string>();
      for (const op of d.ops) {
        if (d.root.kind === 'stream' && (op.op === 'join' || op.op === 'rollup')) {
          fail(`view ${name} ${op.op} ${op.name}`, `a ${op.op} needs table state: start the view from builder.table('${d.root.table}') instead of builder.stream()`);
        }
        if (op.op === 'join' || op.op === 'rollup') {
          if (opNames.has(op.name)) fail(`view ${name} ${op.op} ${op.name}`, `name clash: two operations named ${op.name}; give one a name`);
          opNames.add(op.name);
        }
        if (op.op === 'join' && op.key !== 'same' && typeof op.key !== 'function') {
          fail(`view ${name} join ${op.name}`, "join without a key extractor: give key: 'same' or key: (row) => ({ <primary-key columns of the joined table> })");
        }
        if (op.op === 'join' && typeof op.joiner !== 'function') fail(`view ${name} join ${op.name}`, 'join without a joiner function');
        if (op.op === 'rollup' && typeof op.parentKey !== 'function') {
          fail(`view ${name} rollup ${op.name}`, 'roll-up without a parent key extractor: give parentKey: (child) => ({ <primary-key columns of the root> })');
        }
        if (op.op === 'rollup' && !op.incremental && typeof op.aggregator !== 'function') fail(`view ${name} rollup ${op.name}`, 'roll-up without an aggregator function (or initializer, adder, subtractor and combine for the incremental form)');
        if (op.op === 'rollup' && op.incremental) {
          for (const fn of ['initializer', 'adder', 'subtractor', 'combine'] as const) {
            if (typeof op.incremental[fn] !== 'function') fail(`view ${name} rollup ${op.name}`, `an incremental roll-up needs ${fn}: give { parentKey, initializer, adder, subtractor, combine }, or { parentKey, aggregator } for the recompute form`);
          }
        }
      }
      const sinks = d.sinks.map((s): SinkPlan => (s.kind === 'cache' ? { ...s, prefix: s.prefix || `cache:{app}:${name}:` } : { ...s, index: s.index || `{app}-${name}` }));
      views.push({ name, root: d.root, ops: d.ops, sinks, ...(d.sql ? { sql: d.sql } : {}) });
    }
    if (views.length === 0) throw new TopologyError(this.name, 'topology', 'has no view', file);
    return { name: this.name, ...(file ? { file } : {}), views };
  }
}

/**
 * The topic that feeds each table of a topology, among the subscribed topics
 * (`<prefix>.<schema>.<table>`): table state is kept per topic, so two
 * connectors with the same table names never share state.
 * @returns `<schema>.<table>` → topic
 * @throws {TopologyError} naming the table when no topic, or more than one, carries it
 */
export function resolveTopologyTables(plan: TopologyPlan, topics: readonly string[], selection: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const table of tablesOf(plan)) {
    const feeding = topics.filter((t) => t.split('.').slice(-2).join('.') === table);
    if (feeding.length === 0) {
      throw new TopologyError(plan.name, `table ${table}`, `unknown topic: none of the topics matching ${selection} carries ${table} (topics: ${topics.join(', ') || 'none'})`, plan.file);
    }
    if (feeding.length > 1) {
      throw new TopologyError(plan.name, `table ${table}`, `${feeding.length} topics carry ${table} (${feeding.join(', ')}): narrow the topics setting to one connector's prefix, or run one application per connector`, plan.file);
    }
    out.set(table, feeding[0]!);
  }
  return out;
}
