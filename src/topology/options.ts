/**
 * The option types of the topology DSL (./dsl.ts): joins, roll-ups and sinks.
 */
import type { Row } from '../cdc/types.ts';

/**
 * Computes the key of another table (its primary-key columns) from a row of
 * type `R`, e.g. `(order) => ({ id: order.customer_id })`; null for none.
 */
export type TypedKeyFn<R extends Row> = (row: R) => Row | null;

/**
 * Options of a join.
 * @typeParam V - the value so far (the root row, or what the previous step returned)
 * @typeParam O - the joined table's row type
 * @typeParam R - what the joiner returns: the value after the join
 * @typeParam Root - the view's root row type (what the key extractor receives)
 */
export interface JoinOptions<V, O extends Row, R, Root extends Row = Row> {
  /** Names the join (unique within the view). @defaultValue the joined table's name */
  name?: string;
  /**
   * The joined table's key: `'same'` (the root's own key) or a function of the
   * root row returning the other table's primary-key columns (foreign key).
   * Required.
   */
  key: 'same' | TypedKeyFn<Root>;
  /** @defaultValue 'inner' */
  kind?: 'inner' | 'left';
  /** Combines the value so far with the joined row (null only for left joins). */
  joiner: (value: V, other: O | null) => R;
}

/**
 * Options of a one-to-many roll-up.
 * @typeParam V - the value so far
 * @typeParam C - the child table's row type
 * @typeParam R - what the aggregator returns: the value after the roll-up
 */
export interface RollupOptions<V, C extends Row, R> {
  /** @defaultValue the child table's name */
  name?: string;
  /** The root key a child row belongs to, e.g. `(line) => ({ id: line.order_id })`. Required. */
  parentKey: TypedKeyFn<C>;
  /** Combines the value so far with the child rows (possibly none), in child-key order. */
  aggregator: (value: V, children: C[]) => R;
}

/**
 * Options of an incremental one-to-many roll-up: the children are folded per
 * root with an adder and a subtractor (as `groupBy().aggregate({ … })`, see
 * docs/topologies.md#aggregates), at a cost per child change independent of
 * how many children the root has; `combine` adds the result to the value.
 * @typeParam V - the value so far
 * @typeParam C - the child table's row type
 * @typeParam A - the aggregate of a root's children (a JSON value: it is stored)
 * @typeParam R - what combine returns: the value after the roll-up
 */
export interface IncrementalRollupOptions<V, C extends Row, A, R> {
  /** @defaultValue the child table's name */
  name?: string;
  /** The root key a child row belongs to. Required. */
  parentKey: TypedKeyFn<C>;
  /** The aggregate of a root without children. */
  initializer: () => A;
  /** The aggregate with one more child row. */
  adder: (aggregate: A, child: C) => A;
  /** The aggregate with one child row less (the row as it was counted). */
  subtractor: (aggregate: A, child: C) => A;
  /** Combines the value so far with the root's aggregate (the initializer's value when it has no child). */
  combine: (value: V, aggregate: A) => R;
}

/** Options of the cache sink. */
export interface CacheOptions {
  /** Redis key prefix; `{app}` becomes the applicationId. @defaultValue `cache:{app}:<view>:` */
  prefix?: string;
  /** Expiry of each document in seconds; 0 for none. @defaultValue 0 */
  ttlSeconds?: number;
}

/** Options of the search-index sink. */
export interface SearchIndexOptions {
  /** Index name; `{app}` becomes the applicationId. @defaultValue `{app}-<view>` */
  index?: string;
  /** Index mappings, e.g. `{ properties: { total: { type: 'scaled_float', scaling_factor: 100 } } }`. */
  mappings?: Record<string, unknown>;
}
