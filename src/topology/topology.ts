/**
 * Topology definitions. This first form supports the tables a topology
 * materializes and single-table views rendered into the cache sink; joins and
 * aggregates build on the same render path.
 */
import type { Row } from '../cdc/types.ts';

/** Where a view's documents go: Redis keys `<prefix><key string>` holding JSON. */
export interface CacheSinkSpec {
  kind: 'cache';
  /** Key prefix, e.g. `cache:shop:customer:`. */
  prefix: string;
  /** Expiry of each document in seconds; 0 or absent for none. @defaultValue 0 */
  ttlSeconds?: number;
}

/** A view rendered from one table's row: one document per row, removed when the row is. */
export interface ViewSpec {
  /** Unique within the topology; used in Redis keys and metrics. */
  name: string;
  /** Source table, `<schema>.<table>`. */
  table: string;
  /** Renders the document for a live row; returning null removes the document. */
  render: (row: Row) => Record<string, unknown> | null;
  sink: CacheSinkSpec;
}

/** A topology: the tables it materializes (topics matched by a regex) and the views over them. */
export interface Topology {
  name: string;
  /** Topics to consume, e.g. `/^shop\.public\./`. */
  topics: RegExp;
  views: ViewSpec[];
}
