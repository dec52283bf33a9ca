/**
 * The public API of cdc-views: what a topology module imports.
 *
 * ```ts
 * import { StreamsBuilder } from 'cdc-views';
 * import type { Orders, Customers } from './tables.ts'; // cdc-views types generate
 *
 * const builder = new StreamsBuilder('order-search');
 * builder.table<Orders>('public.orders')
 *   .join(builder.table<Customers>('public.customers'), {
 *     key: (order) => ({ id: order.customer_id }), kind: 'left',
 *     joiner: (order, customer) => ({ id: order.id, customerName: customer?.name ?? null }),
 *   })
 *   .as('order-search')
 *   .toSearchIndex();
 * export default builder.build();
 * ```
 *
 * Like Kafka Streams' `org.apache.kafka.streams` versus its `internals`
 * packages, only what is exported here (and from `cdc-views/testing`) is
 * public; every other module of the package is internal and may change in
 * any release.
 */
export {
  StreamsBuilder,
  KTable,
  KStream,
  KGroupedTable,
  ViewBuilder,
  TopologyError,
  type TypedKeyFn,
  type JoinOptions,
  type RollupOptions,
  type IncrementalRollupOptions,
  type CacheOptions,
  type SearchIndexOptions,
} from './topology/dsl.ts';
export { decimalSum, negateDecimal } from './topology/decimal.ts';
export type { TopologyPlan, Aggregator, ViewPlan, SinkPlan, CacheSinkPlan, SearchSinkPlan, StreamEvent, KeyFn } from './topology/plan.ts';
export type { Row, Op, ChangeEvent, Tombstone, KafkaPosition, SourceInfo } from './cdc/types.ts';
export { readCacheDocuments, type CacheRead } from './ops/cache-reader.ts';
export { CdcViewsError, ConfigError } from './errors.ts';
