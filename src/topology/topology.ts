/**
 * Topology definitions. This first form supports the tables a topology
 * materializes and single-table views rendered into the cache sink; joins and
 * aggregates build on the same render path.
 */
import type { Row } from '../cdc/types.ts';

/** Where a view's documents go: Redis keys `<prefix><key string>` holding JSON. */
export interface CacheSinkSpec {
  kind: 'cache';
  /** Key prefix; `{app}` is replaced by the applicationId, e.g. `cache:{app}:customer:`. */
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
  /**
   * The view's definition in SQL on the source database, used to verify it: a
   * query returning one row per document, with the document's fields as
   * columns plus `_key`, the document's primary key as a JSON object.
   */
  sql?: string;
}

/** A topology: views over tables. Which topics feed the tables is chosen when it is run. */
export interface Topology {
  name: string;
  views: ViewSpec[];
}

/** A view with its sink prefix resolved for one application. */
export function resolveView(view: ViewSpec, applicationId: string): ViewSpec {
  return { ...view, sink: { ...view.sink, prefix: view.sink.prefix.replaceAll('{app}', applicationId) } };
}
